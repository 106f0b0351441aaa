//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package main

import "golang.org/x/sys/unix"

// ioctlGetTermios is the ioctl request that reads the termios settings.
const ioctlGetTermios = unix.TIOCGETA
