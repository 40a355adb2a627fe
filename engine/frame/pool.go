package frame

import "sync"

// Buffer is a frame whose planes live in one pooled allocation, packed
// tightly (stride = row bytes). The pipeline owns it from submit to output.
type Buffer struct {
	Frame
	mem  []byte
	pool *Pool
	// Seq orders frames in the pipeline; Submitted is the clock reading at
	// submit. Both are set by the pipeline.
	Seq       uint64
	Submitted int64
	// Damage is where the pipeline wrote into the frame (see CopyDamaged).
	Damage Damage
}

// Release returns the buffer to its pool. The buffer must not be used after.
func (b *Buffer) Release() { b.pool.put(b) }

// Pool recycles Buffers so the steady state allocates nothing. Frames of one
// stream all need the same size, so a short free list searched linearly is
// enough; when the stream changes size, buffers of the old size are dropped
// as they come back.
type Pool struct {
	mu          sync.Mutex
	free        []*Buffer
	maxFree     int
	gets, hits  uint64
	outstanding int
}

// NewPool returns a pool that keeps at most maxFree idle buffers.
func NewPool(maxFree int) *Pool {
	return &Pool{free: make([]*Buffer, 0, maxFree), maxFree: maxFree}
}

// Get returns a buffer laid out for a frame of this geometry, which must be
// valid (see CheckGeometry). Its pixels are undefined.
func (p *Pool) Get(f Format, width, height int) *Buffer {
	need := 0
	for i := 0; i < f.Planes(); i++ {
		need += PlaneLen(f, i, width, height, f.RowBytes(i, width))
	}
	p.mu.Lock()
	p.gets++
	p.outstanding++
	var b *Buffer
	// Newest first: the buffer released last is the one most likely still
	// in the CPU's caches.
	for i := len(p.free) - 1; i >= 0; i-- {
		// Reuse a buffer that fits without wasting more than half of it.
		if c := p.free[i]; cap(c.mem) >= need && cap(c.mem) <= 2*need {
			b = c
			copy(p.free[i:], p.free[i+1:])
			p.free[len(p.free)-1] = nil
			p.free = p.free[:len(p.free)-1]
			p.hits++
			break
		}
	}
	p.mu.Unlock()
	if b == nil {
		b = &Buffer{mem: make([]byte, need), pool: p}
	}
	b.layout(f, width, height, need)
	return b
}

func (b *Buffer) layout(f Format, width, height, need int) {
	b.mem = b.mem[:need]
	b.Damage.Reset()
	b.Frame = Frame{Format: f, Width: width, Height: height}
	off := 0
	for i := 0; i < f.Planes(); i++ {
		stride := f.RowBytes(i, width)
		n := PlaneLen(f, i, width, height, stride)
		b.Planes[i] = b.mem[off : off+n : off+n]
		b.Stride[i] = stride
		off += n
	}
}

func (p *Pool) put(b *Buffer) {
	p.mu.Lock()
	p.outstanding--
	if len(p.free) < p.maxFree {
		p.free = append(p.free, b)
	}
	p.mu.Unlock()
}

// PoolStats is a snapshot of a pool's counters.
type PoolStats struct {
	Gets, Hits  uint64
	Outstanding int // buffers handed out and not yet released
	Free        int
}

// HitRate is the share of Gets served without allocating.
func (s PoolStats) HitRate() float64 {
	if s.Gets == 0 {
		return 0
	}
	return float64(s.Hits) / float64(s.Gets)
}

// Stats returns the pool's counters.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PoolStats{Gets: p.gets, Hits: p.hits, Outstanding: p.outstanding, Free: len(p.free)}
}

// Drain drops every idle buffer so their memory can be reclaimed.
func (p *Pool) Drain() {
	p.mu.Lock()
	clear(p.free)
	p.free = p.free[:0]
	p.mu.Unlock()
}
