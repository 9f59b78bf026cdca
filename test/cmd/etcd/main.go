// Command etcd is a minimal single-member etcd server for integration tests.
//
// It wraps go.etcd.io/etcd/server/v3/embed so that the test control plane is
// built from the project's own go.mod instead of a downloaded release. Only
// the few flags the test harness needs are exposed; logging is quiet (errors
// only) so that test logs stay readable.
//
// The process exits with status 0 on SIGINT/SIGTERM after closing the server,
// and with a non-zero status if the server fails to start or stops on its own.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "etcd: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("etcd", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "directory for the member's data (required)")
	clientURL := fs.String("listen-client-url", "http://127.0.0.1:2379", "URL to serve clients on (also advertised)")
	peerURL := fs.String("listen-peer-url", "http://127.0.0.1:2380", "URL to serve peers on (also advertised)")
	name := fs.String("name", "default", "member name")
	logLevel := fs.String("log-level", "error", "zap log level: debug, info, warn, error")
	unsafeNoFsync := fs.Bool("unsafe-no-fsync", false, "skip fsync; faster, but data may be lost on a crash (tests only)")
	startTimeout := fs.Duration("start-timeout", time.Minute, "how long to wait for the server to become ready")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if *dataDir == "" {
		return errors.New("--data-dir is required")
	}
	curl, err := parseURL("listen-client-url", *clientURL)
	if err != nil {
		return err
	}
	purl, err := parseURL("listen-peer-url", *peerURL)
	if err != nil {
		return err
	}

	cfg := embed.NewConfig()
	cfg.Name = *name
	cfg.Dir = *dataDir
	cfg.ListenClientUrls = []url.URL{*curl}
	cfg.AdvertiseClientUrls = []url.URL{*curl}
	cfg.ListenPeerUrls = []url.URL{*purl}
	cfg.AdvertisePeerUrls = []url.URL{*purl}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.Logger = "zap"
	cfg.LogLevel = *logLevel
	cfg.LogOutputs = []string{"stderr"}
	cfg.UnsafeNoFsync = *unsafeNoFsync

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer e.Close()

	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		return fmt.Errorf("serve: %w", err)
	case <-time.After(*startTimeout):
		e.Server.Stop()
		return fmt.Errorf("server not ready after %s", *startTimeout)
	}
	fmt.Fprintf(os.Stderr, "etcd: ready, serving clients on %s\n", curl)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	select {
	case sig := <-sigs:
		fmt.Fprintf(os.Stderr, "etcd: received %s, shutting down\n", sig)
		return nil
	case err := <-e.Err():
		return fmt.Errorf("serve: %w", err)
	case <-e.Server.StopNotify():
		return errors.New("server stopped unexpectedly")
	}
}

func parseURL(flagName, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flagName, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("--%s: want http(s)://host:port, got %q", flagName, raw)
	}
	return u, nil
}
