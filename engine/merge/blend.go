package merge

import (
	"image"
	"math"

	"facelive/engine/frame"
)

// paster blends one prepared face into one frame. Sampling runs in fixed
// point: positions 16.16, bilinear weights 8 bits, blend weights 12 bits
// (0..4096), colours 8.8.
type paster struct {
	s    int
	amax int64      // (S-1) in 16.16
	a    []uint16   // mask × opacity × 4096, S·S
	face []byte     // BGR8, S·S·3
	m    [6]float64 // frame → face space
	roi  image.Rectangle
	// Face-space window where the mask can be nonzero (mask box grown by
	// the bilinear footprint), clipped to [0, S-1].
	ulo, uhi, vlo, vhi float64
}

// aMin (of 4096): below 1/512 a blend cannot change an 8-bit value.
const aMin = 8

func fixed(c float64) int64 { return int64(math.Round(c * 65536)) }

// span returns the frame pixels [xa, xb) of row y whose face-space position
// lies in the mask window, clipped to the ROI.
func (p *paster) span(y int) (int, int) {
	fy := float64(y)
	lo, hi := float64(p.roi.Min.X), float64(p.roi.Max.X-1)
	lo, hi = clip1(p.m[0], p.m[1]*fy+p.m[2], p.ulo, p.uhi, lo, hi)
	lo, hi = clip1(p.m[3], p.m[4]*fy+p.m[5], p.vlo, p.vhi, lo, hi)
	if !(lo <= hi) {
		return 0, 0
	}
	return int(math.Ceil(lo)), int(math.Floor(hi)) + 1
}

// clip1 narrows [lo, hi] to the x with a·x + c in [wlo, whi].
func clip1(a, c, wlo, whi, lo, hi float64) (float64, float64) {
	if math.Abs(a) < 1e-12 {
		if c < wlo || c > whi {
			return 1, 0
		}
		return lo, hi
	}
	x0, x1 := (wlo-c)/a, (whi-c)/a
	if x0 > x1 {
		x0, x1 = x1, x0
	}
	// Widen by a hair: sampling clamps, and an extra pixel with a = 0 is a
	// no-op.
	return max(lo, x0-1e-6), min(hi, x1+1e-6)
}

// start returns the 16.16 face position of frame pixel (x, y) and the step
// per frame pixel along x.
func (p *paster) start(x, y int) (u, v, du, dv int64) {
	fx, fy := float64(x), float64(y)
	return fixed(p.m[0]*fx + p.m[1]*fy + p.m[2]), fixed(p.m[3]*fx + p.m[4]*fy + p.m[5]), fixed(p.m[0]), fixed(p.m[3])
}

// sample returns the blend weight (0..4096) and the face colour (8.8) at
// face position (u, v) in 16.16; ok is false, and nothing else computed,
// when the weight is below aMin.
func (p *paster) sample(u, v int64) (a, b, g, r int, ok bool) {
	u = min(max(u, 0), p.amax)
	v = min(max(v, 0), p.amax)
	s := p.s
	i, j := int(u>>16), int(v>>16)
	wx, wy := int(u>>8)&255, int(v>>8)&255
	i1, j1 := min(i+1, s-1), min(j+1, s-1)
	o00, o01, o10, o11 := j*s+i, j*s+i1, j1*s+i, j1*s+i1
	m := p.a
	top := int(m[o00])*(256-wx) + int(m[o01])*wx
	bot := int(m[o10])*(256-wx) + int(m[o11])*wx
	a = (top*(256-wy) + bot*wy + 32768) >> 16
	if a < aMin {
		return 0, 0, 0, 0, false
	}
	f := p.face
	o00, o01, o10, o11 = 3*o00, 3*o01, 3*o10, 3*o11
	w00, w01, w10, w11 := (256-wx)*(256-wy), wx*(256-wy), (256-wx)*wy, wx*wy
	b = (int(f[o00])*w00 + int(f[o01])*w01 + int(f[o10])*w10 + int(f[o11])*w11 + 128) >> 8
	g = (int(f[o00+1])*w00 + int(f[o01+1])*w01 + int(f[o10+1])*w10 + int(f[o11+1])*w11 + 128) >> 8
	r = (int(f[o00+2])*w00 + int(f[o01+2])*w01 + int(f[o10+2])*w10 + int(f[o11+2])*w11 + 128) >> 8
	return a, b, g, r, true
}

// mix blends dst toward src (8.8) by a/4096.
func mix(dst byte, src, a int) byte {
	d := int(dst) << 8
	return byte((d + ((src-d)*a+2048)>>12 + 128) >> 8)
}

func (p *paster) packed(f *frame.Frame, bpp, ob, og, or int) {
	pl, stride := f.Planes[0], f.Stride[0]
	for y := p.roi.Min.Y; y < p.roi.Max.Y; y++ {
		xa, xb := p.span(y)
		if xa >= xb {
			continue
		}
		u, v, du, dv := p.start(xa, y)
		px := pl[y*stride+xa*bpp : y*stride+xb*bpp]
		for o := 0; o < len(px); o += bpp {
			if a, b, g, r, ok := p.sample(u, v); ok {
				px[o+ob] = mix(px[o+ob], b, a)
				px[o+og] = mix(px[o+og], g, a)
				px[o+or] = mix(px[o+or], r, a)
			}
			u += du
			v += dv
		}
	}
}

