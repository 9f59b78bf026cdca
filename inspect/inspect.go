package inspect

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// DeviceRow is one device and what is taken of it.
type DeviceRow struct {
	Node, Zone, ID, Model, Health string
	// Isolation is the level the device enforces (none, mps, mig).
	Isolation   string
	Index       int
	Kind        string
	UsedPercent int
	Pods        []string
}

// Problem is a record that could not be used, reported rather than hidden.
type Problem struct {
	Object string
	Err    error
}

// cluster is every node's device state with the pods counted on it, the
// way the scheduler's accounting counts them.
type cluster struct {
	states   map[string]*state.NodeState
	holders  map[string][]string // device ID -> pods
	problems []Problem
}

// build rebuilds each node's state from its inventory and the pods bound
// to it; skip, if not empty, names a pod (namespace/name) left out.
func build(nodes []corev1.Node, pods []corev1.Pod, skip string) *cluster {
	c := &cluster{states: map[string]*state.NodeState{}, holders: map[string][]string{}}
	for i := range nodes {
		n := &nodes[i]
		inv, err := contract.InventoryOf(n)
		if errors.Is(err, contract.ErrNoInventory) {
			continue
		}
		if err != nil {
			c.problems = append(c.problems, Problem{Object: "node/" + n.Name, Err: err})
			continue
		}
		c.states[n.Name] = state.New(n.Name, n.Labels[corev1.LabelTopologyZone], inv)
	}
	for i := range pods {
		p := &pods[i]
		st, ok := c.states[p.Spec.NodeName]
		if !ok || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		key := p.Namespace + "/" + p.Name
		if key == skip {
			continue
		}
		// What counts is what the scheduler and the autoscaler count: a
		// forged or stale record is reported, never shown as held.
		a, _, has, err := contract.Authority{}.Counted(p)
		if err != nil {
			c.problems = append(c.problems, Problem{Object: "pod/" + key, Err: err})
		}
		if !has {
			continue
		}
		if err := st.Assign(key, state.Holding{Allocation: a, Workload: share.WorkloadOf(p)}); err != nil {
			c.problems = append(c.problems, Problem{Object: "pod/" + key, Err: err})
			continue
		}
		for id := range a.Units() {
			c.holders[id] = append(c.holders[id], key)
		}
	}
	return c
}

// Devices returns a row per device of every node that publishes an
// inventory, with the pods holding shares on it, and the records that could
// not be applied.
func Devices(nodes []corev1.Node, pods []corev1.Pod) ([]DeviceRow, []Problem) {
	c := build(nodes, pods, "")
	states, holders, problems := c.states, c.holders, c.problems
	var rows []DeviceRow
	for _, st := range states {
		for _, d := range st.Devices {
			ps := append([]string(nil), holders[d.ID]...)
			sort.Strings(ps)
			rows = append(rows, DeviceRow{Node: st.Name, Zone: st.Zone, ID: d.ID, Model: d.Model, Health: string(d.Health),
				Isolation: string(d.Level()), Index: d.Index, Kind: string(d.Kind), UsedPercent: d.Used, Pods: ps})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Node != rows[j].Node {
			return rows[i].Node < rows[j].Node
		}
		return rows[i].Index < rows[j].Index
	})
	return rows, problems
}

// Print writes rows and problems as a table.
func Print(w io.Writer, rows []DeviceRow, problems []Problem) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tZONE\tDEVICE\tKIND\tMODEL\tHEALTH\tISOLATION\tUSED\tPODS")
	for _, r := range rows {
		pods := strings.Join(r.Pods, ",")
		if pods == "" {
			pods = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%d%%\t%s\n", r.Node, orDash(r.Zone), r.Index, r.Kind, r.Model, r.Health, r.Isolation, r.UsedPercent, pods)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintf(w, "warning: %s: %v\n", p.Object, p.Err)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
