package engine

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"facelive/adapt"
	"facelive/engine/face"
	"facelive/engine/swap"
)

// remoteRunner runs a swap model that lives on an inference server
// (swapper.backend kserve) beside the live path, pipelined: up to
// max_in_flight requests are out at once, each on its own adapt.Decoupler,
// and every frame pastes the newest result that came back, at the frame's
// own alignment. The frame path never waits on the network: it only fills
// an idle runner's slot and reads the newest result. A server that is down
// or too slow leaves the faces without a fresh result, so after staleAfter
// they leave as the unprocessed policy says (pass shows them, hide
// pixelates them: hideUnpasted) — or, with swapper.server.fallback, a
// local model swaps them meanwhile, on a runner of its own (fb) at its own
// rate, until the server answers again.
type remoteRunner struct {
	clock  Clock
	mu     sync.Mutex
	decs   []*adapt.Decoupler[remoteJob]
	fb     *adapt.Decoupler[remoteJob] // the local fallback model's runner, made on first use
	closed bool
	last   swap.Remote   // the swapper the runners ran last: close aborts its requests
	seq    atomic.Uint64 // requests filled, in frame order
	failed string        // the last failure logged (logged again only when it changes)

	down atomic.Bool // the server's last answer was a failure
	// Frames whose faces came from the server, and from the local
	// fallback model; onFallback: the last one's came from the fallback.
	serverFrames, fallbackFrames atomic.Uint64
	onFallback                   atomic.Bool
}

// remoteJob is a swapJob plus when it was asked and answered: results
// arrive out of order, and the newest asked for wins.
type remoteJob struct {
	swapJob
	seq    uint64
	doneNs int64
}

// staleAfter is how old a result may be and still be pasted: a few
// request timeouts, so that a face does not freeze on a dead server's
// last answer.
func staleAfter(r swap.Remote) int64 {
	if t, ok := r.(interface{ Timeout() time.Duration }); ok {
		return int64(max(3*t.Timeout(), time.Second))
	}
	return int64(time.Second)
}

// swapRemote handles j's faces when the swapper is remote and the mode is
// live, and reports whether it did. Ordered modes run it in step.
func (s *swapStage) swapRemote(j *faceJob, w *faceScratch) bool {
	rs, ok := j.m.sw.(swap.Remote)
	if !ok || !j.o.live {
		return false
	}
	s.decoupled.Store(true)
	r := &s.remote
	decs := r.runners(s, rs)
	var filled *faceModels
	fill := func(rj *remoteJob) {
		w.filled = nil
		fillJob(&rj.swapJob, w)
		filled, rj.seq = w.filled, r.seq.Add(1)
	}
	for _, d := range decs {
		if d.TryStart(fill) {
			break
		}
		if filled != nil { // filled, but the runner was closed meanwhile
			filled.done()
			filled = nil
		}
	}
	// The newest fresh result among the runners, and when the newest
	// answer of all came.
	now, maxAge := s.now(), staleAfter(rs)
	best, bestSeq, newest := -1, uint64(0), int64(0)
	for i, d := range decs {
		d.Latest(func(rj *remoteJob) {
			newest = max(newest, rj.doneNs)
			if rj.seq > bestSeq && now-rj.doneNs <= maxAge {
				best, bestSeq = i, rj.seq
			}
		})
	}
	// Without a fresh answer, or while the server fails, the local
	// fallback model swaps the faces: its newest result is pasted once it
	// is newer than the server's newest answer (a result from an earlier
	// outage never is).
	before, fromFallback := j.faces, false
	if fb := j.m.fallbackOf(rs); fb != nil && (best < 0 || r.down.Load()) {
		d := r.fallback(s)
		filled = nil
		if !d.TryStart(fill) && filled != nil {
			filled.done()
		}
		d.Latest(func(rj *remoteJob) {
			if rj.doneNs > newest {
				pasteResult(&rj.swapJob, w, s.now)
				fromFallback = true
			}
		})
	}
	if !fromFallback && best >= 0 {
		decs[best].Latest(func(rj *remoteJob) { pasteResult(&rj.swapJob, w, s.now) })
	}
	if j.faces > before {
		r.count(fromFallback)
	}
	s.stats.stageTime(timeMerge, j.tMerge)
	return true
}

// count counts a frame whose faces came from the server, or from the
// local fallback model.
func (r *remoteRunner) count(fallback bool) {
	if fallback {
		r.fallbackFrames.Add(1)
	} else {
		r.serverFrames.Add(1)
	}
	r.onFallback.Store(fallback)
}

