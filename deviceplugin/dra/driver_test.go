package dra_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/gantry-dev/gantry/core/dra/dratest"
	"github.com/gantry-dev/gantry/deviceplugin/cdi"
	"github.com/gantry-dev/gantry/deviceplugin/dra"
)

func newDriver(t *testing.T, dataDir string) *dra.Driver {
	t.Helper()
	w, err := cdi.New(cdi.Config{Dir: t.TempDir(), ToolkitDirs: []string{t.TempDir()}})
	require.NoError(t, err)
	var specs []cdi.Card
	for _, d := range cards() {
		specs = append(specs, cdi.Card{Device: d, DeviceNodes: []string{"/dev/null"}})
	}
	require.NoError(t, w.Sync(specs))
	d, err := dra.New(dra.Config{NodeName: node, KubeClient: fake.NewClientset(), Devices: cards(), CDI: w, PluginDataDir: dataDir})
	require.NoError(t, err)
	return d
}

func TestPrepareRefuses(t *testing.T) {
	tests := []struct {
		name  string
		claim *resourceapi.ResourceClaim
		err   string
	}{
		{"not allocated", dratest.MakeClaim("ns", "a").Share("gpu", "gpu.gantry.dev", 10).Obj(), "claim ns/a is not allocated"},
		{"another node's pool", dratest.MakeClaim("ns", "b").Gantry("other", "gpu", "gpu-0", 10).Obj(),
			`claim ns/b: request "gpu" holds device "gpu-0" of pool "other", but this node's pool is "dra-node"`},
		{"unknown card", dratest.MakeClaim("ns", "c").Gantry(node, "gpu", "gpu-7", 10).Obj(),
			`claim ns/c: request "gpu" holds device "gpu-7", which this node does not have`},
		{"over 100 percent in one claim", dratest.MakeClaim("ns", "d").Gantry(node, "r1", "gpu-0", 60).Gantry(node, "r2", "gpu-0", 50).Obj(),
			`claim ns/d: request "r2" asks 50% of device "gpu-0", which has 60% prepared already`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(t, t.TempDir())
			res, err := d.PrepareResourceClaims(context.Background(), []*resourceapi.ResourceClaim{tc.claim})
			require.NoError(t, err)
			require.EqualError(t, res[tc.claim.UID].Err, tc.err)
			require.Empty(t, d.Prepared())
		})
	}
}

func TestPrepareIgnoresOtherDriversAndIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	d := newDriver(t, dir)
	c := dratest.MakeClaim("ns", "a").Gantry(node, "gpu", "gpu-0", 25).Allocated("nic.example.com", node, "nic", "nic-0", 0).Obj()
	for i := 0; i < 2; i++ {
		res, err := d.PrepareResourceClaims(context.Background(), []*resourceapi.ResourceClaim{c})
		require.NoError(t, err)
		r := res[c.UID]
		require.NoError(t, r.Err)
		require.Len(t, r.Devices, 1)
		require.Equal(t, []string{"gantry.dev/gpu=GPU-0-p25"}, r.Devices[0].CDIDeviceIDs)
		require.Equal(t, "gpu-0", r.Devices[0].DeviceName)
	}
	// A new process reads the same state back.
	again := newDriver(t, dir)
	require.Equal(t, d.Prepared(), again.Prepared())
}

func TestCorruptCheckpoint(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, dra.CheckpointFile), []byte(`{"version":"v9","claims":{}}`), 0o600))
	w, err := cdi.New(cdi.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	_, err = dra.New(dra.Config{NodeName: node, KubeClient: fake.NewClientset(), Devices: cards(), CDI: w, PluginDataDir: dir})
	require.ErrorContains(t, err, `version "v9" is not supported (want "v1")`)
}
