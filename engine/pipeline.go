package engine

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"facelive/adapt"
	"facelive/engine/config"
	"facelive/engine/frame"
	"facelive/engine/metricsrv"
	"facelive/internal/clock"
)

// Pipeline is one running engine instance. All methods are safe for
// concurrent use.
type Pipeline struct {
	clock  Clock
	log    Logger
	stages []Stage
	pool   *frame.Pool
	stats  *stats
	face   *faceStage

	cfgMu      sync.Mutex                // serialises SetConfig so merges never interleave
	prioWarned atomic.Bool               // a worker said it cannot lower its priority
	configErr  atomic.Pointer[ErrorInfo] // the last SetConfig's refusal (nil: taken)

	mu      sync.Mutex // guards everything below
	cfg     config.Config
	pol     adapt.Policy
	closed  bool
	waiting ring // submitted, not yet picked by a worker
	copying int  // admitted, still being copied in
	reorder ring // ordered modes: processed, waiting for earlier frames
	ready   ring // processed, waiting for the caller
	// stream: the format and size of the newest frame submitted. When a
	// camera switches size, frames of the old one still in the pipeline
	// are dropped as they come out (get), not left at the head of the
	// queue for a host that has moved on.
	stream    frame.Frame
	nextSeq   uint64
	nextOut   uint64   // ordered modes: the next Seq to release
	lastOut   uint64   // unordered modes: newest Seq released so far
	active    []uint64 // Seqs being processed, for mode switches
	quits     []chan struct{}
	timers    []*time.Timer
	serviceNs int64 // smoothed processing time per frame per worker

	wake     chan struct{} // a frame is waiting for a worker
	outReady chan struct{} // a processed frame is ready
	done     chan struct{}
	wg       sync.WaitGroup

	processed atomic.Uint64

	// ctl moves between quality levels to hold the frame budget in the
	// live modes (see adapt.Controller); adaptive is whether it may.
	ctl      *adapt.Controller
	adaptive atomic.Bool

	tun        *tuning // nil unless the caller said which keys are the user's (WithExplicit)
	closeTuner sync.Once

	promMu   sync.Mutex // guards prom, promAddr
	prom     *metricsrv.Server
	promAddr string

	poisoned  atomic.Bool
	poisonMsg atomic.Value // string
}

// New validates nothing more than the config already did and starts the
// workers. It returns quickly.
func New(cfg config.Config, opts ...Option) (*Pipeline, error) {
	o := options{clock: clock.System{}, logger: func(Level, string) {}}
	for _, opt := range opts {
		opt(&o)
	}
	p := &Pipeline{
		clock:    o.clock,
		log:      o.logger,
		stages:   o.stages,
		wake:     make(chan struct{}, 1),
		outReady: make(chan struct{}, 1),
		done:     make(chan struct{}),
		nextSeq:  1, // 0 means "nothing output yet" in lastOut
	}
	names := append([]string{"copy_in", "process", "copy_out"}, faceStepNames...)
	for _, s := range p.stages {
		names = append(names, s.Name())
	}
	if o.explicit != nil {
		tuned, prof, lines, err := ProfileSettings(cfg, o.explicit, SystemFor(cfg.Profile))
		if err != nil {
			return nil, err
		}
		cfg = tuned
		p.tun = newTuning(p, o.explicit)
		p.tun.profile = prof
		p.log(LevelInfo, strings.Join(lines, "; "))
	}
	p.stats = newStats(names, p.clock)
	p.face = newFaceStage(p.log, p.stats, p.clock)
	p.ctl = adapt.NewController(adapt.Options{Ladder: ladder, TargetFPS: cfg.TargetFPS, Clock: p.clock})
	p.mu.Lock()
	p.applyLocked(cfg)
	p.mu.Unlock()
	if err := p.applyProm(cfg.Metrics.PrometheusAddr); err != nil {
		p.mu.Lock()
		p.closed = true
		close(p.done)
		p.mu.Unlock()
		p.wg.Wait()
		return nil, err
	}
	p.face.configure(cfg, p.pinned("detector.interval")) // returns at once; models load in the background
	setBudgetOverride(p, cfg.VRAMBudgetMB)
	budgetSaid.Do(func() { // once per process: where the memory budget comes from (no NVML: says so)
		b := budgetNow()
		p.log(LevelInfo, fmt.Sprintf("memory budget %d MB for models: %s", b.LimitMB, b.Reason))
	})
	// Enough idle buffers for a full pipeline, so steady state never allocates.
	p.pool = frame.NewPool(64)
	p.log(LevelInfo, fmt.Sprintf("pipeline started: mode %s, skip %s, %d workers", p.pol.Mode, p.pol.Skip, p.pol.Workers))
	if p.tun != nil {
		p.tun.reset(cfg, p.pol.Workers)
		p.tun.start()
	}
	return p, nil
}

