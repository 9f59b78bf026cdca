package playground

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/textlogger"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gantry-dev/gantry/test/harness"
)

// AutoscalerConfig is the playground's node groups, relative to the
// repository root.
const AutoscalerConfig = "examples/playground/autoscaler-config.yaml"

// schedulerManifest holds the scheduler's shipped KubeSchedulerConfiguration.
const schedulerManifest = "manifests/scheduler/deployment.yaml"

// webhookManifest holds the shipped webhook configurations.
const webhookManifest = "manifests/webhook/webhooks.yaml"

// Config configures Start.
type Config struct {
	// Dir receives the kubeconfig; it is created if needed and the
	// kubeconfig is removed again by Stop.
	Dir string
	// Logf receives progress messages.
	Logf func(format string, args ...any)
}

// Playground is a running local cluster.
type Playground struct {
	// Kubeconfig is the admin kubeconfig, Dir/kubeconfig.
	Kubeconfig string
	// LogDir holds one log per process while the playground runs.
	LogDir string
	// ControlPlane is the API server and etcd.
	ControlPlane *harness.ControlPlane

	s      *session
	cancel context.CancelFunc
}

// Start brings the playground up. On error everything already started is
// stopped again.
func Start(cfg Config) (p *Playground, err error) {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	s, err := newSession("playground", cfg.Logf)
	if err != nil {
		return nil, err
	}
	p = &Playground{s: s}
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(fatalError)
			if !ok {
				panic(r)
			}
			err = f
		}
		if err != nil {
			p.Stop()
			p = nil
		}
	}()
	root, err := harness.RepoRoot()
	if err != nil {
		return nil, err
	}
	started := time.Now()
	cp := harness.Start(s)
	p.ControlPlane, p.LogDir = cp, harness.LogDir(s)
	harness.StartKWOK(s, cp, "")

	// The in-process controllers log beside the processes.
	ctrlLog, err := os.Create(filepath.Join(p.LogDir, "controllers.log"))
	if err != nil {
		return nil, err
	}
	s.Cleanup(func() { _ = ctrlLog.Close() })
	logger := textlogger.NewLogger(textlogger.NewConfig(textlogger.Output(ctrlLog)))
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), logger))
	p.cancel = cancel
	s.Cleanup(cancel)
	if err := runWorkloadControllers(ctx, cp); err != nil {
		return nil, err
	}

	schedCfg, err := schedulerConfig(filepath.Join(root, schedulerManifest), cp.KubeconfigPath)
	if err != nil {
		return nil, err
	}
	schedFile := filepath.Join(s.TempDir(), "scheduler-config.yaml")
	if err := os.WriteFile(schedFile, schedCfg, 0o600); err != nil {
		return nil, err
	}
	port, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	harness.StartProcess(s, "gantry-scheduler",
		"--config="+schedFile,
		"--authentication-kubeconfig="+cp.KubeconfigPath,
		"--authorization-kubeconfig="+cp.KubeconfigPath,
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(port),
		"--v=2",
	)
	harness.StartProcess(s, "gantry-autoscaler",
		"--kubeconfig="+cp.KubeconfigPath,
		"--config="+filepath.Join(root, AutoscalerConfig),
		"--scheduler-config="+schedFile,
		"--provider=kwok",
		"--scan-interval=2s",
		"--metrics-bind-address=",
		"--health-probe-bind-address=",
		"--status-configmap=",
		"--leader-elect=false",
		"--v=2",
	)

	if err := startWebhook(s, cp, filepath.Join(root, webhookManifest)); err != nil {
		return nil, err
	}

	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	p.Kubeconfig = filepath.Join(cfg.Dir, "kubeconfig")
	if err := harness.WriteKubeconfig(p.Kubeconfig, cp.Config); err != nil {
		return nil, err
	}
	s.Cleanup(func() { _ = os.Remove(p.Kubeconfig) })
	cfg.Logf("playground: up in %s: kube-apiserver %s, KWOK, gantry-scheduler, gantry-autoscaler (node groups from %s), gantry-webhook",
		time.Since(started).Round(100*time.Millisecond), cp.URL, AutoscalerConfig)
	return p, nil
}

// Stop stops every process, removes the kubeconfig and the temporary
// files, and reports whether anything failed on the way (a process that
// had died, one that would not stop).
func (p *Playground) Stop() error {
	p.s.close()
	if p.s.Failed() {
		return errors.New("playground: a process failed or did not stop cleanly; see the messages above")
	}
	return nil
}

// schedulerConfig extracts the KubeSchedulerConfiguration that
// manifests/scheduler ships and points it at kubeconfig.
func schedulerConfig(manifest, kubeconfig string) ([]byte, error) {
	raw, err := os.ReadFile(manifest)
	if err != nil {
		return nil, err
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", manifest, err)
		}
		var cm corev1.ConfigMap
		if err := sigsyaml.Unmarshal(doc, &cm); err != nil || cm.Kind != "ConfigMap" {
			continue
		}
		data, ok := cm.Data["scheduler-config.yaml"]
		if !ok {
			continue
		}
		var cfg map[string]any
		if err := sigsyaml.Unmarshal([]byte(data), &cfg); err != nil {
			return nil, fmt.Errorf("%s: scheduler-config.yaml: %w", manifest, err)
		}
		cfg["clientConnection"] = map[string]any{"kubeconfig": kubeconfig, "qps": 100, "burst": 200}
		return sigsyaml.Marshal(cfg)
	}
	return nil, fmt.Errorf("%s holds no ConfigMap with scheduler-config.yaml", manifest)
}
