package engine

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"facelive/adapt"
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
	"facelive/vram"
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
// only when a config key it depends on changes. Its parts are checked out of
// the shared model cache and go back there when it is closed.
type faceModels struct {
	key   faceKey
	det   detect.Detector
	fit   landmark.Fitter
	sw    swap.Swapper
	align align.Options
	held  []checkedOut
	// provider is the execution provider chosen for the swap model, and
	// why; a GPU provider that fails at load falls back to the CPU (logged).
	provider vram.Choice
	log      Logger
}

// close gives the models back to the cache, where another pipeline (or this
// one, switching back) finds them ready.
func (m *faceModels) close() {
	giveBack(m.held)
	m.held = nil
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
	stats              bool   // overlay.stats: fps / latency / drops in the top-left corner
	decouple           string // auto|on|off
	live               bool   // realtime or balanced: frames must go out at camera rate
}

// track is one face followed from frame to frame.
type track struct {
	id       uint64 // matches a track to its face in a decoupled swap result
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

	loadMu sync.Mutex // guards gen, key, closed
	gen    uint64     // the newest load wins
	key    faceKey
	closed bool

	labelMu    sync.Mutex // guards label, statsLabel, statsAt (they re-render when the frame height or text changes)
	label      *overlay.Label
	statsLabel *overlay.Label
	statsAt    int64 // when the stats text was last updated

	swapMu sync.Mutex   // one Swap at a time: model sessions are not re-entrant
	useMu  sync.RWMutex // read-held by second halves in flight; install waits for them

	mu          sync.Mutex // one frame at a time; guards everything below
	clock       Clock
	tracks      []track
	spare       []track // matchTracks builds the next tracks here
	dets        []face.Detection
	det         face.Detection
	sinceDetect int
	lastDetect  int64 // pts of the last detection
	redetect    bool
	merger      *merge.Merger // decoupled pastes
	nextID      uint64

	// Decoupled swapping (see swapDecoupled): this frame's crops and
	// transforms per track, and the runner that swaps at the model's rate.
	dec        *adapt.Decoupler[swapJob]
	decoupled  atomic.Bool
	swapCostNs atomic.Int64 // smoothed cost of swapping one frame's faces
	budgetNs   atomic.Int64 // the frame budget at the source's rate (set by the pipeline)
	level      atomic.Pointer[qualityLevel]
	cs         cropSet     // decoupled: this frame's crops (the in-step path uses the worker's)
	cur        *faceModels // for fillJob and pasteResult, under mu
	curOpts    *faceOptions
	curFrame   *frame.Frame
	curDamage  *frame.Damage
	pasted     int
	fillFn     func(*swapJob)
	pasteFn    func(*swapJob)
}

func newFaceStage(log Logger, st *stats, clock Clock) *faceStage {
	fs := &faceStage{log: log, stats: st, clock: clock, merger: merge.New(), label: overlay.NewLabel(overlay.DisclosureText), statsLabel: overlay.NewTopLabel(""),
		dets: make([]face.Detection, 0, 16), tracks: make([]track, 0, 16), spare: make([]track, 0, 16)}
	fs.setState(faceOff, "")
	fs.fillFn, fs.pasteFn = fs.fillJob, fs.pasteResult // once: no closure per frame
	fs.dec = adapt.NewDecoupler(func() *swapJob { return &swapJob{} }, fs.runJob, clock)
	fs.budgetNs.Store(int64(time.Second / 30))
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
		smoothing: cfg.Landmarks.Smoothing, morph: cfg.Swapper.Morph, merge: m, disclosure: cfg.Overlay.Disclosure,
		stats: cfg.Overlay.Stats, decouple: cfg.Decouple, live: cfg.Mode == "realtime" || cfg.Mode == "balanced"})

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
	loadsInFlight.Add(1)
	go func() { // ends on its own; close does not wait for it (see close)
		defer loadsInFlight.Add(-1)
		start := time.Now()
		stale := func() bool { // superseded or closed: stop before the next model
			fs.loadMu.Lock()
			defer fs.loadMu.Unlock()
			return gen != fs.gen || fs.closed
		}
		m, err := loadModelsSafely(cfg, fs.log, stale)
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
	fs.useMu.Lock() // and for second halves still swapping with the old models
	fs.useMu.Unlock()
	fs.dec.Wait() // a decoupled swap may still run on the old swapper
	if old != nil {
		old.close()
	}
}

