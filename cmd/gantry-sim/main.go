// Command gantry-sim replays GPU cluster traces through the real
// kube-scheduler framework with Gantry's GantryDeviceShare plugin and writes
// a report: the FGD paper's workload-inflation experiment, a virtual-time
// replay with departures, and the sharing-gain measurement.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "gantry-sim:", err)
		os.Exit(1)
	}
}
