package adapt

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// runFPSWindow is the span DecoupleStats.RunFPS counts completions over.
const runFPSWindow = 2 * time.Second

// DecoupleStats counts a Decoupler's jobs.
type DecoupleStats struct {
	Started   uint64        // jobs handed to the worker
	Completed uint64        // runs that returned nil and were published
	Failed    uint64        // runs that returned an error or panicked
	Skipped   uint64        // TryStart calls that found the worker busy
	RunFPS    float64       // completions per second over the last ~2 s, by the clock
	LastRun   time.Duration // how long the last run took
}

// Decoupler[T] runs a slow job (the face swap model) at its own rate on its
// own goroutine while the caller (the per-frame path, at camera rate) never
// waits for it.
//
// It owns three T slots: the caller fills one, the worker runs one, one holds
// the latest result. The worker counts as idle as soon as run returns, so the
// caller may fill the third slot while the worker is still publishing (which
// waits for readers). Readers always see a complete result: the latest slot is
// only read under a lock that publishing takes, and no slot is written while
// it is the latest.
type Decoupler[T any] struct {
	slots [3]*T
	run   func(job *T) error
	clock Clock

	busy    atomic.Bool  // a job is being filled, queued or run
	pending atomic.Int32 // slot run has finished, not yet published; -1 none
	latest  atomic.Int32 // slot holding the newest result; -1 none (written under mu)

	mu  sync.Mutex // guards reading the latest slot and publishing
	gen uint64     // results published; under mu

	jobs      chan int32
	sendMu    sync.Mutex // orders TryStart's hand-over against Close
	closed    bool       // under sendMu
	isClosed  atomic.Bool
	closeOnce sync.Once
	wg        sync.WaitGroup

	outstanding atomic.Int64 // jobs started, not yet published or failed
	idleMu      sync.Mutex
	idle        *sync.Cond // signalled when outstanding drops

	started, completed, failed, skipped atomic.Uint64
	lastRun                             atomic.Int64
	statsMu                             sync.Mutex
	runs                                RateMeter // under statsMu
	err                                 error     // last failure; under statsMu
}

// NewDecoupler starts the worker. newSlot is called three times to make the
// slots; run does the work on a filled slot and leaves its result there (a
// non-nil error discards it). clock may be nil (SystemClock).
func NewDecoupler[T any](newSlot func() *T, run func(job *T) error, clock Clock) *Decoupler[T] {
	if clock == nil {
		clock = SystemClock{}
	}
	d := &Decoupler[T]{run: run, clock: clock, jobs: make(chan int32, 1)}
	for i := range d.slots {
		d.slots[i] = newSlot()
	}
	d.pending.Store(-1)
	d.latest.Store(-1)
	d.idle = sync.NewCond(&d.idleMu)
	d.runs.init(runFPSWindow, clock)
	d.wg.Add(1)
	go d.work()
	return d
}

// TryStart hands a job to the worker if it is idle: fill copies the inputs
// into a free slot on the caller's goroutine, then the worker runs it.
// Otherwise it returns false at once and counts a skip. After Close it
// returns false. A panic in fill reaches the caller; nothing is started and
// the next TryStart may go ahead.
func (d *Decoupler[T]) TryStart(fill func(job *T)) bool {
	if d.isClosed.Load() {
		return false
	}
	if !d.busy.CompareAndSwap(false, true) {
		d.skipped.Add(1)
		return false
	}
	// Free is the slot neither latest nor pending. Read pending first: the
	// worker clears it only after storing latest, so a pending that reads -1
	// guarantees latest is already current.
	p := d.pending.Load()
	l := d.latest.Load()
	slot := int32(0)
	for slot == p || slot == l {
		slot++
	}
	handed := false
	defer func() {
		if !handed { // fill panicked or we closed: let the next TryStart in
			d.busy.Store(false)
		}
	}()
	fill(d.slots[slot])
	d.sendMu.Lock()
	if !d.closed {
		d.outstanding.Add(1)
		d.started.Add(1)
		d.jobs <- slot // never blocks: the buffer is empty while busy was false
		handed = true
	}
	d.sendMu.Unlock()
	return handed
}

// Latest calls read with the newest completed result and returns its
// generation (1 for the first result, growing by one per result). read runs
// under the lock that publishing takes — never held during run — so keep it
// short (copy out). ok is false, and read is not called, before the first
// result.
func (d *Decoupler[T]) Latest(read func(result *T)) (gen uint64, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l := d.latest.Load()
	if l < 0 {
		return 0, false
	}
	read(d.slots[l])
	return d.gen, true
}

// Stats returns the counters and the worker's recent rate.
func (d *Decoupler[T]) Stats() DecoupleStats {
	d.statsMu.Lock()
	fps := d.runs.RateNow()
	d.statsMu.Unlock()
	return DecoupleStats{
		Started: d.started.Load(), Completed: d.completed.Load(),
		Failed: d.failed.Load(), Skipped: d.skipped.Load(),
		RunFPS: fps, LastRun: time.Duration(d.lastRun.Load()),
	}
}

// Err is the last failure: the error a run returned, or the recovered panic.
func (d *Decoupler[T]) Err() error {
	d.statsMu.Lock()
	defer d.statsMu.Unlock()
	return d.err
}

// Wait returns when every job started so far has been run and published (or
// has failed).
func (d *Decoupler[T]) Wait() {
	d.idleMu.Lock()
	for d.outstanding.Load() > 0 {
		d.idle.Wait()
	}
	d.idleMu.Unlock()
}

// Close stops the worker after the job it holds (if any) has run, and
// returns when it has. It is safe to call more than once.
func (d *Decoupler[T]) Close() {
	d.closeOnce.Do(func() {
		d.sendMu.Lock()
		d.closed = true
		d.isClosed.Store(true)
		close(d.jobs)
		d.sendMu.Unlock()
	})
	d.wg.Wait()
}

func (d *Decoupler[T]) work() {
	defer d.wg.Done()
	for slot := range d.jobs {
		start := d.clock.Now()
		err := d.runSafe(d.slots[slot])
		took := d.clock.Now().Sub(start)
		d.lastRun.Store(int64(took))
		if err == nil {
			d.pending.Store(slot)
		}
		d.busy.Store(false) // idle: the caller may fill the third slot while we publish
		if err == nil {
			d.mu.Lock()
			d.latest.Store(slot)
			d.gen++
			d.mu.Unlock()
			d.pending.Store(-1)
			d.completed.Add(1)
			d.statsMu.Lock()
			d.runs.Tick()
			d.statsMu.Unlock()
		} else {
			d.failed.Add(1)
			d.statsMu.Lock()
			d.err = err
			d.statsMu.Unlock()
		}
		d.outstanding.Add(-1)
		d.idleMu.Lock()
		d.idle.Broadcast()
		d.idleMu.Unlock()
	}
}

// runSafe turns a panic in run into an error so one bad frame does not take
// the host (OBS) down; the worker keeps going.
func (d *Decoupler[T]) runSafe(job *T) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("adapt: decoupled run panicked: %v", r)
		}
	}()
	return d.run(job)
}
