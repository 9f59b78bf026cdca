// Command gantry-webhook is Gantry's admission webhook: it names
// gantry-scheduler on pods that ask for Gantry devices, optionally
// translates nvidia.com/gpu requests, rewrites shares into
// ResourceClaimTemplate references in DRA-mode namespaces, refuses malformed share requests at
// creation and refuses writes of Gantry's allocation annotations by anyone
// but Gantry. Flags and wiring only; see package webhook.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	k8smetrics "k8s.io/component-base/metrics"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/internal/version"
	"github.com/gantry-dev/gantry/webhook"
	"github.com/gantry-dev/gantry/webhook/certs"
)

type options struct {
	kubeconfig, bindAddress, healthAddress string
	certMode, certDir                      string
	namespace, secretName, serviceName     string
	extraSANs                              string
	mutatingConfig, validatingConfig       string
	schedulerName                          string
	schedulerUsers, agentUsers             string
	caValidity, certValidity, certSync     time.Duration
}

func main() {
	klog.InitFlags(nil)
	var o options
	fs := flag.CommandLine
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file; in-cluster configuration when empty")
	fs.StringVar(&o.bindAddress, "bind-address", ":9443", "address serving admission reviews over TLS")
	fs.StringVar(&o.healthAddress, "health-bind-address", ":8081", "address serving /healthz, /readyz and /metrics; none when empty")
	fs.StringVar(&o.certMode, "cert-mode", "self-managed", "self-managed (a CA and certificate kept in --secret-name, caBundle injected) or files (tls.crt and tls.key in --cert-dir, e.g. from cert-manager)")
	fs.StringVar(&o.certDir, "cert-dir", "/etc/gantry-webhook/tls", "directory holding tls.crt and tls.key with --cert-mode=files")
	fs.StringVar(&o.namespace, "namespace", envOr("POD_NAMESPACE", "kube-system"), "namespace of the webhook's Service and Secret")
	fs.StringVar(&o.secretName, "secret-name", "gantry-webhook-tls", "Secret holding the self-managed CA and serving certificate")
	fs.StringVar(&o.serviceName, "service-name", "gantry-webhook", "the webhook's Service; the serving certificate names <service>.<namespace>.svc")
	fs.StringVar(&o.extraSANs, "tls-san", "", "comma-separated extra DNS names or IP addresses for the serving certificate")
	fs.StringVar(&o.mutatingConfig, "mutating-webhook-configuration", "gantry-webhook", "MutatingWebhookConfiguration whose caBundle is kept current; none when empty")
	fs.StringVar(&o.validatingConfig, "validating-webhook-configuration", "gantry-webhook", "ValidatingWebhookConfiguration whose caBundle is kept current; none when empty")
	fs.StringVar(&o.schedulerName, "scheduler-name", contract.SchedulerName, "schedulerName set on pods that ask for Gantry devices")
	fs.StringVar(&o.schedulerUsers, "scheduler-users", "system:serviceaccount:kube-system:gantry-scheduler", "comma-separated users that may write "+contract.AnnotationAllocation)
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.DurationVar(&o.caValidity, "ca-validity", certs.DefaultCAValidity, "lifetime of the self-managed CA; its successor is started after two thirds")
	fs.DurationVar(&o.certValidity, "cert-validity", certs.DefaultCertValidity, "lifetime of the self-managed serving certificate; renewed after two thirds")
	fs.DurationVar(&o.certSync, "cert-sync-interval", certs.DefaultInterval, "how often the Secret and the caBundle of the webhook configurations are checked")
	fs.StringVar(&o.agentUsers, "agent-users", "system:serviceaccount:kube-system:gantry-device-plugin", "comma-separated users that may write "+contract.AnnotationAllocated+" on pods of the node in their token")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.Line("gantry-webhook"))
		return
	}
	if err := run(o); err != nil {
		klog.ErrorS(err, "gantry-webhook failed")
		os.Exit(1)
	}
}

func run(o options) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	handlerMetrics := webhook.NewMetrics()
	reg := k8smetrics.NewKubeRegistry()
	handlerMetrics.Register(reg)
	cfg, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	if err != nil {
		return fmt.Errorf("kubernetes client configuration: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	handler, err := webhook.Handler(webhook.Config{
		SchedulerName:  o.schedulerName,
		SchedulerUsers: list(o.schedulerUsers),
		AgentUsers:     list(o.agentUsers),
		ClaimTemplates: client.ResourceV1(),
	}, handlerMetrics)
	if err != nil {
		return err
	}
	srv := webhook.Server{Addr: o.bindAddress, Handler: handler, HealthAddr: o.healthAddress, Registry: reg}
	switch o.certMode {
	case "files":
		f := &certs.Files{Dir: o.certDir}
		if err := f.Load(); err != nil {
			return fmt.Errorf("--cert-mode=files: %w", err)
		}
		srv.GetCertificate, srv.Ready = f.GetCertificate, func() bool { return true }
	case "self-managed":
		if o.certValidity <= 0 || o.caValidity <= o.certValidity {
			return fmt.Errorf("--cert-validity (%s) must be positive and shorter than --ca-validity (%s)", o.certValidity, o.caValidity)
		}
		if o.certSync <= 0 || o.certSync >= o.certValidity/3 {
			return fmt.Errorf("--cert-sync-interval (%s) must be positive and well under a third of --cert-validity (%s)", o.certSync, o.certValidity)
		}
		svc := o.serviceName + "." + o.namespace + ".svc"
		m := &certs.Manager{
			Client: client, Namespace: o.namespace, SecretName: o.secretName,
			DNSNames:                        []string{svc, svc + ".cluster.local"},
			MutatingWebhookConfigurations:   list(o.mutatingConfig),
			ValidatingWebhookConfigurations: list(o.validatingConfig),
			CAValidity:                      o.caValidity,
			CertValidity:                    o.certValidity,
			Interval:                        o.certSync,
		}
		for _, san := range list(o.extraSANs) {
			if ip := net.ParseIP(san); ip != nil {
				m.IPs = append(m.IPs, ip)
			} else {
				m.DNSNames = append(m.DNSNames, san)
			}
		}
		go m.Run(ctx)
		srv.GetCertificate, srv.Ready = m.GetCertificate, m.Ready
	default:
		return fmt.Errorf("--cert-mode: %q is neither self-managed nor files", o.certMode)
	}
	return webhook.Run(ctx, srv)
}

func list(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