// close frees the models (back to the cache); Process passes frames
// through afterwards. It does not wait for a load in progress: that load
// stops before its next model and gives what it loaded to the cache, where
// the next pipeline finds it. (An OBS filter removed while loading must not
// hold OBS's destruction thread for seconds.)
func (fs *faceStage) close() {
	fs.loadMu.Lock()
	fs.closed = true
	fs.loadMu.Unlock()
	fs.mu.Lock()
	old := fs.models.Swap(nil)
	fs.mu.Unlock()
	fs.useMu.Lock()
	fs.useMu.Unlock()
	fs.dec.Close() // waits for a swap in progress
	fs.decoupled.Store(false)
	if old != nil {
		old.close()
	}
}

// loadModelsSafely is loadModels with its panics turned into an error: a
// fault while loading a model must fail the face pipeline, not the host.
func loadModelsSafely(cfg config.Config, log Logger, stale func() bool) (m *faceModels, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("internal error while loading the face models: %v", r)
		}
	}()
	return loadModels(cfg, log, stale)
}

// loadModels checks out (or loads) the detector, the landmark fitter and
// the swapper for cfg.
func loadModels(cfg config.Config, log Logger, stale func() bool) (m *faceModels, err error) {
	assets := findAssets(cfg.AssetsDir)
	logf := func(level int, msg string) { log(Level(level), msg) }
	ort := cfg.ONNXRuntimeLibrary
	if ort == "" {
		ort = ortenv.DefaultLibrary(assets)
	}
	do := detect.Options{Threshold: cfg.Detector.Threshold, MaxFaces: cfg.Detector.MaxFaces, ORTLibrary: ort,
		Model: filepath.Join(assets, "models", detect.ModelFile), HaarCascade: detect.DefaultHaarCascade(), Log: logf}
	built := &faceModels{key: keyOf(cfg), log: log}
	m = built
	defer func() {
		if err != nil {
			built.close() // what was checked out goes back
			m = nil
		}
	}()
	detKey := fmt.Sprintf("detect|%s|%g|%d|%s|%s", cfg.Detector.Kind, do.Threshold, do.MaxFaces, fileID(do.Model), ort)
	m.det, err = checkout(&m.held, detKey, vram.SizeOf(do.Model), func() (detect.Detector, func(), error) {
		var d detect.Detector
		var err error
		if cfg.Detector.Kind == "haar" {
			d, err = detect.NewHaar(do)
		} else {
			d, err = detect.New(do) // falls back to Haar, and says so
		}
		if err != nil {
			return nil, nil, err
		}
		return d, func() { d.Close() }, nil
	})
	if err != nil {
		return nil, fmt.Errorf("face detector: %w", err)
	}
	if stale() {
		return nil, errStale
	}
	lmKey := "landmarks|keypoints"
	if cfg.Landmarks.Kind == "keypoints" {
		m.fit = landmark.KeypointFitter{}
	} else {
		path := dlibModel()
		lmKey = "landmarks|dlib68|" + fileID(path)
		// Shared: Fit may run on several goroutines at once on one predictor.
		m.fit, err = checkoutShared(&m.held, lmKey, vram.SizeOf(path), func() (landmark.Fitter, func(), error) {
			f := landmark.New(path, logf) // falls back to keypoints, and says so
			return f, func() {
				if c, ok := f.(interface{ Close() error }); ok {
					c.Close()
				}
			}, nil
		})
		if err != nil {
			return nil, fmt.Errorf("landmarks: %w", err)
		}
	}
	if stale() {
		return nil, errStale
	}
	m.align = align.DefaultOptions(&landmark.MeanFace)
	s := cfg.Swapper
	face := s.Face
	if face == "" && assets != "" {
		face = filepath.Join(assets, DefaultFace)
	}
	_, _ = shared() // NVML probed once
	var gpus []vram.GPU
	if gpuSource != nil {
		gpus, _ = gpuSource.GPUs()
	}
	m.provider = vram.ChooseProvider(cfg.ExecutionProvider, gpus, nvmlErr, filepath.Dir(ort))
	if s.Kind == "dfm" || s.Kind == "inswapper" {
		log(LevelInfo, "execution provider "+m.provider.Provider+": "+m.provider.Reason)
	}
	if s.Kind == "dfm" || s.Kind == "inswapper" {
		// The swap model runs on the configured library. Without this, a
		// detector that did not load it (Haar, or BlazeFace fallen back)
		// leaves the swapper to load the default one (swap's Init("")),
		// silently ignoring onnxruntime_library.
		if err := ortenv.Init(ort); err != nil {
			return nil, fmt.Errorf("swapper.kind %q needs ONNX Runtime: %w", s.Kind, err)
		}
	}
	// A swapper that read a photo located its face with m.det and m.fit: it
	// is reused only with the same detector and landmark model files (and
	// ONNX Runtime, whose failure means Haar), so that a deleted dlib model
	// or a Haar fallback never gets a swapper built with them.
	located := ""
	if s.Kind == "photo" || s.Kind == "inswapper" {
		located = fileID(do.Model) + "|" + ort + "|" + lmKey
	}
	swKey := fmt.Sprintf("swap|%s|%s|%s|%s|%s|%s|%s|%s", s.Kind, fileID(face), fileID(s.Model), fileID(s.ArcFaceModel),
		cfg.Detector.Kind, cfg.Landmarks.Kind, m.provider.Provider, located)
	size := max(vram.SizeOf(s.Model, s.ArcFaceModel), 1<<20)
	m.sw, err = checkout(&m.held, swKey, size, func() (swap.Swapper, func(), error) {
		sw, err := newSwapper(cfg, assets, m)
		if err != nil {
			return nil, nil, err
		}
		return sw, func() { sw.Close() }, nil
	})
	if err != nil {
		return nil, err
	}
	m.align.Size = m.sw.Size()
	return m, nil
}

