package engine

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// lowerThreadPriority makes the calling OS thread (locked to its
// goroutine) yield to the others: Linux keeps a nice value per thread.
// The detection run ahead (detectahead.go) is background work; at aheadNice
// above the host's the scheduler gives the frame's worker and the host's
// threads the cores whenever they want them. An error leaves the priority
// as it was.
func lowerThreadPriority() error {
	tid := syscall.Gettid()
	raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid) // the kernel's 20 - nice
	if err != nil {
		return err
	}
	return syscall.Setpriority(syscall.PRIO_PROCESS, tid, min(20-raw+aheadNice, 19))
}

func threadID() int { return syscall.Gettid() }

// threadCPU is the calling thread's CPU time in ns (0 when unknown): what
// a run on a locked, low-priority thread cost, whatever preempted it.
func threadCPU() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return ts.Nano()
}
