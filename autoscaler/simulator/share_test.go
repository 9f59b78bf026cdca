package simulator

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	fwk "k8s.io/kube-scheduler/framework"
)

func TestInternalError(t *testing.T) {
	tests := []struct {
		name    string
		status  *fwk.Status
		wantErr bool
	}{
		{name: "success", status: nil},
		{name: "unschedulable", status: fwk.NewStatus(fwk.Unschedulable, "no card fits")},
		{name: "unschedulable and unresolvable", status: fwk.NewStatus(fwk.UnschedulableAndUnresolvable, "no such model")},
		{name: "framework error", status: fwk.AsStatus(errors.New("plugin broke")), wantErr: true},
		{name: "error code without an error", status: fwk.NewStatus(fwk.Error, "plugin broke"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := internalError(tt.status)
			if !tt.wantErr {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, "plugin broke")
		})
	}
}
