package bridge

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"facelive/engine"
	"facelive/engine/frame"
)

// Fault drills through the C ABI's Go side: a model that cannot load makes
// every submit return FACELIVE_EMODEL with last_error naming the file and
// the problem, while the frames it took still come out of get_frame,
// byte-identical, with their pts, and the metrics' counters add up.
func TestDrillFaultModelThroughTheBridge(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	corrupt := file("corrupt.dfm", strings.Repeat("\x00garbage\xff", 1000))
	notImage := file("face.jpg", "this is not a picture")
	badORT := file("libonnxruntime.so.1", "this is not a shared library")
	for _, tc := range []struct {
		name, cfg string
		errs      []string
	}{
		{"corrupt DFM", fmt.Sprintf(`{"swapper":{"kind":"dfm","model":%q}}`, corrupt),
			[]string{corrupt, "not a loadable ONNX model"}},
		{"face photo that is not an image", fmt.Sprintf(`{"swapper":{"kind":"photo","face":%q}}`, notImage),
			[]string{notImage, "not an image"}},
		// The DFM must run on the configured ONNX Runtime, not another.
		{"DFM with a wrong ONNX Runtime library", fmt.Sprintf(`{"onnxruntime_library":%q,"swapper":{"kind":"dfm","model":%q}}`, badORT, corrupt),
			[]string{badORT, "needs ONNX Runtime"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := mustInit(t, strings.Replace(tc.cfg, "{", `{"mode":"quality","workers":1,`, 1))
			src := testFrame(frame.BGRA, 64, 48, 8, 3)
			out := testFrame(frame.BGRA, 64, 48, 8, 0)
			in, o := cFrame(src), cFrame(out)
			pts := int64(5000)
			// roundTrip submits one frame, gets it back, and checks pts and pixels.
			roundTrip := func() int {
				t.Helper()
				pts++
				in.PtsNs = pts
				st := Submit(h, in)
				if st != OK && st != EMODEL {
					t.Fatalf("submit = %d (%s)", st, lastErr(h))
				}
				if g := Get(h, o, 5000); g != OK || o.PtsNs != pts {
					t.Fatalf("get = %d, pts %d; want OK and %d (submit said %d)", g, o.PtsNs, pts, st)
				}
				for y := 0; y < 48; y++ {
					row := 64 * 4
					if string(out.Planes[0][y*out.Stride[0]:y*out.Stride[0]+row]) != string(src.Planes[0][y*src.Stride[0]:y*src.Stride[0]+row]) {
						t.Fatalf("row %d of the frame changed while the face models are not loaded", y)
					}
				}
				return st
			}
			deadline := time.Now().Add(20 * time.Second)
			for roundTrip() != EMODEL { // until the background load has failed
				if time.Now().After(deadline) {
					t.Fatal("no EMODEL 20 s after init")
				}
				time.Sleep(5 * time.Millisecond)
			}
			for i := 0; i < 3; i++ { // and on every submit after, frames still flowing
				if st := roundTrip(); st != EMODEL {
					t.Fatalf("submit %d after the failure = %d, want EMODEL", i, st)
				}
			}
			msg := fdLastErr(h)
			for _, s := range append(tc.errs, "facelive_submit_frame", "pass through") {
				if !strings.Contains(msg, s) {
					t.Fatalf("last_error %q does not contain %q", msg, s)
				}
			}
			m := bridgeMetrics(t, h)
			if m.FacePipeline != engine.FaceFailed || !strings.Contains(m.LastError, tc.errs[0]) {
				t.Fatalf("metrics: face_pipeline %q, last_error %q", m.FacePipeline, m.LastError)
			}
			if int64(m.FramesSubmitted) != int64(m.FramesOutput)+int64(m.FramesDropped)+m.InFlight {
				t.Fatalf("invariant broken: submitted %d != output %d + dropped %d + in_flight %d",
					m.FramesSubmitted, m.FramesOutput, m.FramesDropped, m.InFlight)
			}
			t.Log(msg)
			// Fixing the config ends EMODEL.
			if st := SetConfig(h, ptr(`{"swapper":{"kind":"none","model":"","face":""}}`)); st != OK {
				t.Fatalf("set_config: %d %s", st, lastErr(h))
			}
			if st := roundTrip(); st != OK {
				t.Fatalf("submit after fixing the config = %d", st)
			}
		})
	}
}

// fdLastErr is last_error in full (the messages name paths and say how to
// fix them: longer than lastErr's buffer).
func fdLastErr(h uint64) string {
	buf := make([]byte, 8192)
	if st := LastError(h, buf); st != OK {
		return fmt.Sprintf("last_error = %d", st)
	}
	return string(buf[:strings.IndexByte(string(buf), 0)])
}

func bridgeMetrics(t *testing.T, h uint64) engine.Metrics {
	t.Helper()
	buf := make([]byte, 1<<16)
	if st := GetMetrics(h, buf); st != OK {
		t.Fatalf("get_metrics = %d", st)
	}
	var m engine.Metrics
	if err := json.Unmarshal(buf[:strings.IndexByte(string(buf), 0)], &m); err != nil {
		t.Fatal(err)
	}
	return m
}
