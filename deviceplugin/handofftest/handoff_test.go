package handofftest

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

// TestSameSizePods binds 100 pods of 7 % to one 8-GPU node at once (the
// scheduler picks devices at random, up to 98 % per GPU), then lets kubelet
// admit them one at a time in an order unrelated to binding, while the
// agent's informer and reconciler run alongside.
func TestSameSizePods(t *testing.T) {
	testCases := []struct {
		name     string
		steerPR  bool
		shuffle  bool
		wantHits bool // every container must land on the scheduler's device
	}{
		{name: "steering asks kubelet which pod it admits, any order", steerPR: true, shuffle: true, wantHits: true},
		{name: "steering from annotations only, creation order", steerPR: false, shuffle: false, wantHits: true},
		{name: "steering from annotations only, any order", steerPR: false, shuffle: true},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.steerPR)
			rng := rand.New(rand.NewSource(7))
			pods := e.schedule(rng, sameSize("p", 100, 7), make([]int, gpus))
			require.Len(t, pods, 100)
			order := pods
			if tc.shuffle {
				order = shuffled(rng, pods)
			}
			var admitted []*corev1.Pod
			require.Empty(t, e.admitAll(order, &admitted))
			hits, misses := e.verifyRecords(admitted)
			t.Logf("%s: %d of 100 containers got the scheduler's GPU", tc.name, hits)
			logMisses(t, misses)
			if tc.wantHits {
				require.Equal(t, 100, hits)
			}
		})
	}
}

// TestMixedSizesAndMultiContainerPods packs the node with pods of one to
// three containers, each asking 5 %..50 % or whole GPUs, admitted in an
// order unrelated to binding. With the PodResources API every container
// lands where the scheduler put it. Without it, wrong guesses between pods
// of different sizes can leave no single GPU with room for a later share:
// kubelet then fails that pod's admission with the plugin's message, and
// nothing is over-committed either way.
func TestMixedSizesAndMultiContainerPods(t *testing.T) {
	for _, steerPR := range []bool{true, false} {
		t.Run(fmt.Sprintf("steer with PodResources=%v", steerPR), func(t *testing.T) {
			e := newEnv(t, steerPR)
			rng := rand.New(rand.NewSource(11))
			sizes := []int{5, 10, 15, 25, 50, 100, 200}
			var specs []podSpec
			for i := 0; i < 150; i++ {
				n := 1 + rng.Intn(3)
				s := podSpec{name: fmt.Sprintf("m-%03d", i)}
				for c := 0; c < n; c++ {
					s.containers = append(s.containers, sizes[rng.Intn(len(sizes))])
				}
				specs = append(specs, s)
			}
			pods := e.schedule(rng, specs, make([]int, gpus))
			containers := 0
			for _, p := range pods {
				containers += len(p.Spec.Containers)
			}
			var admitted []*corev1.Pod
			errs := e.admitAll(shuffled(rng, pods), &admitted)
			hits, misses := e.verifyRecords(admitted)
			t.Logf("%d pods (%d containers) bound; %d admitted; %d containers on the scheduler's devices; %d admission failures",
				len(pods), containers, len(admitted), hits, len(errs))
			for name, err := range errs {
				t.Logf("admission failed: %s: %v", name, err)
			}
			logMisses(t, misses)
			if steerPR {
				require.Empty(t, errs)
				require.Equal(t, containers, hits)
			}
		})
	}
}

func logMisses(t *testing.T, misses []string) {
	for i, m := range misses {
		if i == 5 {
			t.Logf("... and %d more misses", len(misses)-5)
			return
		}
		t.Logf("miss: %s", m)
	}
}

// TestKubeletRestart restarts kubelet half way: its socket is recreated and
// the plugin's socket wiped. Nothing admitted before is lost or handed out
// again, and admission goes on with the same guarantees.
func TestKubeletRestart(t *testing.T) {
	e := newEnv(t, true)
	rng := rand.New(rand.NewSource(3))
	pods := shuffled(rng, e.schedule(rng, sameSize("k", 100, 7), make([]int, gpus)))
	var admitted []*corev1.Pod
	require.Empty(t, e.admitAll(pods[:50], &admitted))
	before := map[string][]string{}
	for _, p := range admitted {
		before[p.Name] = e.k.devices(p, "c0")
	}

	e.k = e.k.restart()
	e.k.waitForGPUs(800, 800)
	for _, p := range admitted {
		require.Equal(t, before[p.Name], e.k.devices(p, "c0"), "kubelet's checkpoint keeps %s", p.Name)
	}

	require.Empty(t, e.admitAll(pods[50:], &admitted))
	hits, misses := e.verifyRecords(admitted)
	require.Empty(t, misses)
	require.Equal(t, 100, hits)
}

