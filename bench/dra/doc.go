// Package dra measures Gantry's DRA mode beside device-plugin mode through
// the simulator's own code path (simulator/engine with engine.Mode, as
// gantry-sim run --mode runs it): replay_test.go checks that FGD places
// every pod alike in both modes and measures upstream's first-fit choices
// beside it; bench_test.go compares their speed. bench/README.md records
// the figures and the commands.
package dra
