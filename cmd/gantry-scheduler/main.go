// Command gantry-scheduler is kube-scheduler with the GantryDeviceShare
// plugin and, for DRA mode, the GantryDRA plugin compiled in. Run it with a
// KubeSchedulerConfiguration whose profile is named gantry-scheduler (see
// manifests/scheduler; manifests/dra for DRA mode).
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-scheduler/app"

	"github.com/gantry-dev/gantry/internal/version"
	"github.com/gantry-dev/gantry/scheduler/deviceshare"
	"github.com/gantry-dev/gantry/scheduler/dra"
)

func main() {
	command := app.NewSchedulerCommand(
		app.WithPlugin(deviceshare.Name, deviceshare.New),
		app.WithPlugin(dra.Name, dra.New),
	)
	// kube-scheduler's own --version prints component-base's version,
	// which a module build leaves unset; report Gantry's build instead.
	command.PreRunE = func(cmd *cobra.Command, _ []string) error {
		if f := cmd.Flags().Lookup("version"); f != nil && f.Value.String() != "false" {
			fmt.Fprintln(cmd.OutOrStdout(), version.Line("gantry-scheduler"))
			os.Exit(0)
		}
		return nil
	}
	os.Exit(cli.Run(command))
}
