package bridge

import (
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
	"facelive/engine/kserve/kservetest"
	"facelive/engine/ortenv"
	"facelive/internal/assets/assetstest"
)

// kserveModels writes tools/testmodels' models and initialises ONNX
// Runtime for the stand-in server.
func kserveModels(t *testing.T) string {
	t.Helper()
	lib := os.Getenv(ortenv.EnvLibrary)
	if lib == "" {
		lib = assetstest.Path(t, "onnxruntime/lib/"+ortenv.LibraryName)
	}
	if err := ortenv.Init(lib); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out, err := exec.Command("/usr/bin/python3", filepath.Join(assetstest.RepoRoot(t), "tools/testmodels/gen.py"), dir, "--slow-rounds", "1").CombinedOutput()
	if err != nil {
		t.Fatalf("gen.py: %v\n%s", err, out)
	}
	return dir
}

// swapScene submits the face scene until h swaps its face, then n frames
// more, and returns the last output.
func swapScene(t *testing.T, h uint64, scene *frame.Frame, n int) *frame.Frame {
	t.Helper()
	out := frametest.Blank(scene)
	in, o := cFrame(scene), cFrame(out)
	deadline := time.Now().Add(60 * time.Second)
	for pts := int64(1); ; pts++ {
		in.PtsNs = pts
		if st := Submit(h, in); st != OK {
			t.Fatalf("submit: %d %s", st, lastErr(h))
		}
		if st := Get(h, o, 30000); st != OK || o.PtsNs != pts {
			t.Fatalf("get: %d pts %d, want %d: %s", st, o.PtsNs, pts, lastErr(h))
		}
		if m := bridgeMetrics(t, h); m.FacePipeline == "ready" && m.Faces > 0 {
			if n == 0 {
				return out
			}
			n--
		}
		if time.Now().After(deadline) {
			m := bridgeMetrics(t, h)
			t.Fatalf("no face swapped in 60 s: face_pipeline %q, last_error %q", m.FacePipeline, m.LastError)
		}
	}
}

