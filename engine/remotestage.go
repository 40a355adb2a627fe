package engine

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"facelive/adapt"
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
// pixelates them: hideUnpasted).
type remoteRunner struct {
	clock  Clock
	mu     sync.Mutex
	decs   []*adapt.Decoupler[remoteJob]
	closed bool
	last   swap.Remote   // the swapper the runners ran last: close aborts its requests
	seq    atomic.Uint64 // requests filled, in frame order
	failed string        // the last failure logged (logged again only when it changes)
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
	// The newest fresh result among the runners, then paste it.
	now, maxAge := s.now(), staleAfter(rs)
	best, bestSeq := -1, uint64(0)
	for i, d := range decs {
		d.Latest(func(rj *remoteJob) {
			if rj.seq > bestSeq && now-rj.doneNs <= maxAge {
				best, bestSeq = i, rj.seq
			}
		})
	}
	if best >= 0 {
		decs[best].Latest(func(rj *remoteJob) { pasteResult(&rj.swapJob, w, s.now) })
	}
	s.stats.stageTime(timeMerge, j.tMerge)
	return true
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
		err := m.sw.Swap(rj.target[i], rj.out[i], rj.mask[i])
		rj.ok[i] = err == nil
		if err != nil {
			failed = err
		} else {
			good++
		}
	}
	rj.doneNs = s.now()
	s.remote.note(s, failed)
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
// once per frame.
func (r *remoteRunner) note(s *swapStage, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	r.mu.Lock()
	was := r.failed
	changed := (msg == "") != (was == "")
	r.failed = msg
	r.mu.Unlock()
	switch {
	case changed && msg != "":
		s.log(LevelWarn, "swap: "+msg+"; faces leave as the unprocessed setting says until the server answers")
	case changed:
		s.log(LevelInfo, "swap: the inference server answers again")
	}
}

// close stops the runners. The requests they hold are aborted first (the
// client is closed; the swapper is never used again): shutting a handle
// down must not wait for a server that does not answer.
func (r *remoteRunner) close() {
	r.mu.Lock()
	decs, last := r.decs, r.last
	r.decs, r.closed, r.last = nil, true, nil
	r.mu.Unlock()
	if last != nil {
		last.Server().Close()
	}
	for _, d := range decs {
		d.Close()
	}
}
