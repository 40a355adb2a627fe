package bridge

import (
	"fmt"
	"image"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"facelive/engine"
	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
	"facelive/engine/kserve/kservetest"
)

// freeAddr is a loopback address nothing listens on (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// frameDiff compares two BGRA frames byte by byte: the largest
// difference, and how many bytes of a differ from scene by more than 8.
func frameDiff(a, b, scene *frame.Frame) (worst, moved int) {
	for y := 0; y < scene.Height; y++ {
		for x := 0; x < scene.Width*4; x++ {
			p, q, s := int(a.Planes[0][y*a.Stride[0]+x]), int(b.Planes[0][y*b.Stride[0]+x]), int(scene.Planes[0][y*scene.Stride[0]+x])
			worst = max(worst, abs(p-q))
			if abs(p-s) > 8 {
				moved++
			}
		}
	}
	return worst, moved
}

// regionDiff is the mean absolute difference of a and b over r's colour
// bytes.
func regionDiff(a, b *frame.Frame, r image.Rectangle) float64 {
	sum, n := 0, 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			for c := 0; c < 3; c++ {
				sum += abs(int(a.Planes[0][y*a.Stride[0]+4*x+c]) - int(b.Planes[0][y*b.Stride[0]+4*x+c]))
				n++
			}
		}
	}
	return float64(sum) / float64(n)
}

// logLines collects what a handle logs.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) log(_ engine.Level, msg string) {
	l.mu.Lock()
	l.lines = append(l.lines, msg)
	l.mu.Unlock()
}

// count is how many lines hold every one of parts.
func (l *logLines) count(parts ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

// Acceptance (swapper.server.fallback): with the server absent from the
// start, the local fallback model swaps the faces, with the same pixels
// as the local backend running that model (within one level), and the
// metrics say the fallback did it. The fallback also gives the face size
// (no swapper.model), so the pipeline loads without the server.
func TestKServeFallbackSwapsLikeLocal(t *testing.T) {
	models := kserveModels(t)
	bgr, _ := faceScene(t)
	scene := frametest.FromBGR(bgr, 1280, 720, frame.BGRA, 0)
	arc := filepath.Join(models, "arcface.onnx")
	for _, tc := range []struct{ name, fallback, local, remote string }{
		// dfm: no swapper.model, the fallback gives the face size.
		{"dfm", "dfm_morph.onnx", `"kind":"dfm","model":%q`, `"kind":"dfm"`},
		// inswapper: the fallback wears swapper.face (the default face) too.
		{"inswapper", "inswapper.onnx", `"kind":"inswapper","model":%q,"arcface_model":%q`,
			`"kind":"inswapper","model":%q,"arcface_model":%q`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fallback := filepath.Join(models, tc.fallback)
			args := func(f string) string { // %q: the model, then the ArcFace model
				switch strings.Count(f, "%q") {
				case 2:
					return fmt.Sprintf(f, fallback, arc)
				case 1:
					return fmt.Sprintf(f, fallback)
				}
				return f
			}
			addr := freeAddr(t)
			const common = `"mode":"quality","workers":1,"detector":{"interval":1}`
			local := mustInit(t, fmt.Sprintf(`{%s,"swapper":{%s}}`, common, args(tc.local)))
			var logs logLines
			remote := mustInit(t, fmt.Sprintf(`{%s,"swapper":{%s,"backend":"kserve","server":{"url":%q,"model":"celeb","timeout_ms":200,"fallback":%q}}}`,
				common, args(tc.remote), addr, fallback), engine.WithLogger(logs.log))
			want := swapScene(t, local, scene, 3)
			got := swapScene(t, remote, scene, 3)
			worst, moved := frameDiff(got, want, scene)
			t.Logf("local vs kserve with the server absent: largest difference %d levels; %d bytes swapped", worst, moved)
			if moved < 2000 {
				t.Fatalf("only %d bytes of the fallback's frame differ from the input: the face was not swapped", moved)
			}
			if worst > 1 {
				t.Fatalf("the fallback's frame differs from the local backend's by up to %d levels, want ≤ 1", worst)
			}
			m := bridgeMetrics(t, remote)
			if m.Remote == nil || m.Remote.Up || m.Remote.Fallback != fallback || m.Remote.FallbackFrames < 4 ||
				m.Remote.ServerFrames != 0 || !m.Remote.FallbackActive {
				t.Fatalf("metrics: remote %+v; want down, fallback %q active, ≥ 4 fallback frames, no server frame", m.Remote, fallback)
			}
			if !strings.Contains(m.LastError, addr) {
				t.Fatalf("last_error %q does not name the server %s", m.LastError, addr)
			}
			if n := logs.count("local fallback model", fallback); n == 0 {
				t.Fatalf("nothing logged says the local fallback model swaps: %q", logs.lines)
			}
		})
	}
}