// BT.601 limited range, RGB → YCbCr, on 8.8 inputs giving 8.8 outputs
// (coefficients ×65536).
func yuv(b, g, r int) (y, cb, cr int) {
	y = 16<<8 + (16829*r+33039*g+6416*b+32768)>>16
	cb = 128<<8 + (-9714*r-19070*g+28784*b+32768)>>16
	cr = 128<<8 + (28784*r-24103*g-4681*b+32768)>>16
	return
}

// px4 accumulates the blend of up to four pixels sharing one chroma sample.
type px4 struct {
	a        [4]int // 0..4096
	y        [4]int // face luma, 8.8
	sa       int    // Σa
	scb, scr int    // Σ a·Cb, Σ a·Cr of the face (8.8 × 4096)
}

func (q *px4) add(k int, p *paster, u, v int64) {
	a, b, g, r, ok := p.sample(u, v)
	if !ok {
		q.a[k] = 0
		return
	}
	y, cb, cr := yuv(b, g, r)
	q.a[k], q.y[k] = a, y
	q.sa += a
	q.scb += a * cb
	q.scr += a * cr
}

// chroma blends one chroma sample shared by n pixels (n = 2 or 4):
// c·(1 − Σa/n) + Σ(a·face)/n.
func (q *px4) chroma(c byte, sc int, n int) byte {
	d := int(c) << 8
	v := (d*(4096*n-q.sa) + sc + 2048*n) / (4096 * n) // 8.8
	return byte(min(max((v+128)>>8, 0), 255))
}

func (p *paster) yuv420(f *frame.Frame) {
	yp, ys := f.Planes[0], f.Stride[0]
	nv12 := f.Format == frame.NV12
	cp, cs := f.Planes[1], f.Stride[1]
	vp, vs := f.Planes[2], f.Stride[2]
	du1, dv1 := fixed(p.m[1]), fixed(p.m[4]) // one frame row down
	// The ROI is even-aligned and so are NV12/I420 frames.
	for y := p.roi.Min.Y; y < p.roi.Max.Y; y += 2 {
		xa0, xb0 := p.span(y)
		xa1, xb1 := p.span(y + 1)
		xa, xb := xa0, xb0
		if xa >= xb {
			xa, xb = xa1, xb1
		} else if xa1 < xb1 {
			xa, xb = min(xa, xa1), max(xb, xb1)
		}
		if xa >= xb {
			continue
		}
		xa, xb = max(xa&^1, p.roi.Min.X), min((xb+1)&^1, p.roi.Max.X)
		u, v, du, dv := p.start(xa, y)
		r0, r1 := yp[y*ys:], yp[(y+1)*ys:]
		crow := y / 2 * cs
		for x := xa; x < xb; x += 2 {
			var q px4
			q.add(0, p, u, v)
			q.add(1, p, u+du, v+dv)
			q.add(2, p, u+du1, v+dv1)
			q.add(3, p, u+du+du1, v+dv+dv1)
			u += 2 * du
			v += 2 * dv
			if q.sa == 0 {
				continue
			}
			if q.a[0] > 0 {
				r0[x] = mix(r0[x], q.y[0], q.a[0])
			}
			if q.a[1] > 0 {
				r0[x+1] = mix(r0[x+1], q.y[1], q.a[1])
			}
			if q.a[2] > 0 {
				r1[x] = mix(r1[x], q.y[2], q.a[2])
			}
			if q.a[3] > 0 {
				r1[x+1] = mix(r1[x+1], q.y[3], q.a[3])
			}
			if nv12 {
				o := crow + x
				cp[o] = q.chroma(cp[o], q.scb, 4)
				cp[o+1] = q.chroma(cp[o+1], q.scr, 4)
			} else {
				cp[crow+x/2] = q.chroma(cp[crow+x/2], q.scb, 4)
				o := y/2*vs + x/2
				vp[o] = q.chroma(vp[o], q.scr, 4)
			}
		}
	}
}

func (p *paster) yuy2(f *frame.Frame) {
	pl, stride := f.Planes[0], f.Stride[0]
	for y := p.roi.Min.Y; y < p.roi.Max.Y; y++ {
		xa, xb := p.span(y)
		if xa >= xb {
			continue
		}
		xa, xb = max(xa&^1, p.roi.Min.X), min((xb+1)&^1, p.roi.Max.X)
		u, v, du, dv := p.start(xa, y)
		row := pl[y*stride:]
		for x := xa; x < xb; x += 2 {
			var q px4
			q.add(0, p, u, v)
			q.add(1, p, u+du, v+dv)
			u += 2 * du
			v += 2 * dv
			if q.sa == 0 {
				continue
			}
			o := 2 * x // Y0 Cb Y1 Cr
			if q.a[0] > 0 {
				row[o] = mix(row[o], q.y[0], q.a[0])
			}
			if q.a[1] > 0 {
				row[o+2] = mix(row[o+2], q.y[1], q.a[1])
			}
			row[o+1] = q.chroma(row[o+1], q.scb, 2)
			row[o+3] = q.chroma(row[o+3], q.scr, 2)
		}
	}
}
