package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// startAttempts bounds how often a server is restarted on fresh ports when it
// exits during start-up (another process may take a port between FreePort
// and the server binding it).
const startAttempts = 3

// startEtcd starts bin/etcd with its data in dataDir and waits until it
// reports healthy. It returns the process and its client URL.
func startEtcd(ctx context.Context, logDir, dataDir string) (*Process, string, error) {
	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		ports, err := freePorts(2)
		if err != nil {
			return nil, "", err
		}
		clientURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
		p, err := ProcessSpec{
			Path: "etcd",
			Args: []string{
				"--data-dir=" + filepath.Join(dataDir, strconv.Itoa(attempt)),
				"--listen-client-url=" + clientURL,
				"--listen-peer-url=http://127.0.0.1:" + strconv.Itoa(ports[1]),
				"--unsafe-no-fsync",
			},
			StopTimeout: 5 * time.Second,
		}.start(logDir)
		if err != nil {
			return nil, "", err
		}
		err = waitEtcdHealthy(ctx, p, clientURL)
		if err == nil {
			return p, clientURL, nil
		}
		lastErr = err
		_ = p.Kill()
		if !portTaken(p) || ctx.Err() != nil {
			break // not a port race: retrying would fail the same way
		}
	}
	return nil, "", fmt.Errorf("start etcd: %w", lastErr)
}

// portTaken reports whether p's log says it could not bind its port, the
// one start-up failure that a retry on fresh ports fixes.
func portTaken(p *Process) bool {
	tail, _, err := readTail(p.LogPath(), logTailBytes)
	return err == nil && strings.Contains(tail, "address already in use")
}

// waitEtcdHealthy polls etcd's /health endpoint until it says healthy.
func waitEtcdHealthy(ctx context.Context, p *Process, clientURL string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	return Poll(ctx, 0, pollInterval, "wait for etcd to be healthy", func(ctx context.Context) (bool, error, error) {
		if p.Exited() {
			return false, nil, exitedError(p)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, clientURL+"/health", nil)
		if err != nil {
			return false, nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, err, nil
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var health struct {
			Health string `json:"health"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &health) != nil || health.Health != "true" {
			return false, fmt.Errorf("GET /health: %s: %s", resp.Status, body), nil
		}
		return true, nil, nil
	})
}
