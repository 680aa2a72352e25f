package main

import "syscall"

// childProcAttr makes the kernel send a component SIGTERM when this process dies,
// even by SIGKILL, so that no component outlives the API server it talks to.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
