//go:build unix

package main

import "syscall"

// restrictFileModes makes every file and directory this process creates private to
// its user (0600 files, 0700 directories), including those libraries create.
func restrictFileModes() { syscall.Umask(0o077) }
