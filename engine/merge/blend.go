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
	ay   []uint64   // YUV frames: weight | face luma 8.8 <<32; packed: weight | blue<<32 (see Merger.faceYUV, packFace)
	gr   []uint64   // packed frames: green | red<<32
	fc   []uint32   // YUV frames: face Cb | Cr<<16, 8.8 each, S·S
	m    [6]float64 // frame → face space
	roi  image.Rectangle
	// Face-space window where the mask can be nonzero (mask box grown by
	// the bilinear footprint), clipped to [0, S-1].
	ulo, uhi, vlo, vhi float64
	tiles              []bool // Merger.markTiles, tw across
	tw                 int
}

// vacant reports whether the frame pixel at face position (u, v) (16.16)
// surely blends nothing: it lies in a tile Merger.weights did not mark, so
// every weight its bilinear footprint reads is below aMin.
func (p *paster) vacant(u, v int64) bool {
	u = min(max(u, 0), p.amax)
	v = min(max(v, 0), p.amax)
	return !p.tiles[int(v>>(16+tileShift))*p.tw+int(u>>(16+tileShift))]
}

// trim narrows a row's pixels [xa, xb), in steps of n (a chroma block's
// width; the first at face position (u, v), each pixel (du, dv) from the
// last, the block's second row (du1, dv1) below its first when rows is 2),
// to the first and last steps that are not wholly vacant. It returns the
// new ends and the face position of the new first pixel.
func (p *paster) trim(xa, xb, n, rows int, u, v, du, dv, du1, dv1 int64) (int, int, int64, int64) {
	empty := func(u, v int64) bool {
		for r := range rows {
			for k := range n {
				uk, vk := u+int64(k)*du+int64(r)*du1, v+int64(k)*dv+int64(r)*dv1
				if !p.vacant(uk, vk) {
					return false
				}
			}
		}
		return true
	}
	for xa < xb && empty(u, v) {
		xa += n
		u += int64(n) * du
		v += int64(n) * dv
	}
	for xb > xa && empty(u+int64(xb-n-xa)*du, v+int64(xb-n-xa)*dv) {
		xb -= n
	}
	return xa, xb, u, v
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
// face position (u, v) in 16.16 (packed frames: see Merger.packFace); ok
// is false when the weight is below aMin.
func (p *paster) sample(u, v int64) (a, b, g, r int, ok bool) {
	u = min(max(u, 0), p.amax)
	v = min(max(v, 0), p.amax)
	s := p.s
	i, j := int(u>>16), int(v>>16)
	wx, wy := uint64(u>>8)&255, uint64(v>>8)&255
	i1, j1 := min(i+1, s-1), min(j+1, s-1)
	o00, o01, o10, o11 := j*s+i, j*s+i1, j1*s+i, j1*s+i1
	// Two values in the two 32-bit halves of each word, interpolated
	// together: each stays below 65536·256·256 = 2^32.
	ab := p.ay
	top := ab[o00]*(256-wx) + ab[o01]*wx
	bot := ab[o10]*(256-wx) + ab[o11]*wx
	c := top*(256-wy) + bot*wy + (32768 | 128<<32)
	a = int(uint32(c) >> 16)
	if a < aMin {
		return 0, 0, 0, 0, false
	}
	gr := p.gr
	top = gr[o00]*(256-wx) + gr[o01]*wx
	bot = gr[o10]*(256-wx) + gr[o11]*wx
	d := top*(256-wy) + bot*wy + (128 | 128<<32)
	return a, int(c>>40) & 0xffffff, int(uint32(d) >> 8), int(d >> 40), true
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
		if xa, xb, u, v = p.trim(xa, xb, 1, 1, u, v, du, dv, 0, 0); xa >= xb {
			continue
		}
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

// toYCC is a frame's RGB → YCbCr conversion (frame.Color: matrix and
// range), coefficients ×65536, the luma offset in 8.8; made once per paste.
type toYCC struct{ y0, yr, yg, yb, ur, ug, ub, vr, vg, vb int }

func toYCCFor(c frame.Color) toYCC {
	k := c.FromRGB()
	q := func(v float64) int { return int(math.Round(v * 65536)) }
	return toYCC{y0: q(k.Y0) >> 8, yr: q(k.YR), yg: q(k.YG), yb: q(k.YB),
		ur: q(k.UR), ug: q(k.UG), ub: q(k.UB), vr: q(k.VR), vg: q(k.VG), vb: q(k.VB)}
}

// yuv converts 8.8 inputs to 8.8 outputs.
func (k *toYCC) yuv(b, g, r int) (y, cb, cr int) {
	y = k.y0 + (k.yr*r+k.yg*g+k.yb*b+32768)>>16
	cb = 128<<8 + (k.ur*r+k.ug*g+k.ub*b+32768)>>16
	cr = 128<<8 + (k.vr*r+k.vg*g+k.vb*b+32768)>>16
	return
}

// sampleC returns the face's chroma (8.8) at face position (u, v), which
// must be one px4.faceChroma chooses after paster.block: then every pixel of its bilinear
// footprint is one Merger.faceYUV converted.
func (p *paster) sampleC(u, v int64) (cb, cr int) {
	u = min(max(u, 0), p.amax)
	v = min(max(v, 0), p.amax)
	s := p.s
	i, j := int(u>>16), int(v>>16)
	wx, wy := uint64(u>>8)&255, uint64(v>>8)&255
	i1, j1 := min(i+1, s-1), min(j+1, s-1)
	f := p.fc
	// Both channels at once: 16-bit values in 32-bit lanes of a uint64
	// (×65536 in all, 8.8 · 2^16 < 2^32).
	lane := func(c uint32) uint64 { return uint64(c&0xffff) | uint64(c>>16)<<32 }
	top := lane(f[j*s+i])*(256-wx) + lane(f[j*s+i1])*wx
	bot := lane(f[j1*s+i])*(256-wx) + lane(f[j1*s+i1])*wx
	c := top*(256-wy) + bot*wy + (32768 | 32768<<32)
	return int(c>>16) & 0xffff, int(c >> 48)
}

// block samples the blend weight and the face's luma (8.8) of the n (2 or
// 4) pixels of one chroma block into q: the pixel at face position (u, v),
// the next one along the row (+du, +dv) and, for n = 4, the two below it
// (+du1, +dv1). It is the hot loop of a YUV paste: one call per block.
func (p *paster) block(q *px4, n int, u, v, du, dv, du1, dv1 int64) {
	s, ay := p.s, p.ay
	for k := range n {
		uk, vk := u, v
		if k&1 != 0 {
			uk, vk = uk+du, vk+dv
		}
		if k&2 != 0 {
			uk, vk = uk+du1, vk+dv1
		}
		q.u[k], q.v[k] = uk, vk
		uk = min(max(uk, 0), p.amax)
		vk = min(max(vk, 0), p.amax)
		i, j := int(uk>>16), int(vk>>16)
		wx, wy := uint64(uk>>8)&255, uint64(vk>>8)&255
		i1, j1 := min(i+1, s-1), min(j+1, s-1)
		// Weight and luma interpolated together, one in each 32-bit half:
		// each stays below 65536·256·256 = 2^32.
		top := ay[j*s+i]*(256-wx) + ay[j*s+i1]*wx
		bot := ay[j1*s+i]*(256-wx) + ay[j1*s+i1]*wx
		c := top*(256-wy) + bot*wy + (32768 | 32768<<32)
		a := int(uint32(c) >> 16)
		if a < aMin {
			q.a[k] = 0
			continue
		}
		q.a[k], q.y[k] = a, int(c>>48)
		q.sa += a
		if a > q.a[q.best] {
			q.best = k
		}
	}
}

// px4 accumulates the blend of up to four pixels sharing one chroma sample.
type px4 struct {
	a    [4]int // 0..4096
	y    [4]int // face luma, 8.8
	sa   int    // Σa
	best int    // the pixel with the largest a: where chroma is sampled
	u, v [4]int64
}

// chroma blends one chroma sample shared by n pixels (n = 2 or 4) with the
// face's chroma fc (8.8): c·(1 − Σa/n) + fc·Σa/n. fc is sampled once, at
// the pixel with the largest weight (whose footprint is surely converted),
// not per pixel: the face's chroma varies little across one chroma sample,
// and the face was converted once instead of every frame pixel.
func (q *px4) chroma(c byte, fc int, n int) byte {
	d := int(c) << 8
	v := (d*(4096*n-q.sa) + fc*q.sa + 2048*n) / (4096 * n) // 8.8
	return byte(min(max((v+128)>>8, 0), 255))
}

// faceChroma samples the face's chroma for q (q.sa > 0): at the block's
// centre (uc, vc), where the chroma sample sits, when the block spans at
// most one face pixel (the face is magnified, as it nearly always is);
// else at the block's pixel with the largest weight.
func (q *px4) faceChroma(p *paster, centred bool, uc, vc int64) (cb, cr int) {
	if centred {
		return p.sampleC(uc, vc)
	}
	return p.sampleC(q.u[q.best], q.v[q.best])
}

// centred says whether a block whose pixels sit at (0,0) + the steps
// spans at most one face pixel along u and v (16.16).
func centred(du, dv, du1, dv1 int64) bool {
	abs := func(x int64) int64 { return max(x, -x) }
	return abs(du)+abs(du1) <= 1<<16 && abs(dv)+abs(dv1) <= 1<<16
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
		if xa, xb, u, v = p.trim(xa, xb, 2, 2, u, v, du, dv, du1, dv1); xa >= xb {
			continue
		}
		mid := centred(du, dv, du1, dv1)
		r0, r1 := yp[y*ys:], yp[(y+1)*ys:]
		crow := y / 2 * cs
		for x := xa; x < xb; x += 2 {
			var q px4
			p.block(&q, 4, u, v, du, dv, du1, dv1)
			if q.sa == 0 {
				u += 2 * du
				v += 2 * dv
				continue
			}
			cb, cr := q.faceChroma(p, mid, u+(du+du1)/2, v+(dv+dv1)/2)
			u += 2 * du
			v += 2 * dv
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
				cp[o] = q.chroma(cp[o], cb, 4)
				cp[o+1] = q.chroma(cp[o+1], cr, 4)
			} else {
				cp[crow+x/2] = q.chroma(cp[crow+x/2], cb, 4)
				o := y/2*vs + x/2
				vp[o] = q.chroma(vp[o], cr, 4)
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
		if xa, xb, u, v = p.trim(xa, xb, 2, 1, u, v, du, dv, 0, 0); xa >= xb {
			continue
		}
		mid := centred(du, dv, 0, 0)
		row := pl[y*stride:]
		for x := xa; x < xb; x += 2 {
			var q px4
			p.block(&q, 2, u, v, du, dv, 0, 0)
			if q.sa == 0 {
				u += 2 * du
				v += 2 * dv
				continue
			}
			cb, cr := q.faceChroma(p, mid, u+du/2, v+dv/2)
			u += 2 * du
			v += 2 * dv
			o := 2 * x // Y0 Cb Y1 Cr
			if q.a[0] > 0 {
				row[o] = mix(row[o], q.y[0], q.a[0])
			}
			if q.a[1] > 0 {
				row[o+2] = mix(row[o+2], q.y[1], q.a[1])
			}
			row[o+1] = q.chroma(row[o+1], cb, 2)
			row[o+3] = q.chroma(row[o+3], cr, 2)
		}
	}
}