// loadsInFlight counts model loads under way in the process, including
// those of pipelines already closed (they finish into the cache).
var loadsInFlight atomic.Int64

// WaitLoads waits until no model load is under way in the process, for at
// most timeout, and reports whether that happened. Hosts never need it;
// tests that measure the whole process (allocations, goroutines) do.
func WaitLoads(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for loadsInFlight.Load() > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// EnvDlibModel names the environment variable that points at dlib's
// 68-point model when it is not where Debian's libdlib-data puts it.
const EnvDlibModel = "FACELIVE_DLIB_MODEL"

// dlibModel is the dlib model file to load: $FACELIVE_DLIB_MODEL, else
// Debian's path. A missing file makes the landmarks fall back to the
// detector's 6 keypoints, and says so.
func dlibModel() string {
	if p := os.Getenv(EnvDlibModel); p != "" {
		return p
	}
	return landmark.DefaultModelPath
}

// errStale ends a load whose pipeline closed or moved on to another config.
var errStale = errors.New("load superseded")

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
		return orNil(swap.NewDFM(s.Model, s.Morph, m.swapOptions()))
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
		return orNil(swap.NewInSwapper(s.Model, s.ArcFaceModel, src, m.swapOptions()))
	}
	return orNil(swap.NewPhoto(src, m.align))
}

// swapOptions runs the swap model on the chosen provider; a fallback to
// the CPU is logged and shown in the metrics.
func (m *faceModels) swapOptions() swap.Option {
	return swap.WithProvider(m.provider.Provider, func(note string) {
		m.provider = vram.Choice{Provider: "cpu", Reason: note}
		if m.log != nil {
			m.log(LevelWarn, note)
		}
	})
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
		return face.Landmarks{}, fmt.Errorf("a source photo needs 68 landmarks (dlib's model %s), got only the detector's keypoints", dlibModel())
	}
	return r.Points, nil
}

