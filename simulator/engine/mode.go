package engine

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/scheduler/simulate"
	"github.com/gantry-dev/gantry/simulator/dramode"
)

// Mode is how simulated pods ask for devices and which plugin places them.
type Mode string

const (
	// DevicePlugin: pods ask gantry.dev/gpu-percent and GantryDeviceShare
	// places them (the default).
	DevicePlugin Mode = "device-plugin"
	// DRA: pods ask through ResourceClaims and GantryDRA places them: the
	// policy scores the nodes and orders each node's cards for upstream's
	// allocator (simulate.DRAGantry).
	DRA Mode = "dra"
	// DRAFirstFit: ResourceClaims; the policy scores the nodes, upstream's
	// first-fit allocator picks the cards (simulate.DRAFirstFit).
	DRAFirstFit Mode = "dra-first-fit"
	// DRAUpstream: ResourceClaims placed by the stock DynamicResources
	// plugin, no Gantry score at all (simulate.DRAStock); the policy plays
	// no part.
	DRAUpstream Mode = "dra-upstream"
)

// Modes lists every mode, the default first.
func Modes() []Mode { return []Mode{DevicePlugin, DRA, DRAFirstFit, DRAUpstream} }

// ParseMode reads a mode's name; "" is DevicePlugin.
func ParseMode(s string) (Mode, error) {
	if s == "" {
		return DevicePlugin, nil
	}
	for _, m := range Modes() {
		if string(m) == s {
			return m, nil
		}
	}
	names := make([]string, 0, 4)
	for _, m := range Modes() {
		names = append(names, string(m))
	}
	return "", fmt.Errorf("unknown mode %q (known: %s)", s, strings.Join(names, ", "))
}

// IsDRA reports whether pods ask through ResourceClaims.
func (m Mode) IsDRA() bool { return m == DRA || m == DRAFirstFit || m == DRAUpstream }

// UsesPolicy reports whether the run's policy decides anything.
func (m Mode) UsesPolicy() bool { return m != DRAUpstream }

// check says whether a run in m can do what it is asked.
func (m Mode) check(learned bool) error {
	if _, err := ParseMode(string(m)); err != nil {
		return err
	}
	if m.IsDRA() && learned {
		return fmt.Errorf("mode %s: GantryDRA does not learn a workload from claims; use the trace's workload", m)
	}
	return nil
}

func (m Mode) orDefault() Mode {
	if m == "" {
		return DevicePlugin
	}
	return m
}

// placer schedules one pod of a sim and tells what it holds.
type placer interface {
	// place runs one scheduling cycle; node is "" when the pod fits
	// nowhere.
	place(ctx context.Context, pod *corev1.Pod) (node string, bound *corev1.Pod, alloc contract.Allocation, err error)
	// release frees what a departed pod holds besides its bind.
	release(bound *corev1.Pod)
}

// devicePlugin places through GantryDeviceShare; the allocation is the
// one PreBind wrote on the pod.
type devicePlugin struct{ s *simulate.Scheduler }

func (d devicePlugin) place(ctx context.Context, pod *corev1.Pod) (string, *corev1.Pod, contract.Allocation, error) {
	res := d.s.Schedule(ctx, pod)
	if res.Node == "" {
		return "", nil, contract.Allocation{}, nil
	}
	a, _, _, err := contract.AllocationOf(res.Pod)
	if err != nil {
		return "", nil, a, fmt.Errorf("pod %s: %w", pod.Name, err)
	}
	return res.Node, res.Pod, a, nil
}

func (devicePlugin) release(*corev1.Pod) {}

// draPlacer places through a DRA plugin; the allocation is the claim's.
type draPlacer struct{ s *dramode.Scheduler }

func (d draPlacer) place(ctx context.Context, pod *corev1.Pod) (string, *corev1.Pod, contract.Allocation, error) {
	res, err := d.s.Schedule(ctx, pod)
	return res.Node, res.Pod, res.Allocation, err
}

func (d draPlacer) release(bound *corev1.Pod) { d.s.Release(bound) }

// draChoice maps a DRA mode to the plugin that places its claims.
func draChoice(m Mode) simulate.DRAChoice {
	switch m {
	case DRAFirstFit:
		return simulate.DRAFirstFit
	case DRAUpstream:
		return simulate.DRAStock
	default:
		return simulate.DRAGantry
	}
}
