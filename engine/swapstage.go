package engine

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"facelive/adapt"
	"facelive/engine/face"
	"facelive/engine/merge"
	"facelive/engine/swap"
)

// swapStage turns a frame's aligned crops into swapped faces, either in
// step with the camera (the worker runs the model, then merges) or
// decoupled: a runner goroutine swaps at the model's own rate while every
// frame gets the newest swapped faces pasted at its own alignment. It is
// the one place that decides what runs on the live path and what on the
// model path.
type swapStage struct {
	log   Logger
	stats *stats
	now   func() int64

	runMu sync.Mutex    // one model run at a time, in step or decoupled: a session is not re-entrant
	runs  atomic.Uint64 // model runs over one frame's faces, either path

	dec       *adapt.Decoupler[swapJob]
	decoupled atomic.Bool
	costNs    atomic.Int64 // smoothed cost of swapping one frame's faces
	budgetNs  atomic.Int64 // the frame budget at the source's rate (set by the pipeline)

	remote remoteRunner // swapper.backend kserve in the live modes (remotestage.go)
}

func newSwapStage(log Logger, st *stats, clock Clock) *swapStage {
	s := &swapStage{log: log, stats: st, now: func() int64 { return clock.Now().UnixNano() }}
	s.dec = adapt.NewDecoupler(func() *swapJob { return &swapJob{} }, s.runJob, clock)
	s.budgetNs.Store(int64(time.Second / 30))
	s.remote.clock = clock
	return s
}

// newScratch binds a worker's decoupled hand-over functions once.
func (s *swapStage) newScratch(ms *mergeStage) *faceScratch {
	w := &faceScratch{merge: ms}
	w.fill = func(sj *swapJob) { fillJob(sj, w) }
	w.paste = func(sj *swapJob) { pasteResult(sj, w, s.now) }
	return w
}

// swap swaps and merges j's faces.
func (s *swapStage) swap(j *faceJob, w *faceScratch) {
	if s.swapRemote(j, w) {
		return
	}
	if s.decide(j.o) {
		s.swapDecoupled(j, w)
		return
	}
	size := j.m.sw.Size()
	if len(w.mask) != size*size {
		w.out, w.mask = make([]byte, size*size*3), make([]float32, size*size)
	}
	var tSwap int64
	remote, fallback := false, false // a face went to a server; one came from the local fallback model
	for i, ok := range j.crops.ok {
		if !ok {
			continue
		}
		t := s.now()
		reach := merge.Reach(j.o.merge, size)
		sw := j.m.swapperFor(j.crops.src[i])
		err := s.runModel(sw, j.o.morph, reach, j.crops.crops[i], j.crops.landmarks(i), w.out, w.mask)
		if _, ok := sw.(swap.Remote); ok {
			// A server's failures are logged when they change, not per
			// frame; its local fallback model swaps the face meanwhile.
			remote = true
			fb := j.m.fallbackOf(sw)
			s.remote.note(s, err, err != nil, j.m.fallbackName())
			if err != nil && fb != nil {
				err = s.runModel(fb, j.o.morph, reach, j.crops.crops[i], j.crops.landmarks(i), w.out, w.mask)
				fallback = err == nil
			}
			if err != nil && fb == nil {
				tSwap += s.now() - t
				continue
			}
		}
		tSwap += s.now() - t
		if err != nil {
			s.log(LevelWarn, "swap: "+err.Error())
			continue
		}
		w.merge.paste(j, i, w.out, w.mask, s.now)
	}
	if remote && j.faces > 0 {
		s.remote.count(fallback)
	}
	if tSwap > 0 {
		s.runs.Add(1)
		s.stats.swapped(s.now())
		s.costNs.Store((3*s.costNs.Load() + tSwap) / 4)
	}
	s.stats.stageTime(timeSwap, tSwap)
	s.stats.stageTime(timeMerge, j.tMerge)
}

// runModel runs the swap model on one crop, alone. lm (the crop's
// face-space landmarks, nil when the fit had none) goes to a swapper that
// follows the face (swap.LandmarkSwapper), with reach: how far outside its
// mask's box the paste will read out (merge.Reach).
func (s *swapStage) runModel(sw swap.Swapper, morph float64, reach int, crop []byte, lm *face.Landmarks, out []byte, mask []float32) error {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if m, ok := sw.(interface{ SetMorph(float64) }); ok {
		m.SetMorph(morph)
	}
	if ls, ok := sw.(swap.LandmarkSwapper); ok && lm != nil {
		return ls.SwapTo(crop, lm, reach, out, mask)
	}
	return sw.Swap(crop, out, mask)
}

