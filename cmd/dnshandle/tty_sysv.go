//go:build aix || linux || solaris || zos

package main

import "golang.org/x/sys/unix"

// ioctlGetTermios is the ioctl request that reads the termios settings.
const ioctlGetTermios = unix.TCGETS
