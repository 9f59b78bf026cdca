// Command kubectl-gantry is a kubectl plugin for Gantry clusters:
// `kubectl gantry devices` lists every GPU/NPU with its model, health, the
// share in use and the pods holding it; `kubectl gantry why POD` shows, for
// a pending pod, each node's reason from the Fit gantry-scheduler runs,
// grouped and most common first; `kubectl gantry summary` totals capacity,
// use and stranded shares per model. Flags and wiring only; see inspect.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gantry-dev/gantry/inspect"
	"github.com/gantry-dev/gantry/internal/version"
)

type options struct {
	kubeconfig string
	namespace  string
}

func main() {
	o := &options{}
	root := &cobra.Command{Use: "kubectl-gantry", Short: "Inspect Gantry's per-device allocation", Version: version.Get().String(),
		SilenceUsage: true, SilenceErrors: true}
	root.SetVersionTemplate("kubectl-gantry {{.Version}}\n")
	root.PersistentFlags().StringVar(&o.kubeconfig, "kubeconfig", "", "path to a kubeconfig (default: $KUBECONFIG or ~/.kube/config)")
	root.AddCommand(&cobra.Command{
		Use:   "devices",
		Short: "List every device with its model, health, share in use and holders",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nodes, pods, err := o.cluster(cmd.Context())
			if err != nil {
				return err
			}
			rows, problems := inspect.Devices(nodes, pods)
			return inspect.Print(cmd.OutOrStdout(), rows, problems)
		},
	})
	why := &cobra.Command{
		Use:   "why POD",
		Short: "Show why a pod does not fit each node's devices, grouped by reason, most common first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, ns, err := o.client()
			if err != nil {
				return err
			}
			pod, err := client.CoreV1().Pods(ns).Get(cmd.Context(), args[0], metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("getting pod %s/%s: %w", ns, args[0], err)
			}
			nodes, pods, err := o.cluster(cmd.Context())
			if err != nil {
				return err
			}
			r, err := inspect.Why(pod, nodes, pods)
			if err != nil {
				return err
			}
			return inspect.PrintWhy(cmd.OutOrStdout(), r)
		},
	}
	why.Flags().StringVarP(&o.namespace, "namespace", "n", "", "the pod's namespace (default: the kubeconfig context's)")
	root.AddCommand(why)
	root.AddCommand(&cobra.Command{
		Use:   "summary",
		Short: "Per device model: capacity, used, free and stranded shares",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nodes, pods, err := o.cluster(cmd.Context())
			if err != nil {
				return err
			}
			rows, problems := inspect.Summary(nodes, pods)
			return inspect.PrintSummary(cmd.OutOrStdout(), rows, problems)
		},
	})
	if err := root.ExecuteContext(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "kubectl-gantry:", err)
		os.Exit(1)
	}
}

// client returns a clientset and the namespace to use.
func (o *options) client() (kubernetes.Interface, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if o.kubeconfig != "" {
		rules.ExplicitPath = o.kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("loading kubeconfig: %w", err)
	}
	ns := o.namespace
	if ns == "" {
		if ns, _, err = cc.Namespace(); err != nil {
			return nil, "", fmt.Errorf("kubeconfig namespace: %w", err)
		}
	}
	client, err := kubernetes.NewForConfig(cfg)
	return client, ns, err
}

// cluster lists every node and every bound pod.
func (o *options) cluster(ctx context.Context) ([]corev1.Node, []corev1.Pod, error) {
	client, _, err := o.client()
	if err != nil {
		return nil, nil, err
	}
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("listing nodes: %w", err)
	}
	pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName!="})
	if err != nil {
		return nil, nil, fmt.Errorf("listing pods: %w", err)
	}
	return nodes.Items, pods.Items, nil
}
