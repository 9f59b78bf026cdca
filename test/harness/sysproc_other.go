//go:build !linux

package harness

import "syscall"

// sysProcAttr puts the child in its own process group, so the harness can
// signal it and its descendants together.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
