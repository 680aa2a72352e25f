//go:build !linux

package main

import "syscall"

// childProcAttr: only Linux can tie a child's life to its parent's; elsewhere the
// components are stopped explicitly, and outlive a parent that is killed.
func childProcAttr() *syscall.SysProcAttr {
	return nil
}
