package bridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"facelive/engine"
	"facelive/engine/frame"
)

// Go's copies of the header's values must match the header itself.
func TestConstantsMatchHeader(t *testing.T) {
	var f Frame
	want := []int64{
		ABIVersion, OK, EAGAIN, EINVAL, EBADHANDLE, ENOMEM, EMODEL, ECLOSED, EINTERNAL, ERANGE, EFORMAT,
		int64(frame.BGRA), int64(frame.RGBA), int64(frame.BGRX), int64(frame.BGR24), int64(frame.RGB24),
		int64(frame.NV12), int64(frame.I420), int64(frame.YUY2), frame.MaxDimension, PTSNone, maxLinesize,
		int64(engine.LevelError), int64(engine.LevelWarn), int64(engine.LevelInfo), int64(engine.LevelDebug),
		int64(unsafe.Sizeof(f)), int64(unsafe.Offsetof(f.Format)), int64(unsafe.Offsetof(f.Width)),
		int64(unsafe.Offsetof(f.Height)), int64(unsafe.Offsetof(f.Data)), int64(unsafe.Offsetof(f.Linesize)),
		int64(unsafe.Offsetof(f.PtsNs)), int64(unsafe.Offsetof(f.Flags)), FrameHoldsInput, FrameProcessed,
		int64(unsafe.Offsetof(f.ColorMatrix)), int64(unsafe.Offsetof(f.ColorRange)), ColorMatrixBT601,
		ColorMatrixBT709, ColorRangeLimited, ColorRangeFull,
	}
	got := cConstants()
	if len(got) != len(want) {
		t.Fatalf("header lists %d constants, Go %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("constant %d: header %d, Go %d", i, got[i], want[i])
		}
	}
}

// cFrame describes a Go-memory frame the way a C host would.
func cFrame(fr *frame.Frame) *Frame {
	f := &Frame{StructSize: frameFlagsSize, Format: uint32(fr.Format), Width: uint32(fr.Width), Height: uint32(fr.Height), PtsNs: fr.PTS}
	for i := 0; i < fr.Format.Planes(); i++ {
		f.Data[i] = unsafe.Pointer(&fr.Planes[i][0])
		f.Linesize[i] = uint32(fr.Stride[i])
	}
	return f
}

func testFrame(f frame.Format, w, h, pad int, seed byte) *frame.Frame {
	fr := &frame.Frame{Format: f, Width: w, Height: h, PTS: int64(seed)}
	for i := 0; i < f.Planes(); i++ {
		stride := f.RowBytes(i, w) + pad
		buf := make([]byte, stride*f.Rows(i, h))
		for j := range buf {
			buf[j] = byte(j*13) + seed
		}
		fr.Planes[i], fr.Stride[i] = buf, stride
	}
	return fr
}

func mustInit(t testing.TB, cfg string, opts ...engine.Option) uint64 {
	t.Helper()
	errBuf := make([]byte, 256)
	h := Init(&cfg, errBuf, opts...)
	if h == 0 {
		t.Fatalf("Init: %s", errBuf)
	}
	t.Cleanup(func() { Shutdown(h) })
	return h
}

func lastErr(h uint64) string {
	buf := make([]byte, 1024)
	LastError(h, buf)
	return string(buf[:strings.IndexByte(string(buf), 0)])
}

type panicStage struct{ n atomic.Int32 }

func (s *panicStage) Name() string { return "panic_stage" }
func (s *panicStage) Process(f *frame.Frame) error {
	if s.n.Add(1) == 2 {
		panic("injected by test")
	}
	return nil
}

func TestStagePanicPoisonsOnlyThatHandle(t *testing.T) {
	bad := mustInit(t, `{"mode":"quality","workers":1}`, engine.WithStages(&panicStage{}))
	good := mustInit(t, `{"mode":"quality","workers":1}`)
	src := testFrame(frame.NV12, 64, 48, 8, 1)
	out := testFrame(frame.NV12, 64, 48, 0, 0)
	in, o := cFrame(src), cFrame(out)

	if st := Submit(bad, in); st != OK {
		t.Fatalf("first submit: %d", st)
	}
	if st := Get(bad, o, 60000); st != OK { // quality mode waits for the face models
		t.Fatalf("first get: %d %s", st, lastErr(bad))
	}
	Submit(bad, in) // the stage panics on this frame
	deadline := time.Now().Add(2 * time.Second)
	for Submit(bad, in) != EINTERNAL {
		if time.Now().After(deadline) {
			t.Fatal("handle not poisoned after a panic in a stage")
		}
		time.Sleep(time.Millisecond)
	}
	msg := lastErr(bad)
	if !strings.Contains(msg, "injected by test") || !strings.Contains(msg, "shut this handle down") {
		t.Fatalf("last error %q does not say what happened and what to do", msg)
	}
	for range 3 {
		src.PTS++
		in.PtsNs = src.PTS
		if st := Submit(bad, in); st != EINTERNAL {
			t.Fatalf("submit on poisoned handle: %d, want EINTERNAL", st)
		}
		clear(out.Planes[0])
		if st := Get(bad, o, 1000); st != EINTERNAL {
			t.Fatalf("get on poisoned handle: %d, want EINTERNAL", st)
		}
		if o.PtsNs == PTSNone {
			continue // the frame before might still have been queued; take the next
		}
		for i := 0; i < 2; i++ {
			for y := 0; y < frame.NV12.Rows(i, 48); y++ {
				a := src.Planes[i][y*src.Stride[i] : y*src.Stride[i]+64]
				b := out.Planes[i][y*out.Stride[i] : y*out.Stride[i]+64]
				if string(a) != string(b) {
					t.Fatalf("poisoned handle modified plane %d row %d", i, y)
				}
			}
		}
	}
	if st := SetConfig(bad, ptr(`{"mode":"realtime"}`)); st != EINTERNAL {
		t.Fatalf("set_config on poisoned handle: %d", st)
	}
	buf := make([]byte, 4096)
	if st := GetMetrics(bad, buf); st != OK || !strings.Contains(string(buf), `"poisoned":true`) {
		t.Fatalf("metrics on poisoned handle: %d %s", st, buf)
	}
	// The other handle is unaffected.
	if st := Submit(good, in); st != OK {
		t.Fatalf("healthy handle submit: %d", st)
	}
	if st := Get(good, o, 1000); st != OK {
		t.Fatalf("healthy handle get: %d", st)
	}
}

