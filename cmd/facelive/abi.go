package main

import (
	"strings"
	"unsafe"

	"facelive/bridge"
	"facelive/engine/frame"
)

// The bench drives package bridge, the code behind the exported facelive_*
// functions, with Go memory standing in for the host's: a Go program
// cannot load the Go c-shared library itself (two Go runtimes cannot share
// a process). These helpers speak the ABI's terms.

// abiFrame describes a frame as a C host would (facelive_frame).
func abiFrame(fr *frame.Frame) *bridge.Frame {
	f := &bridge.Frame{StructSize: uint32(unsafe.Sizeof(bridge.Frame{})), Format: uint32(fr.Format),
		Width: uint32(fr.Width), Height: uint32(fr.Height), PtsNs: fr.PTS}
	for i := 0; i < fr.Format.Planes(); i++ {
		f.Data[i] = unsafe.Pointer(&fr.Planes[i][0])
		f.Linesize[i] = uint32(fr.Stride[i])
	}
	return f
}

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
