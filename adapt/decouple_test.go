package adapt

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// job is a slot: the input the caller copies in and a result written in two
// halves that a reader must always see equal.
type job struct {
	in     uint64
	lo, hi uint64
	pad    [256]byte
}

func newJob() *job { return &job{} }

// blockingRun runs each job only when the test sends on release.
func blockingRun(release <-chan struct{}) func(j *job) error {
	return func(j *job) error {
		j.lo = j.in
		<-release
		j.hi = j.in
		return nil
	}
}

func TestDecouplerCallerNeverWaits(t *testing.T) {
	release := make(chan struct{})
	d := NewDecoupler(newJob, blockingRun(release), nil)
	defer d.Close()
	if _, ok := d.Latest(func(*job) { t.Fatal("read before the first result") }); ok {
		t.Fatal("Latest ok before the first result")
	}
	done := make(chan int)
	go func() { // the camera: 100 frames, no pause
		started := 0
		for i := 0; i < 100; i++ {
			if d.TryStart(func(j *job) { j.in = uint64(i + 1) }) {
				started++
			}
		}
		done <- started
	}()
	select {
	case started := <-done:
		if started != 1 {
			t.Fatalf("%d jobs started while the worker was busy, want 1", started)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("TryStart blocked on a busy worker")
	}
	if st := d.Stats(); st.Started != 1 || st.Skipped != 99 || st.Completed != 0 {
		t.Fatalf("stats %+v", st)
	}
	release <- struct{}{}
	d.Wait()
	gen, ok := d.Latest(func(j *job) {
		if j.lo != 1 || j.hi != 1 {
			t.Fatalf("result %d/%d, want the first frame's", j.lo, j.hi)
		}
	})
	if !ok || gen != 1 {
		t.Fatalf("Latest = %d, %v", gen, ok)
	}
	if st := d.Stats(); st.Completed != 1 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDecouplerLatestIsNewestAndWhole(t *testing.T) {
	run := func(j *job) error {
		j.lo = j.in
		runtime.Gosched() // let a torn read happen if it could
		for i := range j.pad {
			j.pad[i] = byte(j.in)
		}
		j.hi = j.in
		return nil
	}
	d := NewDecoupler(newJob, run, nil)
	defer d.Close()
	stop := make(chan struct{})
	var readers sync.WaitGroup
	var reads atomic.Int64
	for r := 0; r < 2; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			var lastGen, lastIn uint64
			for {
				select {
				case <-stop:
					return
				default:
				}
				var lo, hi uint64
				var pad byte
				gen, ok := d.Latest(func(j *job) { lo, hi, pad = j.lo, j.hi, j.pad[len(j.pad)-1] })
				if !ok {
					continue
				}
				reads.Add(1)
				runtime.Gosched() // a renderer, not a spin loop: leave the worker a core
				if lo != hi || pad != byte(lo) {
					t.Errorf("torn result: %d/%d/%d", lo, hi, pad)
					return
				}
				if gen < lastGen || lo < lastIn {
					t.Errorf("went back: gen %d after %d, input %d after %d", gen, lastGen, lo, lastIn)
					return
				}
				lastGen, lastIn = gen, lo
			}
		}()
	}
	var in uint64
	for d.Stats().Completed < 300 {
		in++
		d.TryStart(func(j *job) { j.in = in })
		runtime.Gosched()
	}
	d.Wait()
	close(stop)
	readers.Wait()
	st := d.Stats()
	gen, _ := d.Latest(func(j *job) {
		// the newest result is the last job started
		if j.lo != j.hi {
			t.Fatalf("torn final result")
		}
	})
	if gen != st.Completed || st.Started != st.Completed {
		t.Fatalf("gen %d, stats %+v", gen, st)
	}
	t.Logf("%d frames offered, %+v, %d reads", in, st, reads.Load())
}

// While a reader holds the latest result, the worker that just finished
// cannot publish; the caller still starts the next job in the third slot.
func TestDecouplerThirdSlot(t *testing.T) {
	release := make(chan struct{})
	d := NewDecoupler(newJob, blockingRun(release), nil)
	defer d.Close()
	d.TryStart(func(j *job) { j.in = 1 })
	release <- struct{}{}
	d.Wait() // result 1 is the latest

	d.TryStart(func(j *job) { j.in = 2 })
	reading, finish := make(chan *job), make(chan struct{})
	go d.Latest(func(j *job) { reading <- j; <-finish }) // holds the lock
	latest := <-reading
	release <- struct{}{} // job 2 finishes; its publish waits for the reader
	var filled *job
	deadline := time.Now().Add(10 * time.Second)
	for !d.TryStart(func(j *job) { filled = j; j.in = 3 }) {
		if time.Now().After(deadline) {
			t.Fatal("the caller could not start while a reader held the latest result")
		}
		runtime.Gosched()
	}
	if filled == latest || filled.in != 3 || (filled.lo == 2 && filled.hi == 2) {
		t.Fatalf("filled a slot in use: %+v", filled)
	}
	close(finish)
	release <- struct{}{}
	d.Wait()
	gen, _ := d.Latest(func(j *job) {
		if j != filled || j.lo != 3 || j.hi != 3 {
			t.Fatalf("latest %+v, want job 3", j)
		}
	})
	if gen != 3 {
		t.Fatalf("gen %d, want 3", gen)
	}
}

