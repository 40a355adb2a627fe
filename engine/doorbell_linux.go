package engine

import (
	"syscall"
	"unsafe"
)

// Linux futex operations on a process-private word.
const (
	futexWaitPrivate = 0 | 128 // FUTEX_WAIT | FUTEX_PRIVATE_FLAG
	futexWakePrivate = 1 | 128 // FUTEX_WAKE | FUTEX_PRIVATE_FLAG
)

// bellWaiter waits and wakes on the doorbell's word with futex(2).
type bellWaiter struct{}

// wait sleeps while *word == t (a spurious return is fine: the caller
// checks again). A blocking syscall: Go hands this thread's P to others.
func (bellWaiter) wait(word *uint32, t uint32) {
	syscall.Syscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexWaitPrivate, uintptr(t), 0, 0, 0)
}

// wake wakes up to n threads sleeping on word. Raw: it never blocks, and
// the caller (a host's thread) keeps its P.
func (bellWaiter) wake(word *uint32, n int32) {
	syscall.RawSyscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexWakePrivate, uintptr(n), 0, 0, 0)
}
