package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"facelive/engine/align"
	"facelive/engine/config"
	"facelive/engine/detect"
	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/landmark"
	"facelive/engine/ortenv"
	"facelive/engine/swap"
	"facelive/internal/logging"
	"facelive/vram"
)

// faceModels is what loads slowly. It is rebuilt, off the caller's thread,
// only when a config key it depends on changes. Its parts are checked out of
// the shared model cache and go back there when it is closed.
type faceModels struct {
	key faceKey
	det detect.Detector
	// verify is OpenCV's frontal-face Haar cascade, a second opinion on a
	// new face's aligned crop (see tracker.secondOpinion); nil without
	// the cascade.
	verify detect.Detector
	fit    landmark.Fitter
	sw     swap.Swapper
	// srcs holds a swapper per swapper.faces entry, in its order: the
	// same kind as sw, wearing the entry's photo. plan says which track
	// wears which (faceassign.go).
	srcs []swap.Swapper
	// fallbacks holds, for each swapper that runs on an inference server,
	// the local model that swaps while the server has no fresh answer
	// (swapper.server.fallback; remotemodels.go); nil without one.
	// Never written after the load.
	fallbacks map[swap.Swapper]swap.Swapper
	plan      facePlan
	// embed recognises new faces for reference entries (nil without
	// any); emb is its output, used on the tracker's goroutine only.
	embed *swap.Embedder
	emb   [swap.EmbeddingLen]float32
	align align.Options
	held  []checkedOut
	// provider is the execution provider chosen for the swap model, and
	// why; a GPU provider that fails at load falls back to the CPU (logged).
	provider vram.Choice
	// providers: every execution provider known and whether it can run
	// here (vram.Available); never written after the load.
	providers map[string]bool
	log       Logger

	// users counts who may still run these models: the loader while they
	// are installed, plus each frame and decoupled run using them. The
	// last one out gives them back; after that tryUse fails.
	mu      sync.Mutex
	users   int
	retired bool
}

// tryUse takes a use of m for a frame; false once m has been given back.
func (m *faceModels) tryUse() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.users == 0 {
		return false
	}
	m.users++
	return true
}

