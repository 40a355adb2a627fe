package engine

import (
	"sync"
	"testing"
	"time"
)

// A ring that came after the ticket never blocks the wait, whether it came
// before the wait started or while it sleeps; ringAll wakes every waiter.
// (Timeouts here only turn a hang into a failure.)
func TestDoorbell(t *testing.T) {
	var d doorbell
	tk := d.ticket()
	d.ring(1) // before the wait: no waiter, no syscall, still seen
	waitOrFail(t, "a ring before the wait", func() { d.wait(tk) })

	const n = 4
	var started, done sync.WaitGroup
	started.Add(n)
	done.Add(n)
	for range n {
		tk := d.ticket()
		go func() {
			started.Done()
			d.wait(tk)
			done.Done()
		}()
	}
	started.Wait()
	for d.waiters.Load() < n { // every one inside wait (or about to sleep in it)
		time.Sleep(time.Millisecond)
	}
	d.ring(ringAll)
	waitOrFail(t, "ringAll with 4 waiters", done.Wait)

	tk = d.ticket()
	woke := make(chan struct{})
	go func() { d.wait(tk); close(woke) }()
	for d.waiters.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	d.ring(1)
	waitOrFail(t, "ring(1) with a sleeping waiter", func() { <-woke })
	if w := d.waiters.Load(); w != 0 {
		t.Errorf("%d waiters counted after every wait returned", w)
	}
}

func waitOrFail(t *testing.T, what string, f func()) {
	t.Helper()
	ok := make(chan struct{})
	go func() { f(); close(ok) }()
	select {
	case <-ok:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the wait did not return in 10 s", what)
	}
}
