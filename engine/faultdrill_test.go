package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
	"facelive/engine/ortenv"
)

// Fault drills, table style: one thing breaks on a user's machine (a wrong
// ONNX Runtime, dlib's data missing, a corrupt model, a file deleted or
// replaced under a running engine). In every row the frames keep flowing
// with their timestamps, the counters add up, and a message (log line,
// last_error or the set_config error) names the file and the problem.

// fdLog collects a pipeline's log lines.
type fdLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *fdLog) log(_ Level, msg string) {
	l.mu.Lock()
	l.lines = append(l.lines, msg)
	l.mu.Unlock()
}

// has reports whether one line contains every one of subs.
func (l *fdLog) has(subs ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
next:
	for _, line := range l.lines {
		for _, s := range subs {
			if !strings.Contains(line, s) {
				continue next
			}
		}
		return true
	}
	return false
}

func (l *fdLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// fdPTS numbers the drills' frames: every frame has its own pts.
var fdPTS atomic.Int64

// fdFlow pushes n frames of the astronaut scene through p; each must come
// out with its own pts, and the counters must add up. It returns the last
// input (as submitted) and output.
func fdFlow(t *testing.T, p *Pipeline, n int) (in, out *frame.Frame) {
	t.Helper()
	src := frametest.FromBGR(astronautScene(t), 1280, 720, frame.NV12, 0)
	for i := 0; i < n; i++ {
		src.PTS = 1_000_000 + fdPTS.Add(1)
		in, out = frametest.Clone(src), frametest.Blank(src)
		if err := p.Submit(src); err != nil {
			t.Fatalf("frame %d: submit: %v", i, err)
		}
		if err := p.Get(out, 10*time.Second); err != nil {
			t.Fatalf("frame %d: get: %v", i, err)
		}
		if out.PTS != src.PTS {
			t.Fatalf("frame %d came out with pts %d, want %d", i, out.PTS, src.PTS)
		}
	}
	checkInvariant(t, p.Metrics())
	return in, out
}

// fdSettle waits until no load is under way (face_pipeline is not
// loading) and returns the metrics.
func fdSettle(t *testing.T, p *Pipeline) Metrics {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := p.Metrics()
		if m.FacePipeline != faceLoading {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatal("face_pipeline still loading after 20 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fdWant checks the face pipeline's state and that last_error contains
// every one of subs.
func fdWant(t *testing.T, m Metrics, state string, subs ...string) {
	t.Helper()
	if m.FacePipeline != state {
		t.Fatalf("face_pipeline %q (last_error %q), want %q", m.FacePipeline, m.LastError, state)
	}
	for _, s := range subs {
		if !strings.Contains(m.LastError, s) {
			t.Fatalf("last_error %q does not contain %q", m.LastError, s)
		}
	}
}

// fdSwapping checks that frames flow and the scene's face is visibly changed.
func fdSwapping(t *testing.T, p *Pipeline) {
	t.Helper()
	in, out := fdFlow(t, p, confirmFrames) // a new face is swapped from its confirmFrames-th frame
	if m := p.Metrics(); m.Faces != 1 || faceChange(in, out) < 2 {
		t.Fatalf("the face is not swapped: faces %d, changed by %.1f levels (face_pipeline %q, last_error %q)",
			m.Faces, faceChange(in, out), m.FacePipeline, m.LastError)
	}
}

// fdPassing checks that frames flow and come out byte-identical.
func fdPassing(t *testing.T, p *Pipeline) {
	t.Helper()
	in, out := fdFlow(t, p, 2)
	if !sameRows(in, out) {
		t.Fatalf("face_pipeline %q, but a frame was modified", p.Metrics().FacePipeline)
	}
}

func fdWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func fdRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fdPrime loads cfg in a pipeline of its own and closes it, so that its
// models wait idle in the process's model cache: a drill then shows that
// they are not served for a config whose files differ.
func fdPrime(t *testing.T, cfg string) {
	t.Helper()
	p := newPipeline(t, cfg)
	waitFaceReady(t, p)
	p.Close()
}

// fdFace is a face photo in which both BlazeFace and the Haar fallback find
// the face (Haar misses the face in sample2.jpg).
func fdFace(t *testing.T) string { return filepath.Join(thirdParty(t), "faces", "sample1.jpg") }

// TestDrillFaultWrongONNXRuntime: ONNX Runtime cannot be loaded from the
// configured library (config key or environment variable). ONNX Runtime is
// process-wide: when an earlier test loaded the real one, Init with another
// path fails naming both; when none is loaded, loading the bad file fails.
// Either way the detector falls back to Haar and logs why; the swap models
// (which have no fallback) fail and say so. The configured library's path is
// unique to the drill, so no cached detector is reused.
func TestDrillFaultWrongONNXRuntime(t *testing.T) {
	// A real shared library that is not ONNX Runtime: dlopen works,
	// OrtGetApiBase is missing.
	libz, _ := filepath.Glob("/usr/lib/*/libz.so.1")
	if len(libz) == 0 {
		t.Fatal("no libz.so.1 to stand in for a wrong shared library")
	}
	garbage := []byte("this is not a shared library")
	notORT := fdRead(t, libz[0])
	models := testModels(t)
	sample2 := filepath.Join(thirdParty(t), "faces", "sample2.jpg")

	for _, tc := range []struct {
		name    string
		lib     []byte // the bad library's content (a fresh file per row: nothing cached matches it)
		env     bool   // named by FACELIVE_ONNXRUNTIME_LIB instead of onnxruntime_library
		prime   string // a config loaded and closed first (its models wait in the cache)
		swapper string
		state   string   // face_pipeline after the load
		errs    []string // in last_error (failed rows; the library's path is checked too)
		key     string   // the metrics' error.key (failed rows)
	}{
		{name: "config names a garbage file", lib: garbage,
			swapper: fmt.Sprintf(`{"kind":"photo","face":%q}`, fdFace(t)), state: faceReady},
		{name: "environment names a garbage file", lib: garbage, env: true,
			swapper: fmt.Sprintf(`{"kind":"photo","face":%q}`, fdFace(t)), state: faceReady},
		{name: "config names a shared library that is not ONNX Runtime", lib: notORT,
			swapper: fmt.Sprintf(`{"kind":"photo","face":%q}`, fdFace(t)), state: faceReady},
		// The DFM runs on ONNX Runtime and has no fallback: it must not
		// quietly run on another library than the configured one.
		{name: "dfm needs ONNX Runtime", lib: garbage,
			swapper: fmt.Sprintf(`{"kind":"dfm","model":%q}`, filepath.Join(models, "dfm.onnx")), state: faceFailed,
			errs: []string{"swapper", "needs ONNX Runtime"}, key: "onnxruntime_library"},
		{name: "dfm needs ONNX Runtime, environment names a library that is not it", lib: notORT, env: true,
			swapper: fmt.Sprintf(`{"kind":"dfm","model":%q}`, filepath.Join(models, "dfm.onnx")), state: faceFailed,
			errs: []string{"swapper", "needs ONNX Runtime"}, key: "onnxruntime_library"},
		// Haar does not find sample2.jpg's face. The swapper BlazeFace built
		// for it waits in the cache (prime, which also loads the real ONNX
		// Runtime if nothing did before); it must not be served to a
		// pipeline whose detector is Haar.
		{name: "photo only BlazeFace can read", lib: garbage,
			prime:   fmt.Sprintf(`{"mode":"quality","workers":1,"swapper":{"kind":"photo","face":%q}}`, sample2),
			swapper: fmt.Sprintf(`{"kind":"photo","face":%q}`, sample2), state: faceFailed,
			errs: []string{sample2, "no face found"}, key: "swapper.face"},
		{name: "dfm needs ONNX Runtime, another one loaded", lib: garbage,
			swapper: fmt.Sprintf(`{"kind":"dfm","model":%q}`, filepath.Join(models, "dfm.onnx")), state: faceFailed,
			errs: []string{"swapper", "needs ONNX Runtime", "already loaded"}, key: "onnxruntime_library"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.prime != "" {
				fdPrime(t, tc.prime)
			}
			lib := filepath.Join(t.TempDir(), ortenv.LibraryName)
			fdWrite(t, lib, tc.lib)
			cfg := `{"mode":"quality","workers":1,"swapper":` + tc.swapper
			if tc.env {
				t.Setenv(ortenv.EnvLibrary, lib)
			} else {
				cfg += fmt.Sprintf(`,"onnxruntime_library":%q`, lib)
			}
			cfg += "}"
			var logs fdLog
			p := newPipeline(t, cfg, WithLogger(logs.log))
			m := fdSettle(t, p)
			fdWant(t, m, tc.state, tc.errs...)
			if tc.state == faceFailed && (m.Error == nil || m.Error.Key != tc.key || m.Error.Hint == "" || m.Error.Message != m.LastError) {
				t.Fatalf("metrics error %+v, want key %q, a hint and last_error's message", m.Error, tc.key)
			}
			if tc.state == faceReady && m.Error != nil {
				t.Fatalf("metrics error %+v while ready", m.Error)
			}
			if tc.state == faceFailed && strings.Contains(tc.swapper, `"dfm"`) && !strings.Contains(m.LastError, lib) {
				t.Fatalf("last_error %q does not name the library %s", m.LastError, lib)
			}
			// Whatever ran before: a library already loaded gives "already
			// loaded from X; cannot also load LIB", none gives "cannot load
			// ONNX Runtime from LIB". Both name LIB.
			if !logs.has("Haar", lib, "ONNX Runtime") {
				t.Fatalf("no log line says the detector fell back to Haar because ONNX Runtime %s is unusable:\n%s", lib, &logs)
			}
			if tc.state == faceReady {
				fdSwapping(t, p)
			} else {
				fdPassing(t, p)
			}
			t.Logf("ONNX Runtime loaded in the process: %q; last_error: %q", ortenv.Loaded(), m.LastError)
		})
	}
}

// TestDrillFaultDlibModelUnusable: dlib's 68-point model is missing or
// broken. Its path is not a config key: the engine takes $FACELIVE_DLIB_MODEL
// (EnvDlibModel), else landmark.DefaultModelPath (a constant), so the drill
// sets the variable. The landmarks fall back to the detector's 6 keypoints
// with a log line naming the file; the photo swapper, which needs 68
// landmarks to read its photo, fails and says so (not served from the cache,
// where a swapper built with the real model waits); blur still works.
func TestDrillFaultDlibModelUnusable(t *testing.T) {
	photoCfg := fmt.Sprintf(`{"mode":"quality","workers":1,"swapper":{"kind":"photo","face":%q}}`, fdFace(t))
	fdPrime(t, photoCfg)
	real := fdRead(t, dlibModel())
	for _, tc := range []struct {
		name    string
		content []byte // nil: no file
		why     string // in the log line
	}{
		{"missing", nil, "no such file"},
		{"garbage", []byte("not a shape predictor"), "corrupt"},
		{"truncated", real[:len(real)/3], "corrupt"},
		{"empty", []byte{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "shape_predictor_68_face_landmarks.dat")
			if tc.content != nil {
				fdWrite(t, path, tc.content)
			}
			t.Setenv(EnvDlibModel, path)
			var logs fdLog
			p := newPipeline(t, photoCfg, WithLogger(logs.log))
			fdWant(t, fdSettle(t, p), faceFailed, "68 landmarks", path, fdFace(t))
			fdPassing(t, p)
			if !logs.has(path, "6 keypoints", tc.why) {
				t.Fatalf("no log line names %s, why, and the keypoint fallback:\n%s", path, &logs)
			}
			// Live, without the photo: blur follows the keypoints.
			if err := p.SetConfig([]byte(`{"swapper":{"kind":"blur"}}`)); err != nil {
				t.Fatal(err)
			}
			fdWant(t, fdSettle(t, p), faceReady)
			fdSwapping(t, p)
		})
	}
	// Both fallbacks at once: Haar gives boxes without keypoints and there
	// is no landmark model, so no face can be aligned. The pipeline says
	// ready and both fallbacks are logged; frames flow unmodified, faces 0.
	t.Run("missing with Haar", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "shape_predictor_68_face_landmarks.dat")
		t.Setenv(EnvDlibModel, path)
		var logs fdLog
		p := newPipeline(t, `{"mode":"quality","workers":1,"detector":{"kind":"haar"},"swapper":{"kind":"blur"}}`, WithLogger(logs.log))
		fdWant(t, fdSettle(t, p), faceReady)
		fdPassing(t, p)
		if m := p.Metrics(); m.Faces != 0 {
			t.Fatalf("faces %d without landmarks or keypoints", m.Faces)
		}
		if !logs.has(path, "6 keypoints") {
			t.Fatalf("the keypoint fallback is not logged:\n%s", &logs)
		}
	})
}

