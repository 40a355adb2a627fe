package engine

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// lowerThreadPriority raises the calling OS thread's nice value by `by`
// (at most to 19): Linux keeps a nice value per thread, so a goroutine
// locked to its thread yields to the others. A thread's priority can be
// lowered but, without privileges, not raised back: such a thread ends with
// its goroutine. An error leaves the priority as it was.
func lowerThreadPriority(by int) error {
	tid := syscall.Gettid()
	raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid) // the kernel's 20 - nice
	if err != nil {
		return err
	}
	return syscall.Setpriority(syscall.PRIO_PROCESS, tid, min(20-raw+by, 19))
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
