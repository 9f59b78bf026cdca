package scheme_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/scheduler/apis/config"
	"github.com/gantry-dev/gantry/scheduler/apis/config/scheme"
)

func TestArgsOf(t *testing.T) {
	decoded := &config.DeviceShareArgs{Policy: policy.FGD}
	tests := []struct {
		name    string
		obj     runtime.Object
		policy  policy.Type
		wantErr string
	}{
		{name: "nil gives the defaults", obj: nil, policy: policy.Binpack},
		{name: "out-of-tree args", obj: &runtime.Unknown{Raw: []byte(`{"policy":"Spread"}`)}, policy: policy.Spread},
		{name: "already decoded args pass through", obj: decoded, policy: policy.FGD},
		{name: "a bad policy names the profile's args", obj: &runtime.Unknown{Raw: []byte(`{"policy":"Nope"}`)},
			wantErr: "pluginConfig[P].args"},
		{name: "another plugin's args", obj: &metav1.Status{},
			wantErr: "pluginConfig[P].args: want args of type DeviceShareArgs, got *v1.Status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := scheme.ArgsOf(tt.obj, "P")
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.policy, got.Policy)
		})
	}
}
