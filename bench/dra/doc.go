// Package dra replays traces in Gantry's DRA mode beside device-plugin mode
// (replay_test.go); bench/dra.md records the figures and the command.
package dra
