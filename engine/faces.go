package engine

import (
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"facelive/engine/align"
	"facelive/engine/config"
	"facelive/engine/detect"
	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/landmark"
	"facelive/engine/merge"
	"facelive/engine/ortenv"
	"facelive/engine/overlay"
	"facelive/engine/swap"
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

// Face pipeline states, shown in the metrics as face_pipeline.
const (
	faceOff     = "off"     // swapper.kind none: frames pass through
	faceLoading = "loading" // models load in the background; frames pass through
	faceReady   = "ready"
	faceFailed  = "failed" // see last_error; frames pass through
)

// faceModels is what loads slowly. It is rebuilt, off the caller's thread,
// only when a config key it depends on changes.
type faceModels struct {
	key   faceKey
	det   detect.Detector
	fit   landmark.Fitter
	sw    swap.Swapper
	align align.Options
}

func (m *faceModels) close() {
	if m.det != nil {
		m.det.Close()
	}
	if c, ok := m.fit.(interface{ Close() error }); ok {
		c.Close()
	}
	if m.sw != nil {
		m.sw.Close()
	}
}

// faceKey is the part of the config the models depend on.
type faceKey struct {
	Swapper   config.Swapper
	Detector  config.Detector
	Landmarks string
	Assets    string
	ORT       string
}

func keyOf(cfg config.Config) faceKey {
	k := faceKey{Swapper: cfg.Swapper, Detector: cfg.Detector, Landmarks: cfg.Landmarks.Kind,
		Assets: cfg.AssetsDir, ORT: cfg.ONNXRuntimeLibrary}
	k.Swapper.Morph = 0 // applied live, no reload
	k.Detector.Interval = 0
	return k
}

// faceOptions are the settings applied live, frame by frame.
type faceOptions struct {
	interval, maxFaces int
	smoothing, morph   float64
	merge              merge.Options
	disclosure         bool
}

// track is one face followed from frame to frame.
type track struct {
	lm       landmark.Result
	smoother *landmark.Smoother
	box      face.Rect
}

// faceStage finds, swaps and merges faces in place. Frames go through it
// one at a time (tracking needs order); models load in the background and
// until they are ready frames pass through unchanged.
type faceStage struct {
	log   Logger
	stats *stats

	models     atomic.Pointer[faceModels]
	opts       atomic.Pointer[faceOptions]
	state      atomic.Pointer[string]
	err        atomic.Pointer[string]
	faces      atomic.Int32
	detections atomic.Uint64 // detector runs; tracking covers the frames between

	loadMu  sync.Mutex // guards gen, key, closed
	gen     uint64     // the newest load wins
	key     faceKey
	closed  bool
	loading sync.WaitGroup

	labelMu sync.Mutex // guards label (it re-renders when the frame height changes)
	label   *overlay.Label

	mu          sync.Mutex // one frame at a time; guards everything below
	clock       Clock
	tracks      []track
	spare       []track // matchTracks builds the next tracks here
	dets        []face.Detection
	det         face.Detection
	sinceDetect int
	lastDetect  int64 // pts of the last detection
	redetect    bool
	target, out []byte
	mask        []float32
	merger      *merge.Merger
}

func newFaceStage(log Logger, st *stats, clock Clock) *faceStage {
	fs := &faceStage{log: log, stats: st, clock: clock, merger: merge.New(), label: overlay.NewLabel(overlay.DisclosureText),
		dets: make([]face.Detection, 0, 16), tracks: make([]track, 0, 16), spare: make([]track, 0, 16)}
	fs.setState(faceOff, "")
	return fs
}

func (fs *faceStage) setState(state, err string) {
	fs.state.Store(&state)
	fs.err.Store(&err)
}

// status returns the state and, when failed, why.
func (fs *faceStage) status() (string, string) { return *fs.state.Load(), *fs.err.Load() }

// configure applies cfg: live options at once, models through a background
// load when their keys changed. It never blocks on a load.
func (fs *faceStage) configure(cfg config.Config) {
	m := merge.DefaultOptions()
	m.Erode, m.Blur, m.ColorTransfer, m.Opacity = cfg.Merge.Erode, cfg.Merge.Blur, cfg.Merge.ColorTransfer, cfg.Merge.Opacity
	fs.opts.Store(&faceOptions{interval: cfg.Detector.Interval, maxFaces: cfg.Detector.MaxFaces,
		smoothing: cfg.Landmarks.Smoothing, morph: cfg.Swapper.Morph, merge: m, disclosure: cfg.Overlay.Disclosure})

	key := keyOf(cfg)
	fs.loadMu.Lock()
	defer fs.loadMu.Unlock()
	if fs.closed || (key == fs.key && fs.gen > 0) {
		return
	}
	fs.key = key
	fs.gen++
	if cfg.Swapper.Kind == "none" {
		fs.install(nil, fs.gen)
		fs.setState(faceOff, "")
		return
	}
	fs.setState(faceLoading, "")
	gen := fs.gen
	fs.loading.Add(1)
	go func() {
		defer fs.loading.Done()
		start := time.Now()
		m, err := loadModelsSafely(cfg, fs.log)
		fs.loadMu.Lock()
		defer fs.loadMu.Unlock()
		if gen != fs.gen || fs.closed { // superseded while loading
			if m != nil {
				m.close()
			}
			return
		}
		if err != nil {
			fs.install(nil, gen) // what we say must be true: no old models keep swapping
			fs.setState(faceFailed, err.Error())
			fs.log(LevelError, "face pipeline failed to load, frames pass through unmodified: "+err.Error())
			return
		}
		fs.install(m, gen)
		fs.setState(faceReady, "")
		fs.log(LevelInfo, fmt.Sprintf("face pipeline ready in %d ms: swapper %s", time.Since(start).Milliseconds(), cfg.Swapper.Kind))
	}()
}

// install makes m current and closes the models it replaces once no frame
// uses them. Called with loadMu held.
func (fs *faceStage) install(m *faceModels, gen uint64) {
	fs.mu.Lock() // waits for the frame in progress
	old := fs.models.Swap(m)
	fs.tracks = fs.tracks[:0]
	fs.mu.Unlock()
	if old != nil {
		old.close()
	}
}

// close stops loading and frees the models; Process passes frames through
// afterwards.
func (fs *faceStage) close() {
	fs.loadMu.Lock()
	fs.closed = true
	fs.loadMu.Unlock()
	fs.loading.Wait()
	fs.mu.Lock()
	old := fs.models.Swap(nil)
	fs.mu.Unlock()
	if old != nil {
		old.close()
	}
}

// loadModelsSafely is loadModels with its panics turned into an error: a
// fault while loading a model must fail the face pipeline, not the host.
func loadModelsSafely(cfg config.Config, log Logger) (m *faceModels, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("internal error while loading the face models: %v", r)
		}
	}()
	return loadModels(cfg, log)
}

