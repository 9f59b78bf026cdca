package harness

import "syscall"

// sysProcAttr puts the child in its own process group (so the harness can
// signal it and its descendants together) and has the kernel SIGKILL it if
// the test binary dies without running its cleanups.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
