package detect

import (
	"image"
	"image/color"
	"os"
	"testing"

	"facelive/internal/assets/assetstest"
	"facelive/internal/logging"

	"gocv.io/x/gocv"

	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
)

// The assets make deps fetches (see internal/assets/assetstest).
var (
	thirdParty = assetstest.Dir
	asset      = assetstest.Path
)

func ortLibrary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("FACELIVE_ONNXRUNTIME_LIB"); p != "" {
		if !isFile(p) {
			t.Fatalf("FACELIVE_ONNXRUNTIME_LIB=%s is missing: run make deps", p)
		}
		return p
	}
	return asset(t, "onnxruntime/lib/libonnxruntime.so.1")
}

func modelPath(t testing.TB) string { return asset(t, "models/"+ModelFile) }

func haarPath(t testing.TB) string {
	t.Helper()
	p := DefaultHaarCascade()
	if !isFile(p) {
		t.Fatalf("%s is missing: run make deps (Debian opencv-data)", p)
	}
	return p
}

// testOptions are the options of the real detectors, from the assets.
func testOptions(t testing.TB) Options {
	t.Helper()
	return Options{
		Threshold:   0.5,
		MaxFaces:    16,
		ORTLibrary:  ortLibrary(t),
		Model:       modelPath(t),
		HaarCascade: haarPath(t),
		Log:         func(level logging.Level, msg string) { t.Logf("log %d: %s", level, msg) },
	}
}

func newBlazeFace(t testing.TB) *BlazeFace {
	t.Helper()
	d, err := NewBlazeFace(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// loadBGR reads an image file as a BGR Mat.
func loadBGR(t testing.TB, path string) gocv.Mat {
	t.Helper()
	m := gocv.IMRead(path, gocv.IMReadColor)
	if m.Empty() {
		t.Fatalf("cannot read %s", path)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// bgrImage is a tightly packed BGR picture.
type bgrImage struct {
	w, h int
	pix  []byte
}

func fromMat(t testing.TB, m gocv.Mat) *bgrImage {
	t.Helper()
	c := m.Clone()
	defer c.Close()
	pix, err := c.DataPtrUint8()
	if err != nil {
		t.Fatal(err)
	}
	return &bgrImage{w: m.Cols(), h: m.Rows(), pix: append([]byte(nil), pix...)}
}

// canvas returns a w×h image filled with grey and img pasted with its
// top-left corner at (x, y) (clipped).
func canvas(img *bgrImage, w, h, x, y int) *bgrImage {
	out := &bgrImage{w: w, h: h, pix: make([]byte, w*h*3)}
	for i := range out.pix {
		out.pix[i] = 100
	}
	for sy := 0; sy < img.h; sy++ {
		dy := y + sy
		if dy < 0 || dy >= h {
			continue
		}
		for sx := 0; sx < img.w; sx++ {
			dx := x + sx
			if dx < 0 || dx >= w {
				continue
			}
			copy(out.pix[(dy*w+dx)*3:(dy*w+dx)*3+3], img.pix[(sy*img.w+sx)*3:])
		}
	}
	return out
}

// toFrame is frametest.FromBGR (BT.601 limited range, as webcams send) with
// each plane cut to frame.PlaneLen, length and capacity: unlike frametest's
// frames, the last row has no padding after it, as hosts may hand us, so a
// reader that strays past a row's end there panics instead of reading
// sentinel bytes.
func toFrame(img *bgrImage, f frame.Format, pad int) *frame.Frame {
	fr := frametest.FromBGR(img.pix, img.w, img.h, f, pad)
	for p := 0; p < f.Planes(); p++ {
		n := frame.PlaneLen(f, p, img.w, img.h, fr.Stride[p])
		fr.Planes[p] = fr.Planes[p][:n:n]
	}
	return fr
}

// flatFrame is a frame of one colour in format f.
func flatFrame(w, h int, f frame.Format, grey byte) *frame.Frame {
	img := &bgrImage{w: w, h: h, pix: make([]byte, w*h*3)}
	for i := range img.pix {
		img.pix[i] = grey
	}
	return toFrame(img, f, 0)
}

func iouRect(a, b face.Rect) float64 {
	iw := min(a.X1, b.X1) - max(a.X0, b.X0)
	ih := min(a.Y1, b.Y1) - max(a.Y0, b.Y0)
	if iw <= 0 || ih <= 0 {
		return 0
	}
	in := iw * ih
	return in / (a.W()*a.H() + b.W()*b.H() - in)
}

func shift(r face.Rect, dx, dy float64) face.Rect {
	return face.Rect{X0: r.X0 + dx, Y0: r.Y0 + dy, X1: r.X1 + dx, Y1: r.Y1 + dy}
}

func contains(r face.Rect, p face.Point) bool {
	return p.X >= r.X0 && p.X < r.X1 && p.Y >= r.Y0 && p.Y < r.Y1
}

// drawDetections writes a copy of img with the detections drawn, for a
// person to look at (used with -detect.draw).
func drawDetections(t testing.TB, m gocv.Mat, dets []face.Detection, path string) {
	c := m.Clone()
	defer c.Close()
	for _, d := range dets {
		r := image.Rect(int(d.Box.X0), int(d.Box.Y0), int(d.Box.X1), int(d.Box.Y1))
		gocv.Rectangle(&c, r, color.RGBA{0, 255, 0, 0}, 2)
		if d.HasKeypoints {
			for k, p := range d.Keypoints {
				col := color.RGBA{255, 0, 0, 0}
				if k == face.RightEye {
					col = color.RGBA{0, 0, 255, 0}
				}
				gocv.Circle(&c, image.Pt(int(p.X), int(p.Y)), 3, col, -1)
			}
		}
	}
	if !gocv.IMWrite(path, c) {
		t.Errorf("cannot write %s", path)
	}
}
