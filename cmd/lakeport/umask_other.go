//go:build !unix

package main

// restrictFileModes: no umask here; files rely on the data dir's access control.
func restrictFileModes() {}