// TestPluginRestart restarts the agent half way. Kubelet sees the plugin go
// (its slots become unhealthy) and come back with the same slot IDs.
func TestPluginRestart(t *testing.T) {
	e := newEnv(t, true)
	rng := rand.New(rand.NewSource(5))
	pods := shuffled(rng, e.schedule(rng, sameSize("r", 100, 7), make([]int, gpus)))
	var admitted []*corev1.Pod
	require.Empty(t, e.admitAll(pods[:50], &admitted))

	e.stopAgent()
	e.k.waitForGPUs(0, 800)
	e.startAgent()
	e.k.waitForGPUs(800, 800)

	require.Empty(t, e.admitAll(pods[50:], &admitted))
	hits, misses := e.verifyRecords(admitted)
	require.Empty(t, misses)
	require.Equal(t, 100, hits)
}

// TestSplitShareIsRejected fills every GPU to 80 %, then asks for 30 %:
// kubelet sees 160 free slots, no single GPU has 30, and the plugin refuses
// the split kubelet proposes with a message that names the cause. The
// plugin keeps serving: a 20 % pod is admitted right after.
func TestSplitShareIsRejected(t *testing.T) {
	e := newEnv(t, true)
	rng := rand.New(rand.NewSource(1))
	used := make([]int, gpus)
	fillers := e.schedule(rng, sameSize("fill", 8, 80), used)
	require.Len(t, fillers, 8)
	var admitted []*corev1.Pod
	require.Empty(t, e.admitAll(fillers, &admitted))

	// No scheduler would bind this pod here; a user binding it directly can.
	odd := e.schedule(rng, []podSpec{{name: "odd", containers: []int{20}}}, make([]int, gpus))[0]
	odd.Spec.Containers[0].Resources.Limits[gpuResource()] = *quantity(30)
	errs := e.admitAll([]*corev1.Pod{odd}, &admitted)
	require.Contains(t, errs, "odd")
	require.Contains(t, errs["odd"].Error(), "a 30% share must come from one device")
	t.Logf("kubelet's admission error: %v", errs["odd"])

	ok := e.schedule(rng, []podSpec{{name: "ok", containers: []int{20}}}, used)
	require.Len(t, ok, 1)
	require.Empty(t, e.admitAll(ok, &admitted))
	hits, misses := e.verifyRecords(admitted)
	require.Empty(t, misses)
	require.Equal(t, 9, hits)
	require.True(t, strings.HasPrefix(e.k.devices(ok[0], "c0")[0], "GPU-"))
}

// TestPodEnvironmentSelectsNoDevice: a 10 % pod whose spec sets
// NVIDIA_VISIBLE_DEVICES=all (and raises its own limits) gets the CDI
// devices of its one card and nothing more; after injection the selector
// is "void" and the limits are the share's.
func TestPodEnvironmentSelectsNoDevice(t *testing.T) {
	e := newEnv(t, true)
	rng := rand.New(rand.NewSource(9))
	pods := e.schedule(rng, []podSpec{{name: "greedy", containers: []int{10}}, {name: "whole", containers: []int{100, 200}}}, make([]int, gpus))
	require.Len(t, pods, 2)
	for _, p := range pods {
		for i := range p.Spec.Containers {
			p.Spec.Containers[i].Env = []corev1.EnvVar{{Name: "NVIDIA_VISIBLE_DEVICES", Value: "all"},
				{Name: "GANTRY_DEVICE_SHARE_PERCENT", Value: "100"}, {Name: "CUDA_VISIBLE_DEVICES", Value: "0,1,2,3"}}
		}
	}
	var admitted []*corev1.Pod
	require.Empty(t, e.admitAll(pods, &admitted)) // admitAll checks every container's run options
	opts, err := e.k.mgr.GetDeviceRunContainerOptions(e.ctx, pods[0], &pods[0].Spec.Containers[0])
	require.NoError(t, err)
	require.Len(t, opts.CDIDevices, 2, "the toolkit's device of one card and Gantry's 10 %% device")
	require.Len(t, e.k.devices(pods[1], "c1"), 200)
}
