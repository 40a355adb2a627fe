package detect

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"facelive/engine/frame"
	"facelive/internal/logging"
)

// logRecorder collects Options.Log lines.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
	level []logging.Level
}

func (r *logRecorder) log(level logging.Level, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, msg)
	r.level = append(r.level, level)
}

func TestNewPicksBlazeFace(t *testing.T) {
	var rec logRecorder
	o := testOptions(t)
	o.Log = rec.log
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, ok := d.(*BlazeFace); !ok {
		t.Errorf("New returned %T, want *BlazeFace", d)
	}
	if len(rec.lines) != 0 {
		t.Errorf("unexpected log lines: %q", rec.lines)
	}
}

// checkFallback asserts that New fell back to Haar and logged one warning
// that names the reason.
func checkFallback(t *testing.T, o Options, reason ...string) {
	t.Helper()
	var rec logRecorder
	o.Log = rec.log
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, ok := d.(*Haar); !ok {
		t.Fatalf("New returned %T, want *Haar", d)
	}
	if len(rec.lines) != 1 || rec.level[0] != logging.Warn {
		t.Fatalf("log: levels %v lines %q; want one warning", rec.level, rec.lines)
	}
	msg := rec.lines[0]
	t.Log(msg)
	for _, want := range append([]string{"BlazeFace is unavailable", "Haar", o.HaarCascade}, reason...) {
		if !strings.Contains(msg, want) {
			t.Errorf("log line does not say %q", want)
		}
	}
	// The fallback works.
	fr := toFrame(fromMat(t, loadBGR(t, asset(t, "faces/astronaut.png"))), frame.NV12, 0)
	dets, err := d.Detect(fr, nil)
	if err != nil || len(dets) != 1 {
		t.Errorf("Haar fallback found %d faces (err %v), want 1", len(dets), err)
	}
}

func TestNewFallsBackWithoutModel(t *testing.T) {
	o := testOptions(t)
	o.Model = filepath.Join(t.TempDir(), "missing.onnx")
	checkFallback(t, o, o.Model, "does not exist")
}

func TestNewFallsBackWithCorruptModel(t *testing.T) {
	o := testOptions(t)
	o.Model = filepath.Join(t.TempDir(), "corrupt.onnx")
	if err := os.WriteFile(o.Model, []byte("garbage garbage garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	checkFallback(t, o, o.Model, "not a loadable ONNX model")
}

// TestNewFallsBackWithoutRuntime needs a process where ONNX Runtime was
// never loaded (the environment is process-wide), so it runs itself in a
// child process.
func TestNewFallsBackWithoutRuntime(t *testing.T) {
	wrong := "/nonexistent/onnxruntime/libonnxruntime.so.1"
	if os.Getenv("FACELIVE_DETECT_CHILD") == "no-runtime" {
		o := testOptions(t)
		o.ORTLibrary = wrong
		checkFallback(t, o, wrong, "does not exist", "make deps")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNewFallsBackWithoutRuntime$", "-test.v")
	cmd.Env = append(os.Environ(), "FACELIVE_DETECT_CHILD=no-runtime")
	out, err := cmd.CombinedOutput()
	t.Logf("child process:\n%s", out)
	if err != nil {
		t.Fatalf("child process failed: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: TestNewFallsBackWithoutRuntime") {
		t.Fatal("child process did not run the test")
	}
}

// In a process that already loaded ONNX Runtime, a different library path is
// an error too, and New falls back with that reason.
func TestNewFallsBackWithOtherRuntime(t *testing.T) {
	newBlazeFace(t).Close() // make sure the real library is loaded
	o := testOptions(t)
	o.ORTLibrary = filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	checkFallback(t, o, "already loaded", o.ORTLibrary)
}

func TestNewFailsWhenNothingWorks(t *testing.T) {
	o := testOptions(t)
	o.Model = filepath.Join(t.TempDir(), "missing.onnx")
	o.HaarCascade = filepath.Join(t.TempDir(), "missing.xml")
	d, err := New(o)
	if err == nil {
		d.Close()
		t.Fatal("no error")
	}
	for _, want := range []string{o.Model, o.HaarCascade} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestOptionsDefaults(t *testing.T) {
	t.Setenv("FACELIVE_THIRD_PARTY", "/tp")
	o := Options{Threshold: -1, MaxFaces: 99}.withDefaults()
	if o.Threshold != DefaultThreshold || o.MaxFaces != MaxMaxFaces {
		t.Errorf("threshold %v max %d", o.Threshold, o.MaxFaces)
	}
	if o.Model != "/tp/models/"+ModelFile {
		t.Errorf("model %q", o.Model)
	}
	if filepath.Base(o.HaarCascade) != HaarFile {
		t.Errorf("cascade %q", o.HaarCascade)
	}
	if o := (Options{}).withDefaults(); o.Threshold != DefaultThreshold || o.MaxFaces != DefaultMaxFaces {
		t.Errorf("zero options: threshold %v max %d", o.Threshold, o.MaxFaces)
	}
}
