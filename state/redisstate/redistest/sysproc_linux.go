package redistest

import "syscall"

// sysProcAttr makes the server die with the test binary, even when the test
// binary is killed.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
