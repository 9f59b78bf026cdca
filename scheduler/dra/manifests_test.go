package dra

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"
	kconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	kscheme "k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"

	"github.com/gantry-dev/gantry/core/policy"
)

// The shipped gantry-scheduler profile decodes as kube-scheduler decodes it, replaces
// DynamicResources with GantryDRA, and its args build the plugin's policy.
func TestShippedProfile(t *testing.T) {
	raw, err := os.ReadFile("../../manifests/scheduler/scheduler-config.yaml")
	require.NoError(t, err)
	obj, _, err := kscheme.Codecs.UniversalDecoder().Decode(raw, nil, nil)
	require.NoError(t, err)
	cfg := obj.(*kconfig.KubeSchedulerConfiguration)
	require.Len(t, cfg.Profiles, 1)
	p := cfg.Profiles[0]
	enabled := map[string]bool{}
	for _, pl := range p.Plugins.MultiPoint.Enabled {
		enabled[pl.Name] = true
	}
	require.True(t, enabled[Name])
	require.False(t, enabled["DynamicResources"], "GantryDRA is DynamicResources; both would allocate every claim twice")
	var disabled []string
	for _, pl := range p.Plugins.MultiPoint.Disabled {
		disabled = append(disabled, pl.Name)
	}
	require.Contains(t, disabled, "DynamicResources", "kube-scheduler enables DynamicResources by default; the profile must turn it off")
	var args runtime.Object
	for _, pc := range p.PluginConfig {
		if pc.Name == Name {
			args = pc.Args
		}
	}
	require.NotNil(t, args)
	a, err := decodeArgs(args)
	require.NoError(t, err)
	require.Equal(t, policy.FGD, a.Policy)
	require.Len(t, a.Workload, 4)
}

func TestDecodeArgsErrors(t *testing.T) {
	_, err := decodeArgs(&runtime.Unknown{Raw: []byte(`{"apiVersion":"gantry.dev/v1alpha1","kind":"DeviceShareArgs","policy":"Nope"}`)})
	require.ErrorContains(t, err, "Nope")
	_, err = decodeArgs(&kconfig.DynamicResourcesArgs{})
	require.EqualError(t, err, "pluginConfig[GantryDRA].args: want args of type DeviceShareArgs, got *config.DynamicResourcesArgs")
}
