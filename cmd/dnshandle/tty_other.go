//go:build !(aix || darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris || zos)

package main

import "os"

// isTerminal reports whether f is a character device.
// NOTE: without termios this also holds for null devices, so a prompt may
// read end of file from them instead of falling back to standard input.
func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
