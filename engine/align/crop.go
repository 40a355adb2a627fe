package align

import (
	"fmt"
	"math"

	"facelive/engine/frame"
)

// Crop samples the aligned face out of f into dst, an S×S BGR8 image (S =
// t.Size, row stride 3·S, at least S·S·3 bytes), reading the frame's planes
// directly whatever its format. It allocates nothing.
//
// Sampling is bilinear with 1/256-pixel weights. Samples outside the frame
// are edge-clamped (OpenCV's BORDER_REPLICATE): the crop of a face at the
// frame border repeats the border pixels instead of showing black, which
// models tolerate better.
//
// YUV frames are converted only at the sampled points, with the frame's
// matrix and range (frame.Color; the zero value is BT.601 limited range,
// Y 16–235, Cb/Cr 16–240, what webcams deliver; OBS's default is BT.709
// limited, and cameras may send full range). Chroma is sited at the centre of its 2×2 block (2×1 for
// YUY2) and interpolated bilinearly on the chroma plane; luma and chroma are
// interpolated first and converted once, which equals converting the four
// neighbours and interpolating except for clamping.
func Crop(f *frame.Frame, t Transform, dst []byte) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s := t.Size
	if s < 1 || s > MaxSize {
		return fmt.Errorf("align: transform size %d out of range 1..%d", s, MaxSize)
	}
	if len(dst) < s*s*3 {
		return fmt.Errorf("align: crop buffer holds %d bytes, a %d×%d BGR crop needs %d", len(dst), s, s, s*s*3)
	}
	switch f.Format {
	case frame.BGRA, frame.BGRX:
		cropPacked(f, &t, dst, 4, 0, 1, 2)
	case frame.RGBA:
		cropPacked(f, &t, dst, 4, 2, 1, 0)
	case frame.BGR24:
		cropPacked(f, &t, dst, 3, 0, 1, 2)
	case frame.RGB24:
		cropPacked(f, &t, dst, 3, 2, 1, 0)
	case frame.NV12, frame.I420:
		cropYUV420(f, &t, dst)
	case frame.YUY2:
		cropYUY2(f, &t, dst)
	default:
		return fmt.Errorf("%w: %s", frame.ErrFormat, f.Format)
	}
	return nil
}

// tap holds the two integer taps and the 8-bit weight of one bilinear
// sample along an axis, clamped to the axis.
type tap struct {
	i0, i1 int
	w      int32 // weight of i1, 0..256
}

// axis returns the taps of coordinate c on an axis of n pixels (edge clamped).
func axis(c float64, n int) tap {
	i := int(c)
	if c < float64(i) { // floor for negatives
		i--
	}
	w := int32((c-float64(i))*256 + 0.5)
	if w == 256 {
		i, w = i+1, 0
	}
	i0, i1 := i, i+1
	if i0 < 0 || i0 >= n {
		i0 = min(max(i0, 0), n-1)
		i1, w = i0, 0
	} else if i1 >= n {
		i1 = n - 1
	}
	return tap{i0, i1, w}
}

// bil blends p[o00], p[o01] (top) and p[o10], p[o11] (bottom); the result is
// scaled by 65536.
func bil(p []byte, o00, o01, o10, o11 int, wx, wy int32) int32 {
	top := int32(p[o00])*(256-wx) + int32(p[o01])*wx
	bot := int32(p[o10])*(256-wx) + int32(p[o11])*wx
	return top*(256-wy) + bot*wy
}

// fixed converts a coordinate to 16.16 fixed point.
func fixed(c float64) int64 { return int64(math.Round(c * 65536)) }

// row describes one face-space row as frame coordinates: start point and
// step per face pixel, and whether every sample of the row lies safely
// inside the frame (margin frame pixels from every edge), so that the
// fixed-point path needs no clamping.
type row struct {
	x, y, dx, dy float64
	inside       bool
}

func rowAt(t *Transform, v int, w, h int, margin float64) row {
	m := &t.Inv
	r := row{x: m[1]*float64(v) + m[2], y: m[4]*float64(v) + m[5], dx: m[0], dy: m[3]}
	n := float64(t.Size - 1)
	ex, ey := r.x+n*r.dx, r.y+n*r.dy
	lo, hx, hy := margin, float64(w-1)-margin, float64(h-1)-margin
	r.inside = r.x >= lo && ex >= lo && r.y >= lo && ey >= lo && r.x <= hx && ex <= hx && r.y <= hy && ey <= hy
	return r
}

// split returns the integer part and the 8-bit weight of a 16.16 value.
func split(c int64) (int, int32) {
	c = (c + 128) >> 8
	return int(c >> 8), int32(c & 255)
}

// margin keeps fixed-point drift (≤ S·2⁻¹⁶ px) and rounding off the edges.
const margin = 0.02

