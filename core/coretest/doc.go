// Package coretest holds builders for core's types, for tests across the
// project: MakeNode("n1").Zone("a").GPUs("A100", 8, 81920).Obj() and
// MakePod("p").GPUPercent(30).Obj().
package coretest
