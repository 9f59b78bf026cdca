// Package bench holds Gantry's benchmarks; bench/README.md records their
// results with the commands that produced them.
package bench
