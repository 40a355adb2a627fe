package vram

import (
	"sync"
	"testing"
)

func TestBytePoolClasses(t *testing.T) {
	tests := []struct{ n, wantCap int }{
		{1, 1}, {2, 2}, {3, 4}, {4, 4}, {5, 8}, {1000, 1024}, {1024, 1024}, {1025, 2048},
		{1920 * 1080 * 4, 8 << 20},
	}
	p := NewBytePool(4)
	for _, tt := range tests {
		b := p.Get(tt.n)
		f := p.GetFloat32(tt.n)
		if len(b) != tt.n || cap(b) != tt.wantCap || len(f) != tt.n || cap(f) != tt.wantCap {
			t.Errorf("Get(%d): len %d cap %d, float32 len %d cap %d; want cap %d",
				tt.n, len(b), cap(b), len(f), cap(f), tt.wantCap)
		}
		p.Put(b)
		p.PutFloat32(f)
	}
	if p.Get(0) != nil || p.GetFloat32(-1) != nil {
		t.Error("Get(<=0) should be nil")
	}
	p.Put(nil) // no-op, not counted
	if s := p.Stats(); s.Dropped != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestBytePoolReuse(t *testing.T) {
	p := NewBytePool(2)
	a := p.Get(100)
	a[0] = 42
	p.Put(a)
	b := p.Get(120) // same class (128): the same memory back
	if &b[0] != &a[0] || len(b) != 120 {
		t.Error("buffer not reused within its class")
	}
	p.Put(b)
	p.Put(make([]byte, 10, 12)) // cap 12 is no class size: dropped
	p.Put(make([]byte, 128))
	p.Put(make([]byte, 128)) // class 128 holds 2 already: dropped
	if fs := p.GetFloat32(100); cap(fs) != 128 {
		t.Error("float32 list must be separate from the byte list")
	}
	s := p.Stats()
	want := PoolStats{Hits: 1, Misses: 2, Dropped: 2, HitRate: 1.0 / 3}
	if s != want {
		t.Errorf("stats\n got %+v\nwant %+v", s, want)
	}
	if p := NewBytePool(0); p.maxPerClass != defaultPerClass {
		t.Errorf("default per class %d", p.maxPerClass)
	}
}

func TestBytePoolNoAllocs(t *testing.T) {
	p := NewBytePool(8)
	// Warm up: the first Put of a class makes its free list.
	p.Put(p.Get(1 << 16))
	p.PutFloat32(p.GetFloat32(1 << 12))
	before := p.Stats()
	allocs := testing.AllocsPerRun(1000, func() {
		b := p.Get(60000)
		f := p.GetFloat32(3000)
		b[0], f[0] = 1, 1
		p.Put(b)
		p.PutFloat32(f)
	})
	if allocs != 0 {
		t.Errorf("steady state allocates %.1f times per Get/Put", allocs)
	}
	s := p.Stats()
	if s.Misses != before.Misses || s.Hits-before.Hits != 2*1001 || s.HitRate < 0.99 {
		t.Errorf("stats %+v (before %+v)", s, before)
	}
}

func TestBytePoolConcurrent(t *testing.T) {
	p := NewBytePool(4)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				b := p.Get(1 + (w*i)%5000)
				b[len(b)-1] = byte(w)
				p.Put(b)
			}
		}()
	}
	wg.Wait()
	if s := p.Stats(); s.Hits+s.Misses != 8*500 {
		t.Errorf("stats %+v", s)
	}
}

func BenchmarkBytePool(b *testing.B) {
	p := NewBytePool(8)
	b.ReportAllocs()
	for b.Loop() {
		p.Put(p.Get(640 * 480 * 4))
	}
}

func BenchmarkMakeSlice(b *testing.B) { // the ratio to BenchmarkBytePool is the point
	b.ReportAllocs()
	var sink []byte
	for b.Loop() {
		sink = make([]byte, 640*480*4)
	}
	_ = sink
}
