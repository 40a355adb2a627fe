package detect

import (
	"errors"
	"fmt"
	"image"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"facelive/engine/face"
	"facelive/engine/frame"
)

// astronautFace is the face in third_party/faces/astronaut.png (512×512),
// measured by hand on a 4× zoom with a 10 px grid: cheek to cheek x 180..272,
// brows (just above) to chin y 80..178. Eyes at about (200, 102) and
// (247, 102), nose tip (226, 130), mouth (225, 148).
var astronautFace = face.Rect{X0: 180, Y0: 80, X1: 272, Y1: 178}

func TestBlazeFaceAstronaut(t *testing.T) {
	d := newBlazeFace(t)
	m := loadBGR(t, asset(t, "faces/astronaut.png"))
	fr := toFrame(fromMat(t, m), frame.BGR24, 0)
	dets, err := d.Detect(fr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(dets) != 1 {
		t.Fatalf("found %d faces, want exactly 1: %+v", len(dets), dets)
	}
	det := dets[0]
	t.Logf("score %.3f box %.1f keypoints %.1f", det.Score, det.Box, det.Keypoints)
	if det.Score <= 0.8 || det.Score > 1 {
		t.Errorf("score %.3f, want > 0.8", det.Score)
	}
	if iou := iouRect(det.Box, astronautFace); iou <= 0.5 {
		t.Errorf("box %.1f has IoU %.2f with the hand-measured face %.1f, want > 0.5", det.Box, iou, astronautFace)
	}
	if !det.HasKeypoints {
		t.Fatal("HasKeypoints is false")
	}
	upper := det.Box
	upper.Y1 = (upper.Y0 + upper.Y1) / 2
	re, le := det.Keypoints[face.RightEye], det.Keypoints[face.LeftEye]
	for name, p := range map[string]face.Point{"right eye": re, "left eye": le} {
		if !contains(upper, p) {
			t.Errorf("%s at %.1f is not in the upper half %.1f of the box", name, p, upper)
		}
	}
	if re.X >= le.X {
		t.Errorf("right eye x %.1f is not left of the left eye x %.1f in the image", re.X, le.X)
	}
	for k, p := range det.Keypoints[:face.RightEar] {
		if !contains(det.Box, p) {
			t.Errorf("keypoint %d at %.1f is outside the box %.1f", k, p, det.Box)
		}
	}
}

// groupFace is a hand-measured face in one of the sample photos.
type groupFace struct {
	box face.Rect
	// frontal: clearly visible, frontal-ish (both eyes visible), not tiny.
	frontal bool
	// missed: BlazeFace front does not find it (see the table's comment).
	missed bool
	note   string
}

func rect(x0, y0, x1, y1 float64) face.Rect { return face.Rect{X0: x0, Y0: y0, X1: x1, Y1: y1} }

// groupPhotos are the multi-face samples of @vladmandic/face-api (all 1920
// px wide). How we counted: each photo was looked at whole and in 0.5-0.65×
// crops with a 50 px grid; every face is listed with its box (temple to
// temple or cheek to cheek, brows to chin; ±20 px). A face counts as
// "frontal" when it is clearly visible with both eyes showing, at least
// about 150 px wide, and turned less than about 45°.
//
// BlazeFace front is a short-range (selfie) model: the whole 1920 px photo is
// squeezed into 128 px, so these faces are 10-16 px in the model's input,
// at the bottom of its range. It still finds every frontal face except the
// smallest (sample5, top middle: 145 px wide = 9.7 px of input). Scores are
// modest (0.38-0.95), so this test uses threshold 0.3; below about 0.27
// duplicates and non-faces appear.
var groupPhotos = []struct {
	file  string
	faces []groupFace
}{
	{"sample1.jpg", []groupFace{
		{box: rect(400, 380, 620, 590), frontal: true, note: "left, clown make-up"},
		{box: rect(820, 440, 1010, 660), frontal: true, note: "middle, looking down"},
		{box: rect(1480, 220, 1690, 440), frontal: true, note: "right, head tilted"},
	}},
	{"sample2.jpg", []groupFace{
		{box: rect(360, 170, 560, 430), note: "left, profile"},
		{box: rect(880, 250, 1080, 450), missed: true, note: "middle, face down under hair"},
		{box: rect(1440, 180, 1660, 420), frontal: true, note: "right, eyes down"},
	}},
	{"sample3.jpg", []groupFace{
		{box: rect(590, 320, 800, 580), frontal: true, note: "left"},
		{box: rect(1075, 235, 1285, 500), frontal: true, note: "middle"},
		{box: rect(1490, 300, 1700, 570), frontal: true, note: "right (found with score about 0.39)"},
	}},
	{"sample4.jpg", []groupFace{
		{box: rect(285, 219, 446, 435), frontal: true, note: "left, three-quarter"},
		{box: rect(661, 119, 846, 342), frontal: true, note: "second, looking over the shoulder"},
		{box: rect(992, 219, 1169, 450), frontal: true, note: "third, looking down"},
		{box: rect(1277, 173, 1431, 419), frontal: true, note: "right, laughing"},
	}},
	{"sample5.jpg", []groupFace{
		{box: rect(782, 127, 927, 336), frontal: true, missed: true, note: "top middle, smallest face (~10 px of model input)"},
		{box: rect(1109, 218, 1255, 445), frontal: true, note: "top right"},
		{box: rect(618, 464, 773, 664), frontal: true, note: "middle left (score about 0.38)"},
		{box: rect(1400, 409, 1573, 682), frontal: true, note: "right"},
		{box: rect(364, 864, 573, 1136), frontal: true, note: "bottom left"},
	}},
	{"sample6.jpg", []groupFace{
		{box: rect(232, 500, 459, 745), frontal: true, note: "left"},
		{box: rect(659, 355, 850, 618), frontal: true, note: "second"},
		{box: rect(1168, 336, 1359, 600), frontal: true, note: "third"},
		{box: rect(1486, 273, 1695, 564), frontal: true, note: "right"},
	}},
}

// matches reports whether a detection is on a hand-measured face: each
// box's centre lies inside the other box. (BlazeFace's boxes for these small
// faces are up to 1.5× the hand box, so IoU alone would be too strict.)
func matches(det, hand face.Rect) bool {
	return contains(det, hand.Center()) && contains(hand, det.Center())
}

func TestBlazeFaceGroupPhotos(t *testing.T) {
	o := testOptions(t)
	o.Threshold = 0.3
	o.MaxFaces = 16
	d, err := NewBlazeFace(o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var dets []face.Detection
	for _, p := range groupPhotos {
		t.Run(p.file, func(t *testing.T) {
			m := loadBGR(t, asset(t, "faces/"+p.file))
			dets, err = d.Detect(toFrame(fromMat(t, m), frame.BGR24, 0), dets)
			if err != nil {
				t.Fatal(err)
			}
			if dir := os.Getenv("FACELIVE_DETECT_DRAW"); dir != "" {
				drawDetections(t, m, dets, filepath.Join(dir, p.file+".png"))
			}
			found := make([]bool, len(p.faces))
			for _, det := range dets {
				hit := -1
				for i, f := range p.faces {
					if matches(det.Box, f.box) {
						hit = i
						break
					}
				}
				if hit < 0 {
					t.Errorf("detection %.0f (score %.2f) is on none of the faces", det.Box, det.Score)
					continue
				}
				t.Logf("face %d (%s): score %.2f box %.0f", hit, p.faces[hit].note, det.Score, det.Box)
				if found[hit] {
					t.Errorf("face %d (%s) detected twice", hit, p.faces[hit].note)
				}
				found[hit] = true
			}
			frontal, want, got := 0, 0, 0
			for i, f := range p.faces {
				if f.frontal {
					frontal++
				}
				if f.frontal && !f.missed {
					want++
					if !found[i] {
						t.Errorf("missed face %d (%s) at %.0f", i, f.note, f.box)
					}
				}
				if found[i] {
					got++
				}
			}
			t.Logf("%d frontal faces, %d expected to be found, %d found", frontal, want, got)
			if got < want {
				t.Errorf("found %d faces, want at least %d", got, want)
			}
		})
	}
}

// astronautFrame is the astronaut scaled to 720×720 and pasted at x=400 into
// a grey 1280×720 frame; face is where its face is then.
func astronautFrame(t testing.TB) (img *bgrImage, faceBox face.Rect) {
	m := loadBGR(t, asset(t, "faces/astronaut.png"))
	r := gocv.NewMat()
	defer r.Close()
	gocv.Resize(m, &r, image.Pt(720, 720), 0, 0, gocv.InterpolationArea)
	const k, dx = 720.0 / 512, 400
	fb := face.Rect{X0: astronautFace.X0*k + dx, Y0: astronautFace.Y0 * k, X1: astronautFace.X1*k + dx, Y1: astronautFace.Y1 * k}
	return canvas(fromMat(t, r), 1280, 720, dx, 0), fb
}

func TestBlazeFaceFormats(t *testing.T) {
	o := testOptions(t)
	// The face is 130 px of a 1280 px frame, 13 px of the model's input:
	// scores are about 0.56 in every format.
	o.Threshold = 0.3
	d, err := NewBlazeFace(o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	img, hand := astronautFrame(t)
	ref, err := d.Detect(toFrame(img, frame.BGR24, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ref) != 1 {
		t.Fatalf("BGR24 reference: %d faces, want 1: %+v", len(ref), ref)
	}
	if iou := iouRect(ref[0].Box, hand); iou < 0.4 {
		t.Errorf("BGR24 reference box %.1f has IoU %.2f with the face %.1f, want >= 0.4", ref[0].Box, iou, hand)
	}
	var dets []face.Detection
	for _, f := range frame.Formats {
		for _, pad := range []int{0, 36} {
			t.Run(fmt.Sprintf("%v/pad%d", f, pad), func(t *testing.T) {
				dets, err = d.Detect(toFrame(img, f, pad), dets)
				if err != nil {
					t.Fatal(err)
				}
				if len(dets) != 1 {
					t.Fatalf("%d faces, want 1: %+v", len(dets), dets)
				}
				got, want := dets[0].Box, ref[0].Box
				t.Logf("score %.3f box %.1f", dets[0].Score, got)
				const tol = 4 // px of 1280
				if abs(got.X0-want.X0) > tol || abs(got.Y0-want.Y0) > tol || abs(got.X1-want.X1) > tol || abs(got.Y1-want.Y1) > tol {
					t.Errorf("box %.1f differs from BGR24's %.1f by more than %d px", got, want, tol)
				}
				if abs(dets[0].Score-ref[0].Score) > 0.05 {
					t.Errorf("score %.3f differs from BGR24's %.3f", dets[0].Score, ref[0].Score)
				}
			})
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestBlazeFaceNoFace(t *testing.T) {
	o := testOptions(t)
	o.Threshold = 0.1 // even weak candidates must not appear
	d, err := NewBlazeFace(o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, f := range frame.Formats {
		for _, grey := range []byte{0, 128, 255} {
			dets, err := d.Detect(flatFrame(1280, 720, f, grey), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(dets) != 0 {
				t.Errorf("%v grey %d: %d detections in a flat frame: %+v", f, grey, len(dets), dets)
			}
		}
	}
}

// TestBlazeFaceCutByBorder moves the astronaut (scaled 2×, face 184 px in a
// 640×480 frame) so that her face is cut by a frame edge.
func TestBlazeFaceCutByBorder(t *testing.T) {
	o := testOptions(t)
	o.Threshold = 0.3 // half a face scores lower: 0.37 (left), 0.51 (top)
	d, err := NewBlazeFace(o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	m := loadBGR(t, asset(t, "faces/astronaut.png"))
	r := gocv.NewMat()
	defer r.Close()
	gocv.Resize(m, &r, image.Pt(1024, 1024), 0, 0, gocv.InterpolationLinear)
	big := fromMat(t, r)
	bigFace := face.Rect{X0: 2 * astronautFace.X0, Y0: 2 * astronautFace.Y0, X1: 2 * astronautFace.X1, Y1: 2 * astronautFace.Y1}
	const W, H = 640, 480
	for _, c := range []struct {
		name   string
		dx, dy int
		edge   string // the edge the visible part's box must touch; "" = not required
	}{
		{"left half out", -452, -100, "left"},
		{"top half out", 0, -258, "top"},
		{"bottom quarter out", 0, 162, "bottom"},
		{"right half out", W - 452, -100, ""}, // scores about 0.30: may or may not be found
		{"mostly out", -530, -100, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			vis := clipRect(shift(bigFace, float64(c.dx), float64(c.dy)), W, H)
			for _, f := range []frame.Format{frame.BGRA, frame.NV12} {
				dets, err := d.Detect(toFrame(canvas(big, W, H, c.dx, c.dy), f, 0), nil)
				if err != nil {
					t.Fatal(err)
				}
				onFace := -1
				for i, det := range dets {
					b := det.Box
					t.Logf("%v: score %.2f box %.1f (visible face %.1f)", f, det.Score, b, vis)
					if !(0 <= b.X0 && b.X0 < b.X1 && b.X1 <= W && 0 <= b.Y0 && b.Y0 < b.Y1 && b.Y1 <= H) {
						t.Errorf("%v: box %.1f is not clipped to the %dx%d frame", f, b, W, H)
					}
					if iouRect(b, vis) > 0.3 {
						onFace = i
					}
				}
				if c.edge == "" {
					continue
				}
				if onFace < 0 {
					t.Errorf("%v: no detection on the visible part %.1f of the face", f, vis)
					continue
				}
				b := dets[onFace].Box
				if touches := map[string]bool{"left": b.X0 == 0, "top": b.Y0 == 0, "bottom": b.Y1 == H}[c.edge]; !touches {
					t.Errorf("%v: box %.1f of a face cut by the %s edge does not reach that edge", f, b, c.edge)
				}
			}
		})
	}
}

func TestBlazeFaceMaxFacesLargestFirst(t *testing.T) {
	o := testOptions(t)
	o.Threshold = 0.3
	o.MaxFaces = 2
	d, err := NewBlazeFace(o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fr := toFrame(fromMat(t, loadBGR(t, asset(t, "faces/sample6.jpg"))), frame.BGR24, 0)
	two, err := d.Detect(fr, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.opts.MaxFaces = 16
	all, err := d.Detect(fr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 3 || len(two) != 2 {
		t.Fatalf("got %d faces with max 2 and %d with max 16; want 2 and at least 3", len(two), len(all))
	}
	for i := 1; i < len(all); i++ {
		if area(all[i].Box) > area(all[i-1].Box) {
			t.Errorf("detection %d (area %.0f) is larger than detection %d (area %.0f)", i, area(all[i].Box), i-1, area(all[i-1].Box))
		}
	}
	if two[0] != all[0] || two[1] != all[1] {
		t.Errorf("max 2 kept %+v, want the two largest %+v", two, all[:2])
	}
}

func TestBlazeFaceSteadyStateAllocatesNothing(t *testing.T) {
	d := newBlazeFace(t)
	img, _ := astronautFrame(t)
	for _, f := range []frame.Format{frame.NV12, frame.BGRA, frame.YUY2} {
		fr := toFrame(img, f, 64)
		dets, err := d.Detect(fr, make([]face.Detection, 0, MaxMaxFaces))
		if err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(20, func() {
			dets, err = d.Detect(fr, dets)
		})
		if err != nil {
			t.Fatal(err)
		}
		if allocs != 0 {
			t.Errorf("%v: Detect allocates %.1f times per frame in steady state, want 0", f, allocs)
		}
	}
}

func TestBlazeFaceClosedAndBadFrames(t *testing.T) {
	d, err := NewBlazeFace(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Detect(&frame.Frame{Format: frame.NV12, Width: 3, Height: 2}, nil); !errors.Is(err, frame.ErrFrame) {
		t.Errorf("odd-width NV12 frame: err = %v, want frame.ErrFrame", err)
	}
	short := flatFrame(64, 64, frame.BGRA, 1)
	short.Planes[0] = short.Planes[0][:100]
	if _, err := d.Detect(short, nil); !errors.Is(err, frame.ErrFrame) {
		t.Errorf("truncated plane: err = %v, want frame.ErrFrame", err)
	}
	// Tiny and extreme aspect ratios work.
	for _, sz := range [][2]int{{2, 2}, {1920, 2}, {2, 1080}, {4096, 2160}} {
		if _, err := d.Detect(flatFrame(sz[0], sz[1], frame.I420, 50), nil); err != nil {
			t.Errorf("%dx%d: %v", sz[0], sz[1], err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := d.Detect(flatFrame(64, 64, frame.BGRA, 1), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Detect after Close: err = %v, want ErrClosed", err)
	}
}

// python3 returns a Python 3 that can import onnx: Debian's python3-onnx
// lives in /usr/bin/python3's path, which a pyenv or venv python3 earlier on
// PATH does not see.
func python3(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(p, "-c", "import onnx").Run() == nil {
			return p
		}
	}
	t.Fatal("no python3 with the onnx module: run make deps (Debian python3-onnx)")
	return ""
}

func TestNewBlazeFaceModelErrors(t *testing.T) {
	dir := t.TempDir()
	out, err := exec.Command(python3(t), filepath.Join("testdata", "gen_models.py"), dir).CombinedOutput()
	if err != nil {
		t.Fatalf("testdata/gen_models.py: %v\n%s", err, out)
	}
	garbage := filepath.Join(dir, "garbage.onnx")
	if err := os.WriteFile(garbage, []byte("\x00\x01 definitely not protobuf \xff\xfe"+strings.Repeat("x", 1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.onnx")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nope", ModelFile)

	for _, c := range []struct {
		name, model string
		want        []string
	}{
		{"missing", missing, []string{missing, "does not exist", "make deps"}},
		{"garbage", garbage, []string{garbage, "not a loadable ONNX model"}},
		{"empty", empty, []string{empty}},
		{"wrong names", filepath.Join(dir, "wrong_names.onnx"), []string{
			filepath.Join(dir, "wrong_names.onnx"), "not a BlazeFace",
			"no tensor named input:0", "no tensor named Identity:0",
			"found inputs [image [1 3 128 128] float32] outputs [scores [1 3 128 128] float32]",
			"wanted input [input:0 [1 128 128 3] float32] outputs [Identity:0 [1 512 1] float32, Identity_1:0 [1 384 1] float32, " +
				"Identity_2:0 [1 512 16] float32, Identity_3:0 [1 384 16] float32]",
		}},
		{"wrong shapes", filepath.Join(dir, "wrong_shape.onnx"), []string{
			filepath.Join(dir, "wrong_shape.onnx"),
			"input:0 has shape [1 3 128 128], want [1 128 128 3]",
			"Identity_3:0 has shape [1 3 128 128], want [1 384 16]",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := testOptions(t)
			o.Model = c.model
			d, err := NewBlazeFace(o)
			if err == nil {
				d.Close()
				t.Fatal("no error")
			}
			t.Log(err)
			if !errors.Is(err, ErrModel) {
				t.Errorf("error does not wrap ErrModel")
			}
			if c.name == "missing" && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error does not wrap fs.ErrNotExist")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q", w)
				}
			}
		})
	}
}

// benchmarkDetect times Detect on a w×h frame of format f with the
// astronaut's face 130-190 px tall, and reports in the same run the time of
// the model alone and the share of the frame time spent outside it
// (sampling the input, decoding, NMS).
func benchmarkDetect(b *testing.B, w, h int, f frame.Format) {
	o := testOptions(b)
	o.Threshold = 0.3 // the face is 13-19 px of the model's input
	d, err := NewBlazeFace(o)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	m := loadBGR(b, asset(b, "faces/astronaut.png"))
	r := gocv.NewMat()
	defer r.Close()
	gocv.Resize(m, &r, image.Pt(h, h), 0, 0, gocv.InterpolationArea)
	fr := toFrame(canvas(fromMat(b, r), w, h, (w-h)/3, 0), f, 0)
	dets := make([]face.Detection, 0, MaxMaxFaces)
	b.ReportAllocs()
	for b.Loop() {
		if dets, err = d.Detect(fr, dets); err != nil {
			b.Fatal(err)
		}
	}
	total := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / 1e6
	const runs = 200
	t0 := time.Now()
	for range runs {
		if err := d.session.Run(); err != nil {
			b.Fatal(err)
		}
	}
	model := float64(time.Since(t0).Nanoseconds()) / runs / 1e6
	b.ReportMetric(total, "ms/frame")
	b.ReportMetric(model, "model-ms")
	b.ReportMetric(100*(total-model)/total, "%-outside-model")
	b.ReportMetric(float64(len(dets)), "faces")
}

func BenchmarkDetect(b *testing.B) {
	for _, c := range []struct {
		name string
		w, h int
		f    frame.Format
	}{
		{"720p/NV12", 1280, 720, frame.NV12},
		{"1080p/NV12", 1920, 1080, frame.NV12},
		{"720p/BGRA", 1280, 720, frame.BGRA},
		{"1080p/YUY2", 1920, 1080, frame.YUY2},
	} {
		b.Run(c.name, func(b *testing.B) { benchmarkDetect(b, c.w, c.h, c.f) })
	}
}

// BenchmarkHaar times the fallback on a 720p NV12 frame.
func BenchmarkHaar(b *testing.B) {
	h, err := NewHaar(testOptions(b))
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	img, _ := astronautFrame(b)
	fr := toFrame(img, frame.NV12, 0)
	var dets []face.Detection
	b.ReportAllocs()
	for b.Loop() {
		if dets, err = h.Detect(fr, dets); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/frame")
}

// BenchmarkDetectTile times InRegion on one tile of a 1080p NV12 frame (a
// 768 px square: faces down to ~1/20 of the frame width), against Detect
// on the whole frame in the same run.
func BenchmarkDetectTile(b *testing.B) {
	d, err := NewBlazeFace(testOptions(b))
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	m := loadBGR(b, asset(b, "faces/astronaut.png"))
	fr := toFrame(canvas(fromMat(b, m), 1920, 1080, 600, 300), frame.NV12, 0)
	dets := make([]face.Detection, 0, MaxMaxFaces)
	var g Regions
	full := func() {
		if dets, err = d.Detect(fr, dets); err != nil {
			b.Fatal(err)
		}
	}
	t0 := time.Now()
	for range 50 {
		full()
	}
	fullMs := float64(time.Since(t0).Nanoseconds()) / 50 / 1e6
	b.ReportAllocs()
	for b.Loop() {
		if dets, err = g.Detect(d, fr, image.Rect(384, 0, 1152, 768), dets[:0]); err != nil {
			b.Fatal(err)
		}
	}
	per := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / 1e6
	b.ReportMetric(per, "ms/tile")
	b.ReportMetric(fullMs, "ms/full-frame")
}

// TestRegionsFindSmallFaces: a face from sample6 (BlazeFace scores it
// 0.96 on a third of that photo) scaled to about 1/20 of a 1920 px frame
// is found on a region three face widths wide around it, at the same
// place and score as the detector finds it in a copy of that region, with
// its keypoints moved along; a region that cuts the face reports nothing.
func TestRegionsFindSmallFaces(t *testing.T) {
	d := newBlazeFace(t)
	photo := loadBGR(t, asset(t, "faces/sample6.jpg"))
	crop := photo.Region(image.Rect(560, 280, 1000, 720)) // the face at (660,381) w 240
	defer crop.Close()
	small := gocv.NewMat()
	defer small.Close()
	gocv.Resize(crop, &small, image.Pt(176, 176), 0, 0, gocv.InterpolationArea) // face ≈ 96 px
	img := canvas(fromMat(t, small), 1920, 1080, 1000, 500)
	region := image.Rect(940, 440, 1240, 740) // ≈ 3 face widths around it
	for _, f := range []frame.Format{frame.NV12, frame.BGRA} {
		t.Run(f.String(), func(t *testing.T) {
			fr := toFrame(img, f, 0)
			var g Regions
			dets, err := g.Detect(d, fr, region, nil)
			if err != nil || len(dets) != 1 {
				t.Fatalf("region %v: %v, %v; want the face", region, dets, err)
			}
			// The same pixels as a frame of their own.
			part := &bgrImage{w: region.Dx(), h: region.Dy(), pix: make([]byte, 3*region.Dx()*region.Dy())}
			for y := range part.h {
				o := 3 * ((region.Min.Y+y)*img.w + region.Min.X)
				copy(part.pix[3*part.w*y:3*part.w*(y+1)], img.pix[o:o+3*part.w])
			}
			ref, err := d.Detect(toFrame(part, f, 0), nil)
			if err != nil || len(ref) != 1 {
				t.Fatalf("the region alone: %v, %v", ref, err)
			}
			got, want := dets[0].Box, ref[0].Box
			dx, dy := float64(region.Min.X), float64(region.Min.Y)
			if math.Abs(got.X0-want.X0-dx) > 1e-6 || math.Abs(got.Y1-want.Y1-dy) > 1e-6 || dets[0].Score != ref[0].Score {
				t.Errorf("region detection %+v, want the region's own %+v moved by (%v, %v)", dets[0], ref[0], dx, dy)
			}
			if kp := dets[0].Keypoints[0]; math.Abs(kp.X-ref[0].Keypoints[0].X-dx) > 1e-6 {
				t.Errorf("keypoint %v not moved with the box", kp)
			}
			if w := got.W(); w < 70 || w > 130 || dets[0].Score < 0.8 {
				t.Errorf("face box %.0f px wide, score %.2f; want ≈ 96 px and a confident score", w, dets[0].Score)
			}
			// A region whose edge runs through the face: nothing.
			cut := image.Rect(int(got.Center().X)-300, 440, int(got.Center().X), 740)
			if dets, _ := g.Detect(d, fr, cut, nil); len(dets) != 0 {
				t.Errorf("region %v cuts the face but reported %v", cut, dets)
			}
		})
	}
}
