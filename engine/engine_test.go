package engine

import (
	"errors"
	"fmt"
	"math/rand"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"facelive/engine/config"
	"facelive/engine/frame"
)

// newTestFrame returns a frame with padded strides and a pattern derived
// from seed, so different frames differ.
func newTestFrame(f frame.Format, w, h, pad int, seed int) *frame.Frame {
	fr := &frame.Frame{Format: f, Width: w, Height: h, PTS: int64(seed)}
	for i := 0; i < f.Planes(); i++ {
		stride := f.RowBytes(i, w) + pad
		buf := make([]byte, stride*f.Rows(i, h))
		for j := range buf {
			buf[j] = byte(j*31 + seed*7 + i)
		}
		fr.Planes[i], fr.Stride[i] = buf, stride
	}
	return fr
}

func blank(f frame.Format, w, h, pad int) *frame.Frame {
	fr := newTestFrame(f, w, h, pad, 0)
	for i := range fr.Planes {
		clear(fr.Planes[i])
	}
	return fr
}

func sameRows(a, b *frame.Frame) bool {
	for i := 0; i < a.Format.Planes(); i++ {
		row := a.Format.RowBytes(i, a.Width)
		for y := 0; y < a.Format.Rows(i, a.Height); y++ {
			if string(a.Planes[i][y*a.Stride[i]:y*a.Stride[i]+row]) != string(b.Planes[i][y*b.Stride[i]:y*b.Stride[i]+row]) {
				return false
			}
		}
	}
	return true
}

