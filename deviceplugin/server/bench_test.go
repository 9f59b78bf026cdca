package server_test

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/cdi"
	"github.com/gantry-dev/gantry/deviceplugin/server"
)

// An 8-GPU node: 800 slots.

// BenchmarkAllocate measures Allocate under the envvar strategy (the
// baseline) and the cdi strategy (names from a cdi.Writer).
func BenchmarkAllocate(b *testing.B) {
	inv := gpus(8)
	w, err := cdi.New(cdi.Config{Dir: b.TempDir(), ToolkitDirs: []string{b.TempDir()}})
	if err != nil {
		b.Fatal(err)
	}
	var cards []cdi.Card
	for _, d := range inv.Devices {
		d.Vendor = "" // no toolkit spec needed
		cards = append(cards, cdi.Card{Device: d})
	}
	if err := w.Sync(cards); err != nil {
		b.Fatal(err)
	}
	for _, strategy := range []struct {
		name  string
		names server.CDINamer
	}{{"envvar", nil}, {"cdi", w}} {
		p, err := server.New(server.Config{Kind: device.GPU, Devices: newDevices(inv), CDI: strategy.names})
		if err != nil {
			b.Fatal(err)
		}
		for _, size := range []int{25, 100, 800} {
			var ids []string
			for i := 0; len(ids) < size; i++ {
				ids = append(ids, slots(7-i, 0, min(100, size-len(ids)))...)
			}
			req := &pluginapi.AllocateRequest{ContainerRequests: []*pluginapi.ContainerAllocateRequest{{DevicesIds: ids}}}
			b.Run(fmt.Sprintf("%s/slots=%d", strategy.name, size), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := p.Allocate(context.Background(), req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkGetPreferredAllocation(b *testing.B) {
	inv := gpus(8)
	// 100 pods of 8 % bound to the node, the scheduler's choices spread over
	// the 8 GPUs; the one asking is the newest, so every intent is scanned.
	var pods []*corev1.Pod
	for i := 0; i < 100; i++ {
		pod := podWith(fmt.Sprintf("p%03d", i), int64(i), [][2]int{{i % 8, 8}})
		pod.ResourceVersion = "1"
		pods = append(pods, pod)
	}
	req := &pluginapi.PreferredAllocationRequest{ContainerRequests: []*pluginapi.ContainerPreferredAllocationRequest{
		{AvailableDeviceIDs: allSlots(inv), AllocationSize: 8},
	}}
	view := &kubeletView{pods: map[string]map[string][]string{}}
	for _, p := range pods[:99] {
		view.pods[p.Name] = map[string][]string{"c0": slots(0, 0, 1)} // served
	}
	view.pods["p099"] = map[string][]string{"c0": nil} // under admission
	cases := []struct {
		name    string
		steerer *server.Steerer
	}{
		{"fallback-only", nil},
		{"intents=100,annotations-only", server.NewSteerer(server.SteererConfig{Node: node, Kind: device.GPU, Pods: lister(pods...)})},
		{"intents=100,podresources", server.NewSteerer(server.SteererConfig{Node: node, Kind: device.GPU, Pods: lister(pods...), PodResources: view})},
	}
	for _, c := range cases {
		p, err := server.New(server.Config{Kind: device.GPU, Devices: newDevices(inv), Steerer: c.steerer})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := p.GetPreferredAllocation(context.Background(), req)
				if err != nil || len(resp.ContainerResponses[0].DeviceIDs) != 8 {
					b.Fatal(err)
				}
			}
		})
	}
}
