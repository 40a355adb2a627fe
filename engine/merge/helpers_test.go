package merge

import (
	"image"
	"math"
	"testing"

	"facelive/engine/align"
	"facelive/engine/frame"
)

const sentinel = 0xA5

// bgrImage is a tightly packed BGR8 image.
type bgrImage struct {
	w, h int
	pix  []byte
}

func newImage(w, h int) *bgrImage { return &bgrImage{w: w, h: h, pix: make([]byte, w*h*3)} }

func (b *bgrImage) at(x, y int) [3]byte {
	o := (y*b.w + x) * 3
	return [3]byte{b.pix[o], b.pix[o+1], b.pix[o+2]}
}

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

func yuv601(b, g, r float64) (y, u, v float64) {
	y = 16 + 0.256788*r + 0.504129*g + 0.097906*b
	u = 128 - 0.148223*r - 0.290993*g + 0.439216*b
	v = 128 + 0.439216*r - 0.367788*g - 0.071427*b
	return
}

func bgr601(y, u, v float64) [3]byte {
	yy := 1.164383 * (y - 16)
	return [3]byte{round8(yy + 2.017232*(u-128)), round8(yy - 0.391762*(u-128) - 0.812968*(v-128)), round8(yy + 1.596027*(v-128))}
}

// toFrame converts img to format f, pad sentinel bytes after every row of
// every plane; chroma is the block average. The alpha/X byte holds x^y.
func toFrame(img *bgrImage, f frame.Format, pad int) *frame.Frame {
	w, h := img.w, img.h
	fr := &frame.Frame{Format: f, Width: w, Height: h}
	for i := 0; i < f.Planes(); i++ {
		stride := f.RowBytes(i, w) + pad
		buf := make([]byte, stride*f.Rows(i, h))
		for j := range buf {
			buf[j] = sentinel
		}
		fr.Planes[i], fr.Stride[i] = buf, stride
	}
	p0, s0 := fr.Planes[0], fr.Stride[0]
	switch f {
	case frame.BGRA, frame.BGRX, frame.RGBA, frame.BGR24, frame.RGB24:
		bpp := f.BytesPerPixel()
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := img.at(x, y)
				if f == frame.RGBA || f == frame.RGB24 {
					c[0], c[2] = c[2], c[0]
				}
				o := y*s0 + x*bpp
				copy(p0[o:o+3], c[:])
				if bpp == 4 {
					p0[o+3] = byte(x ^ y)
				}
			}
		}
	default:
		bw, bh := 2, 2
		if f == frame.YUY2 {
			bh = 1
		}
		for by := 0; by < h; by += bh {
			for bx := 0; bx < w; bx += bw {
				var su, sv float64
				for dy := 0; dy < bh; dy++ {
					for dx := 0; dx < bw; dx++ {
						c := img.at(bx+dx, by+dy)
						yy, u, v := yuv601(float64(c[0]), float64(c[1]), float64(c[2]))
						su, sv = su+u, sv+v
						if f == frame.YUY2 {
							p0[(by+dy)*s0+2*(bx+dx)] = round8(yy)
						} else {
							p0[(by+dy)*s0+bx+dx] = round8(yy)
						}
					}
				}
				n := float64(bw * bh)
				u, v := round8(su/n), round8(sv/n)
				switch f {
				case frame.NV12:
					o := by/2*fr.Stride[1] + bx
					fr.Planes[1][o], fr.Planes[1][o+1] = u, v
				case frame.I420:
					fr.Planes[1][by/2*fr.Stride[1]+bx/2] = u
					fr.Planes[2][by/2*fr.Stride[2]+bx/2] = v
				case frame.YUY2:
					p0[by*s0+2*bx+1] = u
					p0[by*s0+2*bx+3] = v
				}
			}
		}
	}
	return fr
}

// readBGR returns pixel (x, y) of fr as BGR (YUV: with its block's chroma).
func readBGR(fr *frame.Frame, x, y int) [3]byte {
	p0, s0 := fr.Planes[0], fr.Stride[0]
	switch fr.Format {
	case frame.BGRA, frame.BGRX, frame.BGR24:
		o := y*s0 + x*fr.Format.BytesPerPixel()
		return [3]byte{p0[o], p0[o+1], p0[o+2]}
	case frame.RGBA, frame.RGB24:
		o := y*s0 + x*fr.Format.BytesPerPixel()
		return [3]byte{p0[o+2], p0[o+1], p0[o]}
	case frame.NV12:
		o := y/2*fr.Stride[1] + x&^1
		return bgr601(float64(p0[y*s0+x]), float64(fr.Planes[1][o]), float64(fr.Planes[1][o+1]))
	case frame.I420:
		return bgr601(float64(p0[y*s0+x]), float64(fr.Planes[1][y/2*fr.Stride[1]+x/2]), float64(fr.Planes[2][y/2*fr.Stride[2]+x/2]))
	case frame.YUY2:
		o := y*s0 + 2*(x&^1)
		return bgr601(float64(p0[y*s0+2*x]), float64(p0[o+1]), float64(p0[o+3]))
	}
	panic("format")
}

func cloneFrame(f *frame.Frame) *frame.Frame {
	c := *f
	for i := 0; i < f.Format.Planes(); i++ {
		c.Planes[i] = append([]byte(nil), f.Planes[i]...)
	}
	return &c
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
				if after.Planes[pl][i] != sentinel {
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
