// Command gantry-scheduler is kube-scheduler with the GantryDeviceShare
// plugin compiled in. Run it with a KubeSchedulerConfiguration whose profile
// is named gantry-scheduler (see manifests/scheduler).
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-scheduler/app"

	"github.com/gantry-dev/gantry/scheduler/deviceshare"
)

func main() {
	command := app.NewSchedulerCommand(app.WithPlugin(deviceshare.Name, deviceshare.New))
	os.Exit(cli.Run(command))
}
