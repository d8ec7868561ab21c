package testenv

import "syscall"

// childAttr makes the kernel kill a child when the test binary dies, so that a
// crashed or killed test run leaves no slapd or redis-server behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