func TestDecouplerRunFPS(t *testing.T) {
	clk := newFakeClock()
	// The model takes 100 ms of (fake) time per run.
	d := NewDecoupler(newJob, func(j *job) error { clk.Advance(100 * time.Millisecond); return nil }, clk)
	defer d.Close()
	for i := 0; i < 30; i++ { // 3 s of back-to-back runs
		if !d.TryStart(func(*job) {}) {
			t.Fatal("worker busy after Wait")
		}
		d.Wait()
	}
	st := d.Stats()
	if !near(st.RunFPS, 10, 1e-9) || st.LastRun != 100*time.Millisecond {
		t.Fatalf("RunFPS %v LastRun %v, want 10/s and 100ms", st.RunFPS, st.LastRun)
	}
	clk.Advance(time.Second) // idle half the window
	if st := d.Stats(); !near(st.RunFPS, 5, 1e-9) {
		t.Fatalf("RunFPS %v after 1 s idle, want 5", st.RunFPS)
	}
	clk.Advance(2 * time.Second)
	if st := d.Stats(); st.RunFPS != 0 {
		t.Fatalf("RunFPS %v when idle, want 0", st.RunFPS)
	}
}

func TestDecouplerFailures(t *testing.T) {
	boom := errors.New("model failed")
	run := func(j *job) error {
		switch j.in {
		case 2:
			j.lo = 2
			return boom
		case 3:
			j.lo = 3
			panic("bad tensor")
		}
		j.lo, j.hi = j.in, j.in
		return nil
	}
	d := NewDecoupler(newJob, run, nil)
	defer d.Close()
	for _, in := range []uint64{1, 2} {
		d.TryStart(func(j *job) { j.in = in })
		d.Wait()
	}
	if !errors.Is(d.Err(), boom) {
		t.Fatalf("Err = %v, want the run's error", d.Err())
	}
	for _, in := range []uint64{3, 4} {
		d.TryStart(func(j *job) { j.in = in })
		d.Wait()
		if in == 3 {
			if err := d.Err(); err == nil || !strings.Contains(err.Error(), "panicked: bad tensor") {
				t.Fatalf("Err = %v, want the recovered panic", err)
			}
			if gen, _ := d.Latest(func(j *job) {
				if j.lo != 1 {
					t.Fatalf("a failed run was published: %+v", j)
				}
			}); gen != 1 {
				t.Fatalf("gen %d after failures, want 1", gen)
			}
		}
	}
	gen, _ := d.Latest(func(j *job) {
		if j.lo != 4 || j.hi != 4 {
			t.Fatalf("latest %+v, want job 4", j)
		}
	})
	if st := d.Stats(); gen != 2 || st.Completed != 2 || st.Failed != 2 || st.Started != 4 {
		t.Fatalf("gen %d, stats %+v", gen, st)
	}
}

func TestDecouplerFillPanicFreesTheWorker(t *testing.T) {
	d := NewDecoupler(newJob, func(j *job) error { return nil }, nil)
	defer d.Close()
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("fill's panic must reach the caller")
			}
		}()
		d.TryStart(func(*job) { panic("bad frame") })
	}()
	if !d.TryStart(func(*job) {}) {
		t.Fatal("a panicking fill left the worker marked busy")
	}
	d.Wait()
	if st := d.Stats(); st.Started != 1 || st.Completed != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDecouplerCloseWaitsForRun(t *testing.T) {
	release := make(chan struct{})
	d := NewDecoupler(newJob, blockingRun(release), nil)
	if !d.TryStart(func(j *job) { j.in = 7 }) {
		t.Fatal("TryStart on an idle worker")
	}
	closed := make(chan struct{})
	go func() { d.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while run was still running")
	case <-time.After(50 * time.Millisecond):
	}
	if d.TryStart(func(*job) {}) {
		t.Fatal("TryStart after Close")
	}
	close(release)
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return after run finished")
	}
	d.Close() // idempotent
	d.Wait()  // nothing outstanding
	if st := d.Stats(); st.Completed != 1 || st.Skipped != 0 {
		t.Fatalf("stats %+v", st)
	}
	if gen, ok := d.Latest(func(j *job) {}); !ok || gen != 1 {
		t.Fatal("the last result stays readable after Close")
	}
}

func TestDecouplerCloseIdle(t *testing.T) {
	d := NewDecoupler(newJob, func(*job) error { return nil }, nil)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ { // Close from several goroutines at once
		wg.Add(1)
		go func() { defer wg.Done(); d.Close() }()
	}
	wg.Wait()
	if d.TryStart(func(*job) { t.Fatal("fill after Close") }) {
		t.Fatal("TryStart after Close")
	}
}

func TestDecouplerCloseRacesTryStart(t *testing.T) {
	for i := 0; i < 200; i++ {
		d := NewDecoupler(newJob, func(*job) error { return nil }, nil)
		go func() {
			for d.TryStart(func(*job) {}) || !d.isClosed.Load() {
			}
		}()
		d.Close()
		d.Wait() // every started job ran
		if st := d.Stats(); st.Started != st.Completed {
			t.Fatalf("stats %+v", st)
		}
	}
}

func TestDecouplerAllocs(t *testing.T) {
	d := NewDecoupler(newJob, func(j *job) error { j.lo, j.hi = j.in, j.in; return nil }, newFakeClock())
	defer d.Close()
	var in, out uint64
	step := func() {
		in++
		d.TryStart(func(j *job) { j.in = in })
		d.Wait()
		d.Latest(func(j *job) { out = j.lo })
		d.TryStart(func(j *job) { j.in = in }) // may find it busy: counts a skip
		d.Wait()
	}
	step() // first publish
	if allocs := testing.AllocsPerRun(1000, step); allocs != 0 {
		t.Fatalf("%v allocs per frame, want 0", allocs)
	}
	if out == 0 {
		t.Fatal("no result read")
	}
}