// testConfig is the defaults with the swapper off, so tests of the
// queueing core run without face models, plus partial.
func testConfig(t testing.TB, partial string) config.Config {
	t.Helper()
	base := config.Default()
	base.Swapper.Kind = "none"
	cfg, err := base.Patch([]byte(partial))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newPipeline(t testing.TB, partial string, opts ...Option) *Pipeline {
	t.Helper()
	cfg := testConfig(t, partial)
	p, err := New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// checkInvariant fails when the counters do not add up.
func checkInvariant(t testing.TB, m Metrics) {
	t.Helper()
	if int64(m.FramesSubmitted) != int64(m.FramesOutput)+int64(m.FramesDropped)+m.InFlight || m.InFlight < 0 {
		t.Fatalf("invariant broken: submitted %d != output %d + dropped %d + in_flight %d",
			m.FramesSubmitted, m.FramesOutput, m.FramesDropped, m.InFlight)
	}
}

// gate is a stage that holds every frame until the test lets it pass.
type gate struct{ pass chan struct{} }

func newGate() *gate                       { return &gate{pass: make(chan struct{}, 1000)} }
func (g *gate) Name() string               { return "gate" }
func (g *gate) Process(*frame.Frame) error { <-g.pass; return nil }
func (g *gate) open(n int) {
	for range n {
		g.pass <- struct{}{}
	}
}

// marker writes a known byte into the first pixel: a visible "edit".
type marker struct{}

func (marker) Name() string { return "marker" }
func (marker) Process(f *frame.Frame) error {
	f.Planes[0][0] = 0xAB
	return nil
}

func TestPassThroughEveryFormat(t *testing.T) {
	p := newPipeline(t, `{"mode":"quality"}`)
	for _, f := range frame.Formats {
		w, h := 641, 359
		if f == frame.NV12 || f == frame.I420 {
			w, h = 640, 358
		} else if f == frame.YUY2 {
			w = 640
		}
		t.Run(f.String(), func(t *testing.T) {
			src := newTestFrame(f, w, h, 13, int(f))
			dst := blank(f, w, h, 5)
			if err := p.Submit(src); err != nil {
				t.Fatal(err)
			}
			if err := p.Get(dst, 2*time.Second); err != nil {
				t.Fatal(err)
			}
			if !sameRows(src, dst) {
				t.Fatal("output differs from input")
			}
			if dst.PTS != src.PTS {
				t.Fatalf("pts %d, want %d", dst.PTS, src.PTS)
			}
		})
	}
	checkInvariant(t, p.Metrics())
}

func TestGetMismatchKeepsFrame(t *testing.T) {
	p := newPipeline(t, `{"mode":"quality"}`)
	src := newTestFrame(frame.BGRA, 64, 48, 0, 5)
	if err := p.Submit(src); err != nil {
		t.Fatal(err)
	}
	if err := p.Get(blank(frame.BGRA, 32, 48, 0), time.Second); !errors.Is(err, ErrMismatch) {
		t.Fatalf("wrong size: %v, want ErrMismatch", err)
	}
	if err := p.Get(blank(frame.RGBA, 64, 48, 0), time.Second); !errors.Is(err, ErrMismatch) {
		t.Fatalf("wrong format: %v, want ErrMismatch", err)
	}
	dst := blank(frame.BGRA, 64, 48, 0)
	if err := p.Get(dst, time.Second); err != nil || !sameRows(src, dst) {
		t.Fatalf("frame not kept after mismatch: %v", err)
	}
}

func TestSkipStrategiesWhenFull(t *testing.T) {
	tests := []struct {
		mode, skip  string
		wantErr     error
		wantDropped uint64
		wantRefused uint64
	}{
		{"realtime", "drop_oldest", nil, 1, 0},
		{"realtime", "drop_newest", ErrDropped, 1, 0},
		{"realtime", "none", ErrBusy, 0, 1},
		{"realtime", "adaptive", nil, 1, 0}, // the waiting frame is stale (service time unknown): evict it
		{"quality", "adaptive", ErrBusy, 0, 1},
		{"quality", "drop_oldest", nil, 1, 0},
		{"balanced", "drop_newest", ErrDropped, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.mode+"/"+tt.skip, func(t *testing.T) {
			g := newGate()
			p := newPipeline(t, fmt.Sprintf(`{"mode":%q,"skip":%q,"workers":1}`, tt.mode, tt.skip), WithStages(g))
			var err error
			n := 0
			for ; n < 100; n++ { // fill until the policy acts
				before := p.Metrics()
				err = p.Submit(newTestFrame(frame.BGRA, 8, 8, 0, n))
				after := p.Metrics()
				if after.FramesDropped != before.FramesDropped || after.FramesRefused != before.FramesRefused {
					break
				}
				if err != nil {
					t.Fatalf("frame %d: %v before the pipeline was full", n, err)
				}
				time.Sleep(time.Millisecond) // let the worker pick the first frame up
			}
			m := p.Metrics()
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("submit when full: %v, want %v", err, tt.wantErr)
			}
			if m.FramesDropped != tt.wantDropped || m.FramesRefused != tt.wantRefused {
				t.Fatalf("dropped %d refused %d, want %d and %d", m.FramesDropped, m.FramesRefused, tt.wantDropped, tt.wantRefused)
			}
			checkInvariant(t, m)
			g.open(1000)
		})
	}
}

func TestRealtimeNewestWins(t *testing.T) {
	p := newPipeline(t, `{"mode":"realtime","skip":"drop_oldest","workers":1}`)
	for i := 1; i <= 50; i++ {
		p.Submit(newTestFrame(frame.BGRA, 16, 16, 0, i))
	}
	// Let processing finish, then the one frame we get is the newest.
	deadline := time.Now().Add(2 * time.Second)
	for p.Metrics().InFlight > 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	dst := blank(frame.BGRA, 16, 16, 0)
	if err := p.Get(dst, time.Second); err != nil {
		t.Fatal(err)
	}
	if dst.PTS != 50 {
		t.Fatalf("got pts %d, want the newest (50)", dst.PTS)
	}
	if err := p.Get(dst, 0); !errors.Is(err, ErrNoFrame) {
		t.Fatalf("second get: %v, want ErrNoFrame (older frames superseded)", err)
	}
	m := p.Metrics()
	checkInvariant(t, m)
	if m.FramesOutput != 1 || m.FramesDropped != 49 || m.InFlight != 0 {
		t.Fatalf("output %d dropped %d in flight %d, want 1, 49, 0", m.FramesOutput, m.FramesDropped, m.InFlight)
	}
}

// jitter is a stage with random delays, so workers finish out of order.
type jitter struct{}

func (jitter) Name() string { return "jitter" }
func (jitter) Process(*frame.Frame) error {
	time.Sleep(time.Duration(rand.Intn(300)) * time.Microsecond)
	return nil
}

func TestOrderedModesKeepEveryFrameInOrder(t *testing.T) {
	for _, mode := range []string{"quality", "batch"} {
		t.Run(mode, func(t *testing.T) {
			p := newPipeline(t, fmt.Sprintf(`{"mode":%q,"workers":4}`, mode), WithStages(jitter{}))
			const n = 300
			dst := blank(frame.BGRA, 16, 16, 0)
			next, want := 0, int64(0)
			for want < n {
				if next < n {
					err := p.Submit(newTestFrame(frame.BGRA, 16, 16, 0, next))
					switch {
					case err == nil:
						next++
					case !errors.Is(err, ErrBusy):
						t.Fatal(err)
					}
				}
				if err := p.Get(dst, time.Millisecond); err == nil {
					if dst.PTS != want {
						t.Fatalf("got pts %d, want %d (out of order or lost)", dst.PTS, want)
					}
					want++
				}
			}
			m := p.Metrics()
			checkInvariant(t, m)
			if m.FramesDropped != 0 || m.FramesOutput != n {
				t.Fatalf("dropped %d output %d, want 0 and %d", m.FramesDropped, m.FramesOutput, n)
			}
		})
	}
}

func TestConcurrentSubmitGetInvariant(t *testing.T) {
	for _, mode := range []string{"realtime", "balanced", "quality", "batch"} {
		t.Run(mode, func(t *testing.T) {
			p := newPipeline(t, fmt.Sprintf(`{"mode":%q}`, mode))
			const threads, perThread = 4, 2500
			var got atomic.Uint64
			var wg sync.WaitGroup
			stop := make(chan struct{})
			readerDone := make(chan error, 1)
			go func() { // reads metrics continuously; every read must add up
				reads := 0
				for {
					m := p.Metrics()
					if int64(m.FramesSubmitted) != int64(m.FramesOutput)+int64(m.FramesDropped)+m.InFlight {
						readerDone <- fmt.Errorf("read %d: %+v", reads, m)
						return
					}
					reads++
					select {
					case <-stop:
						readerDone <- nil
						return
					default:
					}
				}
			}()
			for th := range threads {
				wg.Add(1)
				go func() {
					defer wg.Done()
					src := newTestFrame(frame.BGRA, 64, 48, 0, th)
					dst := blank(frame.BGRA, 64, 48, 0)
					for i := range perThread {
						src.PTS = int64(th*perThread + i)
						for errors.Is(p.Submit(src), ErrBusy) { // back-pressure: fetch, then retry
							if p.Get(dst, time.Millisecond) == nil {
								got.Add(1)
							}
						}
						if p.Get(dst, 0) == nil {
							got.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			dst := blank(frame.BGRA, 64, 48, 0)
			for p.Get(dst, 50*time.Millisecond) == nil {
				got.Add(1)
			}
			close(stop)
			if err := <-readerDone; err != nil {
				t.Fatal("invariant broken at ", err)
			}
			m := p.Metrics()
			checkInvariant(t, m)
			if m.InFlight != 0 || m.BuffersOutstanding != 0 {
				t.Fatalf("after draining: in_flight %d, buffers outstanding %d; want 0", m.InFlight, m.BuffersOutstanding)
			}
			if m.FramesSubmitted != threads*perThread || m.FramesOutput != got.Load() {
				t.Fatalf("submitted %d (want %d), output %d (gets %d)", m.FramesSubmitted, threads*perThread, m.FramesOutput, got.Load())
			}
			if (mode == "quality" || mode == "batch") && m.FramesDropped != 0 {
				t.Fatalf("%s dropped %d frames", mode, m.FramesDropped)
			}
		})
	}
}

func TestSteadyStateAllocatesNothing(t *testing.T) {
	for _, f := range []frame.Format{frame.NV12, frame.BGRA} {
		t.Run(f.String(), func(t *testing.T) {
			p := newPipeline(t, `{"mode":"realtime","workers":1}`)
			src := newTestFrame(f, 1280, 720, 0, 1)
			dst := blank(f, 1280, 720, 0)
			step := func() {
				if err := p.Submit(src); err != nil {
					t.Fatal(err)
				}
				if err := p.Get(dst, time.Second); err != nil {
					t.Fatal(err)
				}
			}
			for range 10 { // warm the pool and the timer list
				step()
			}
			WaitLoads(time.Minute) // earlier tests' background loads allocate too
			if allocs := testing.AllocsPerRun(200, step); allocs != 0 {
				t.Fatalf("submit+get allocates %.2f times per frame, want 0", allocs)
			}
		})
	}
}

type panicker struct{ at int32 }

func (p *panicker) Name() string { return "panicker" }
func (p *panicker) Process(*frame.Frame) error {
	if atomic.AddInt32(&p.at, -1) == 0 {
		panic("injected fault")
	}
	return nil
}

func TestPanicInStagePoisonsAndPassesThrough(t *testing.T) {
	var logged atomic.Value
	bad := newPipeline(t, `{"mode":"quality","workers":1}`, WithStages(marker{}, &panicker{at: 3}),
		WithLogger(func(l Level, m string) {
			if l == LevelError {
				logged.Store(m)
			}
		}))
	good := newPipeline(t, `{"mode":"quality","workers":1}`, WithStages(marker{}))
	dst := blank(frame.BGRA, 8, 8, 0)
	for i := 1; i <= 2; i++ { // before the fault: frames are edited
		bad.Submit(newTestFrame(frame.BGRA, 8, 8, 0, i))
		if err := bad.Get(dst, time.Second); err != nil || dst.Planes[0][0] != 0xAB {
			t.Fatalf("frame %d before the fault: %v, first byte %#x", i, err, dst.Planes[0][0])
		}
	}
	bad.Submit(newTestFrame(frame.BGRA, 8, 8, 0, 3)) // panics; dropped: it may be half-written
	deadline := time.Now().Add(2 * time.Second)
	for _, ok := bad.Poisoned(); !ok && time.Now().Before(deadline); _, ok = bad.Poisoned() {
		time.Sleep(time.Millisecond)
	}
	msg, ok := bad.Poisoned()
	if !ok {
		t.Fatal("pipeline not poisoned after a panic in a stage")
	}
	t.Log("poison message:", msg)
	if logged.Load() == nil {
		t.Fatal("the fault was not logged")
	}
	for i := 4; i <= 6; i++ { // after: frames pass through unmodified
		src := newTestFrame(frame.BGRA, 8, 8, 0, i)
		if err := bad.Submit(src); !errors.Is(err, ErrPoisoned) {
			t.Fatalf("submit on a poisoned pipeline: %v, want ErrPoisoned", err)
		}
		if err := bad.Get(dst, time.Second); !errors.Is(err, ErrPoisoned) {
			t.Fatalf("get on a poisoned pipeline: %v, want ErrPoisoned", err)
		}
		if !sameRows(src, dst) || dst.PTS != int64(i) {
			t.Fatalf("frame %d was not passed through unmodified", i)
		}
	}
	m := bad.Metrics()
	checkInvariant(t, m)
	if !m.Poisoned || m.FramesDropped != 1 {
		t.Fatalf("metrics poisoned=%v dropped=%d, want true and 1", m.Poisoned, m.FramesDropped)
	}
	good.Submit(newTestFrame(frame.BGRA, 8, 8, 0, 1)) // the other pipeline is untouched
	if err := good.Get(dst, time.Second); err != nil || dst.Planes[0][0] != 0xAB {
		t.Fatalf("healthy pipeline: %v, first byte %#x", err, dst.Planes[0][0])
	}
}

func TestCloseStopsEverything(t *testing.T) {
	shared() // the process-wide model cache and budget monitor live on, by design
	before := runtime.NumGoroutine()
	cfg := testConfig(t, `{"mode":"batch","workers":4}`)
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		p.Submit(newTestFrame(frame.NV12, 64, 48, 0, i))
	}
	waiting := make(chan error, 1)
	empty, _ := New(cfg)
	go func() { waiting <- empty.Get(blank(frame.BGRA, 8, 8, 0), 10*time.Second) }()
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	empty.Close()
	if err := <-waiting; !errors.Is(err, ErrClosed) || time.Since(start) > 2*time.Second {
		t.Fatalf("waiting Get after Close: %v after %v, want ErrClosed at once", err, time.Since(start))
	}
	p.Close()
	p.Close() // idempotent
	if err := p.Submit(newTestFrame(frame.NV12, 64, 48, 0, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("submit after close: %v", err)
	}
	if st := p.pool.Stats(); st.Outstanding != 0 {
		t.Fatalf("%d buffers still outstanding after Close", st.Outstanding)
	}
	checkInvariant(t, p.Metrics())
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after Close:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestLiveConfigChangeKeepsStreaming(t *testing.T) {
	p := newPipeline(t, `{"mode":"realtime"}`, WithStages(jitter{}))
	modes := []string{"balanced", "quality", "batch", "realtime", "quality", "balanced"}
	dst := blank(frame.BGRA, 32, 32, 0)
	outputs := 0
	for i := range 600 {
		if i%100 == 50 {
			if err := p.SetConfig([]byte(fmt.Sprintf(`{"mode":%q,"workers":%d}`, modes[i/100], 1+i%3))); err != nil {
				t.Fatal(err)
			}
		}
		p.Submit(newTestFrame(frame.BGRA, 32, 32, 0, i))
		if p.Get(dst, time.Millisecond) == nil {
			outputs++
		}
		checkInvariant(t, p.Metrics())
	}
	for p.Get(dst, 100*time.Millisecond) == nil {
		outputs++
	}
	m := p.Metrics()
	checkInvariant(t, m)
	if m.InFlight != 0 || outputs == 0 || m.Mode != "balanced" {
		t.Fatalf("after mode changes: in_flight %d, outputs %d, mode %s", m.InFlight, outputs, m.Mode)
	}
	if err := p.SetConfig([]byte(`{"mode":"fast"}`)); err == nil || p.Config().Mode != "balanced" {
		t.Fatalf("invalid mode accepted or config changed: %v", err)
	}
}

// fakeClock advances only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestRatesAndLatencyFromClock(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	p := newPipeline(t, `{"mode":"quality","workers":1}`, WithClock(clk))
	dst := blank(frame.BGRA, 8, 8, 0)
	for i := range 60 {
		p.Submit(newTestFrame(frame.BGRA, 8, 8, 0, i))
		clk.Advance(5 * time.Millisecond) // 5 ms from submit to get
		if err := p.Get(dst, time.Second); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second/30 - 5*time.Millisecond)
	}
	m := p.Metrics()
	if m.FPSIn < 29.9 || m.FPSIn > 30.1 || m.FPSOut < 29.9 || m.FPSOut > 30.1 {
		t.Fatalf("fps in %.2f out %.2f, want 30", m.FPSIn, m.FPSOut)
	}
	if m.LatencyMs.P50 != 5 || m.LatencyMs.P99 != 5 {
		t.Fatalf("latency %+v, want 5 ms", m.LatencyMs)
	}
	clk.Advance(3 * time.Second)
	if m := p.Metrics(); m.FPSIn != 0 {
		t.Fatalf("fps in %.2f after 3 idle seconds, want 0", m.FPSIn)
	}
}
