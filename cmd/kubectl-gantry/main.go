// Command kubectl-gantry is a kubectl plugin that shows per-device
// allocation: `kubectl gantry devices` lists every GPU/NPU with its model,
// health, the share in use and the pods holding it.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gantry-dev/gantry/inspect"
	"github.com/gantry-dev/gantry/internal/version"
)

func main() {
	var kubeconfig string
	root := &cobra.Command{Use: "kubectl-gantry", Short: "Inspect Gantry's per-device allocation", Version: version.Get().String()}
	root.SetVersionTemplate("kubectl-gantry {{.Version}}\n")
	root.PersistentFlags().StringVar(&kubeconfig, "kubeconfig", "", "path to a kubeconfig (default: $KUBECONFIG or ~/.kube/config)")
	root.AddCommand(&cobra.Command{
		Use:   "devices",
		Short: "List every device with its model, health, share in use and holders",
		RunE: func(cmd *cobra.Command, _ []string) error {
			rules := clientcmd.NewDefaultClientConfigLoadingRules()
			if kubeconfig != "" {
				rules.ExplicitPath = kubeconfig
			}
			cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
			if err != nil {
				return fmt.Errorf("loading kubeconfig: %w", err)
			}
			client, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return err
			}
			ctx := context.Background()
			nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil {
				return fmt.Errorf("listing nodes: %w", err)
			}
			pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName!="})
			if err != nil {
				return fmt.Errorf("listing pods: %w", err)
			}
			rows, problems := inspect.Devices(nodes.Items, pods.Items)
			return inspect.Print(cmd.OutOrStdout(), rows, problems)
		},
	})
	if err := root.Execute(); err != nil {
		os.Exit(1)
	}
}
