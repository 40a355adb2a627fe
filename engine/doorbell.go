package engine

import "sync/atomic"

// doorbell wakes the workers that wait for frames. A host's thread rings it
// inside facelive_submit_frame; a Go channel send there would ready the
// worker's goroutine on the host's own P, and Go then preempted the host's
// next call (facelive_get_frame) to hand that P over: 1-4 ms on OBS's
// graphics thread in about 1 % of frames. Ringing is an atomic add and, on
// Linux, a futex wake: the kernel wakes the worker's thread, Go's scheduler
// is not involved.
//
// It is an event count: a worker takes a ticket, checks for work, and waits
// only while no ring came after its ticket, so no ring is ever lost.
type doorbell struct {
	seq     uint32       // bumped by every ring (atomically); the futex word
	waiters atomic.Int32 // workers inside wait: ring skips the syscall without them
	impl    bellWaiter   // the platform's wait and wake (doorbell_linux.go, doorbell_other.go)
}

// ticket is the state a worker checks for work against.
func (d *doorbell) ticket() uint32 { return atomic.LoadUint32(&d.seq) }

// wait blocks until a ring after ticket t; at once if one came already.
func (d *doorbell) wait(t uint32) {
	d.waiters.Add(1)
	for atomic.LoadUint32(&d.seq) == t {
		d.impl.wait(&d.seq, t)
	}
	d.waiters.Add(-1)
}

// ring wakes up to n waiting workers (ringAll: every one).
func (d *doorbell) ring(n int32) {
	atomic.AddUint32(&d.seq, 1)
	if d.waiters.Load() > 0 {
		d.impl.wake(&d.seq, n)
	}
}

// ringAll wakes every waiting worker (shutdown, workers replaced).
const ringAll = 1<<31 - 1