// loadModels builds the detector, the landmark fitter and the swapper for cfg.
func loadModels(cfg config.Config, log Logger) (*faceModels, error) {
	assets := findAssets(cfg.AssetsDir)
	logf := func(level int, msg string) { log(Level(level), msg) }
	ort := cfg.ONNXRuntimeLibrary
	if ort == "" {
		ort = ortenv.DefaultLibrary(assets)
	}
	do := detect.Options{Threshold: cfg.Detector.Threshold, MaxFaces: cfg.Detector.MaxFaces, ORTLibrary: ort,
		Model: filepath.Join(assets, "models", detect.ModelFile), HaarCascade: detect.DefaultHaarCascade(), Log: logf}
	m := &faceModels{key: keyOf(cfg)}
	var err error
	if cfg.Detector.Kind == "haar" {
		m.det, err = detect.NewHaar(do)
	} else {
		m.det, err = detect.New(do) // falls back to Haar, and says so
	}
	if err != nil {
		return nil, fmt.Errorf("face detector: %w", err)
	}
	if cfg.Landmarks.Kind == "keypoints" {
		m.fit = landmark.KeypointFitter{}
	} else {
		m.fit = landmark.New(landmark.DefaultModelPath, logf) // falls back to keypoints, and says so
	}
	m.align = align.DefaultOptions(&landmark.MeanFace)
	if m.sw, err = newSwapper(cfg, assets, m); err != nil {
		m.close()
		return nil, err
	}
	m.align.Size = m.sw.Size()
	return m, nil
}

// DefaultFace is the photo the photo swapper uses when swapper.face is
// empty, relative to the assets folder (make deps fetches it).
const DefaultFace = "faces/sample2.jpg"

