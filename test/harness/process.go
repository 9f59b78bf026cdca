package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// DefaultStopTimeout is how long Stop waits after SIGTERM before SIGKILL.
const DefaultStopTimeout = 10 * time.Second

// killWait bounds the wait for a process to die after SIGKILL.
const killWait = 10 * time.Second

// ProcessSpec describes a process for [ProcessSpec.Start]. Only Path is
// required.
type ProcessSpec struct {
	// Path is a binary name looked up in [BinDir], or a path to a binary.
	Path string
	// Args are the command-line arguments (without the program name).
	Args []string
	// Name names the log file (<Name>.log); default: the binary's base name.
	Name string
	// Env is appended to the test process's environment.
	Env []string
	// Dir is the working directory; default: the test's working directory.
	Dir string
	// StopTimeout is the SIGTERM grace period of Stop; default
	// DefaultStopTimeout.
	StopTimeout time.Duration
}

// Process is a supervised child process: it runs in its own process group,
// its stdout and stderr go to a log file in the test's [LogDir], and the
// test's cleanup stops it. A process that exits on its own before the test
// ends, without the test calling Wait, Stop or Kill, fails the test.
type Process struct {
	name        string
	cmdline     string
	logPath     string
	cmd         *exec.Cmd
	stopTimeout time.Duration

	done chan struct{} // closed once the process has exited and was reaped
	err  error         // exit error; read only after done is closed

	mu       sync.Mutex
	expected bool // the test asked for the exit (Stop, Kill, Wait)
}

// StartProcess starts the binary name (looked up in [BinDir] unless it
// contains a path separator) with args, e.g.
//
//	harness.StartProcess(t, "gantry-scheduler", "--config="+cfg, "--kubeconfig="+cp.KubeconfigPath)
//
// A missing binary fails the test.
func StartProcess(t testing.TB, name string, args ...string) *Process {
	t.Helper()
	return ProcessSpec{Path: name, Args: args}.Start(t)
}

// Start starts the process described by s; see [Process].
func (s ProcessSpec) Start(t testing.TB) *Process {
	t.Helper()
	p, err := s.start(LogDir(t))
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	t.Cleanup(func() { p.cleanup(t) })
	return p
}

func (s ProcessSpec) start(logDir string) (*Process, error) {
	path, err := binaryPath(s.Path)
	if err != nil {
		return nil, err
	}
	name := s.Name
	if name == "" {
		name = filepath.Base(path)
	}
	logFile, logPath, err := createLogFile(logDir, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cmdline := strings.Join(append([]string{path}, s.Args...), " ")
	fmt.Fprintf(logFile, "# harness: %s\n# harness: started %s\n", cmdline, time.Now().Format(time.RFC3339Nano))

	cmd := exec.Command(path, s.Args...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}

	p := &Process{
		name:        name,
		cmdline:     cmdline,
		logPath:     logPath,
		cmd:         cmd,
		stopTimeout: s.StopTimeout,
		done:        make(chan struct{}),
	}
	if p.stopTimeout <= 0 {
		p.stopTimeout = DefaultStopTimeout
	}
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(logFile, "\n# harness: exited %s: %v\n", time.Now().Format(time.RFC3339Nano), exitDescription(err))
		logFile.Close()
		p.err = err
		close(p.done)
	}()
	return p, nil
}

// createLogFile creates <dir>/<name>.log, or <name>-2.log, -3, ... if a
// process of that name already ran in this test (for example, a restart).
func createLogFile(dir, name string) (*os.File, string, error) {
	for i := 1; i < 1000; i++ {
		base := name
		if i > 1 {
			base = fmt.Sprintf("%s-%d", name, i)
		}
		path := filepath.Join(dir, base+".log")
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		return f, path, err
	}
	return nil, "", fmt.Errorf("too many log files for %s in %s", name, dir)
}

// Name returns the process's name (its log file's base name).
func (p *Process) Name() string { return p.name }

// PID returns the process ID, which is also its process group ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// LogPath returns the file that receives the process's stdout and stderr.
func (p *Process) LogPath() string { return p.logPath }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err returns the process's exit error (nil for exit status 0); it is only
// meaningful once Exited is true.
func (p *Process) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.err
}

// Wait waits until the process exits or ctx ends, and returns the exit error
// (or ctx's error). An exit after Wait was called is expected and does not
// fail the test.
func (p *Process) Wait(ctx context.Context) error {
	p.expect()
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("wait for %s: %w", p.name, ctx.Err())
	}
}

// Stop sends SIGTERM to the process group, waits up to the stop timeout, then
// sends SIGKILL; afterwards it kills whatever is left in the group. It returns
// nil if the process was running (or had already been stopped), and the exit
// error if it had exited on its own. Stop is idempotent.
func (p *Process) Stop() error {
	alreadyExited := p.Exited() && !p.isExpected()
	p.expect()
	if alreadyExited {
		p.killGroup()
		return fmt.Errorf("%s had already exited: %s", p.name, exitDescription(p.err))
	}
	if !p.Exited() {
		_ = p.signalGroup(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(p.stopTimeout):
		}
	}
	return p.kill()
}

// Kill sends SIGKILL to the process group at once, as a crash would, and
// waits for the process to exit.
func (p *Process) Kill() error {
	p.expect()
	return p.kill()
}

// Signal sends sig to the process group.
func (p *Process) Signal(sig syscall.Signal) error {
	return p.signalGroup(sig)
}

func (p *Process) kill() error {
	p.killGroup()
	select {
	case <-p.done:
		return nil
	case <-time.After(killWait):
		return fmt.Errorf("%s (pid %d) still running %s after SIGKILL", p.name, p.PID(), killWait)
	}
}

// killGroup SIGKILLs every process left in the group (the process's children
// included, even after the leader exited).
func (p *Process) killGroup() {
	_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
}

func (p *Process) signalGroup(sig syscall.Signal) error {
	if p.Exited() {
		return nil
	}
	if err := syscall.Kill(-p.PID(), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s to %s: %w", sig, p.name, err)
	}
	return nil
}

func (p *Process) expect() {
	p.mu.Lock()
	p.expected = true
	p.mu.Unlock()
}

func (p *Process) isExpected() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.expected
}

// cleanup stops the process at the end of the test and fails the test if the
// process died on its own or cannot be stopped.
func (p *Process) cleanup(t testing.TB) {
	t.Helper()
	if err := p.Stop(); err != nil {
		t.Errorf("harness: %v (log: %s)", err, p.logPath)
	}
}

// exitDescription renders a Wait error for humans.
func exitDescription(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