// Process swaps every face (up to detector.max_faces) in f, then draws the
// disclosure label when overlay.disclosure asks for it. Every rectangle it
// writes goes into dmg.
func (fs *faceStage) Process(f *frame.Frame, dmg *frame.Damage, ws *faceScratch) {
	fs.swapFaces(f, dmg, ws)
	o := fs.opts.Load()
	if !o.disclosure && !o.stats {
		return
	}
	fs.labelMu.Lock()
	if o.stats {
		// New numbers twice a second: each new text renders the label once.
		if now := fs.now(); now-fs.statsAt >= int64(500*time.Millisecond) || fs.statsAt == 0 {
			fs.statsAt = now
			fs.statsLabel.SetText(fs.statsText(now))
		}
		fs.statsLabel.Draw(f)
		dmg.Add(fs.statsLabel.Rect(f.Width, f.Height))
	}
	if o.disclosure {
		fs.label.Draw(f)
		dmg.Add(fs.label.Rect(f.Width, f.Height))
	}
	fs.labelMu.Unlock()
}

// statsText is the stats overlay's line.
func (fs *faceStage) statsText(now int64) string {
	fps, lat, dropped := fs.stats.brief(now)
	q := "full"
	if l := fs.level.Load(); l != nil {
		q = l.Name
	}
	s := fmt.Sprintf("%.1f fps  %.0f ms  %d dropped  %d faces  %s", fps, lat, dropped, fs.faces.Load(), q)
	if fs.decoupled.Load() {
		s += "  decoupled"
	}
	return s
}

// faceScratch is one worker's own buffers for the second half of the face
// stage (swap and merge), which runs outside fs.mu so that two workers
// overlap: one tracks and aligns frame N+1 while the other merges frame N.
type faceScratch struct {
	cs     cropSet
	out    []byte
	mask   []float32
	merger *merge.Merger
}

func newFaceScratch() *faceScratch { return &faceScratch{merger: merge.New()} }

// cropSet holds one frame's aligned crops and their transforms, per track.
type cropSet struct {
	crops [][]byte
	tfs   []align.Transform
	ok    []bool
}

// grow makes room for n crops of size×size and sets len(ok) to n
// (allocates only when the face count or the model's size grows).
func (c *cropSet) grow(n, size int) {
	if len(c.crops) > 0 && len(c.crops[0]) != size*size*3 {
		c.crops = c.crops[:0]
	}
	for len(c.crops) < n {
		c.crops = append(c.crops, make([]byte, size*size*3))
	}
	for len(c.tfs) < n {
		c.tfs = append(c.tfs, align.Transform{})
	}
	if cap(c.ok) < n {
		c.ok = make([]bool, n)
	}
	c.ok = c.ok[:n]
}

// swapFaces runs in two halves. Under fs.mu, one frame at a time:
// detection, tracking, landmarks, alignment and the crops (tracking carries
// state from frame to frame). Then, outside it and in this worker's own
// buffers: the swap (serialised: a model session is not re-entrant) and
// the merge, the most expensive step, which so runs in parallel with the
// next frame's first half on another worker.
func (fs *faceStage) swapFaces(f *frame.Frame, dmg *frame.Damage, ws *faceScratch) {
	m := fs.models.Load()
	if m == nil {
		fs.faces.Store(0)
		return
	}
	o := fs.opts.Load()
	fs.mu.Lock()
	if m != fs.models.Load() { // replaced while we waited
		fs.mu.Unlock()
		return
	}
	direct := fs.prepare(f, dmg, m, o, ws)
	if direct {
		fs.useMu.RLock() // m stays installed until the second half is done
	}
	fs.mu.Unlock()
	if direct {
		defer fs.useMu.RUnlock()
		fs.swapAndMerge(f, dmg, m, o, ws)
	}
}

// swapAndMerge is the second half of a frame swapped in step with the
// camera.
func (fs *faceStage) swapAndMerge(f *frame.Frame, dmg *frame.Damage, m *faceModels, o *faceOptions, ws *faceScratch) {
	size := m.sw.Size()
	if len(ws.mask) != size*size {
		ws.out, ws.mask = make([]byte, size*size*3), make([]float32, size*size)
	}
	var tSwap, tMerge int64
	faces := 0
	for i, ok := range ws.cs.ok {
		if !ok {
			continue
		}
		t3 := fs.now()
		fs.swapMu.Lock()
		err := m.sw.Swap(ws.cs.crops[i], ws.out, ws.mask)
		fs.swapMu.Unlock()
		if err != nil {
			fs.log(LevelWarn, "swap: "+err.Error())
			continue
		}
		t4 := fs.now()
		tSwap += t4 - t3
		mo := o.merge
		mo.TargetCrop = ws.cs.crops[i]
		err = ws.merger.Paste(f, ws.cs.tfs[i], ws.out, ws.mask, mo)
		dmg.Add(ws.merger.Stats().ROI) // where Paste may have written, even when it failed part-way
		if err != nil {
			fs.log(LevelWarn, "merge: "+err.Error())
			continue
		}
		tMerge += fs.now() - t4
		faces++
	}
	if faces > 0 {
		fs.stats.swapped(fs.now())
	}
	if tSwap > 0 {
		fs.swapCostNs.Store((3*fs.swapCostNs.Load() + tSwap) / 4)
	}
	fs.stats.stageTime(timeSwap, tSwap)
	fs.stats.stageTime(timeMerge, tMerge)
	fs.faces.Store(int32(faces))
}

