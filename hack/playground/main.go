// Command gantry-playground runs the local Gantry cluster of
// test/playground until it gets SIGINT or SIGTERM (Ctrl-C, or
// `make playground-down`, which signals the pid in --dir/pid), then stops
// everything and removes what it wrote. Flags and wiring only.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/gantry-dev/gantry/test/playground"
)

func main() {
	dir := flag.String("dir", "out/playground", "directory for the kubeconfig and the pid file")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "gantry-playground:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return err
	}
	pidFile := filepath.Join(abs, "pid")
	if b, err := os.ReadFile(pidFile); err == nil {
		if pid, err := strconv.Atoi(string(b)); err == nil && syscall.Kill(pid, 0) == nil {
			return fmt.Errorf("a playground is already running (pid %d); stop it with make playground-down", pid)
		}
	}
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	defer os.Remove(pidFile)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	p, err := playground.Start(playground.Config{Dir: abs, Logf: logf})
	if err != nil {
		return err
	}
	fmt.Printf(`
Gantry playground is running: kube-apiserver, KWOK, gantry-scheduler,
gantry-autoscaler (node groups t4-zone-a and a100-zone-b, one node each)
and gantry-webhook.

  export KUBECONFIG=%[1]s
  kubectl get nodes -L gantry.dev/gpu-model,topology.kubernetes.io/zone
  kubectl apply -f examples/
  kubectl get pods -o wide
  bin/kubectl-gantry devices

Process logs: %[2]s
Stop it with Ctrl-C or "make playground-down"; it removes everything it started.
playground: ready
`, p.Kubeconfig, p.LogDir)
	sig := <-stop
	logf("playground: %s, stopping", sig)
	return p.Stop()
}