func TestRecoveredPanicInExportPoisons(t *testing.T) {
	h := mustInit(t, `{}`)
	if st := Recovered("facelive_test", h, "boom"); st != EINTERNAL {
		t.Fatalf("Recovered = %d", st)
	}
	if st := Submit(h, cFrame(testFrame(frame.BGRA, 8, 8, 0, 1))); st != EINTERNAL {
		t.Fatalf("submit after a recovered panic: %d, want EINTERNAL", st)
	}
	if !strings.Contains(lastErr(h), "boom") {
		t.Fatalf("last error %q", lastErr(h))
	}
}

func ptr(s string) *string { return &s }

func TestBadHandles(t *testing.T) {
	h := mustInit(t, `{}`)
	Shutdown(h)
	out := cFrame(testFrame(frame.BGRA, 8, 8, 0, 1))
	buf := make([]byte, 256)
	calls := map[string]func(uint64) int{
		"submit":   func(h uint64) int { return Submit(h, out) },
		"get":      func(h uint64) int { return Get(h, out, 0) },
		"set":      func(h uint64) int { return SetConfig(h, ptr(`{}`)) },
		"config":   func(h uint64) int { return GetConfig(h, buf) },
		"metrics":  func(h uint64) int { return GetMetrics(h, buf) },
		"save":     func(h uint64) int { return SaveConfig(h, ptr(t.TempDir()+"/c.json")) },
		"load":     func(h uint64) int { return LoadConfig(h, ptr("/nonexistent")) },
		"shutdown": func(h uint64) int { return Shutdown(h) },
	}
	for name, call := range calls {
		for _, tc := range []struct {
			h    uint64
			want string
		}{{0, "handle is 0"}, {h, "was shut down"}, {1 << 40, "never issued"}} {
			t.Run(fmt.Sprintf("%s/%d", name, tc.h), func(t *testing.T) {
				if st := call(tc.h); st != EBADHANDLE {
					t.Fatalf("status %d, want EBADHANDLE", st)
				}
				if msg := lastErr(0); !strings.Contains(msg, tc.want) {
					t.Fatalf("last_error(0) = %q, want it to say %q", msg, tc.want)
				}
			})
		}
	}
}

func TestInitErrors(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{`{"mode":`, "invalid JSON"},
		{`{"bogus":1}`, `unknown key "bogus"`},
		{`{"detector":{"threshold":2}}`, `"detector.threshold"`},
	} {
		errBuf := make([]byte, 512)
		if h := Init(ptr(tc.cfg), errBuf); h != 0 {
			Shutdown(h)
			t.Fatalf("Init(%s) succeeded", tc.cfg)
		}
		msg := string(errBuf[:strings.IndexByte(string(errBuf), 0)])
		if !strings.Contains(msg, tc.want) || lastErr(0) != msg {
			t.Fatalf("Init(%s): err %q, last_error %q; want %q", tc.cfg, msg, lastErr(0), tc.want)
		}
	}
	short := make([]byte, 8) // the message is truncated, NUL-terminated
	Init(ptr(`{"mode":1}`), short)
	if short[7] != 0 {
		t.Fatal("truncated error not NUL-terminated")
	}
}

func TestBufferSizes(t *testing.T) {
	h := mustInit(t, `{}`)
	small := []byte("xxxxx")
	if st := GetConfig(h, small); st != ERANGE || small[0] != 0 {
		t.Fatalf("small config buffer: %d %q", st, small)
	}
	if !strings.Contains(lastErr(h), "needed") {
		t.Fatalf("ERANGE message %q does not say the size needed", lastErr(h))
	}
	if st := GetMetrics(h, nil); st != EINVAL {
		t.Fatalf("nil metrics buffer: %d", st)
	}
	if st := LastError(h, small); st != ERANGE || small[len(small)-1] != 0 {
		t.Fatalf("small last_error buffer: %d %q", st, small)
	}
}

