package main

import (
	"os"
	"syscall"
)

// datasync makes the written bytes durable (fdatasync: no metadata flush beyond the size).
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