// Submit copies src into the pipeline. It returns nil when the frame was
// taken, ErrDropped or ErrBusy when it was not queued, ErrPoisoned when it was
// taken by a poisoned pipeline (it will come out unmodified), ErrClosed after
// Close, or a validation error wrapping frame.ErrFrame / frame.ErrFormat.
func (p *Pipeline) Submit(src *frame.Frame) error {
	if err := src.Validate(); err != nil {
		return err
	}
	now := p.clock.Now().UnixNano()
	p.ctl.ObserveInput(time.Duration(now)) // the source's rate sets the frame budget
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.stream.Format, p.stream.Width, p.stream.Height = src.Format, src.Width, src.Height
	var evicted *frame.Buffer
	if p.fullLocked() {
		oldestWait := int64(-1)
		if p.waiting.len() > 0 {
			oldestWait = now - p.waiting.front().Submitted
		}
		switch p.pol.WhenFull(oldestWait, p.serviceNs) {
		case adapt.Refuse:
			p.mu.Unlock()
			p.stats.refuse()
			return ErrBusy
		case adapt.DropNew:
			p.mu.Unlock()
			p.stats.admit(now)
			p.stats.drop()
			return ErrDropped
		case adapt.EvictOldest:
			evicted = p.evictOldestLocked()
			if evicted == nil { // everything is being processed: nothing older to drop
				p.mu.Unlock()
				p.stats.admit(now)
				p.stats.drop()
				return ErrDropped
			}
		}
	}
	p.copying++
	p.mu.Unlock()
	if evicted != nil {
		evicted.Release()
	}
	p.stats.admit(now) // counted in flight from here on

	b := p.pool.Get(src.Format, src.Width, src.Height)
	frame.Copy(&b.Frame, src)
	b.Submitted = now
	p.stats.stageTime(0, p.clock.Now().UnixNano()-now)

	p.mu.Lock()
	p.copying--
	if p.closed { // closed while we copied
		p.mu.Unlock()
		b.Release()
		p.stats.drop()
		return ErrClosed
	}
	p.waiting.push(b)
	p.mu.Unlock()
	signal(p.wake)
	if p.poisoned.Load() {
		return ErrPoisoned
	}
	return nil
}

// fullLocked reports whether a new frame would exceed the mode's bounds.
func (p *Pipeline) fullLocked() bool {
	return p.waiting.len()+p.copying >= p.pol.InCap || p.stats.inFlight() >= int64(p.pol.MaxInFlight)
}

// evictOldestLocked removes the oldest frame the pipeline may drop: a waiting
// one first, else the oldest processed one the caller has not fetched. The
// drop is counted; the caller releases the buffer outside the lock.
func (p *Pipeline) evictOldestLocked() *frame.Buffer {
	var b *frame.Buffer
	switch {
	case p.waiting.len() > 0:
		b = p.waiting.pop()
	case p.ready.len() > 0:
		b = p.ready.pop()
	default:
		return nil
	}
	p.stats.drop()
	return b
}

// signal wakes one waiter without blocking; a pending wake is enough.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// liveWorkerNice is how far a live mode's worker threads sit below the
// host's in priority (nice +5, see lowerThreadPriority). A live host calls
// in from its video thread (OBS's graphics thread) for a copy; when the
// worker woke on a busy two-core machine it preempted that thread for
// milliseconds (filter_video p99 1.9–3.4 ms at NV12 1080p in the headless
// libobs test, 0.9–1.8 with the workers at +5). Ordered modes (quality,
// batch) are throughput jobs and keep the host's priority.
const liveWorkerNice = 5

// worker takes waiting frames, runs the stages and releases the results.
// A live mode's worker runs on a thread of its own below the host's
// priority; the thread ends with it (applyLocked starts new workers when the
// mode turns ordered).
func (p *Pipeline) worker(quit <-chan struct{}, live bool) {
	defer p.wg.Done()
	if live {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := lowerThreadPriority(liveWorkerNice); err != nil && p.prioWarned.CompareAndSwap(false, true) {
			p.log(LevelWarn, "cannot lower the live workers' thread priority (they run at the host's): "+err.Error())
		}
	}
	ws := p.face.newScratch() // this worker's own job, swap and merge buffers
	for {
		select {
		case <-p.wake:
		case <-quit:
			return
		case <-p.done:
			return
		}
		if !p.waitModels(quit) {
			return
		}
		for {
			select {
			case <-quit: // replaced (fewer workers, or another mode's): take nothing more
				signal(p.wake) // the wake this worker took goes on to one that stays
				return
			default:
			}
			p.mu.Lock()
			if p.closed || p.waiting.len() == 0 {
				p.mu.Unlock()
				break
			}
			b := p.waiting.pop()
			b.Seq = p.nextSeq
			p.nextSeq++
			p.active = append(p.active, b.Seq)
			more := p.waiting.len() > 0
			p.mu.Unlock()
			if more {
				signal(p.wake) // let an idle worker share the queue
			}
			ok := p.process(b, ws)
			p.emit(b, ok)
		}
	}
}

