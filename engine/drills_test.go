package engine

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
)

// Fault drills: things that go wrong on a user's machine. In every one the
// frames keep flowing with their timestamps, the counters add up, and the
// message names the file and the problem.

// logSink collects a pipeline's log lines.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) log(_ Level, msg string) {
	l.mu.Lock()
	l.lines = append(l.lines, msg)
	l.mu.Unlock()
}

func (l *logSink) has(sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// flow pushes n frames of the astronaut scene through p and returns the
// last input and output; it fails on a lost frame or a changed pts.
func flow(t *testing.T, p *Pipeline, n int) (in, out *frame.Frame) {
	t.Helper()
	src := frametest.FromBGR(astronautScene(t), 1280, 720, frame.NV12, 0)
	for i := 0; i < n; i++ {
		src.PTS = int64(1000 + i)
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

// waitState waits for face_pipeline to become want (ready or failed).
func waitState(t *testing.T, p *Pipeline, want string) Metrics {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := p.Metrics()
		if m.FacePipeline == want {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("face_pipeline %q after 30 s (last_error %q), want %q", m.FacePipeline, m.LastError, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDrillWrongONNXRuntimeFallsBackToHaar(t *testing.T) {
	// blur, not the photo swapper: Haar finds the astronaut in the frame but
	// not the face in the default face photo (sample2.jpg), so with Haar the
	// photo swapper fails, and says so.
	bad := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	writeFile(t, bad, "not a shared library")
	var logs logSink
	p := newPipeline(t, `{"mode":"quality","workers":1,"swapper":{"kind":"blur"},"onnxruntime_library":"`+bad+`"}`, WithLogger(logs.log))
	waitState(t, p, faceReady)
	in, out := flow(t, p, 3)
	if !logs.has("Haar") || !logs.has(bad) {
		t.Fatalf("the log does not say the detector fell back to Haar because of %s:\n%s", bad, strings.Join(logs.lines, "\n"))
	}
	if faceChange(in, out) == 0 {
		t.Fatal("with the Haar fallback no face was blurred")
	}
}

func TestDrillMissingDlibModelFallsBackToKeypoints(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "shape_predictor_68_face_landmarks.dat")
	t.Setenv(EnvDlibModel, missing)
	var logs logSink
	// blur: the photo swapper needs 68 landmarks for its source photo.
	p := newPipeline(t, `{"mode":"quality","workers":1,"swapper":{"kind":"blur"}}`, WithLogger(logs.log))
	waitState(t, p, faceReady)
	in, out := flow(t, p, 3)
	if !logs.has("6 keypoints") || !logs.has(missing) {
		t.Fatalf("the log does not name %s and the keypoint fallback:\n%s", missing, strings.Join(logs.lines, "\n"))
	}
	if faceChange(in, out) == 0 {
		t.Fatal("with keypoints the face was not blurred")
	}
	// The photo swapper cannot work without 68 landmarks: it says so.
	if err := p.SetConfig([]byte(`{"swapper":{"kind":"photo"}}`)); err != nil {
		t.Fatal(err)
	}
	m := waitState(t, p, faceFailed)
	if !strings.Contains(m.LastError, "68 landmarks") || !strings.Contains(m.LastError, missing) {
		t.Fatalf("last_error %q does not say the photo needs dlib's model %s", m.LastError, missing)
	}
	in, out = flow(t, p, 2)
	if !sameRows(in, out) {
		t.Fatal("a failed face pipeline changed the frame")
	}
}

func TestDrillCorruptModelPassesFramesThrough(t *testing.T) {
	model := filepath.Join(t.TempDir(), "model.dfm")
	writeFile(t, model, strings.Repeat("\x00garbage", 1000))
	p := newPipeline(t, `{"mode":"quality","workers":1,"swapper":{"kind":"dfm","model":"`+model+`"}}`)
	m := waitState(t, p, faceFailed)
	if !strings.Contains(m.LastError, model) || !strings.Contains(m.LastError, "not a loadable ONNX model") {
		t.Fatalf("last_error %q does not name the file and the problem", m.LastError)
	}
	in, out := flow(t, p, 3)
	if !sameRows(in, out) {
		t.Fatal("frames changed although the model failed to load")
	}
}

func TestDrillModelDeletedWhileRunning(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "dfm.onnx")
	b, err := os.ReadFile(filepath.Join(testModels(t), "dfm.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, model, string(b))
	p := newPipeline(t, `{"mode":"quality","workers":1,"swapper":{"kind":"dfm","model":"`+model+`"}}`)
	waitState(t, p, faceReady)
	if in, out := flow(t, p, 2); faceChange(in, out) == 0 {
		t.Fatal("the DFM did not swap")
	}
	if err := os.Remove(model); err != nil {
		t.Fatal(err)
	}
	// Any change now is refused with the reason, and nothing changes: the
	// loaded model keeps swapping.
	err = p.SetConfig([]byte(`{"swapper":{"model":"` + model + `"}}`))
	if err == nil || !strings.Contains(err.Error(), model) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("reload of a deleted model: %v; want an error naming the file", err)
	}
	if err := p.SetConfig([]byte(`{"detector":{"threshold":0.6}}`)); err == nil {
		t.Fatal("a change was accepted while the configured model is missing")
	}
	if in, out := flow(t, p, 2); faceChange(in, out) == 0 {
		t.Fatal("after the refused reload the loaded model stopped swapping")
	}
	// Put a model back under the same name: the reload loads it (the cache
	// keys files by size and time, so it is not the old one served stale).
	writeFile(t, model, string(b))
	if err := p.SetConfig([]byte(`{"detector":{"threshold":0.6}}`)); err != nil {
		t.Fatal(err)
	}
	waitState(t, p, faceReady)
	if in, out := flow(t, p, 2); faceChange(in, out) == 0 {
		t.Fatal("the restored model does not swap")
	}
}

func TestDrillFacePhotoReplacedByNonImage(t *testing.T) {
	dir := t.TempDir()
	photo := filepath.Join(dir, "me.jpg")
	good, err := os.ReadFile(filepath.Join(thirdParty(t), "faces", "sample2.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, photo, string(good))
	p := newPipeline(t, `{"mode":"quality","workers":1,"swapper":{"kind":"photo","face":"`+photo+`"}}`)
	waitState(t, p, faceReady)
	flow(t, p, 2)

	time.Sleep(10 * time.Millisecond) // a new modification time, even on coarse clocks
	writeFile(t, photo, "this is not a picture")
	// The same config is no reload; a change that reloads the models reads
	// the file again.
	if err := p.SetConfig([]byte(`{"detector":{"threshold":0.55}}`)); err != nil {
		t.Fatal(err)
	}
	m := waitState(t, p, faceFailed)
	if !strings.Contains(m.LastError, photo) || !strings.Contains(m.LastError, "not an image") {
		t.Fatalf("last_error %q does not name the photo and say it is not an image", m.LastError)
	}
	if in, out := flow(t, p, 2); !sameRows(in, out) {
		t.Fatal("frames changed while the face pipeline is failed")
	}
	writeFile(t, photo, string(good))
	if err := p.SetConfig([]byte(`{"detector":{"threshold":0.5}}`)); err != nil {
		t.Fatal(err)
	}
	waitState(t, p, faceReady)
	if in, out := flow(t, p, 2); faceChange(in, out) == 0 {
		t.Fatal("after the photo was fixed the face is not swapped")
	}
}
