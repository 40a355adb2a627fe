package detect

import (
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"

	"facelive/engine/face"
	"facelive/engine/frame"
)

// thirdParty returns the directory `make deps` fills: $FACELIVE_THIRD_PARTY,
// or third_party/ in the repository root (found by walking up to go.mod).
func thirdParty(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("FACELIVE_THIRD_PARTY"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if isFile(filepath.Join(dir, "go.mod")) {
			return filepath.Join(dir, "third_party")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// asset returns third_party/<rel>, failing the test when it is missing.
func asset(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(thirdParty(t), rel)
	if !isFile(p) {
		t.Fatalf("%s is missing: run make deps", p)
	}
	return p
}

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
		Log:         func(level int, msg string) { t.Logf("log %d: %s", level, msg) },
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

func (b *bgrImage) at(x, y int) (r, g, bl int) {
	i := (y*b.w + x) * 3
	return int(b.pix[i+2]), int(b.pix[i+1]), int(b.pix[i])
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

// toFrame converts a BGR image into a frame of the given format, with every
// plane's stride padded by pad bytes filled with junk (which a correct
// reader never looks at). YUV uses BT.601 limited range, as webcams do;
// chroma is the average of each 2×2 (NV12, I420) or 2×1 (YUY2) block.
func toFrame(img *bgrImage, f frame.Format, pad int) *frame.Frame {
	fr := &frame.Frame{Format: f, Width: img.w, Height: img.h}
	for p := 0; p < f.Planes(); p++ {
		fr.Stride[p] = f.RowBytes(p, img.w) + pad
		fr.Planes[p] = make([]byte, frame.PlaneLen(f, p, img.w, img.h, fr.Stride[p]))
		for i := range fr.Planes[p] {
			fr.Planes[p][i] = 0xA5
		}
	}
	yOf := func(r, g, b int) byte { return clamp8(16 + 0.257*float64(r) + 0.504*float64(g) + 0.098*float64(b)) }
	uOf := func(r, g, b float64) byte { return clamp8(128 - 0.148*r - 0.291*g + 0.439*b) }
	vOf := func(r, g, b float64) byte { return clamp8(128 + 0.439*r - 0.368*g - 0.071*b) }
	// avg returns the mean R, G, B of the block at (x, y) of size bw×bh.
	avg := func(x, y, bw, bh int) (float64, float64, float64) {
		var sr, sg, sb, n float64
		for yy := y; yy < min(y+bh, img.h); yy++ {
			for xx := x; xx < min(x+bw, img.w); xx++ {
				r, g, b := img.at(xx, yy)
				sr, sg, sb, n = sr+float64(r), sg+float64(g), sb+float64(b), n+1
			}
		}
		return sr / n, sg / n, sb / n
	}
	p0, s0 := fr.Planes[0], fr.Stride[0]
	switch f {
	case frame.BGRA, frame.RGBA, frame.BGRX, frame.BGR24, frame.RGB24:
		bpp := f.BytesPerPixel()
		ro, gro, bo := channelOffsets(f)
		for y := 0; y < img.h; y++ {
			for x := 0; x < img.w; x++ {
				r, g, b := img.at(x, y)
				q := p0[y*s0+x*bpp:]
				q[ro], q[gro], q[bo] = byte(r), byte(g), byte(b)
				if bpp == 4 {
					q[3] = 255
					if f == frame.BGRX {
						q[3] = 0x3C // X: undefined, never read
					}
				}
			}
		}
	case frame.NV12, frame.I420:
		for y := 0; y < img.h; y++ {
			for x := 0; x < img.w; x++ {
				r, g, b := img.at(x, y)
				p0[y*s0+x] = yOf(r, g, b)
			}
		}
		for y := 0; y < img.h/2; y++ {
			for x := 0; x < img.w/2; x++ {
				r, g, b := avg(2*x, 2*y, 2, 2)
				if f == frame.NV12 {
					fr.Planes[1][y*fr.Stride[1]+2*x] = uOf(r, g, b)
					fr.Planes[1][y*fr.Stride[1]+2*x+1] = vOf(r, g, b)
				} else {
					fr.Planes[1][y*fr.Stride[1]+x] = uOf(r, g, b)
					fr.Planes[2][y*fr.Stride[2]+x] = vOf(r, g, b)
				}
			}
		}
	case frame.YUY2:
		for y := 0; y < img.h; y++ {
			for x := 0; x < img.w; x += 2 {
				q := p0[y*s0+x*2:]
				r0, g0, b0 := img.at(x, y)
				r1, g1, b1 := img.at(x+1, y)
				r, g, b := avg(x, y, 2, 1)
				q[0], q[1], q[2], q[3] = yOf(r0, g0, b0), uOf(r, g, b), yOf(r1, g1, b1), vOf(r, g, b)
			}
		}
	}
	return fr
}

func clamp8(v float64) byte { return byte(min(max(math.Round(v), 0), 255)) }

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