func TestNoAllocationsThroughTheBridge(t *testing.T) {
	// Level custom: no auto-tuner. AllocsPerRun counts every goroutine's
	// allocations, and the tuner's decision (every 5 s, off the frame path)
	// would land in the measurement now and then.
	h := mustInit(t, `{"mode":"realtime","workers":1,"level":"custom","swapper":{"kind":"none"}}`)
	in := cFrame(testFrame(frame.NV12, 1280, 720, 64, 1))
	out := cFrame(testFrame(frame.NV12, 1280, 720, 0, 0))
	step := func() {
		if st := Submit(h, in); st != OK {
			t.Fatalf("submit %d: %s", st, lastErr(h))
		}
		if st := Get(h, out, 1000); st != OK {
			t.Fatalf("get %d: %s", st, lastErr(h))
		}
	}
	for range 10 {
		step()
	}
	// Earlier tests' pipelines may still be loading models in the
	// background (Close does not wait for that); their allocations would
	// count here.
	if !engine.WaitLoads(time.Minute) {
		t.Fatal("model loads of earlier tests did not finish within a minute")
	}
	if n := testing.AllocsPerRun(200, step); n != 0 {
		t.Fatalf("submit+get through the bridge allocates %.2f times per frame", n)
	}
}

func TestFailedModelLoadIsEMODELAndFramesPassThrough(t *testing.T) {
	noFace := filepath.Join(t.TempDir(), "noface.png")
	// A valid PNG without a face: 8x8 grey, written by hand (no image deps here).
	if err := os.WriteFile(noFace, greyPNG(), 0o644); err != nil {
		t.Fatal(err)
	}
	h := mustInit(t, fmt.Sprintf(`{"mode":"quality","workers":1,"swapper":{"kind":"photo","face":%q}}`, noFace))
	src := testFrame(frame.BGRA, 64, 48, 0, 3)
	out := testFrame(frame.BGRA, 64, 48, 0, 0)
	in, o := cFrame(src), cFrame(out)
	deadline := time.Now().Add(30 * time.Second)
	st := OK
	for st = Submit(h, in); st == OK; st = Submit(h, in) { // until the background load has failed
		Get(h, o, 1000)
		if time.Now().After(deadline) {
			t.Fatal("no EMODEL 30 s after init with a face photo that has no face")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st != EMODEL {
		t.Fatalf("submit = %d, want EMODEL", st)
	}
	if msg := lastErr(h); !strings.Contains(msg, noFace) || !strings.Contains(msg, "pass through") {
		t.Fatalf("last error %q does not name the photo and say frames pass through", msg)
	}
	if st := Get(h, o, 1000); st != OK || string(out.Planes[0]) != string(src.Planes[0]) {
		t.Fatalf("the frame taken with EMODEL did not come out unmodified: %d", st)
	}
	if st := SetConfig(h, ptr(`{"swapper":{"kind":"none"}}`)); st != OK {
		t.Fatalf("set_config: %d %s", st, lastErr(h))
	}
	if st := Submit(h, in); st != OK {
		t.Fatalf("submit after fixing the config: %d", st)
	}
}

// greyPNG is a valid 8x8 grey PNG, so the test needs no image library.
func greyPNG() []byte {
	var b bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	png.Encode(&b, img)
	return b.Bytes()
}

// load_config applies the file as a set_config: the keys it sets change,
// the rest keep their values. A hand-written file that sets merge.blur
// alone loaded into OBS's filter put the plugin's assets_dir back to the
// default, and the engine then looked for ONNX Runtime in the wrong place.
func TestLoadConfigKeepsWhatTheFileLeavesOut(t *testing.T) {
	assets := t.TempDir()
	h := mustInit(t, `{"mode":"quality","assets_dir":"`+assets+`","swapper":{"kind":"none"},"merge":{"erode":9}}`)
	path := filepath.Join(t.TempDir(), "part.json")
	if err := os.WriteFile(path, []byte(`{"merge": {"blur": 77}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if rc := LoadConfig(h, &path); rc != OK {
		t.Fatalf("load_config: %d: %s", rc, lastErr(h))
	}
	buf := make([]byte, 16384)
	if rc := GetConfig(h, buf); rc != OK {
		t.Fatalf("get_config: %d", rc)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, buf[:bytes.IndexByte(buf, 0)]); err != nil {
		t.Fatal(err)
	}
	cfg := compact.String()
	for _, want := range []string{`"blur":77`, `"erode":9`, `"assets_dir":"` + assets + `"`, `"mode":"quality"`} {
		if !strings.Contains(cfg, want) {
			t.Errorf("after loading %s the config has no %s: %s", `{"merge": {"blur": 77}}`, want, cfg)
		}
	}
}