// waitModels holds the worker while the face models load in an ordered
// mode (quality, batch): those modes wait for the models instead of
// letting frames out unprocessed, so frames queue and Submit pushes back.
// It returns false when the worker must stop.
func (p *Pipeline) waitModels(quit <-chan struct{}) bool {
	for {
		p.mu.Lock()
		ordered := p.pol.Ordered
		p.mu.Unlock()
		loaded := p.face.loader.loading()
		if !ordered || loaded == nil || p.poisoned.Load() { // poisoned: frames leave unprocessed anyway
			return true
		}
		timer := time.NewTimer(50 * time.Millisecond) // a switch to a live mode stops the wait
		select {
		case <-loaded:
		case <-timer.C:
		case <-quit:
			timer.Stop()
			return false
		case <-p.done:
			timer.Stop()
			return false
		}
		timer.Stop()
	}
}

// process runs the stages on b. A panic poisons the pipeline and reports the
// frame as not ok: it may be half-written, so it is dropped, and every later
// frame leaves unprocessed (config unprocessed).
func (p *Pipeline) process(b *frame.Buffer, ws *faceScratch) (ok bool) {
	start := p.clock.Now().UnixNano()
	var stage string
	defer func() {
		if r := recover(); r != nil {
			p.Poison(fmt.Sprintf("panic in stage %q: %v", stage, r))
			// Where, for the bug report: the host's log is all a user can send.
			p.log(LevelError, fmt.Sprintf("the panic's stack:\n%s", debug.Stack()))
			ok = false
		}
		elapsed := p.clock.Now().UnixNano() - start
		p.stats.stageTime(1, elapsed)
		p.mu.Lock()
		p.serviceNs = (7*p.serviceNs + elapsed/int64(p.pol.Workers)) / 8
		queued, workers := p.waiting.len(), p.pol.Workers
		p.mu.Unlock()
		p.adapt(time.Duration(elapsed/int64(workers)), queued) // per frame slot: workers run side by side
	}()
	defer p.processed.Add(1)
	b.Damage.Reset()
	if p.poisoned.Load() {
		stage = "unprocessed"
		p.face.leaveUnprocessed(&b.Frame, &b.Damage, p.face.opts.Load())
		return true
	}
	stage = "face"
	b.Processed = p.face.Process(&b.Frame, &b.Damage, ws)
	for i, s := range p.stages {
		stage = s.Name()
		b.Damage.AddAll() // a stage may write anywhere
		t0 := p.clock.Now().UnixNano()
		if err := s.Process(&b.Frame); err != nil {
			// A stage that fails on one frame leaves it unmodified; the
			// stream goes on.
			p.log(LevelWarn, fmt.Sprintf("stage %s: %v", stage, err))
		}
		p.stats.stageTime(firstExtraStage+i, p.clock.Now().UnixNano()-t0)
	}
	return true
}

// ladder is the quality ladder the engine can honour: adapt's rungs at
// the loaded model's fixed swap size.
var ladder = adapt.FixedSwap(adapt.DefaultLadder())

// adapt feeds one frame's cost to the quality controller and applies the
// level it picks: only in the live modes (quality and batch keep every
// frame's full quality) and never with level custom (the user's settings).
func (p *Pipeline) adapt(cost time.Duration, queued int) {
	p.face.setBudget(p.ctl.Budget())
	if !p.adaptive.Load() {
		return
	}
	p.ctl.ObserveFrame(cost, queued)
	if d, changed := p.ctl.Step(); changed {
		i, l := p.ctl.Level()
		p.face.setLevel(i, l)
		p.log(LevelInfo, fmt.Sprintf("quality %d → %d: %s", d.From, d.To, d.Reason))
	}
}

// Poison switches the pipeline to pass-through after an internal fault and
// records why. Safe to call from any goroutine, more than once.
func (p *Pipeline) Poison(msg string) {
	if p.poisoned.CompareAndSwap(false, true) {
		p.poisonMsg.Store(msg)
		p.log(LevelError, "internal fault, "+p.UnprocessedText()+" from now on: "+msg)
	}
}

// Poisoned returns the fault that poisoned the pipeline, if any.
func (p *Pipeline) Poisoned() (string, bool) {
	if !p.poisoned.Load() {
		return "", false
	}
	return p.poisonMsg.Load().(string), true
}

// releaseLater drops a buffer while the lock is held; releasing only takes
// the pool's own lock, so it is safe here.
func (p *Pipeline) releaseLater(b *frame.Buffer) {
	p.stats.drop()
	b.Release()
}

// Close stops the workers, waits for them, and frees every buffer. Calls
// waiting in Get return ErrClosed. Close is idempotent.
func (p *Pipeline) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	if p.tun != nil {
		p.closeTuner.Do(p.tun.stop) // first: it may be applying a change
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	p.mu.Unlock()
	p.wg.Wait()
	p.face.close()
	setBudgetOverride(p, 0) // a closed pipeline no longer limits the others
	p.applyProm("")
	p.mu.Lock()
	for _, r := range []*ring{&p.waiting, &p.reorder, &p.ready} {
		for r.len() > 0 {
			p.releaseLater(r.pop())
		}
	}
	for _, t := range p.timers {
		t.Stop()
	}
	p.timers = nil
	p.mu.Unlock()
	p.pool.Drain()
	p.log(LevelInfo, "pipeline stopped")
	return nil
}
