package engine

import (
	"fmt"
	"image"
	"math"
	"sync/atomic"
	"time"

	"facelive/adapt"
	"facelive/engine/config"
	"facelive/engine/frame"
	"facelive/engine/merge"
)

// Indices of the face steps in the pipeline's stage timings.
const (
	timeDetect = 3 + iota
	timeLandmarks
	timeAlign
	timeSwap
	timeMerge
	firstExtraStage
)

var faceStepNames = []string{"detect", "landmarks", "align", "swap", "merge"}

// faceOptions are the settings applied live, frame by frame.
type faceOptions struct {
	interval, maxFaces int
	smoothing, morph   float64
	merge              merge.Options
	disclosure         bool
	stats              bool   // overlay.stats: fps / latency / drops in the top-left corner
	decouple           string // auto|on|off
	live               bool   // realtime or balanced: frames must go out at camera rate
	unprocessed        string // pass|hold|hide: how a frame the models did not process leaves
	intervalAt30       bool   // interval is for a 30 fps source: scaled with the frame rate (needDetect)
	// merge.live_eyes / merge.live_mouth, resolved for the swapper kind:
	// keep the person's own eyes / inner mouth (mergeStage.liveFeatures).
	liveEyes, liveMouth bool
}

// faceStage is the chain a frame's faces go through:
//
//	tracker (track.go)      detect on schedule, match, 68-point fit, smooth, align, crop
//	swapStage (swapstage.go) the swap model, in step or decoupled at its own rate
//	mergeStage (facejob.go)  mask, colour transfer, paste on the face's region
//	overlayStage (overlaystage.go) the stats and disclosure labels
//
// One frame's data travels through them as a faceJob. The models come from
// the modelLoader (loader.go); until they are ready, or when they failed,
// a frame leaves as the unprocessed policy says (unprocessed.go).
type faceStage struct {
	stats *stats
	clock Clock

	opts  atomic.Pointer[faceOptions]
	level atomic.Pointer[qualityLevel]
	faces atomic.Int32 // faces pasted into the last frame

	loader  *modelLoader
	tracker *tracker
	swap    *swapStage
	overlay *overlayStage
	held    *heldFrame
	steady  *merge.Steady // colour statistics per track, shared by the workers
}

func newFaceStage(log Logger, st *stats, clock Clock) *faceStage {
	fs := &faceStage{stats: st, clock: clock, loader: newModelLoader(log), held: &heldFrame{},
		steady: merge.NewSteady(merge.DefaultSteadyTime)}
	fs.tracker = newTracker(st, fs.now)
	fs.swap = newSwapStage(log, st, clock)
	fs.overlay = newOverlayStage(fs.statsText)
	return fs
}

// newScratch returns a worker's own face-stage state.
func (fs *faceStage) newScratch() *faceScratch {
	return fs.swap.newScratch(&mergeStage{log: fs.loader.log, merger: merge.New(), steady: fs.steady})
}

// status returns the face pipeline's state and, when failed, why.
func (fs *faceStage) status() (string, string) { return fs.loader.status() }

// configure applies cfg: live options at once, models through a background
// load when their keys changed. It never waits for a load. intervalPinned:
// detector.interval is the user's own (kept exactly), not the profile's or
// the tuner's (kept per second: see tracker.needDetect).
func (fs *faceStage) configure(cfg config.Config, intervalPinned bool) {
	m := merge.DefaultOptions()
	m.Erode, m.Blur, m.ColorTransfer, m.Opacity = cfg.Merge.Erode, cfg.Merge.Blur, cfg.Merge.ColorTransfer, cfg.Merge.Opacity
	eyes, mouth := cfg.Merge.LiveFeatures(cfg.Swapper.Kind)
	fs.opts.Store(&faceOptions{interval: cfg.Detector.Interval, maxFaces: cfg.Detector.MaxFaces,
		smoothing: cfg.Landmarks.Smoothing, morph: cfg.Swapper.Morph, merge: m, disclosure: cfg.Overlay.Disclosure,
		stats: cfg.Overlay.Stats, decouple: cfg.Decouple, live: cfg.Mode == "realtime" || cfg.Mode == "balanced",
		unprocessed: unprocessedPolicy(cfg), intervalAt30: !intervalPinned, liveEyes: eyes, liveMouth: mouth})
	fs.loader.configure(cfg)
}

// Process swaps every face (up to detector.max_faces) in f, or, when the
// models cannot (loading, failed), makes f leave as the unprocessed policy
// says; then it draws the labels. Every rectangle it writes goes into dmg.
// It reports whether the models processed f.
func (fs *faceStage) Process(f *frame.Frame, dmg *frame.Damage, ws *faceScratch) bool {
	o := fs.opts.Load()
	processed := fs.swapFaces(f, dmg, ws, o)
	if processed {
		fs.held.keep(f, o.unprocessed)
	} else {
		fs.leaveUnprocessed(f, dmg, o)
	}
	fs.overlay.draw(f, dmg, o, fs.now())
	return processed
}

