package main

import (
	"strings"

	"facelive/bridge"
)

// The bench drives package bridge, the code behind the exported facelive_*
// functions (a Go program cannot load the Go c-shared library itself: two
// Go runtimes cannot share a process). These helpers read its answers.

func lastError(h uint64) string {
	buf := make([]byte, 2048)
	bridge.LastError(h, buf)
	return cString(buf)
}

func cString(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}