func cropPacked(f *frame.Frame, t *Transform, dst []byte, bpp, ob, og, or int) {
	s := t.Size
	p, stride := f.Planes[0], f.Stride[0]
	o := 0
	for v := 0; v < s; v++ {
		r := rowAt(t, v, f.Width, f.Height, margin)
		if r.inside {
			x, y, dx, dy := fixed(r.x), fixed(r.y), fixed(r.dx), fixed(r.dy)
			for u := 0; u < s; u++ {
				xi, wx := split(x)
				yi, wy := split(y)
				o0 := yi*stride + xi*bpp
				o1 := o0 + stride
				dst[o+0] = byte((bil(p, o0+ob, o0+bpp+ob, o1+ob, o1+bpp+ob, wx, wy) + 32768) >> 16)
				dst[o+1] = byte((bil(p, o0+og, o0+bpp+og, o1+og, o1+bpp+og, wx, wy) + 32768) >> 16)
				dst[o+2] = byte((bil(p, o0+or, o0+bpp+or, o1+or, o1+bpp+or, wx, wy) + 32768) >> 16)
				o += 3
				x += dx
				y += dy
			}
			continue
		}
		x, y := r.x, r.y
		for u := 0; u < s; u++ {
			tx, ty := axis(x, f.Width), axis(y, f.Height)
			r0, r1 := ty.i0*stride, ty.i1*stride
			c0, c1 := tx.i0*bpp, tx.i1*bpp
			dst[o+0] = byte((bil(p, r0+c0+ob, r0+c1+ob, r1+c0+ob, r1+c1+ob, tx.w, ty.w) + 32768) >> 16)
			dst[o+1] = byte((bil(p, r0+c0+og, r0+c1+og, r1+c0+og, r1+c1+og, tx.w, ty.w) + 32768) >> 16)
			dst[o+2] = byte((bil(p, r0+c0+or, r0+c1+or, r1+c0+or, r1+c1+or, tx.w, ty.w) + 32768) >> 16)
			o += 3
			x += r.dx
			y += r.dy
		}
	}
}

// ycc is a frame's YCbCr → RGB conversion (frame.Color) for Y, Cb, Cr
// scaled by 65536; made once per crop.
type ycc struct {
	y0, y, rv, gu, gv, bu float32
}

func yccFor(c frame.Color) ycc {
	k := c.ToRGB()
	return ycc{y0: float32(k.Y0 * 65536), y: float32(k.Y / 65536), rv: float32(k.RV / 65536),
		gu: float32(k.GU / 65536), gv: float32(k.GV / 65536), bu: float32(k.BU / 65536)}
}

const c128 = 128 * 65536

// rgb converts one Y, Cb, Cr sample (each ×65536) to B, G, R (unclamped);
// small enough to be inlined in the crop loops (a putBGR storing the bytes
// too was not, and cost the crop ~15 %).
func (k *ycc) rgb(y, cb, cr int32) (b, g, r float32) {
	yy := (float32(y) - k.y0) * k.y
	u := float32(cb - c128)
	v := float32(cr - c128)
	return yy + k.bu*u, yy - k.gu*u - k.gv*v, yy + k.rv*v
}

func clamp8(v float32) byte {
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return byte(v + 0.5)
}