// TestDrillFaultCorruptModel: a swap model file that exists but is not a
// usable model. The face pipeline fails with a message naming the file and
// the problem (metrics last_error, FaceStatus, WaitFaces), and frames pass
// through byte-identical.
func TestDrillFaultCorruptModel(t *testing.T) {
	models := testModels(t)
	dir := t.TempDir()
	file := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		fdWrite(t, p, data)
		return p
	}
	garbage := file("garbage.dfm", []byte(strings.Repeat("\x00garbage\xff", 1000)))
	empty := file("empty.dfm", nil)
	dfm := fdRead(t, filepath.Join(models, "dfm.onnx"))
	truncated := file("truncated.dfm", dfm[:len(dfm)/2])
	badArcFace := file("arcface.onnx", []byte("PK\x03\x04 a zip file, not a model"))
	for _, tc := range []struct {
		name, swapper string
		errs          []string
	}{
		{"garbage DFM", fmt.Sprintf(`{"kind":"dfm","model":%q}`, garbage), []string{garbage, "not a loadable ONNX model"}},
		{"empty DFM", fmt.Sprintf(`{"kind":"dfm","model":%q}`, empty), []string{empty, "not a loadable ONNX model"}},
		{"truncated DFM", fmt.Sprintf(`{"kind":"dfm","model":%q}`, truncated), []string{truncated, "not a loadable ONNX model"}},
		{"ONNX model that is not a DFM", fmt.Sprintf(`{"kind":"dfm","model":%q}`, filepath.Join(models, "wrong.onnx")),
			[]string{filepath.Join(models, "wrong.onnx"), "is not a DeepFaceLive DFM model"}},
		{"garbage ArcFace model", fmt.Sprintf(`{"kind":"inswapper","model":%q,"arcface_model":%q,"face":%q}`,
			filepath.Join(models, "inswapper.onnx"), badArcFace, fdFace(t)), []string{badArcFace, "not a loadable ONNX model"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPipeline(t, `{"mode":"quality","workers":1,"swapper":`+tc.swapper+`}`)
			m := fdSettle(t, p)
			fdWant(t, m, faceFailed, tc.errs...)
			if state, why := p.FaceStatus(); state != FaceFailed || why != m.LastError {
				t.Fatalf("FaceStatus %q %q disagrees with the metrics", state, why)
			}
			if err := p.WaitFaces(time.Second); err == nil || !strings.Contains(err.Error(), tc.errs[0]) {
				t.Fatalf("WaitFaces: %v; want the load error naming %s", err, tc.errs[0])
			}
			fdPassing(t, p)
			t.Log(m.LastError)
		})
	}
}