// swapFaces runs the chain; false when there were no models to run it.
func (fs *faceStage) swapFaces(f *frame.Frame, dmg *frame.Damage, ws *faceScratch, o *faceOptions) bool {
	m := fs.loader.acquire()
	if m == nil {
		fs.faces.Store(0)
		state, _ := fs.loader.status()
		return state == faceOff // nothing asked for: done
	}
	defer m.done()
	j := &ws.job
	*j = faceJob{f: f, dmg: dmg, m: m, o: o, level: fs.level.Load(), crops: j.crops}
	defer fs.kickAhead(j) // first: a run readied must start even if a stage panics, or the next frame waits for ever
	fs.tracker.track(j)
	fs.swap.swap(j, ws)
	if o.unprocessed == "hide" && !hidesFaces(m) {
		hideUnpasted(j)
	}
	fs.faces.Store(int32(j.faces))
	j.f, j.dmg, j.m = nil, nil, nil // nothing outlives the frame
	return true
}

// hideUnpasted pixelates the faces followed that got no swapped face this
// frame: a new face while the gate confirms it, one turned away, one the
// swap has no result for yet. With unprocessed = hide the real face must
// not show while the engine has it in view, as it does not while models
// load (the real OBS Studio app showed it for two frames when the face was
// first found). The region is the face's box and a fifth around it, in
// blocks of a sixth of the face: nobody can be recognised from a 6×6
// mosaic.
func hideUnpasted(j *faceJob) {
	cs := &j.crops
	for i := range cs.ok {
		if cs.pasted[i] || cs.src[i] == srcPass {
			continue // swapped, or left as it is by choice (swapper.unlisted = pass)
		}
		b := cs.boxes[i]
		g := 0.2 * max(b.W(), b.H())
		r := image.Rect(int(b.X0-g), int(b.Y0-g), int(math.Ceil(b.X1+g)), int(math.Ceil(b.Y1+g)))
		view, got := j.f.Sub(r)
		if got.Empty() {
			continue
		}
		frame.Hide(&view, max(16, int(b.W())/6))
		j.dmg.Add(got)
	}
}

// kickAhead starts the detection run the tracker readied on j's frame, if
// it did: after the paste, so that the run does not slow it.
func (fs *faceStage) kickAhead(j *faceJob) {
	if j.kickAhead {
		j.kickAhead = false
		fs.tracker.ahead.kick()
	}
}

// leaveUnprocessed applies the unprocessed policy to f.
func (fs *faceStage) leaveUnprocessed(f *frame.Frame, dmg *frame.Damage, o *faceOptions) {
	switch o.unprocessed {
	case "pass":
		return
	case "hold":
		if fs.held.restore(f) {
			dmg.AddAll()
			return
		}
	}
	frame.Hide(f, frame.HideBlock(f.Width, f.Height)) // hide, or hold with nothing held yet
	dmg.AddAll()
}

// close stops the runner and gives the models back. Frames are no longer
// processed afterwards.
func (fs *faceStage) close() {
	fs.tracker.close() // first: a detection run out holds a use of the models
	fs.loader.close()
	fs.swap.close()
	fs.held.drop()
}

// setBudget is the frame budget at the source's rate: decoupling follows it.
func (fs *faceStage) setBudget(d time.Duration) { fs.swap.budgetNs.Store(int64(d)) }

// statsText is the stats overlay's line.
func (fs *faceStage) statsText(now int64) string {
	fps, lat, dropped := fs.stats.brief(now)
	q := "full"
	if l := fs.level.Load(); l != nil {
		q = l.Name
	}
	s := fmt.Sprintf("%.1f fps  %.0f ms  %d dropped  %d faces  %s", fps, lat, dropped, fs.faces.Load(), q)
	if fs.swap.decoupled.Load() {
		s += "  decoupled"
	}
	return s
}

// setLevel applies a quality level from the controller: how often to
// detect and which landmarks to fit. (The swap size of a loaded model is
// fixed; a level's SwapSize is not applied.)
func (fs *faceStage) setLevel(i int, l adapt.Level) {
	fs.level.Store(&qualityLevel{index: i, Level: l})
}

// qualityLevel is the controller's current rung.
type qualityLevel struct {
	index int
	adapt.Level
}

func (fs *faceStage) now() int64 { return fs.clock.Now().UnixNano() }

// WaitFaces waits until the face pipeline is ready, off or failed, for at
// most timeout; it returns the load error, or an error on timeout. Live
// hosts never call it; batch jobs on files do, so that no frame goes out
// unswapped.
func (p *Pipeline) WaitFaces(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		switch state, err := p.face.status(); state {
		case faceReady, faceOff:
			return nil
		case faceFailed:
			return fmt.Errorf("face pipeline failed to load: %s", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("face pipeline still loading after %v", timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// FaceStatus returns the face pipeline's state (off, loading, ready,
// failed) and, when failed, why.
func (p *Pipeline) FaceStatus() (state, err string) { return p.face.status() }