// Chroma sample j sits at luma coordinate 2j+0.5: c = x/2 - 0.25. The fast
// path keeps luma samples one pixel inside so chroma needs no clamping
// either.
func cropYUV420(f *frame.Frame, t *Transform, dst []byte) {
	k := yccFor(f.Color)
	s := t.Size
	yp, ys := f.Planes[0], f.Stride[0]
	cw, ch := f.Width/2, f.Height/2
	nv12 := f.Format == frame.NV12
	up, us := f.Planes[1], f.Stride[1]
	vp, vs := f.Planes[2], f.Stride[2]
	o := 0
	for v := 0; v < s; v++ {
		r := rowAt(t, v, f.Width, f.Height, 1)
		if r.inside {
			x, y, dx, dy := fixed(r.x), fixed(r.y), fixed(r.dx), fixed(r.dy)
			cx, cy := fixed(r.x*0.5-0.25), fixed(r.y*0.5-0.25)
			cdx, cdy := fixed(r.dx*0.5), fixed(r.dy*0.5)
			for u := 0; u < s; u++ {
				xi, wx := split(x)
				yi, wy := split(y)
				o0 := yi*ys + xi
				lum := bil(yp, o0, o0+1, o0+ys, o0+ys+1, wx, wy)
				ci, wcx := split(cx)
				cj, wcy := split(cy)
				var cb, cr int32
				if nv12 {
					q := cj*us + 2*ci
					cb = bil(up, q, q+2, q+us, q+us+2, wcx, wcy)
					cr = bil(up, q+1, q+3, q+us+1, q+us+3, wcx, wcy)
				} else {
					q := cj*us + ci
					cb = bil(up, q, q+1, q+us, q+us+1, wcx, wcy)
					q = cj*vs + ci
					cr = bil(vp, q, q+1, q+vs, q+vs+1, wcx, wcy)
				}
				cB, cG, cR := k.rgb(lum, cb, cr)
				dst[o], dst[o+1], dst[o+2] = clamp8(cB), clamp8(cG), clamp8(cR)
				o += 3
				x, y, cx, cy = x+dx, y+dy, cx+cdx, cy+cdy
			}
			continue
		}
		x, y := r.x, r.y
		for u := 0; u < s; u++ {
			tx, ty := axis(x, f.Width), axis(y, f.Height)
			r0, r1 := ty.i0*ys, ty.i1*ys
			lum := bil(yp, r0+tx.i0, r0+tx.i1, r1+tx.i0, r1+tx.i1, tx.w, ty.w)
			cx, cy := axis(x*0.5-0.25, cw), axis(y*0.5-0.25, ch)
			var cb, cr int32
			if nv12 {
				q0, q1 := cy.i0*us, cy.i1*us
				a0, a1 := 2*cx.i0, 2*cx.i1
				cb = bil(up, q0+a0, q0+a1, q1+a0, q1+a1, cx.w, cy.w)
				cr = bil(up, q0+a0+1, q0+a1+1, q1+a0+1, q1+a1+1, cx.w, cy.w)
			} else {
				q0, q1 := cy.i0*us, cy.i1*us
				cb = bil(up, q0+cx.i0, q0+cx.i1, q1+cx.i0, q1+cx.i1, cx.w, cy.w)
				q0, q1 = cy.i0*vs, cy.i1*vs
				cr = bil(vp, q0+cx.i0, q0+cx.i1, q1+cx.i0, q1+cx.i1, cx.w, cy.w)
			}
			cB, cG, cR := k.rgb(lum, cb, cr)
			dst[o], dst[o+1], dst[o+2] = clamp8(cB), clamp8(cG), clamp8(cR)
			o += 3
			x += r.dx
			y += r.dy
		}
	}
}

// YUY2: Y0 Cb Y1 Cr per pixel pair; chroma pair j sits at luma x 2j+0.5 on
// every row.
func cropYUY2(f *frame.Frame, t *Transform, dst []byte) {
	k := yccFor(f.Color)
	s := t.Size
	p, stride := f.Planes[0], f.Stride[0]
	cw := f.Width / 2
	o := 0
	for v := 0; v < s; v++ {
		r := rowAt(t, v, f.Width, f.Height, 1)
		if r.inside {
			x, y, dx, dy := fixed(r.x), fixed(r.y), fixed(r.dx), fixed(r.dy)
			cx, cdx := fixed(r.x*0.5-0.25), fixed(r.dx*0.5)
			for u := 0; u < s; u++ {
				xi, wx := split(x)
				yi, wy := split(y)
				o0 := yi*stride + 2*xi
				lum := bil(p, o0, o0+2, o0+stride, o0+stride+2, wx, wy)
				ci, wcx := split(cx)
				q := yi*stride + 4*ci + 1
				cb := bil(p, q, q+4, q+stride, q+stride+4, wcx, wy)
				cr := bil(p, q+2, q+6, q+stride+2, q+stride+6, wcx, wy)
				cB, cG, cR := k.rgb(lum, cb, cr)
				dst[o], dst[o+1], dst[o+2] = clamp8(cB), clamp8(cG), clamp8(cR)
				o += 3
				x, y, cx = x+dx, y+dy, cx+cdx
			}
			continue
		}
		x, y := r.x, r.y
		for u := 0; u < s; u++ {
			tx, ty := axis(x, f.Width), axis(y, f.Height)
			r0, r1 := ty.i0*stride, ty.i1*stride
			lum := bil(p, r0+2*tx.i0, r0+2*tx.i1, r1+2*tx.i0, r1+2*tx.i1, tx.w, ty.w)
			cx := axis(x*0.5-0.25, cw)
			a0, a1 := 4*cx.i0+1, 4*cx.i1+1
			cb := bil(p, r0+a0, r0+a1, r1+a0, r1+a1, cx.w, ty.w)
			cr := bil(p, r0+a0+2, r0+a1+2, r1+a0+2, r1+a1+2, cx.w, ty.w)
			cB, cG, cR := k.rgb(lum, cb, cr)
			dst[o], dst[o+1], dst[o+2] = clamp8(cB), clamp8(cG), clamp8(cR)
			o += 3
			x += r.dx
			y += r.dy
		}
	}
}