// fdStep is one step of a drill on a running pipeline: something happens
// to a file, then a config change.
type fdStep struct {
	name   string
	before func(t *testing.T) // what happens to the files
	set    string             // the partial config then applied
	setErr []string           // SetConfig must fail with all of these ("" = must succeed)
	state  string             // face_pipeline afterwards
	errs   []string           // in last_error
	swap   bool               // frames swapped (else: byte-identical)
}

func fdRun(t *testing.T, p *Pipeline, steps []fdStep) {
	t.Helper()
	for i, st := range steps {
		if !t.Run(fmt.Sprintf("%d %s", i, st.name), func(t *testing.T) {
			if st.before != nil {
				st.before(t)
			}
			if st.set != "" {
				err := p.SetConfig([]byte(st.set))
				switch {
				case len(st.setErr) == 0 && err != nil:
					t.Fatalf("set_config %s: %v", st.set, err)
				case len(st.setErr) > 0 && err == nil:
					t.Fatalf("set_config %s was accepted; want it refused with %q", st.set, st.setErr)
				}
				for _, s := range st.setErr {
					if !strings.Contains(err.Error(), s) {
						t.Fatalf("set_config %s: %q does not contain %q", st.set, err, s)
					}
				}
				if err != nil {
					t.Logf("refused: %v", err)
				}
			}
			m := fdSettle(t, p)
			fdWant(t, m, st.state, st.errs...)
			if st.swap {
				fdSwapping(t, p)
			} else {
				fdPassing(t, p)
			}
		}) {
			t.FailNow() // later steps build on this one
		}
	}
}

