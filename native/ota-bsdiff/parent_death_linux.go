package main

import "syscall"

// A generator worker killed mid-job (abort, out of memory) must not leave this process running.
func init() {
	const prSetPdeathsig = 1
	syscall.RawSyscall(syscall.SYS_PRCTL, prSetPdeathsig, uintptr(syscall.SIGKILL), 0)
}