// A fallback model that does not load fails the face pipeline as a local
// model does (EMODEL on submit, frames pass), naming the key and the fix;
// a missing file is refused at init with the key named.
func TestKServeFallbackBadFileIsEMODEL(t *testing.T) {
	models := kserveModels(t)
	addr := freeAddr(t)
	missing := fmt.Sprintf(`{"swapper":{"kind":"dfm","backend":"kserve","server":{"url":%q,"model":"celeb","fallback":"/nonexistent/celeb.dfm"}}}`, addr)
	errBuf := make([]byte, 512)
	if h := Init(&missing, errBuf); h != 0 {
		Shutdown(h)
		t.Fatal("init accepted a fallback file that does not exist")
	}
	if msg := string(errBuf); !strings.Contains(msg, "swapper.server.fallback") || !strings.Contains(msg, "does not exist") {
		t.Fatalf("init's error %q does not name swapper.server.fallback and what is wrong", msg)
	}

	for _, tc := range []struct{ name, file, msg string }{
		{"corrupt", "corrupt.dfm", "swapper.server.fallback"},
		{"of another kind", "inswapper.onnx", "is not a DeepFaceLive DFM model"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(models, tc.file)
			if tc.name == "corrupt" {
				path = filepath.Join(t.TempDir(), tc.file)
				if err := os.WriteFile(path, []byte("\x08\x07 this is no ONNX model"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// swapper.model names a good DFM, so the remote swapper
			// loads; only the fallback fails.
			h := mustInit(t, fmt.Sprintf(`{"swapper":{"kind":"dfm","model":%q,"backend":"kserve","server":{"url":%q,"model":"celeb","timeout_ms":200,"fallback":%q}}}`,
				filepath.Join(models, "dfm.onnx"), addr, path))
			src := testFrame(frame.BGRA, 64, 48, 8, 3)
			in, o := cFrame(src), cFrame(testFrame(frame.BGRA, 64, 48, 8, 0))
			deadline := time.Now().Add(30 * time.Second)
			for st := Submit(h, in); st != EMODEL; st = Submit(h, in) {
				if st != OK || time.Now().After(deadline) {
					t.Fatalf("submit = %d, want EMODEL within 30 s: %s", st, lastErr(h))
				}
				Get(h, o, 1000)
				time.Sleep(5 * time.Millisecond)
			}
			m := bridgeMetrics(t, h)
			if m.Error == nil || m.Error.Key != "swapper.server.fallback" || !strings.Contains(m.Error.Hint, "swapper.server.fallback") ||
				!strings.Contains(m.LastError, path) || !strings.Contains(m.LastError, tc.msg) {
				t.Fatalf("error %+v, last_error %q: want key swapper.server.fallback, its hint, the file and %q", m.Error, m.LastError, tc.msg)
			}
		})
	}
}

// Live (realtime): a server killed mid-stream hands the faces to the
// local fallback model, and when it comes back its answers are used
// again; every frame comes back throughout, the log says so once per
// change, and no goroutine is left behind. The server serves dfm.onnx,
// the fallback is dfm_morph.onnx (the same face × 0.75): the pixels tell
// which one swapped a frame.
func TestKServeFallbackLive(t *testing.T) {
	models := kserveModels(t)
	served, fallback := filepath.Join(models, "dfm.onnx"), filepath.Join(models, "dfm_morph.onnx")
	bgr, faceAt := faceScene(t)
	scene := frametest.FromBGR(bgr, 1280, 720, frame.BGRA, 0)

	// What each model's face looks like here, from the local backend.
	// level custom: the quality controller would step a slow machine (the
	// race detector) down its ladder, and a lower rung's face is not the
	// reference's; this test is about who swaps, not the ladder.
	const common = `"level":"custom","detector":{"interval":1},"merge":{"color_transfer":"none"}`
	ref := func(model string) *frame.Frame {
		h := mustInit(t, fmt.Sprintf(`{"mode":"quality","workers":1,%s,"swapper":{"kind":"dfm","model":%q}}`, common, model))
		defer Shutdown(h)
		return swapScene(t, h, scene, 3)
	}
	refServer, refFallback := ref(served), ref(fallback)
	before := runtime.NumGoroutine() // with the engine's process-wide parts started
	if d := regionDiff(refServer, refFallback, faceAt); d < 3 {
		t.Fatalf("the two models' faces differ by %.1f levels on average: too little to tell them apart", d)
	}

	srv, err := kservetest.Start("127.0.0.1:0", "celeb", served, kservetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr()
	var logs logLines
	h := mustInit(t, fmt.Sprintf(`{"mode":"realtime",%s,"swapper":{"kind":"dfm","backend":"kserve","server":{"url":%q,"model":"celeb","timeout_ms":2000,"fallback":%q}}}`,
		common, addr, fallback), engine.WithLogger(logs.log))

	out := frametest.Blank(scene)
	in, o := cFrame(scene), cFrame(out)
	pts := int64(0)
	// flow submits frames until the metrics and the frame out say the
	// faces come from the expected model (fromFallback) for 5 frames in a
	// row; every frame must come back.
	flow := func(what string, fromFallback bool) engine.Metrics {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		run, fed, start := 0, 0, time.Now()
		for {
			fed++
			pts++
			in.PtsNs = pts
			if st := Submit(h, in); st != OK && st != EAGAIN {
				t.Fatalf("%s: submit: %d %s", what, st, lastErr(h))
			}
			if st := Get(h, o, 10000); st != OK {
				t.Fatalf("%s: get: %d: frames must keep flowing", what, st)
			}
			m := bridgeMetrics(t, h)
			dServer, dFallback, dInput := regionDiff(out, refServer, faceAt), regionDiff(out, refFallback, faceAt), regionDiff(out, scene, faceAt)
			looks := (dFallback < dServer) == fromFallback && dInput > 2
			if m.Faces > 0 && m.Remote != nil && m.Remote.FallbackActive == fromFallback && looks {
				run++
			} else {
				run = 0
			}
			if run == 5 {
				t.Logf("%s: settled after %d frames (%v); face off the server's by %.1f, off the fallback's by %.1f, off the input by %.1f levels; remote %+v",
					what, fed-5, time.Since(start).Round(time.Millisecond), dServer, dFallback, dInput, *m.Remote)
				return m
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 60 s: faces %d, remote %+v, last_error %q; face off the server's by %.1f, off the fallback's by %.1f, off the input by %.1f",
					what, m.Faces, m.Remote, m.LastError, dServer, dFallback, dInput)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	m1 := flow("server up", false)
	srv.Kill()
	m2 := flow("server killed", true)
	if m2.Remote.FallbackFrames <= m1.Remote.FallbackFrames || m2.Remote.Up {
		t.Fatalf("after the kill: remote %+v (before %+v): want the server down and more fallback frames", m2.Remote, m1.Remote)
	}
	srv, err = kservetest.Start(addr, "celeb", served, kservetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Kill()
	m3 := flow("server back", false)
	if m3.Remote.ServerFrames <= m2.Remote.ServerFrames || !m3.Remote.Up {
		t.Fatalf("server back: remote %+v (before %+v): want it up and more server frames", m3.Remote, m2.Remote)
	}
	// And the fallback stays out of it: 30 frames more wear the server's
	// face (its newest answer, re-pasted while requests are out: how many
	// answers come back in 30 frames depends on the machine, so that is
	// not counted), with 2 spare for a request that timed out on a loaded
	// machine.
	notServer := 0
	for range 30 {
		pts++
		in.PtsNs = pts
		Submit(h, in)
		if st := Get(h, o, 10000); st != OK {
			t.Fatalf("server back: get: %d: frames must keep flowing", st)
		}
		if regionDiff(out, refFallback, faceAt) < regionDiff(out, refServer, faceAt) || regionDiff(out, scene, faceAt) <= 2 {
			notServer++
		}
		time.Sleep(10 * time.Millisecond)
	}
	if m4 := bridgeMetrics(t, h); notServer > 2 || m4.Remote.FallbackFrames > m3.Remote.FallbackFrames+2 || m4.Remote.ServerFrames <= m3.Remote.ServerFrames {
		t.Fatalf("30 frames after the server came back: %d without the server's face; remote %+v (before %+v): the fallback still swaps",
			notServer, m4.Remote, m3.Remote)
	}
	// Once per change, not per frame: as many takeovers as recoveries (one
	// outage here; a request that timed out on a loaded machine makes
	// another pair).
	takeovers, recoveries := logs.count("local fallback model", fallback, "until the server answers"), logs.count("answers again")
	if takeovers == 0 || takeovers != recoveries || takeovers > 10 {
		t.Fatalf("%d log lines say the fallback takes over, %d that the server answers again; want one of each per outage: %q",
			takeovers, recoveries, logs.lines)
	}
	Shutdown(h)
	srv.Kill()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after the test, %d before\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