// prepare is the first half, under fs.mu. In step with the camera it
// leaves the crops in ws and returns true; decoupled, it finishes the frame
// itself (the runner swaps; the paste needs the shared result) and returns
// false.
func (fs *faceStage) prepare(f *frame.Frame, dmg *frame.Damage, m *faceModels, o *faceOptions, ws *faceScratch) bool {
	if sw, ok := m.sw.(interface{ SetMorph(float64) }); ok {
		sw.SetMorph(o.morph) // under fs.mu: never while the model runs
	}
	size := m.sw.Size()
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

	var tLm, tAlign int64
	decoupled := fs.decide(o)
	fit := m.fit
	if l := fs.level.Load(); l != nil && l.Landmarks == "keypoints" {
		fit = landmark.KeypointFitter{} // the lowest rung: the detector's 6 points
	}
	cs := &ws.cs // in step: this worker's crops, merged after fs.mu
	if decoupled {
		cs = &fs.cs // decoupled: pasted here, under fs.mu
	}
	cs.grow(len(fs.tracks), size)
	for i := range fs.tracks {
		tr := &fs.tracks[i]
		cs.ok[i] = false
		t1 := fs.now()
		if fs.sinceDetect == 0 {
			fs.det = fs.dets[i]
		} else { // tracking: search where the landmarks were
			fs.det = face.Detection{Box: trackBox(&tr.lm.Points)}
		}
		prev, hadFit := centre(&tr.lm), tr.lm.N > 0
		if err := fit.Fit(f, &fs.det, &tr.lm); err != nil {
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
			err = align.Crop(f, tf, cs.crops[i])
		}
		tAlign += fs.now() - t2
		if err != nil {
			continue
		}
		cs.tfs[i], cs.ok[i] = tf, true
	}
	fs.stats.stageTime(timeLandmarks, tLm)
	fs.stats.stageTime(timeAlign, tAlign)
	if !decoupled {
		return true
	}
	t := fs.now()
	faces := fs.swapDecoupled(m, o, f, dmg)
	fs.stats.stageTime(timeMerge, fs.now()-t)
	if tSwap := int64(fs.dec.Stats().LastRun); tSwap > 0 {
		fs.swapCostNs.Store((3*fs.swapCostNs.Load() + tSwap) / 4)
		fs.stats.stageTime(timeSwap, tSwap)
	}
	fs.faces.Store(int32(faces))
	return false
}

// decide says whether this frame's faces are swapped by the decoupled
// runner. auto decouples in the live modes once swapping the faces costs
// more than half the frame budget, and goes back below a quarter of it
// (hysteresis: no flapping at the edge). Switching back waits for the
// runner, so the swapper never runs on two goroutines.
func (fs *faceStage) decide(o *faceOptions) bool {
	was := fs.decoupled.Load()
	now := was
	switch {
	case o.decouple == "on":
		now = true
	case o.decouple == "off" || !o.live:
		now = false
	default:
		budget := fs.budgetNs.Load()
		if cost := fs.swapCostNs.Load(); !was && cost > budget/2 {
			now = true
		} else if was && cost < budget/4 {
			now = false
		}
	}
	if was && !now {
		fs.dec.Wait()
	}
	if was != now {
		fs.decoupled.Store(now)
		fs.log(LevelInfo, fmt.Sprintf("swap model %s the camera: %.1f ms per frame's faces, frame budget %.1f ms",
			map[bool]string{true: "decoupled from", false: "back in step with"}[now],
			float64(fs.swapCostNs.Load())/1e6, float64(fs.budgetNs.Load())/1e6))
	}
	return now
}

