package simulator_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider"
	"github.com/gantry-dev/gantry/autoscaler/simulator"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/scheduler/simulate"
)

// AddPods fills nodes in parallel with the same result as AddPod in order.
func TestShareSnapshotAddPodsMatchesAddPod(t *testing.T) {
	ctx := context.Background()
	g := config.NodeGroup{Name: "g", MaxSize: 100, Template: config.NodeTemplate{
		Device: config.DeviceTemplate{Kind: device.GPU, Model: "A100", Count: 8, MemoryMiB: 16384},
		CPU:    resource.MustParse("64"), Memory: resource.MustParse("256Gi"), Pods: 110,
	}}
	var nodes []*corev1.Node
	var pods []*corev1.Pod
	for n := range 40 {
		node, err := cloudprovider.BuildNode(g, fmt.Sprintf("n%02d", n))
		require.NoError(t, err)
		nodes = append(nodes, node)
		for p := range 10 + n%5 {
			pods = append(pods, coretest.MakePod(fmt.Sprintf("n%02d-p%02d", n, p)).Requests(int64(100*(1+p%3)), 256).Node(node.Name).Obj())
		}
	}
	build := func(bulk bool) *simulator.ShareSnapshot {
		s, err := simulator.NewShareSnapshot(ctx, simulate.Options{})
		require.NoError(t, err)
		for _, n := range nodes {
			s.AddNode(n)
		}
		if bulk {
			require.NoError(t, s.AddPods(pods))
		} else {
			for _, p := range pods {
				require.NoError(t, s.AddPod(p))
			}
		}
		return s
	}
	seq, par := build(false), build(true)
	for _, n := range nodes {
		a, _ := seq.Cluster().NodeInfo(n.Name)
		b, _ := par.Cluster().NodeInfo(n.Name)
		require.Equal(t, len(a.GetPods()), len(b.GetPods()), n.Name)
		require.Equal(t, a.Requested.MilliCPU, b.Requested.MilliCPU, n.Name)
		for i := range a.GetPods() {
			require.Equal(t, a.GetPods()[i].GetPod().Name, b.GetPods()[i].GetPod().Name)
		}
	}
	pod := coretest.MakePod("new").GPUPercent(50).Requests(1000, 1024).Obj()
	na, _, _, err := seq.Schedule(ctx, pod)
	require.NoError(t, err)
	nb, _, _, err := par.Schedule(ctx, pod)
	require.NoError(t, err)
	require.NotEmpty(t, na)
	require.Equal(t, na, nb)

	// A pod on a node the snapshot lacks is an error, as with AddPod.
	bad := append([]*corev1.Pod(nil), pods...)
	bad = append(bad, coretest.MakePod("lost").Node("nowhere").Obj())
	s, err := simulator.NewShareSnapshot(ctx, simulate.Options{})
	require.NoError(t, err)
	for _, n := range nodes {
		s.AddNode(n)
	}
	require.Error(t, s.AddPods(bad))
}
