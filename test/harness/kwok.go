package harness

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	// KWOKNodeAnnotation marks the nodes KWOK manages: StartKWOK runs KWOK
	// with --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake.
	KWOKNodeAnnotation = "kwok.x-k8s.io/node"
	// KWOKNodeAnnotationValue is the value of KWOKNodeAnnotation.
	KWOKNodeAnnotationValue = "fake"

	// KWOKStatusAnnotation set to KWOKStatusManual on a node or pod makes the
	// harness's Stage configs leave it alone, so a test can drive its status
	// (for example mark a node NotReady, or keep a pod Terminating).
	KWOKStatusAnnotation = "gantry.dev/kwok-status"
	// KWOKStatusManual is the value of KWOKStatusAnnotation that opts out.
	KWOKStatusManual = "manual"

	// KWOKPodCIDR is the pool KWOK gives pod IPs from.
	KWOKPodCIDR = "10.244.0.0/16"
	// KWOKNodeIP is the InternalIP of every KWOK node (and hostIP of its pods).
	KWOKNodeIP = "127.0.0.1"

	// kwokStartTimeout bounds the wait for KWOK's /healthz.
	kwokStartTimeout = time.Minute
)

// StartKWOK runs bin/kwok against cp, managing the nodes annotated
// kwok.x-k8s.io/node=fake (and the pods bound to them) with the Stage configs
// in stagesDir (every *.yaml/*.yml file; "" means [DefaultStagesDir]). It
// returns once KWOK's controllers run (its /healthz answers); the test's
// cleanup stops it.
func StartKWOK(t testing.TB, cp *ControlPlane, stagesDir string) *Process {
	t.Helper()
	if stagesDir == "" {
		var err error
		if stagesDir, err = DefaultStagesDir(); err != nil {
			t.Fatalf("harness: %v", err)
		}
	}
	configs, err := stageFiles(stagesDir)
	if err != nil {
		t.Fatalf("harness: KWOK stages: %v", err)
	}
	port, err := FreePort()
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	// KWOK reads ~/.kwok/kwok.yaml (or $KWOK_WORKDIR/kwok.yaml) if it exists;
	// point both at an empty directory so only our configs count.
	workDir := t.TempDir()
	args := []string{
		"--kubeconfig=" + cp.KubeconfigPath,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + KWOKNodeAnnotation + "=" + KWOKNodeAnnotationValue,
		"--cidr=" + KWOKPodCIDR,
		"--node-ip=" + KWOKNodeIP,
		"--server-address=127.0.0.1:" + strconv.Itoa(port),
	}
	for _, c := range configs {
		args = append(args, "--config="+c)
	}
	p := ProcessSpec{
		Path:        "kwok",
		Args:        args,
		Env:         []string{"HOME=" + workDir, "KWOK_WORKDIR=" + workDir},
		StopTimeout: 5 * time.Second,
	}.Start(t)

	ctx, cancel := context.WithTimeout(context.Background(), kwokStartTimeout)
	defer cancel()
	if err := waitHTTPOK(ctx, p, "http://127.0.0.1:"+strconv.Itoa(port)+"/healthz"); err != nil {
		t.Fatalf("harness: start kwok: %v", err)
	}
	return p
}

// stageFiles lists the YAML files in dir, sorted.
func stageFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() && (strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			files = append(files, filepath.Join(dir, name))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.yaml Stage configs in %s", dir)
	}
	sort.Strings(files)
	return files, nil
}

// waitHTTPOK polls url until it answers 200 OK, failing early if p exits.
func waitHTTPOK(ctx context.Context, p *Process, url string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	return Poll(ctx, 0, pollInterval, "wait for "+p.Name()+" at "+url, func(ctx context.Context) (bool, error, error) {
		if p.Exited() {
			return false, nil, exitedError(p)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, err, nil
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("GET %s: %s", url, resp.Status), nil
		}
		return true, nil, nil
	})
}
