package vram

import (
	"math/bits"
	"sync"
)

// numClasses covers every power of two an int can hold.
const numClasses = bits.UintSize

// defaultPerClass is how many free buffers a class keeps when the caller
// does not say: enough for a few in-flight frames per size.
const defaultPerClass = 16

// PoolStats counts Get calls served from a free list (hits) and those that
// had to allocate (misses), over both element types.
type PoolStats struct {
	Hits, Misses uint64
	Dropped      uint64 // Puts not kept: class full, or a slice whose cap is no class size
	HitRate      float64
}

// BytePool hands out []byte and []float32 by power-of-two size class.
//
// It uses a mutex and free lists instead of sync.Pool because putting a
// slice into a sync.Pool boxes its header (one allocation per Put), and the
// per-frame path must not allocate. A free list grows to maxPerClass once and
// then only moves slice headers.
type BytePool struct {
	mu          sync.Mutex
	maxPerClass int
	bytes       [numClasses][][]byte
	floats      [numClasses][][]float32
	hits        uint64
	misses      uint64
	dropped     uint64
}

// NewBytePool keeps at most maxPerClass free buffers per size class and
// element type (<= 0: 16).
func NewBytePool(maxPerClass int) *BytePool {
	if maxPerClass <= 0 {
		maxPerClass = defaultPerClass
	}
	return &BytePool{maxPerClass: maxPerClass}
}

// class is the smallest c with 1<<c >= n (n >= 1).
func class(n int) int { return bits.Len(uint(n - 1)) }

// exactClass is the class whose size is exactly c, or -1.
func exactClass(c int) int {
	if c <= 0 || c&(c-1) != 0 {
		return -1
	}
	return bits.TrailingZeros(uint(c))
}

// Get returns a []byte of len n and cap the class size (the next power of
// two); its contents are whatever the last user left. n <= 0 gives nil.
func (p *BytePool) Get(n int) []byte { return get(p, &p.bytes, n) }

// Put gives b back. Slices whose cap is not a power of two (not from Get)
// and those beyond maxPerClass are left to the garbage collector.
func (p *BytePool) Put(b []byte) { put(p, &p.bytes, b) }

// GetFloat32 is Get for []float32 (n elements; classes count elements).
func (p *BytePool) GetFloat32(n int) []float32 { return get(p, &p.floats, n) }

// PutFloat32 is Put for []float32.
func (p *BytePool) PutFloat32(b []float32) { put(p, &p.floats, b) }

func get[T any](p *BytePool, lists *[numClasses][][]T, n int) []T {
	if n <= 0 {
		return nil
	}
	c := class(n)
	p.mu.Lock()
	if l := lists[c]; len(l) > 0 {
		b := l[len(l)-1]
		l[len(l)-1] = nil // the list must not keep a handed-out buffer alive
		lists[c] = l[:len(l)-1]
		p.hits++
		p.mu.Unlock()
		return b[:n]
	}
	p.misses++
	p.mu.Unlock()
	return make([]T, n, 1<<c)
}

func put[T any](p *BytePool, lists *[numClasses][][]T, b []T) {
	if cap(b) == 0 { // Put(nil) after Get(0)
		return
	}
	c := exactClass(cap(b))
	p.mu.Lock()
	defer p.mu.Unlock()
	if c < 0 || len(lists[c]) >= p.maxPerClass {
		p.dropped++
		return
	}
	if lists[c] == nil {
		lists[c] = make([][]T, 0, p.maxPerClass) // once per class, never again
	}
	lists[c] = append(lists[c], b[:cap(b)])
}

// Stats returns the counters; HitRate is 0 before the first Get.
func (p *BytePool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := PoolStats{Hits: p.hits, Misses: p.misses, Dropped: p.dropped}
	if n := p.hits + p.misses; n > 0 {
		s.HitRate = float64(p.hits) / float64(n)
	}
	return s
}