// TestDrillFaultModelDeletedWhileRunning: the DFM in use is deleted, then
// replaced, under a running pipeline. Observed and asserted:
//   - while the file is missing, set_config refuses every change, even ones
//     that do not touch the model (validation checks every path the merged
//     config names), with a message naming swapper.model and the file; the
//     stream keeps swapping with the model already loaded;
//   - clearing swapper.model is what unblocks it;
//   - naming the same path again is no reload (faceKey compares the
//     config's values, not the file's contents): a replaced file is read at
//     the next change that reloads the swapper;
//   - that reload reads the new file, and so does switching back to the
//     DFM after its session went idle into the model cache: the cache keys
//     files by path, size and mtime, so the old session is not served stale.
func TestDrillFaultModelDeletedWhileRunning(t *testing.T) {
	good := fdRead(t, filepath.Join(testModels(t), "dfm.onnx"))
	model := filepath.Join(t.TempDir(), "me.dfm")
	fdWrite(t, model, good)
	p := newPipeline(t, fmt.Sprintf(`{"mode":"quality","workers":1,"swapper":{"kind":"dfm","model":%q}}`, model))
	refused := []string{`"swapper.model"`, model, "does not exist"}
	remove := func(t *testing.T) {
		if err := os.Remove(model); err != nil {
			t.Fatal(err)
		}
	}
	write := func(data []byte) func(t *testing.T) {
		return func(t *testing.T) {
			time.Sleep(5 * time.Millisecond) // a new mtime even on coarse clocks (the sizes differ anyway)
			fdWrite(t, model, data)
		}
	}
	fdRun(t, p, []fdStep{
		{name: "loaded", state: faceReady, swap: true},
		{name: "deleted, same model named again", before: remove,
			set: fmt.Sprintf(`{"swapper":{"model":%q}}`, model), setErr: refused, state: faceReady, swap: true},
		{name: "deleted, a change that reloads the detector", set: `{"detector":{"threshold":0.6}}`,
			setErr: refused, state: faceReady, swap: true},
		{name: "deleted, a live change", set: `{"merge":{"opacity":0.9}}`, setErr: refused, state: faceReady, swap: true},
		{name: "deleted, another swapper kind", set: `{"swapper":{"kind":"blur"}}`, setErr: refused, state: faceReady, swap: true},
		{name: "replaced by garbage, same model named again (no reload)", before: write([]byte("garbage, not a model")),
			set: fmt.Sprintf(`{"swapper":{"model":%q}}`, model), state: faceReady, swap: true},
		{name: "replaced by garbage, a change that reloads", set: `{"detector":{"threshold":0.6}}`,
			state: faceFailed, errs: []string{model, "not a loadable ONNX model"}},
		{name: "restored, a change that reloads", before: write(good), set: `{"detector":{"threshold":0.5}}`,
			state: faceReady, swap: true},
		{name: "switched to blur (the DFM waits idle in the cache)", set: `{"swapper":{"kind":"blur"}}`,
			state: faceReady, swap: true},
		{name: "replaced by garbage, switched back to the DFM", before: write([]byte("garbage again")),
			set: `{"swapper":{"kind":"dfm"}}`, state: faceFailed, errs: []string{model, "not a loadable ONNX model"}},
		{name: "deleted again, swapper.model cleared", before: remove,
			set: `{"swapper":{"kind":"blur","model":""}}`, state: faceReady, swap: true},
	})
}

