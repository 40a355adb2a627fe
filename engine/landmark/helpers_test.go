package landmark

import (
	"facelive/internal/assets/assetstest"
	"image"
	"math"
	"os"
	"sync"
	"testing"

	"gocv.io/x/gocv"

	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
)

// The assets make deps fetches (see internal/assets/assetstest).
var (
	repoRoot   = assetstest.RepoRoot
	thirdParty = assetstest.Dir
	asset      = assetstest.Path
)

// modelPath is the dlib model (Debian libdlib-data), or FACELIVE_DLIB_MODEL.
func modelPath(t testing.TB) string {
	t.Helper()
	p := DefaultModelPath
	if e := os.Getenv("FACELIVE_DLIB_MODEL"); e != "" {
		p = e
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("dlib model %s is missing (Debian package libdlib-data): run make deps (%v)", p, err)
	}
	return p
}

const haarPath = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"

var (
	sharedOnce sync.Once
	sharedDlib *Dlib
	sharedErr  error
)

// testDlib loads the model once for all tests.
func testDlib(t testing.TB) *Dlib {
	t.Helper()
	path := modelPath(t)
	sharedOnce.Do(func() { sharedDlib, sharedErr = NewDlib(path) })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedDlib
}

// readBGR reads an image file as a BGR Mat.
func readBGR(t testing.TB, path string) gocv.Mat {
	t.Helper()
	m := gocv.IMRead(path, gocv.IMReadColor)
	if m.Empty() {
		t.Fatalf("cannot decode %s", path)
	}
	return m
}

// haarFaces detects faces with OpenCV's Haar cascade, largest first.
func haarFaces(t testing.TB, bgr gocv.Mat, minSize int) []face.Rect {
	t.Helper()
	if _, err := os.Stat(haarPath); err != nil {
		t.Fatalf("Haar cascade %s is missing (Debian package opencv-data): run make deps", haarPath)
	}
	cc := gocv.NewCascadeClassifier()
	defer cc.Close()
	if !cc.Load(haarPath) {
		t.Fatalf("cannot load %s", haarPath)
	}
	grey := gocv.NewMat()
	defer grey.Close()
	gocv.CvtColor(bgr, &grey, gocv.ColorBGRToGray)
	rs := cc.DetectMultiScaleWithParams(grey, 1.1, 5, 0, image.Pt(minSize, minSize), image.Pt(0, 0))
	out := make([]face.Rect, 0, len(rs))
	for _, r := range rs {
		out = append(out, face.Rect{X0: float64(r.Min.X), Y0: float64(r.Min.Y), X1: float64(r.Max.X), Y1: float64(r.Max.Y)})
	}
	for i := 1; i < len(out); i++ { // insertion sort by area, largest first
		for j := i; j > 0 && out[j].W()*out[j].H() > out[j-1].W()*out[j-1].H(); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// toFrame converts a BGR Mat into a frame of format f with pad bytes after
// each row of every plane (YUV: even size, the odd last row or column cut).
// It is frametest.FromBGR but for YUV, which is full-range BT.601 (JPEG's)
// here, not limited range: its Y is then OpenCV's BGR→grey (luma), the grey
// image Fit sees in packed formats, so every format shows dlib the same
// pixels and must give the same landmarks.
func toFrame(t testing.TB, bgr gocv.Mat, f frame.Format, pad int) *frame.Frame {
	t.Helper()
	w, h := bgr.Cols(), bgr.Rows()
	if f.IsYUV() {
		w, h = w&^1, h&^1
	}
	src, err := bgr.DataPtrUint8()
	if err != nil {
		t.Fatal(err)
	}
	step := bgr.Step()
	pix := make([]byte, 0, 3*w*h)
	for y := 0; y < h; y++ {
		pix = append(pix, src[y*step:y*step+3*w]...)
	}
	fr := frametest.FromBGR(pix, w, h, f, pad)
	if f.IsYUV() {
		fullRangeYUV(fr, pix)
	}
	if err := fr.Validate(); err != nil {
		t.Fatal(err)
	}
	return fr
}

// fullRangeYUV overwrites the Y and chroma samples of fr, made from the
// packed BGR image pix, with full-range BT.601; chroma is the block's mean.
func fullRangeYUV(fr *frame.Frame, pix []byte) {
	f, w, h := fr.Format, fr.Width, fr.Height
	at := func(x, y int) (r, g, b int) {
		o := 3 * (y*w + x)
		return int(pix[o+2]), int(pix[o+1]), int(pix[o])
	}
	yOf := func(r, g, b int) byte { return luma(byte(r), byte(g), byte(b)) }
	clip := func(v float64) byte { return byte(min(255, max(0, v+0.5))) }
	uOf := func(r, g, b float64) byte { return clip(128 - 0.168736*r - 0.331264*g + 0.5*b) }
	vOf := func(r, g, b float64) byte { return clip(128 + 0.5*r - 0.418688*g - 0.081312*b) }
	// mean RGB of the pixels (x..x+dx-1, y..y+dy-1)
	avg := func(x, y, dx, dy int) (float64, float64, float64) {
		var sr, sg, sb int
		for j := 0; j < dy; j++ {
			for i := 0; i < dx; i++ {
				r, g, b := at(x+i, y+j)
				sr, sg, sb = sr+r, sg+g, sb+b
			}
		}
		n := float64(dx * dy)
		return float64(sr) / n, float64(sg) / n, float64(sb) / n
	}
	p0, s0 := fr.Planes[0], fr.Stride[0]
	switch f {
	case frame.NV12, frame.I420:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				p0[y*s0+x] = yOf(at(x, y))
			}
		}
		for y := 0; y < h/2; y++ {
			for x := 0; x < w/2; x++ {
				r, g, b := avg(2*x, 2*y, 2, 2)
				if f == frame.NV12 {
					o := y*fr.Stride[1] + 2*x
					fr.Planes[1][o], fr.Planes[1][o+1] = uOf(r, g, b), vOf(r, g, b)
				} else {
					fr.Planes[1][y*fr.Stride[1]+x] = uOf(r, g, b)
					fr.Planes[2][y*fr.Stride[2]+x] = vOf(r, g, b)
				}
			}
		}
	case frame.YUY2:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x += 2 {
				o := y*s0 + 2*x
				r, g, b := avg(x, y, 2, 1)
				p0[o] = yOf(at(x, y))
				p0[o+1] = uOf(r, g, b)
				p0[o+2] = yOf(at(x+1, y))
				p0[o+3] = vOf(r, g, b)
			}
		}
	}
}

// meanDist is the mean distance between corresponding points.
func meanDist(a, b *face.Landmarks) float64 {
	var s float64
	for i := range a {
		s += dist(a[i], b[i])
	}
	return s / float64(len(a))
}

func dist(a, b face.Point) float64 {
	dx, dy := a.X-b.X, a.Y-b.Y
	return math.Sqrt(dx*dx + dy*dy)
}

func centroid(l *face.Landmarks, from, to int) face.Point {
	var c face.Point
	for i := from; i <= to; i++ {
		c.X += l[i].X
		c.Y += l[i].Y
	}
	n := float64(to - from + 1)
	return face.Point{X: c.X / n, Y: c.Y / n}
}