// swapJob is one run of the swap model over the faces of one frame, in
// aligned face space: the crops go in, faces and masks come out. The
// decoupled runner owns three of them (see adapt.Decoupler).
type swapJob struct {
	n      int
	ids    []uint64
	target [][]byte
	out    [][]byte
	mask   [][]float32
	ok     []bool
	sw     swap.Swapper
	morph  float64
}

// swapDecoupled hands this frame's crops to the runner when it is idle,
// then pastes the newest swapped faces at this frame's alignment: the face
// follows the head at camera rate while the model runs at its own rate.
// A face the model has not seen yet stays as it is until its first result.
func (fs *faceStage) swapDecoupled(m *faceModels, o *faceOptions, f *frame.Frame, dmg *frame.Damage) int {
	fs.cur, fs.curOpts, fs.curFrame, fs.curDamage, fs.pasted = m, o, f, dmg, 0
	fs.dec.TryStart(fs.fillFn)
	fs.dec.Latest(fs.pasteFn)
	fs.cur, fs.curOpts, fs.curFrame, fs.curDamage = nil, nil, nil, nil
	return fs.pasted
}

// fillJob runs on the frame path, under fs.mu: it copies the crops.
func (fs *faceStage) fillJob(j *swapJob) {
	size := fs.cur.sw.Size()
	j.n, j.sw, j.morph = 0, fs.cur.sw, fs.curOpts.morph
	for i := range fs.tracks {
		if !fs.cs.ok[i] {
			continue
		}
		if j.n == len(j.target) || len(j.target[j.n]) != size*size*3 {
			if j.n == len(j.target) {
				j.ids, j.ok = append(j.ids, 0), append(j.ok, false)
				j.target, j.out, j.mask = append(j.target, nil), append(j.out, nil), append(j.mask, nil)
			}
			j.target[j.n], j.out[j.n], j.mask[j.n] = make([]byte, size*size*3), make([]byte, size*size*3), make([]float32, size*size)
		}
		copy(j.target[j.n], fs.cs.crops[i])
		j.ids[j.n], j.ok[j.n] = fs.tracks[i].id, false
		j.n++
	}
}

// runJob runs on the runner's goroutine: the only place the swapper runs
// while decoupled.
func (fs *faceStage) runJob(j *swapJob) error {
	if sw, ok := j.sw.(interface{ SetMorph(float64) }); ok {
		sw.SetMorph(j.morph)
	}
	for i := 0; i < j.n; i++ {
		err := j.sw.Swap(j.target[i], j.out[i], j.mask[i])
		j.ok[i] = err == nil
		if err != nil {
			fs.log(LevelWarn, "swap: "+err.Error())
		}
	}
	fs.stats.swapped(fs.now())
	return nil
}

// pasteResult runs on the frame path with the newest result: each face it
// holds is pasted at its track's alignment in this frame.
func (fs *faceStage) pasteResult(j *swapJob) {
	size := fs.cur.sw.Size()
	for i := range fs.tracks {
		if !fs.cs.ok[i] {
			continue
		}
		for k := 0; k < j.n; k++ {
			if j.ids[k] != fs.tracks[i].id || !j.ok[k] || len(j.out[k]) != size*size*3 {
				continue
			}
			mo := fs.curOpts.merge
			mo.TargetCrop = fs.cs.crops[i]
			err := fs.merger.Paste(fs.curFrame, fs.cs.tfs[i], j.out[k], j.mask[k], mo)
			fs.curDamage.Add(fs.merger.Stats().ROI)
			if err != nil {
				fs.log(LevelWarn, "merge: "+err.Error())
				break
			}
			fs.pasted++
			break
		}
	}
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
	interval := o.interval
	if l := fs.level.Load(); interval == 0 && l != nil && l.DetectInterval > 0 {
		interval = l.DetectInterval // the user's own interval always wins
	}
	if interval > 0 {
		return fs.sinceDetect+1 >= interval
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
			fs.nextID++
			tr.id, tr.smoother = fs.nextID, landmark.NewSmoother(o.smoothing)
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
