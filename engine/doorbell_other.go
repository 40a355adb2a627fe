//go:build !linux

package engine

import (
	"sync"
	"sync/atomic"
)

// bellWaiter waits and wakes with a condition variable where there is no
// futex; the word is read under its lock, so no wake is lost.
type bellWaiter struct {
	mu   sync.Mutex
	cond *sync.Cond
}

func (b *bellWaiter) init() {
	if b.cond == nil {
		b.cond = sync.NewCond(&b.mu)
	}
}

func (b *bellWaiter) wait(word *uint32, t uint32) {
	b.mu.Lock()
	b.init()
	for atomic.LoadUint32(word) == t {
		b.cond.Wait()
	}
	b.mu.Unlock()
}

func (b *bellWaiter) wake(word *uint32, n int32) {
	b.mu.Lock()
	b.init()
	b.cond.Broadcast()
	b.mu.Unlock()
}
