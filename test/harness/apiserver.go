package harness

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

const (
	// ServiceClusterIPRange is the control plane's --service-cluster-ip-range.
	ServiceClusterIPRange = "10.96.0.0/16"
	// kubernetesServiceIP is the first address of ServiceClusterIPRange, the
	// ClusterIP of the default/kubernetes Service.
	kubernetesServiceIP = "10.96.0.1"
	// ServiceAccountIssuer is the control plane's --service-account-issuer.
	ServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local"
)

// apiServerFiles are the files kube-apiserver reads, written by Start.
type apiServerFiles struct {
	caCert, servingCert, servingKey, saKey, saPub, certDir string
}

// defaultAPIServerFlags returns the minimum kube-apiserver flags for a
// single-node, loopback-only control plane without a controller-manager.
func defaultAPIServerFlags(etcdURL string, port int, f apiServerFiles) map[string]string {
	return map[string]string{
		"etcd-servers":         etcdURL,
		"bind-address":         "127.0.0.1",
		"advertise-address":    "127.0.0.1",
		"secure-port":          strconv.Itoa(port),
		"tls-cert-file":        f.servingCert,
		"tls-private-key-file": f.servingKey,
		// Never fall back to /var/run/kubernetes for generated certificates.
		"cert-dir":       f.certDir,
		"client-ca-file": f.caCert,
		// Service-account tokens: issued with the private key, verified with
		// the public one.
		"service-account-issuer":           ServiceAccountIssuer,
		"service-account-signing-key-file": f.saKey,
		"service-account-key-file":         f.saPub,
		"service-cluster-ip-range":         ServiceClusterIPRange,
		// As in a real cluster; the admin (system:masters) bypasses both.
		"authorization-mode": "Node,RBAC",
		// Both plugins need controllers that do not run here: ServiceAccount
		// rejects pods until the token controller creates each namespace's
		// "default" ServiceAccount, and TaintNodesByCondition taints every new
		// node node.kubernetes.io/not-ready until the node lifecycle
		// controller removes it.
		"disable-admission-plugins": "ServiceAccount,TaintNodesByCondition",
		// The default "lease" reconciler refuses a loopback advertise
		// address; nothing in a test needs the kubernetes Service's endpoints.
		"endpoint-reconciler-type": "none",
		"allow-privileged":         "true",
		"profiling":                "false",
	}
}

// apiServerArgs renders flags as sorted --name=value arguments; an empty value
// drops the flag.
func apiServerArgs(flags map[string]string) []string {
	names := make([]string, 0, len(flags))
	for name, value := range flags {
		if value != "" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	args := make([]string, 0, len(names))
	for _, name := range names {
		args = append(args, "--"+name+"="+flags[name])
	}
	return args
}

// startAPIServer starts bin/kube-apiserver against etcdURL and waits for
// /readyz. cfgFor returns the admin client configuration for a host URL.
func startAPIServer(ctx context.Context, logDir, etcdURL string, files apiServerFiles, overrides map[string]string, cfgFor func(host string) *rest.Config) (*Process, *rest.Config, error) {
	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		port, err := FreePort()
		if err != nil {
			return nil, nil, err
		}
		flags := defaultAPIServerFlags(etcdURL, port, files)
		for name, value := range overrides {
			flags[strings.TrimLeft(name, "-")] = value
		}
		if p, ok := flags["secure-port"]; ok && p != strconv.Itoa(port) {
			return nil, nil, fmt.Errorf("start kube-apiserver: the harness picks --secure-port itself; do not override it")
		}
		p, err := ProcessSpec{
			Path:        "kube-apiserver",
			Args:        apiServerArgs(flags),
			StopTimeout: 10 * time.Second,
		}.start(logDir)
		if err != nil {
			return nil, nil, err
		}
		cfg := cfgFor("https://127.0.0.1:" + strconv.Itoa(port))
		err = waitAPIServerReady(ctx, p, cfg)
		if err == nil {
			return p, cfg, nil
		}
		lastErr = err
		_ = p.Kill()
		if !portTaken(p) || ctx.Err() != nil {
			break
		}
	}
	return nil, nil, fmt.Errorf("start kube-apiserver: %w", lastErr)
}

// waitAPIServerReady polls /readyz (which covers etcd, the RBAC bootstrap
// roles, the system priority classes and the other post-start hooks) with the
// admin identity until it returns 200.
func waitAPIServerReady(ctx context.Context, p *Process, cfg *rest.Config) error {
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	client.Timeout = 5 * time.Second
	return Poll(ctx, 0, pollInterval, "wait for kube-apiserver /readyz", func(ctx context.Context) (bool, error, error) {
		if p.Exited() {
			return false, nil, exitedError(p)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Host+"/readyz", nil)
		if err != nil {
			return false, nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, err, nil
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("GET /readyz: %s: %s", resp.Status, strings.TrimSpace(string(body))), nil
		}
		return true, nil, nil
	})
}

// writeAPIServerFiles writes the PKI files kube-apiserver reads into dir.
func writeAPIServerFiles(dir string, p *pki) (apiServerFiles, error) {
	f := apiServerFiles{
		caCert:      filepath.Join(dir, "ca.crt"),
		servingCert: filepath.Join(dir, "apiserver.crt"),
		servingKey:  filepath.Join(dir, "apiserver.key"),
		saKey:       filepath.Join(dir, "sa.key"),
		saPub:       filepath.Join(dir, "sa.pub"),
		certDir:     filepath.Join(dir, "generated"),
	}
	for path, data := range map[string][]byte{
		f.caCert:      p.CA.CertPEM,
		f.servingCert: p.Serving.CertPEM,
		f.servingKey:  p.Serving.KeyPEM,
		f.saKey:       p.ServiceAccountKeyPEM,
		f.saPub:       p.ServiceAccountPubPEM,
	} {
		if err := writeFile(path, data); err != nil {
			return f, err
		}
	}
	return f, nil
}