// newSwapper builds the configured swapper. Source photos are located with
// m's own detector and landmark fitter.
func newSwapper(cfg config.Config, assets string, m *faceModels) (swap.Swapper, error) {
	s := cfg.Swapper
	switch s.Kind {
	case "blur", "pixelate":
		return orNil(swap.NewPrivacy(s.Kind, align.DefaultSize))
	case "dfm":
		return orNil(swap.NewDFM(s.Model, s.Morph))
	}
	photo := s.Face
	if photo == "" {
		if assets == "" {
			return nil, fmt.Errorf("swapper.face is empty and there is no assets folder with a default face: set swapper.face to a face photo, or run make deps")
		}
		photo = filepath.Join(assets, DefaultFace)
	}
	src, err := swap.LoadPhoto(photo, m.locate)
	if err != nil {
		return nil, fmt.Errorf("swapper.face: %w", err)
	}
	if s.Kind == "inswapper" {
		return orNil(swap.NewInSwapper(s.Model, s.ArcFaceModel, src))
	}
	return orNil(swap.NewPhoto(src, m.align))
}

// orNil keeps a failed constructor's typed nil pointer out of the
// interface, where it would not compare equal to nil.
func orNil[T swap.Swapper](s T, err error) (swap.Swapper, error) {
	if err != nil {
		return nil, err
	}
	return s, nil
}

// locate finds the largest face of a source photo and its 68 landmarks.
func (m *faceModels) locate(img *frame.Frame) (face.Landmarks, error) {
	dets, err := m.det.Detect(img, nil)
	if err != nil {
		return face.Landmarks{}, err
	}
	if len(dets) == 0 {
		return face.Landmarks{}, swap.ErrNoFace
	}
	var r landmark.Result
	if err := m.fit.Fit(img, &dets[0], &r); err != nil {
		return face.Landmarks{}, err
	}
	if r.N != 68 {
		return face.Landmarks{}, fmt.Errorf("a source photo needs 68 landmarks (dlib's model %s), got only the detector's keypoints", landmark.DefaultModelPath)
	}
	return r.Points, nil
}

// Process swaps every face (up to detector.max_faces) in f, then draws the
// disclosure label when overlay.disclosure asks for it.
func (fs *faceStage) Process(f *frame.Frame) {
	fs.swapFaces(f)
	if fs.opts.Load().disclosure {
		fs.labelMu.Lock()
		fs.label.Draw(f)
		fs.labelMu.Unlock()
	}
}

func (fs *faceStage) swapFaces(f *frame.Frame) {
	m := fs.models.Load()
	if m == nil {
		fs.faces.Store(0)
		return
	}
	o := fs.opts.Load()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if m != fs.models.Load() { // replaced while we waited
		return
	}
	if sw, ok := m.sw.(interface{ SetMorph(float64) }); ok {
		sw.SetMorph(o.morph) // under fs.mu: never while the model runs
	}
	size := m.sw.Size()
	if len(fs.mask) != size*size {
		fs.target, fs.out, fs.mask = make([]byte, size*size*3), make([]byte, size*size*3), make([]float32, size*size)
	}

	t0 := fs.now()
	if fs.needDetect(f.PTS, o) {
		var err error
		fs.detections.Add(1)
		fs.dets, err = m.det.Detect(f, fs.dets[:0])
		if err != nil {
			fs.log(LevelWarn, "detect: "+err.Error())
			fs.dets = fs.dets[:0]
		}
		fs.sinceDetect, fs.lastDetect, fs.redetect = 0, f.PTS, false
		fs.matchTracks(o)
	} else {
		fs.sinceDetect++
	}
	fs.stats.stageTime(timeDetect, fs.now()-t0)

	var tLm, tAlign, tSwap, tMerge int64
	faces := 0
	for i := range fs.tracks {
		tr := &fs.tracks[i]
		t1 := fs.now()
		if fs.sinceDetect == 0 {
			fs.det = fs.dets[i]
		} else { // tracking: search where the landmarks were
			fs.det = face.Detection{Box: trackBox(&tr.lm.Points)}
		}
		prev, hadFit := centre(&tr.lm), tr.lm.N > 0
		if err := m.fit.Fit(f, &fs.det, &tr.lm); err != nil {
			fs.redetect = true
			continue
		}
		tr.smoother.SetSmoothing(o.smoothing)
		tr.smoother.Update(time.Duration(f.PTS), tr.lm.Valid())
		if c := centre(&tr.lm); hadFit && math.Hypot(c.X-prev.X, c.Y-prev.Y) > 0.15*tr.box.W() {
			fs.redetect = true // fast motion: confirm with the detector next frame
		}
		tr.box = fs.det.Box
		t2 := fs.now()
		tLm += t2 - t1

		var tf align.Transform
		var err error
		if a, ok := m.sw.(swap.Aligner); ok && tr.lm.N == 68 {
			tf, err = a.Align(&tr.lm.Points) // the crop the model was trained on (InSwapper: ArcFace's)
		} else if tr.lm.N == 68 {
			tf, err = align.Fit(&tr.lm.Points, m.align)
		} else {
			tf, err = align.FitKeypoints(&fs.det, m.align)
		}
		if err == nil {
			err = align.Crop(f, tf, fs.target)
		}
		t3 := fs.now()
		tAlign += t3 - t2
		if err != nil {
			continue
		}
		if err := m.sw.Swap(fs.target, fs.out, fs.mask); err != nil {
			fs.log(LevelWarn, "swap: "+err.Error())
			continue
		}
		t4 := fs.now()
		tSwap += t4 - t3
		mo := o.merge
		mo.TargetCrop = fs.target
		if err := fs.merger.Paste(f, tf, fs.out, fs.mask, mo); err != nil {
			fs.log(LevelWarn, "merge: "+err.Error())
			continue
		}
		tMerge += fs.now() - t4
		faces++
	}
	fs.stats.stageTime(timeLandmarks, tLm)
	fs.stats.stageTime(timeAlign, tAlign)
	fs.stats.stageTime(timeSwap, tSwap)
	fs.stats.stageTime(timeMerge, tMerge)
	fs.faces.Store(int32(faces))
}

