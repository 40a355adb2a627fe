package engine

import (
	"runtime"
	"sync"

	"facelive/engine/face"
	"facelive/engine/frame"
)

// detectAhead takes the scheduled detection runs off the live path. A run
// (the whole frame, then the zoom windows and a tile: 3–5 ms at 1080p on
// two cores) made every third frame of a 1080p60 stream late by that much,
// and the p99 latency was those frames. In the live modes, while tracking
// is sound, the frame a run is due on is copied before anything is pasted
// and goes on with tracking; once it is done (swapped and pasted, kick) a
// goroutine searches the copy, in the gap before the next frame rather
// than beside this one's fit and paste, which it slowed by half on two
// cores. The next frame takes the result as a detection one frame old,
// which is what tracking starts from anyway (the last frame's landmarks).
// It waits for the run if it is not done, so results land on the same
// frame whatever the machine's speed, and a run never overlaps the one
// after it. Trouble
// (nothing tracked, a failed fit, fast motion, a gate refusal) detects on
// the frame itself, as before, and so does every frame outside the live
// modes: files come out the same on every machine.
//
// While a run is out (pending) the goroutine owns snap, tracks, dets and
// the tracker's smallFaces, and holds a use of m; the tracker owns them
// again once collect returns.
type detectAhead struct {
	pool     *frame.Pool
	snap     *frame.Buffer // the frame searched, copied
	m        *faceModels
	tracks   []track // the tracks when the run was asked (the zoom windows go around them)
	maxFaces int
	small    *smallFaces
	warn     func(string)
	dets     []face.Detection // the run's result
	unseen   uint32           // and the tracks it did not look for (smallFaces.find)
	sharp    uint32           // and which detections have a zoom window's box
	ns       int64            // and its cost (CPU time)
	now      func() int64

	pending bool // begun: done will be signalled once kicked
	tid     int  // the run's OS thread (tests read its priority)
	start   chan struct{}
	done    chan struct{}
	quit    chan struct{}
	wg      sync.WaitGroup
}

func newDetectAhead(small *smallFaces, now func() int64) *detectAhead {
	return &detectAhead{pool: frame.NewPool(1), small: small, now: now,
		tracks: make([]track, 0, 16), dets: make([]face.Detection, 0, 16)}
}

// begin readies a run on f (copied) around tracks, holding a use of m;
// kick starts it. false when m is being given back (detect on the frame
// instead).
func (a *detectAhead) begin(m *faceModels, f *frame.Frame, tracks []track, maxFaces int, warn func(string)) bool {
	if !m.tryUse() {
		return false
	}
	if a.start == nil { // the first run starts the goroutine: batch pipelines never do
		a.start, a.done, a.quit = make(chan struct{}), make(chan struct{}, 1), make(chan struct{})
		a.wg.Add(1)
		go a.loop()
	}
	a.snap = a.pool.Get(f.Format, f.Width, f.Height)
	frame.Copy(&a.snap.Frame, f)
	a.m, a.tracks, a.maxFaces, a.warn = m, append(a.tracks[:0], tracks...), maxFaces, warn
	a.pending = true
	return true
}

// kick starts the run begin readied. It does not take the tracker's lock:
// another worker may hold it, waiting in collect for this run.
func (a *detectAhead) kick() {
	a.start <- struct{}{}
}

// collect waits for the run out, if any, and gives its models use back.
// It returns the models the result belongs to (nil when no run was out);
// the result is in a.dets until the next begin.
func (a *detectAhead) collect() *faceModels {
	if !a.pending {
		return nil
	}
	<-a.done
	a.pending = false
	a.snap.Release()
	a.snap = nil
	m := a.m
	a.m = nil
	m.done()
	return m
}

// aheadNice is how far the run's thread's nice value is above the host's
// (see lowerThreadPriority): below the live workers (liveWorkerNice), which
// process the frames the host waits for.
const aheadNice = 10

func (a *detectAhead) loop() {
	defer a.wg.Done()
	// A thread of its own, at a lower priority: the run is background work.
	// The thread ends with the goroutine (it is never unlocked), so the
	// priority goes nowhere else.
	runtime.LockOSThread()
	a.tid = threadID()
	prioErr := lowerThreadPriority(aheadNice)
	for {
		select {
		case <-a.quit:
			return
		case <-a.start:
		}
		if prioErr != nil { // told once, on the first run (warn comes with it)
			a.warn("detection ahead: cannot lower its thread's priority (it runs at the host's): " + prioErr.Error())
			prioErr = nil
		}
		t0, c0 := a.now(), threadCPU()
		f := &a.snap.Frame
		var err error
		a.dets, err = a.m.det.Detect(f, a.dets[:0])
		if err != nil {
			a.warn("detect: " + err.Error())
			a.dets = a.dets[:0]
		}
		a.dets, a.unseen, a.sharp = a.small.find(a.m.det, f, a.dets, a.tracks, a.maxFaces, a.warn)
		// The cost is the thread's CPU time: at its low priority the
		// run's wall time counts the frames and the host it yields to.
		if a.ns = threadCPU() - c0; c0 == 0 || a.ns <= 0 {
			a.ns = a.now() - t0
		}
		a.done <- struct{}{}
	}
}

// close collects the run out and stops the goroutine; closing again does
// nothing.
func (a *detectAhead) close() {
	a.collect()
	if a.quit != nil {
		close(a.quit)
		a.wg.Wait()
		a.start, a.quit = nil, nil
	}
	a.pool.Drain()
}