// done ends a use; the last one gives the models back to the cache.
func (m *faceModels) done() {
	m.mu.Lock()
	m.users--
	last := m.users == 0 && !m.retired
	if last {
		m.retired = true
	}
	m.mu.Unlock()
	if last {
		m.close()
	}
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
	logf := logging.Func(log)
	ort := cfg.ONNXRuntimeLibrary
	if ort == "" {
		ort = ortenv.DefaultLibrary(assets)
	}
	do := detect.Options{Threshold: cfg.Detector.Threshold, MaxFaces: cfg.Detector.MaxFaces, ORTLibrary: ort,
		Model: filepath.Join(assets, "models", detect.ModelFile), HaarCascade: detect.DefaultHaarCascade(), Log: logf}
	built := &faceModels{key: keyOf(cfg), log: log, users: 1} // the loader's use
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
		return nil, keyed("assets_dir", hintAssets, fmt.Errorf("face detector: %w", err))
	}
	if stale() {
		return nil, errStale
	}
	vKey := "verify|haar|" + fileID(do.HaarCascade)
	vo := detect.Options{HaarCascade: do.HaarCascade, MaxFaces: 4, Log: logf}
	if v, verr := checkout(&m.held, vKey, vram.SizeOf(do.HaarCascade), func() (detect.Detector, func(), error) {
		h, err := detect.NewHaar(vo)
		if err != nil {
			return nil, nil, err
		}
		return h, func() { h.Close() }, nil
	}); verr == nil {
		m.verify = v
	} else {
		logf(logging.Warn, "face verification off (new faces are swapped on the detector's word alone): "+verr.Error())
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
	m.providers = map[string]bool{"cpu": false, "cuda": false, "tensorrt": false}
	for _, name := range vram.Available(gpus, filepath.Dir(ort)) {
		m.providers[name] = true
	}
	if s.Kind == "dfm" || s.Kind == "inswapper" {
		log(LevelInfo, "execution provider "+m.provider.Provider+": "+m.provider.Reason)
	}
	if s.Kind == "dfm" || s.Kind == "inswapper" {
		// The swap model runs on the configured library. Without this, a
		// detector that did not load it (Haar, or BlazeFace fallen back)
		// leaves the swapper to load the default one (swap's Init("")),
		// silently ignoring onnxruntime_library.
		if err := ortenv.Init(ort); err != nil {
			return nil, keyed("onnxruntime_library", hintRuntime, fmt.Errorf("swapper.kind %q needs ONNX Runtime: %w", s.Kind, err))
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
	// A source per person is the swapper for its photo: the same cache
	// entry as a config with that swapper.face.
	swapKey := func(s config.Swapper, face string) string {
		return fmt.Sprintf("swap|%s|%s|%s|%s|%s|%s|%s|%s", s.Kind, fileID(face), fileID(s.Model), fileID(s.ArcFaceModel),
			cfg.Detector.Kind, cfg.Landmarks.Kind, m.provider.Provider, located) + remoteKey(s)
	}
	loadSwapper := func(cfg config.Config, face string) (swap.Swapper, error) {
		size := max(vram.SizeOf(s.Model, s.ArcFaceModel), 1<<20)
		sw, err := checkout(&m.held, swapKey(s, face), size, func() (swap.Swapper, func(), error) {
			sw, err := newSwapper(cfg, assets, m)
			if err != nil {
				return nil, nil, err
			}
			return sw, func() { sw.Close() }, nil
		})
		if err != nil {
			return nil, err
		}
		if err := m.loadFallback(cfg, face, sw, swapKey, assets); err != nil {
			return nil, err
		}
		return sw, nil
	}
	if m.sw, err = loadSwapper(cfg, face); err != nil {
		return nil, err
	}
	if err := m.loadSources(cfg, loadSwapper, stale); err != nil {
		return nil, err
	}
	m.align.Size = m.sw.Size()
	return m, nil
}

// loadSources builds a swapper per swapper.faces entry, and the plan that
// assigns them; for entries that match by reference it loads the ArcFace
// model (swapper.arcface_model, which Validate requires for them) and
// embeds each reference photo.
func (m *faceModels) loadSources(cfg config.Config, load func(config.Config, string) (swap.Swapper, error), stale func() bool) error {
	faces := &cfg.Swapper.Faces
	n := faces.Len()
	m.plan = newFacePlan(cfg.Swapper)
	if m.plan.nRef > 0 {
		path := cfg.Swapper.ArcFaceModel
		var err error
		m.embed, err = checkout(&m.held, "embed|arcface|"+fileID(path)+"|"+m.provider.Provider, vram.SizeOf(path),
			func() (*swap.Embedder, func(), error) {
				e, err := swap.NewEmbedder(path, m.swapOptions())
				if err != nil {
					return nil, nil, err
				}
				return e, func() { e.Close() }, nil
			})
		if err != nil {
			return keyed("swapper.arcface_model", hintArcFace, fmt.Errorf("swapper.faces matches by reference: %w", err))
		}
	}
	for i := range n {
		e := &faces[i]
		key := fmt.Sprintf("swapper.faces[%d]", i)
		if stale() {
			return errStale
		}
		if e.Match == "reference" {
			ref, err := swap.LoadPhoto(e.Reference, m.locate)
			if err == nil {
				err = m.embed.Embed(&ref.Image, &ref.Landmarks, m.plan.refs[i][:])
			}
			if err != nil {
				return keyed(key+".reference", hintFaces, fmt.Errorf("%s.reference: %w", key, err))
			}
		}
		one := cfg
		one.Swapper.Face = e.Face
		sw, err := load(one, e.Face)
		if err != nil {
			var ke *KeyError
			if errors.As(err, &ke) && ke.Key == "swapper.face" { // the entry's photo, not swapper.face
				return keyed(key+".face", hintFaces, fmt.Errorf("%s.face: %w", key, errors.Unwrap(ke.Err)))
			}
			return err
		}
		m.srcs = append(m.srcs, sw)
	}
	return nil
}

// swapperFor returns the swapper for a face wearing src (cropSet.src).
func (m *faceModels) swapperFor(src int) swap.Swapper {
	if src >= 0 && src < len(m.srcs) {
		return m.srcs[src]
	}
	return m.sw
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
		if s.Backend == "kserve" {
			return newRemoteDFM(s, m.log)
		}
		sw, err := orNil(swap.NewDFM(s.Model, s.Morph, m.swapOptions()))
		return sw, keyed("swapper.model", hintModel, err)
	}
	src, err := sourcePhoto(s, assets, m)
	if err != nil {
		return nil, err
	}
	if s.Kind == "inswapper" && s.Backend == "kserve" {
		return newRemoteInSwapper(s, src, m.log)
	}
	if s.Kind == "inswapper" {
		sw, err := orNil(swap.NewInSwapper(s.Model, s.ArcFaceModel, src, m.swapOptions()))
		if err != nil && s.ArcFaceModel != "" && strings.Contains(err.Error(), s.ArcFaceModel) {
			return nil, keyed("swapper.arcface_model", hintArcFace, err) // the message names the file that failed
		}
		return sw, keyed("swapper.model", hintModel, err)
	}
	return orNil(swap.NewPhoto(src, m.align))
}

// sourcePhoto reads and locates the face the swapper wears: swapper.face,
// or the default face in the assets.
func sourcePhoto(s config.Swapper, assets string, m *faceModels) (*swap.SourceFace, error) {
	photo := s.Face
	if photo == "" {
		if assets == "" {
			return nil, keyed("swapper.face", hintPhoto, fmt.Errorf("swapper.face is empty and there is no assets folder with a default face: set swapper.face to a face photo, or run make deps"))
		}
		photo = filepath.Join(assets, DefaultFace)
	}
	src, err := swap.LoadPhoto(photo, m.locate)
	if err != nil {
		return nil, keyed("swapper.face", hintPhoto, fmt.Errorf("swapper.face: %w", err))
	}
	return src, nil
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
