package v1alpha1

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/autoscaler/apis/config/validation"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider"
	coredra "github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/core/share"
)

// FuzzLoad: any input (the --config file, the chart's autoscaler.config) is
// either refused with an error or yields a configuration that passes
// validation again, whose groups' templates build with device counts within
// share.MaxDevices (a DRA-mode template's slice reads back with every card); never a panic. Seeds: the tests' configuration, the
// shipped sample and testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(good))
	if data, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "manifests", "autoscaler", "autoscaler-config.yaml")); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Load(data)
		if err != nil {
			return
		}
		require.Empty(t, validation.ValidateAutoscalerConfiguration(c))
		for _, g := range c.AllGroups() {
			require.LessOrEqual(t, g.Template.Device.Count, share.MaxDevices, g.Name)
			require.GreaterOrEqual(t, g.MaxSize, g.MinSize, g.Name)
			// A DRA-mode template publishes a slice that core reads
			// back with every declared card.
			if g.Template.Device.DRA() {
				cluster := coredra.Build(cloudprovider.TemplateSlices(g, "n"), nil)
				require.Empty(t, cluster.Problems, g.Name)
				require.Len(t, cluster.Nodes["n"].State.Devices, g.Template.Device.Count, g.Name)
			}
		}
		require.Positive(t, c.ScaleDown.MaxPodEvictionTime)
	})
}
