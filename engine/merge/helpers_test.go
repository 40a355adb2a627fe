package merge

import (
	"image"
	"math"
	"testing"

	"facelive/engine/align"
	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
)

// bgrImage is a tightly packed BGR8 image; frametest.FromBGR turns it
// into frames of every format.
type bgrImage struct {
	w, h int
	pix  []byte
}

func newImage(w, h int) *bgrImage { return &bgrImage{w: w, h: h, pix: make([]byte, w*h*3)} }

func (b *bgrImage) set(x, y int, c [3]byte) {
	o := (y*b.w + x) * 3
	b.pix[o], b.pix[o+1], b.pix[o+2] = c[0], c[1], c[2]
}

func round8(v float64) byte { return byte(math.Max(0, math.Min(255, math.Round(v)))) }

// texture is a deterministic mid-range texture: no channel saturates, so
// YUV round trips do not clip.
func texture(w, h int) *bgrImage {
	img := newImage(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			n := float64((x*7919+y*104729)%97) - 48 // pseudo-noise ±48
			fx, fy := float64(x), float64(y)
			img.set(x, y, [3]byte{
				round8(120 + 40*math.Sin(fx/13) + 0.4*n),
				round8(110 + 35*math.Cos(fy/17) + 0.3*n),
				round8(130 + 30*math.Sin((fx+fy)/29) + 0.4*n),
			})
		}
	}
	return img
}

// roiByte reports whether byte i of plane pl (stride st) belongs to a pixel
// of roi, i.e. may legitimately change.
func roiByte(f frame.Format, pl, st, i int, roi image.Rectangle) bool {
	y, xb := i/st, i%st
	switch f {
	case frame.NV12:
		if pl == 1 {
			return y >= roi.Min.Y/2 && y < roi.Max.Y/2 && xb >= roi.Min.X && xb < roi.Max.X
		}
		return y >= roi.Min.Y && y < roi.Max.Y && xb >= roi.Min.X && xb < roi.Max.X
	case frame.I420:
		if pl > 0 {
			return y >= roi.Min.Y/2 && y < roi.Max.Y/2 && xb >= roi.Min.X/2 && xb < roi.Max.X/2
		}
		return y >= roi.Min.Y && y < roi.Max.Y && xb >= roi.Min.X && xb < roi.Max.X
	}
	bpp := f.BytesPerPixel()
	return y >= roi.Min.Y && y < roi.Max.Y && xb >= roi.Min.X*bpp && xb < roi.Max.X*bpp
}

// checkOutside fails t if any byte outside roi differs between a and b, or
// any row padding lost the sentinel.
func checkOutside(t *testing.T, before, after *frame.Frame, roi image.Rectangle) {
	t.Helper()
	f := before.Format
	for pl := 0; pl < f.Planes(); pl++ {
		st, row := before.Stride[pl], f.RowBytes(pl, before.Width)
		for i := range before.Planes[pl] {
			if i%st >= row {
				if after.Planes[pl][i] != frametest.Sentinel {
					t.Fatalf("plane %d padding byte %d (row %d) = %#x, want sentinel", pl, i, i/st, after.Planes[pl][i])
				}
				continue
			}
			if !roiByte(f, pl, st, i, roi) && before.Planes[pl][i] != after.Planes[pl][i] {
				t.Fatalf("plane %d byte %d (row %d, col byte %d) outside ROI %v changed %d → %d", pl, i, i/st, i%st, roi, before.Planes[pl][i], after.Planes[pl][i])
			}
		}
	}
}

// faceTransform maps a crop square of side frame pixels centred at (cx, cy),
// rotated by deg, onto an s×s face.
func faceTransform(t testing.TB, deg, side, cx, cy float64, s int) align.Transform {
	t.Helper()
	a := deg * math.Pi / 180
	k := float64(s) / side
	c, n := math.Cos(a)*k, math.Sin(a)*k
	h := (float64(s) - 1) / 2
	// face = k R(-a) (p - c) + h
	m := [6]float64{c, n, -(c*cx + n*cy) + h, -n, c, -(-n*cx + c*cy) + h}
	tr, err := align.NewTransform(m, s)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func solidFace(s int, c [3]byte) []byte {
	b := make([]byte, 3*s*s)
	for i := 0; i < len(b); i += 3 {
		b[i], b[i+1], b[i+2] = c[0], c[1], c[2]
	}
	return b
}

func discMask(s int, radius float64) []float32 {
	m := make([]float32, s*s)
	h := (float64(s) - 1) / 2
	for v := 0; v < s; v++ {
		for u := 0; u < s; u++ {
			if math.Hypot(float64(u)-h, float64(v)-h) <= radius {
				m[v*s+u] = 1
			}
		}
	}
	return m
}

func near(a, b [3]byte, tol int) bool {
	for c := range 3 {
		if d := int(a[c]) - int(b[c]); d > tol || d < -tol {
			return false
		}
	}
	return true
}
