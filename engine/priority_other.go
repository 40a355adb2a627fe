//go:build !linux

package engine

// lowerThreadPriority is Linux's per-thread nice value; elsewhere the run
// ahead and the live workers keep the process's priority.
func lowerThreadPriority(by int) error { return nil }

func threadID() int { return 0 }

func threadCPU() int64 { return 0 }
