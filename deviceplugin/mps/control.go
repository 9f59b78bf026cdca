package mps

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// Commands of the control daemon's stdin protocol.
const (
	cmdGetThreads     = "get_default_active_thread_percentage"
	cmdSetThreads     = "set_default_active_thread_percentage"
	cmdSetPinnedLimit = "set_default_device_pinned_mem_limit"
	cmdQuit           = "quit"
)

// env is the environment of every control invocation: the daemon's own
// directories, and PCI order so that device ordinals match NVML indices.
func (d *Daemon) env() []string {
	return []string{
		"CUDA_MPS_PIPE_DIRECTORY=" + d.cfg.PipeDir,
		"CUDA_MPS_LOG_DIRECTORY=" + d.cfg.LogDir,
		"CUDA_DEVICE_ORDER=PCI_BUS_ID",
		"PATH=/usr/local/nvidia/bin:/usr/bin:/bin:/usr/sbin:/sbin",
	}
}

// control sends one command to the running daemon and returns its answer.
func (d *Daemon) control(ctx context.Context, command string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.cfg.ControlBinary)
	cmd.Env = d.env()
	cmd.Stdin = strings.NewReader(command + "\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %q: %w: %s", d.cfg.ControlBinary, command, err, strings.TrimSpace(out.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// probe asks the daemon for its default thread percentage: the health
// check NVIDIA's components use.
func (d *Daemon) probe(ctx context.Context) error {
	out, err := d.control(ctx, cmdGetThreads)
	if err != nil {
		return err
	}
	if _, err := strconv.ParseFloat(out, 64); err != nil {
		return fmt.Errorf("%s answered %q, not a percentage", cmdGetThreads, out)
	}
	return nil
}

// startDaemon runs "nvidia-cuda-mps-control -d", which forks the daemon
// and returns.
func (d *Daemon) startDaemon(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.cfg.ControlBinary, "-d")
	cmd.Env = d.env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("starting %s -d: %w: %s", d.cfg.ControlBinary, err, strings.TrimSpace(out.String()))
	}
	return nil
}
