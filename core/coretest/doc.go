// Package coretest holds builders for core's types, for tests across the
// project: MakeNode("n1").Zone("a").GPUs("A100", 8, 81920).Obj() and
// MakePod("p").GPUPercent(30).Obj(); Hold(state, pod, units, devices...) to
// take shares on a NodeState; and View(state), everything observable about
// a NodeState, for cmp.Diff.
package coretest
