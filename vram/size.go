package vram

import "os"

// SizeOf estimates a model's resident size from its files: the sum of their
// sizes times 1.3, because ONNX Runtime holds the weights plus arenas and
// per-session buffers. Missing files and directories count 0, so a model
// that is not there yet sizes as nothing rather than failing here.
func SizeOf(paths ...string) int64 {
	var total int64
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		total += fi.Size()
	}
	return total * 13 / 10
}
