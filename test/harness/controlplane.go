package harness

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// DefaultStartTimeout bounds Start: etcd, kube-apiserver and the default
// ServiceAccount together. A warm start takes a few seconds.
const DefaultStartTimeout = 2 * time.Minute

// ControlPlane is a running etcd + kube-apiserver pair; see [Start].
type ControlPlane struct {
	// Config is the admin client configuration (user gantry-harness-admin in
	// group system:masters, client certificate auth). Copy it before changing
	// it: rest.CopyConfig(cp.Config).
	Config *rest.Config
	// Client is a clientset for Config.
	Client kubernetes.Interface
	// KubeconfigPath is a kubeconfig file for Config, for other processes.
	KubeconfigPath string
	// URL is kube-apiserver's address, https://127.0.0.1:<port>.
	URL string
	// EtcdURL is etcd's client URL, http://127.0.0.1:<port>.
	EtcdURL string
	// Dir holds the PKI, the kubeconfig and etcd's data; it is removed when
	// the test ends.
	Dir string
	// LogDir holds one log file per process; see [LogDir].
	LogDir string

	Etcd      *Process
	APIServer *Process

	pki *pki
}

// Option configures Start.
type Option func(*options)

type options struct {
	startTimeout   time.Duration
	apiServerFlags map[string]string
}

// WithStartTimeout bounds Start (default DefaultStartTimeout).
func WithStartTimeout(d time.Duration) Option {
	return func(o *options) { o.startTimeout = d }
}

// WithAPIServerFlags adds or overrides kube-apiserver flags, by name without
// the leading dashes: {"feature-gates": "Foo=true"}. An empty value removes a
// default flag. --secure-port cannot be overridden.
func WithAPIServerFlags(flags map[string]string) Option {
	return func(o *options) {
		for name, value := range flags {
			o.apiServerFlags[name] = value
		}
	}
}

// Start starts etcd and kube-apiserver from [BinDir] on free loopback ports,
// waits until the API server is ready, creates the default/default
// ServiceAccount and returns the control plane. Everything is torn down by
// t.Cleanup. Any failure, including a missing binary, fails the test.
func Start(t testing.TB, opts ...Option) *ControlPlane {
	t.Helper()
	o := options{startTimeout: DefaultStartTimeout, apiServerFlags: map[string]string{}}
	for _, opt := range opts {
		opt(&o)
	}
	// Fail fast, before creating anything, when a binary is missing.
	for _, name := range []string{"etcd", "kube-apiserver"} {
		BinaryPath(t, name)
	}

	ctx, cancel := context.WithTimeout(context.Background(), o.startTimeout)
	defer cancel()

	cp := &ControlPlane{LogDir: LogDir(t), Dir: t.TempDir()}
	var err error
	cp.pki, err = newPKI(
		[]net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(kubernetesServiceIP)},
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
	)
	if err != nil {
		t.Fatalf("harness: generate PKI: %v", err)
	}
	pkiDir := filepath.Join(cp.Dir, "pki")
	if err := os.MkdirAll(pkiDir, 0o700); err != nil {
		t.Fatalf("harness: %v", err)
	}
	files, err := writeAPIServerFiles(pkiDir, cp.pki)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}

	started := time.Now()
	cp.Etcd, cp.EtcdURL, err = startEtcd(ctx, cp.LogDir, filepath.Join(cp.Dir, "etcd"))
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	t.Cleanup(func() { cp.Etcd.cleanup(t) })

	cp.APIServer, cp.Config, err = startAPIServer(ctx, cp.LogDir, cp.EtcdURL, files, o.apiServerFlags, cp.adminConfig)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	t.Cleanup(func() { cp.APIServer.cleanup(t) })
	cp.URL = cp.Config.Host

	cp.Client, err = kubernetes.NewForConfig(cp.Config)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	cp.KubeconfigPath = filepath.Join(cp.Dir, "kubeconfig")
	if err := WriteKubeconfig(cp.KubeconfigPath, cp.Config); err != nil {
		t.Fatalf("harness: %v", err)
	}
	if err := ensureServiceAccount(ctx, cp.Client, metav1.NamespaceDefault, "default"); err != nil {
		t.Fatalf("harness: %v", err)
	}
	t.Logf("harness: control plane ready in %s at %s (kubeconfig %s, logs %s)",
		time.Since(started).Round(time.Millisecond), cp.URL, cp.KubeconfigPath, cp.LogDir)
	return cp
}

// adminConfig returns the admin client configuration for host.
func (cp *ControlPlane) adminConfig(host string) *rest.Config {
	return cp.configFor(host, &cp.pki.Admin)
}

func (cp *ControlPlane) configFor(host string, kp *keyPair) *rest.Config {
	return &rest.Config{
		Host: host,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   cp.pki.CA.CertPEM,
			CertData: kp.CertPEM,
			KeyData:  kp.KeyPEM,
		},
		// Tests create objects in bursts; client-side throttling only slows
		// them down.
		QPS:     1000,
		Burst:   2000,
		Timeout: 30 * time.Second,
	}
}

// UserConfig returns a client configuration that authenticates as user in
// groups with a fresh client certificate signed by the control plane's CA, for
// tests of RBAC rules (for example the scheduler's ClusterRole).
func (cp *ControlPlane) UserConfig(user string, groups ...string) (*rest.Config, error) {
	kp, err := cp.pki.CA.issueClient(time.Now(), user, groups...)
	if err != nil {
		return nil, fmt.Errorf("issue client certificate for %s: %w", user, err)
	}
	return cp.configFor(cp.URL, kp), nil
}

// ensureServiceAccount creates namespace/name, waiting for the namespace to
// appear (kube-apiserver creates "default" shortly after it is ready).
func ensureServiceAccount(ctx context.Context, client kubernetes.Interface, namespace, name string) error {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	return Poll(ctx, 0, pollInterval, fmt.Sprintf("create ServiceAccount %s/%s", namespace, name), func(ctx context.Context) (bool, error, error) {
		_, err := client.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			return true, nil, nil
		}
		return false, err, nil // typically NotFound: the namespace is not there yet
	})
}

// writeFile writes data to path, readable by its owner only.
func writeFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