// runners returns max_in_flight runners (made on first use; more when it
// grows).
func (r *remoteRunner) runners(s *swapStage, rs swap.Remote) []*adapt.Decoupler[remoteJob] {
	n := rs.Server().MaxInFlight()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = rs
	for !r.closed && len(r.decs) < n {
		r.decs = append(r.decs, adapt.NewDecoupler(func() *remoteJob { return &remoteJob{} },
			func(rj *remoteJob) error { return s.runRemote(rj) }, r.clock))
	}
	return r.decs[:min(n, len(r.decs))]
}

// fallback returns the fallback model's runner (made on first use).
func (r *remoteRunner) fallback(s *swapStage) *adapt.Decoupler[remoteJob] {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fb == nil {
		r.fb = adapt.NewDecoupler(func() *remoteJob { return &remoteJob{} },
			func(rj *remoteJob) error { return s.runFallback(rj) }, r.clock)
		if r.closed {
			r.fb.Close()
		}
	}
	return r.fb
}

// runFallback runs on the fallback runner's goroutine: the local fallback
// model of each face's swapper, under runMu like any local model.
func (s *swapStage) runFallback(rj *remoteJob) error {
	m := rj.m
	rj.m = nil
	if m == nil {
		return fmt.Errorf("swap job without models")
	}
	defer m.done()
	var failed error
	good := 0
	for i := 0; i < rj.n; i++ {
		rj.ok[i] = false
		fb := m.fallbackOf(m.swapperFor(rj.src[i]))
		if fb == nil {
			continue
		}
		var lm *face.Landmarks
		if rj.hasLm[i] {
			lm = &rj.lms[i]
		}
		// reach -1: the whole face (a model writes all of it anyway)
		if err := s.runModel(fb, rj.morph, -1, rj.target[i], lm, rj.out[i], rj.mask[i]); err != nil {
			failed = err
			s.log(LevelWarn, "swap: the local fallback model: "+err.Error())
			continue
		}
		rj.ok[i] = true
		good++
	}
	rj.doneNs = s.now()
	if good == 0 {
		if failed == nil {
			failed = fmt.Errorf("no face for the fallback model")
		}
		return failed
	}
	s.runs.Add(1)
	s.remote.mu.Lock()
	s.stats.swapped(s.now())
	s.remote.mu.Unlock()
	return nil
}

// runRemote runs on a runner's goroutine: one request per face, without
// runMu (requests overlap; the swapper is safe for concurrent use). A job
// with no face answered is not published, so the last good one stays until
// it goes stale.
func (s *swapStage) runRemote(rj *remoteJob) error {
	m := rj.m
	rj.m = nil
	if m == nil {
		return fmt.Errorf("swap job without models")
	}
	defer m.done()
	if d, ok := m.sw.(interface{ SetMorph(float64) }); ok {
		d.SetMorph(rj.morph)
	}
	var failed error
	good := 0
	for i := 0; i < rj.n; i++ {
		err := m.swapperFor(rj.src[i]).Swap(rj.target[i], rj.out[i], rj.mask[i])
		rj.ok[i] = err == nil
		if err != nil {
			failed = err
		} else {
			good++
		}
	}
	rj.doneNs = s.now()
	s.remote.note(s, failed, good == 0 && failed != nil, m.fallbackName())
	if good == 0 && failed != nil {
		return failed
	}
	s.runs.Add(1)
	// Runners finish in any order; the rate meter restarts on a time that
	// goes back, so the time is read and counted under one lock.
	s.remote.mu.Lock()
	s.stats.swapped(s.now())
	s.remote.mu.Unlock()
	return nil
}

// note logs the server's failures when they change, and its recovery: not
// once per frame. down says the server answered nothing of the job;
// fallback names the local fallback model ("" without one).
func (r *remoteRunner) note(s *swapStage, err error, down bool, fallback string) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	r.down.Store(down)
	r.mu.Lock()
	was := r.failed
	changed := (msg == "") != (was == "")
	r.failed = msg
	r.mu.Unlock()
	switch {
	case changed && msg != "":
		s.log(LevelWarn, "swap: "+msg+"; "+whileAway(fallback)+" until the server answers")
	case changed && fallback != "":
		s.log(LevelInfo, "swap: the inference server answers again: faces are swapped on it again, no longer with the local fallback model")
	case changed:
		s.log(LevelInfo, "swap: the inference server answers again")
	}
}

// close stops the runners. The requests they hold are aborted first (the
// client is closed; the swapper is never used again): shutting a handle
// down must not wait for a server that does not answer.
func (r *remoteRunner) close() {
	r.mu.Lock()
	decs, last, fb := r.decs, r.last, r.fb
	r.decs, r.closed, r.last = nil, true, nil
	r.mu.Unlock()
	if last != nil {
		last.Server().Close()
	}
	for _, d := range decs {
		d.Close()
	}
	if fb != nil {
		fb.Close()
	}
}