// TestDrillFaultFacePhotoReplaced: the photo swapper's photo is overwritten
// with something that is not an image while the pipeline runs. Naming the
// same path again is no reload (faceKey compares paths): the photo already
// read keeps being used. A change that reloads the models (here
// detector.threshold) reads the file again: the face pipeline fails naming
// the file, frames pass through, and pointing at a good photo recovers.
func TestDrillFaultFacePhotoReplaced(t *testing.T) {
	good := filepath.Join(thirdParty(t), "faces", "sample2.jpg")
	jpeg := fdRead(t, good)
	for _, tc := range []struct {
		name    string
		content []byte
	}{
		{"text", []byte("this is not a picture\n")},
		{"empty", []byte{}},
		{"half a JPEG header", jpeg[:20]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			photo := filepath.Join(t.TempDir(), "me.jpg")
			fdWrite(t, photo, jpeg)
			p := newPipeline(t, fmt.Sprintf(`{"mode":"quality","workers":1,"swapper":{"kind":"photo","face":%q}}`, photo))
			same := fmt.Sprintf(`{"swapper":{"face":%q}}`, photo)
			fdRun(t, p, []fdStep{
				{name: "loaded", state: faceReady, swap: true},
				{name: "overwritten, same photo named again (no reload)", before: func(t *testing.T) {
					time.Sleep(5 * time.Millisecond)
					fdWrite(t, photo, tc.content)
				}, set: same, state: faceReady, swap: true},
				{name: "a change that reloads", set: `{"detector":{"threshold":0.55}}`,
					state: faceFailed, errs: []string{photo, "not an image"}},
				{name: "same photo named again while failed", set: same,
					state: faceFailed, errs: []string{photo, "not an image"}},
				{name: "a good photo", set: fmt.Sprintf(`{"swapper":{"face":%q}}`, good), state: faceReady, swap: true},
			})
		})
	}
}