// Acceptance: a config with "backend":"kserve" swaps faces through the
// loopback server with the same pixels as the local backend (within one
// level), through the C ABI's Go side; for both swappers it serves.
func TestKServeBackendSwapsLikeLocal(t *testing.T) {
	models := kserveModels(t)
	bgr, _ := faceScene(t)
	scene := frametest.FromBGR(bgr, 1280, 720, frame.BGRA, 0)
	for _, tc := range []struct{ name, served, local, remote string }{
		{"dfm", "dfm.onnx", `"kind":"dfm","model":%q`, `"kind":"dfm","backend":"kserve"`},
		{"inswapper", "inswapper.onnx", `"kind":"inswapper","model":%q,"arcface_model":%[2]q`,
			`"kind":"inswapper","model":%q,"arcface_model":%[2]q,"backend":"kserve"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			model, arc := filepath.Join(models, tc.served), filepath.Join(models, "arcface.onnx")
			srv, err := kservetest.Start("127.0.0.1:0", "celeb", model, kservetest.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Kill()
			const common = `"mode":"quality","workers":1,"detector":{"interval":1}`
			args := func(f string) string { // %q / %[2]q in f take the model and the ArcFace model
				if strings.Contains(f, "%[2]q") {
					return fmt.Sprintf(f, model, arc)
				}
				if strings.Contains(f, "%q") {
					return fmt.Sprintf(f, model)
				}
				return f
			}
			local := mustInit(t, fmt.Sprintf(`{%s,"swapper":{%s}}`, common, args(tc.local)))
			remote := mustInit(t, fmt.Sprintf(`{%s,"swapper":{%s,"server":{"url":%q,"model":"celeb","timeout_ms":30000}}}`,
				common, args(tc.remote), srv.Addr()))
			want := swapScene(t, local, scene, 3)
			got := swapScene(t, remote, scene, 3)
			moved, worst := 0, 0
			for y := 0; y < 720; y++ {
				for x := 0; x < 1280*4; x++ {
					a, b, s := int(want.Planes[0][y*want.Stride[0]+x]), int(got.Planes[0][y*got.Stride[0]+x]), int(scene.Planes[0][y*scene.Stride[0]+x])
					worst = max(worst, abs(a-b))
					if abs(a-s) > 8 {
						moved++
					}
				}
			}
			t.Logf("local vs kserve: largest difference %d levels; %d bytes swapped", worst, moved)
			if moved < 2000 {
				t.Fatalf("only %d bytes differ from the input: the face was not swapped", moved)
			}
			if worst > 1 {
				t.Fatalf("kserve's frame differs from local's by up to %d levels, want ≤ 1", worst)
			}
			m := bridgeMetrics(t, remote)
			if m.Remote == nil || !m.Remote.Up || m.Remote.Requests == 0 || m.Remote.Errors != 0 || m.RemoteRTTMs == nil || srv.Requests() == 0 {
				t.Fatalf("metrics: remote %+v rtt %+v; server asked %d times", m.Remote, m.RemoteRTTMs, srv.Requests())
			}
			if lm := bridgeMetrics(t, local); lm.Remote != nil {
				t.Fatal("a local swapper reports a remote server")
			}
		})
	}
}

// A server serving another model than the swapper needs is EMODEL, like a
// wrong local file, with found-vs-wanted in last_error; frames pass.
func TestKServeWrongModelIsEMODEL(t *testing.T) {
	models := kserveModels(t)
	srv, err := kservetest.Start("127.0.0.1:0", "celeb", filepath.Join(models, "inswapper.onnx"), kservetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Kill()
	h := mustInit(t, fmt.Sprintf(`{"swapper":{"kind":"dfm","backend":"kserve","server":{"url":%q,"model":"celeb"}}}`, srv.Addr()))
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
	if g := Get(h, o, 5000); g != OK {
		t.Fatalf("get = %d: frames must pass", g)
	}
	msg := bridgeMetrics(t, h).LastError
	for _, s := range []string{"swapper.server.model", "is not a DeepFaceLive DFM model", "found inputs", "want input in_face:0"} {
		if !strings.Contains(msg, s) {
			t.Fatalf("last_error %q lacks %q", msg, s)
		}
	}
}

// Fault drills in a live mode through the C ABI's Go side: each server
// fault ends with every submitted frame coming back, the fault in
// last_error and the metrics, the face left as unprocessed says (pass:
// as it was), and no goroutine left behind once the handle is shut down.
func TestKServeDrillsLive(t *testing.T) {
	models := kserveModels(t)
	dfm := filepath.Join(models, "dfm.onnx")
	bgr, _ := faceScene(t)
	scene := frametest.FromBGR(bgr, 1280, 720, frame.BGRA, 0)
	before := runtime.NumGoroutine()
	for _, tc := range []struct {
		name   string
		fault  func(*kservetest.Server)
		errMsg string
	}{
		{"killed mid-stream", (*kservetest.Server).Kill, "unavailable"},
		{"slow (500 ms)", func(s *kservetest.Server) { s.SetDelay(500 * time.Millisecond) }, "DeadlineExceeded"},
		{"wrong output shapes", func(s *kservetest.Server) { s.SetFault(kservetest.WrongShape) }, "unusable response"},
		{"garbage bytes", func(s *kservetest.Server) { s.SetFault(kservetest.Garbage) }, "unusable response"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := kservetest.Start("127.0.0.1:0", "celeb", dfm, kservetest.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Kill()
			// timeout_ms 300: the slow server's 500 ms is too slow; a
			// healthy answer on a loaded machine may be too, which only
			// delays the swap below (the test waits for it).
			h := mustInit(t, fmt.Sprintf(`{"mode":"realtime","swapper":{"kind":"dfm","model":%q,"backend":"kserve","server":{"url":%q,"model":"celeb","timeout_ms":300}}}`,
				dfm, srv.Addr()))
			swapScene(t, h, scene, 0)
			tc.fault(srv)
			out := frametest.Blank(scene)
			in, o := cFrame(scene), cFrame(out)
			deadline := time.Now().Add(30 * time.Second)
			for pts := int64(1e6); ; pts++ {
				in.PtsNs = pts
				if st := Submit(h, in); st != OK && st != EAGAIN {
					t.Fatalf("submit: %d %s", st, lastErr(h))
				}
				if st := Get(h, o, 5000); st != OK {
					t.Fatalf("get: %d: frames must keep flowing", st)
				}
				m := bridgeMetrics(t, h)
				if m.Faces == 0 && m.Remote != nil && !m.Remote.Up && strings.Contains(strings.ToLower(m.LastError), strings.ToLower(tc.errMsg)) {
					break // the face is no longer swapped, and the metrics say why
				}
				if time.Now().After(deadline) {
					t.Fatalf("30 s after the fault: faces %d, remote %+v, last_error %q", m.Faces, m.Remote, m.LastError)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if m := bridgeMetrics(t, h); m.Remote.Errors == 0 || m.FacePipeline != "ready" {
				t.Fatalf("metrics after the fault: %+v, face_pipeline %q", m.Remote, m.FacePipeline)
			}
			Shutdown(h)
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before+3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+3 {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after the drills, %d before\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// The live path never waits on the network: with a server that has
// stopped answering altogether (every request hangs), each frame submitted
// still comes back as itself, and the newest swapped face is pasted where
// the face is now (the head moves 40 px after the last answer). A
// structural property: no clock decides it (bench has the timings).
func TestKServeLivePathNeverWaitsOnTheServer(t *testing.T) {
	models := kserveModels(t)
	dfm := filepath.Join(models, "dfm.onnx")
	srv, err := kservetest.Start("127.0.0.1:0", "celeb", dfm, kservetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Kill()
	h := mustInit(t, fmt.Sprintf(`{"mode":"realtime","detector":{"interval":1},"merge":{"color_transfer":"none"},
		"swapper":{"kind":"dfm","backend":"kserve","server":{"url":%q,"model":"celeb","timeout_ms":60000,"max_in_flight":4}}}`, srv.Addr()))
	bgr, faceAt := faceScene(t)
	scene := frametest.FromBGR(bgr, 1280, 720, frame.BGRA, 0)
	swapScene(t, h, scene, 2)
	srv.SetDelay(time.Hour) // from now on no request is answered
	// The head moves 40 px right, 2 px a frame, then holds still.
	const shift, frames = 40, 45
	shifted := func(d int) *frame.Frame {
		moved := make([]byte, len(bgr))
		for y := 0; y < 720; y++ {
			copy(moved[3*(y*1280+d):3*(y*1280+1280)], bgr[3*y*1280:3*(y*1280+1280-d)])
			for x := 0; x < d; x++ {
				copy(moved[3*(y*1280+x):], []byte{128, 128, 128})
			}
		}
		return frametest.FromBGR(moved, 1280, 720, frame.BGRA, 0)
	}
	movedScene := shifted(shift)
	out := frametest.Blank(movedScene)
	o := cFrame(out)
	asked := srv.Requests()
	swapped := 0
	for i := 0; i < frames; i++ {
		src := movedScene
		if 2*i < shift {
			src = shifted(2 * i)
		}
		in := cFrame(src)
		pts := int64(1e6 + i)
		in.PtsNs = pts
		if st := Submit(h, in); st != OK {
			t.Fatalf("submit %d: %d %s", i, st, lastErr(h))
		}
		// Generous: a frame path that waited on the server would wait an hour.
		if st := Get(h, o, 20000); st != OK || o.PtsNs != pts {
			t.Fatalf("frame %d: get %d pts %d, want OK and %d: the live path waits on the server", i, st, o.PtsNs, pts)
		}
		if bridgeMetrics(t, h).Faces > 0 {
			swapped++
		}
	}
	// The newest answer, pasted at the face's new place: pixels change
	// around the moved face only.
	now := faceAt.Add(image.Pt(shift, 0)).Inset(-120)
	inside, outside := 0, 0
	for y := 0; y < 720; y++ {
		for x := 0; x < 1280; x++ {
			p := y*out.Stride[0] + 4*x
			if string(out.Planes[0][p:p+3]) == string(movedScene.Planes[0][p:p+3]) {
				continue
			}
			if image.Pt(x, y).In(now) {
				inside++
			} else {
				outside++
			}
		}
	}
	m := bridgeMetrics(t, h)
	t.Logf("%d of %d frames with the face swapped while the server hung; %d requests out; %d pixels changed at the face's new place, %d elsewhere",
		swapped, frames, m.Remote.InFlight, inside, outside)
	if swapped < frames*9/10 || inside < 1000 || outside != 0 {
		t.Fatalf("want ≥ 90%% of frames swapped from the newest answer at the face's new place")
	}
	if m.Remote.InFlight == 0 || m.Remote.InFlight > 4 || srv.Requests() == asked {
		t.Fatalf("requests out: %d (server asked %d more times); want 1 to max_in_flight 4", m.Remote.InFlight, srv.Requests()-asked)
	}
	// Shutting down aborts the requests out: it does not wait for their
	// 60 s timeout (nor for the server, which would answer in an hour).
	done := make(chan int)
	go func() { done <- Shutdown(h) }()
	select {
	case st := <-done:
		if st != OK {
			t.Fatalf("shutdown: %d", st)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("shutdown waits for the requests out to the hung server")
	}
}
