package inspect

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// ErrNoDeviceRequest is returned by Why for a pod that asks for no Gantry
// device: nothing of Gantry's keeps it from a node.
var ErrNoDeviceRequest = errors.New("the pod asks for no gantry.dev device")

// WhyGroup is one reason a pod does not fit, with the nodes that give it.
type WhyGroup struct {
	Code state.Code
	// Example is the reason's message on the first of Nodes.
	Example string
	// Unresolvable is true when the nodes would need other hardware, not
	// just free room (preemption or scale-down cannot help).
	Unresolvable bool
	Nodes        []string
}

// WhyReport is Why's answer.
type WhyReport struct {
	Pod string
	// Asks describes the pod's request, one entry per container.
	Asks []string
	// BoundTo is the pod's node, when it is bound.
	BoundTo string
	// Groups are the reasons, most common first.
	Groups []WhyGroup
	// Fits are the nodes whose devices could take the pod now: what keeps
	// it from them is another scheduler plugin (see the pod's events).
	Fits []string
	// NoInventory counts nodes that publish no Gantry inventory.
	NoInventory int
	Problems    []Problem
}

// Why runs, on every node, the Fit that gantry-scheduler's Filter runs
// (core/state.Fit over the node's device state, rebuilt from the Node and
// the pods bound to it as the scheduler rebuilds it) and groups the
// reasons. The pod itself is left out of the accounting.
func Why(pod *corev1.Pod, nodes []corev1.Node, pods []corev1.Pod) (*WhyReport, error) {
	req, err := share.Parse(pod)
	if err != nil {
		return nil, err
	}
	if req.Empty() {
		return nil, fmt.Errorf("%s/%s: %w", pod.Namespace, pod.Name, ErrNoDeviceRequest)
	}
	key := pod.Namespace + "/" + pod.Name
	c := build(nodes, pods, key)
	r := &WhyReport{Pod: key, BoundTo: pod.Spec.NodeName, Problems: c.problems, NoInventory: len(nodes) - len(c.states)}
	for _, p := range req.Parts {
		r.Asks = append(r.Asks, describe(p, req.Models[p.Kind]))
	}
	names := make([]string, 0, len(c.states))
	for n := range c.states {
		names = append(names, n)
	}
	sort.Strings(names)
	groups := map[state.Code]*WhyGroup{}
	for _, n := range names {
		reason, ok := state.Fit(c.states[n], req)
		if ok {
			r.Fits = append(r.Fits, n)
			continue
		}
		g := groups[reason.Code]
		if g == nil {
			g = &WhyGroup{Code: reason.Code, Example: reason.Message(), Unresolvable: reason.Unresolvable}
			groups[reason.Code] = g
		}
		g.Unresolvable = g.Unresolvable && reason.Unresolvable
		g.Nodes = append(g.Nodes, n)
	}
	for _, g := range groups {
		r.Groups = append(r.Groups, *g)
	}
	sort.Slice(r.Groups, func(i, j int) bool {
		if len(r.Groups[i].Nodes) != len(r.Groups[j].Nodes) {
			return len(r.Groups[i].Nodes) > len(r.Groups[j].Nodes)
		}
		return r.Groups[i].Code < r.Groups[j].Code
	})
	return r, nil
}

func describe(p share.Part, models []string) string {
	kind := strings.ToUpper(string(p.Kind))
	s := fmt.Sprintf("%d%% of one %s", p.Units, kind)
	if p.Whole() {
		s = fmt.Sprintf("%d whole %s", p.Count, kind)
	}
	if len(models) > 0 {
		s += " of model " + strings.Join(models, "|")
	}
	return fmt.Sprintf("container %q: %s", p.Container, s)
}

// maxNodesShown bounds the node names printed per reason.
const maxNodesShown = 5

// PrintWhy writes the report for people.
func PrintWhy(w io.Writer, r *WhyReport) error {
	fmt.Fprintf(w, "Pod %s asks for %s.\n", r.Pod, strings.Join(r.Asks, "; "))
	if r.BoundTo != "" {
		fmt.Fprintf(w, "It is bound to %s; the reasons below are for every other node.\n", r.BoundTo)
	}
	total := len(r.Fits)
	for _, g := range r.Groups {
		total += len(g.Nodes)
	}
	fmt.Fprintf(w, "Gantry's device fit (the scheduler's Filter) on %d nodes with an inventory", total)
	if r.NoInventory > 0 {
		fmt.Fprintf(w, " (%d more nodes publish none)", r.NoInventory)
	}
	fmt.Fprintln(w, ":")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODES\tREASON\tHELPS\tEXAMPLE\tON")
	for _, g := range r.Groups {
		helps := "free room (scale-down, preemption, deletes)"
		if g.Unresolvable {
			helps = "other hardware (a node group that has it)"
		}
		on := g.Nodes
		more := ""
		if len(on) > maxNodesShown {
			more = fmt.Sprintf(" and %d more", len(on)-maxNodesShown)
			on = on[:maxNodesShown]
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s%s\n", len(g.Nodes), g.Code, helps, g.Example, strings.Join(on, ","), more)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Fits) > 0 {
		fmt.Fprintf(w, "The devices of %d nodes could take it now (%s): what keeps it off them is another scheduler plugin; see kubectl describe pod.\n",
			len(r.Fits), strings.Join(firstN(r.Fits, maxNodesShown), ","))
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "warning: %s: %v\n", p.Object, p.Err)
	}
	return nil
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