// needDetect: every detector.interval frames, or, with interval 0
// (adaptive), when tracking has nothing to follow, motion was fast, a fit
// failed, or half a second / 15 frames passed.
func (fs *faceStage) needDetect(pts int64, o *faceOptions) bool {
	if len(fs.tracks) == 0 || fs.redetect {
		return true
	}
	for i := range fs.tracks {
		if fs.tracks[i].lm.N != 68 { // keypoints come only from the detector
			return true
		}
	}
	if o.interval > 0 {
		return fs.sinceDetect+1 >= o.interval
	}
	return fs.sinceDetect >= 15 || pts-fs.lastDetect >= int64(500*time.Millisecond) || pts < fs.lastDetect
}

// matchTracks pairs fresh detections with the tracks of the last frame by
// nearest centre, so each face keeps its smoother; faces that left lose
// theirs (the One-Euro state resets on face loss).
func (fs *faceStage) matchTracks(o *faceOptions) {
	n := min(len(fs.dets), o.maxFaces)
	old, next := fs.tracks, fs.spare[:0]
	used := uint32(0)
	for i := 0; i < n; i++ {
		c := fs.dets[i].Box.Center()
		best, bestD := -1, math.Inf(1)
		for j := range old {
			if used&(1<<j) != 0 {
				continue
			}
			oc := old[j].box.Center()
			if d := math.Hypot(c.X-oc.X, c.Y-oc.Y); d < bestD && d < fs.dets[i].Box.W() {
				best, bestD = j, d
			}
		}
		var tr track
		if best >= 0 {
			used |= 1 << best
			tr = old[best]
		} else {
			tr.smoother = landmark.NewSmoother(o.smoothing)
		}
		tr.box = fs.dets[i].Box
		next = append(next, tr)
	}
	for j := range old {
		if used&(1<<j) == 0 && old[j].smoother != nil {
			old[j].smoother.Reset()
		}
	}
	fs.tracks, fs.spare = next, old
}

// trackBox derives the next frame's search box from this frame's
// landmarks: their bounds, which is close to the box dlib was trained on.
func trackBox(lm *face.Landmarks) face.Rect {
	b := lm.Bounds()
	pad := 0.05 * b.W()
	return face.Rect{X0: b.X0 - pad, Y0: b.Y0 - pad, X1: b.X1 + pad, Y1: b.Y1 + pad}
}

func (fs *faceStage) now() int64 { return fs.clock.Now().UnixNano() }

// centre is the mean of a fit's points (0,0 before the first fit).
func centre(r *landmark.Result) face.Point {
	var c face.Point
	for _, p := range r.Valid() {
		c.X += p.X
		c.Y += p.Y
	}
	if r.N > 0 {
		c.X /= float64(r.N)
		c.Y /= float64(r.N)
	}
	return c
}

// WaitFaces waits until the face pipeline is ready, off or failed, for at
// most timeout; it returns the load error, or an error on timeout. Live
// hosts never call it (frames pass through meanwhile); batch jobs on files
// do, so that no frame goes out unswapped.
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

// FaceFailed reports whether the face models failed to load.
const FaceFailed = faceFailed