// decide says whether this frame's faces are swapped by the decoupled
// runner. auto decouples in the live modes once swapping the faces costs
// more than half the frame budget, and goes back below a quarter of it
// (hysteresis: no flapping at the edge). Either way the model runs under
// runMu, so switching needs no waiting.
func (s *swapStage) decide(o *faceOptions) bool {
	was := s.decoupled.Load()
	now := was
	switch {
	case o.decouple == "on":
		now = true
	case o.decouple == "off" || !o.live:
		now = false
	default:
		budget, cost := s.budgetNs.Load(), s.costNs.Load()
		if !was && cost > budget/2 {
			now = true
		} else if was && cost < budget/4 {
			now = false
		}
	}
	if was != now && s.decoupled.CompareAndSwap(was, now) {
		s.log(LevelInfo, fmt.Sprintf("swap model %s the camera: %.1f ms per frame's faces, frame budget %.1f ms",
			map[bool]string{true: "decoupled from", false: "back in step with"}[now],
			float64(s.costNs.Load())/1e6, float64(s.budgetNs.Load())/1e6))
	}
	return now
}

// swapJob is one run of the swap model over the faces of one frame, in
// aligned face space: the crops go in, faces and masks come out. The
// decoupled runner owns three of them (see adapt.Decoupler).
type swapJob struct {
	n      int
	ids    []uint64
	src    []int // the source each face wears (cropSet.src)
	target [][]byte
	out    [][]byte
	mask   [][]float32
	ok     []bool
	lms    []face.Landmarks // the crops' face-space landmarks, when hasLm
	hasLm  []bool
	m      *faceModels // a use held until the run ends
	morph  float64
	reach  int // merge.Reach of the merge options at fill time
}

// swapDecoupled hands this frame's crops to the runner when it is idle,
// then pastes the newest swapped faces at this frame's alignment: the face
// follows the head at camera rate while the model runs at its own rate.
// A face the model has not seen yet stays as it is until its first result.
func (s *swapStage) swapDecoupled(j *faceJob, w *faceScratch) {
	w.filled = nil
	if !s.dec.TryStart(w.fill) && w.filled != nil {
		w.filled.done() // filled, but the runner was closed meanwhile
	}
	s.dec.Latest(w.paste)
	if t := int64(s.dec.Stats().LastRun); t > 0 {
		s.costNs.Store((3*s.costNs.Load() + t) / 4)
		s.stats.stageTime(timeSwap, t)
	}
	s.stats.stageTime(timeMerge, j.tMerge)
}

// fillJob copies the worker's crops into a runner slot, on the frame path.
func fillJob(sj *swapJob, w *faceScratch) {
	j := &w.job
	size := j.m.sw.Size()
	sj.n, sj.morph, sj.reach = 0, j.o.morph, merge.Reach(j.o.merge, size)
	for i, ok := range j.crops.ok {
		if !ok {
			continue
		}
		if sj.n == len(sj.target) || len(sj.target[sj.n]) != size*size*3 {
			if sj.n == len(sj.target) {
				sj.ids, sj.ok, sj.src = append(sj.ids, 0), append(sj.ok, false), append(sj.src, srcDefault)
				sj.lms, sj.hasLm = append(sj.lms, face.Landmarks{}), append(sj.hasLm, false)
				sj.target, sj.out, sj.mask = append(sj.target, nil), append(sj.out, nil), append(sj.mask, nil)
			}
			sj.target[sj.n], sj.out[sj.n], sj.mask[sj.n] = make([]byte, size*size*3), make([]byte, size*size*3), make([]float32, size*size)
		}
		copy(sj.target[sj.n], j.crops.crops[i])
		sj.ids[sj.n], sj.ok[sj.n], sj.src[sj.n] = j.crops.ids[i], false, j.crops.src[i]
		sj.lms[sj.n], sj.hasLm[sj.n] = j.crops.lms[i], j.crops.hasLm[i]
		sj.n++
	}
	if j.m.tryUse() { // always: the frame holds a use; the runner needs its own
		sj.m, w.filled = j.m, j.m
	}
}

// runJob runs on the runner's goroutine.
func (s *swapStage) runJob(sj *swapJob) error {
	m := sj.m
	sj.m = nil
	if m == nil {
		return fmt.Errorf("swap job without models")
	}
	defer m.done()
	for i := 0; i < sj.n; i++ {
		var lm *face.Landmarks
		if sj.hasLm[i] {
			lm = &sj.lms[i]
		}
		err := s.runModel(m.swapperFor(sj.src[i]), sj.morph, sj.reach, sj.target[i], lm, sj.out[i], sj.mask[i])
		sj.ok[i] = err == nil
		if err != nil {
			s.log(LevelWarn, "swap: "+err.Error())
		}
	}
	s.runs.Add(1)
	s.stats.swapped(s.now())
	return nil
}

// pasteResult runs on the frame path with the newest result: each face it
// holds is pasted at its track's alignment in this frame.
func pasteResult(sj *swapJob, w *faceScratch, now func() int64) {
	j := &w.job
	size := j.m.sw.Size()
	for i, ok := range j.crops.ok {
		if !ok {
			continue
		}
		for k := 0; k < sj.n; k++ {
			if sj.ids[k] == j.crops.ids[i] && sj.ok[k] && len(sj.out[k]) == size*size*3 {
				w.merge.paste(j, i, sj.out[k], sj.mask[k], now)
				break
			}
		}
	}
}

// close stops the runner after the run it holds.
func (s *swapStage) close() {
	s.remote.close()
	s.dec.Close()
	s.decoupled.Store(false)
}
