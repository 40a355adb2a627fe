package detect

import (
	"math"

	"facelive/engine/frame"
)

// sampler reads a scaled-down view of a frame straight from its planes.
//
// Output pixel (u, v) covers the frame area
//
//	x ∈ [(u-ox)/s, (u+1-ox)/s), y ∈ [(v-oy)/s, (v+1-oy)/s)
//
// where s is output pixels per frame pixel and (ox, oy) the offset of the
// frame's content in the output (non-zero for a letterbox). Each output
// pixel averages k×k nearest-pixel samples spread evenly over that area (a
// box prefilter, so fine detail such as hair or a striped shirt does not
// alias into false faces). Output pixels whose centre lies outside the frame
// are padding.
//
// Only the sampled pixels are read. For YUV formats the samples' Y, U and V
// are averaged first and the average is converted to RGB: the conversion is
// affine, so this equals averaging the RGB samples (up to clamping), at one
// conversion per output pixel.
//
// The sample positions depend only on the geometry (format, width, height),
// so they are computed once and reused until the geometry changes; strides
// may change from frame to frame.
type sampler struct {
	outW, outH int

	// geometry the tables were built for
	format        frame.Format
	width, height int

	s, ox, oy float64 // output px per frame px; content offset in output px
	u0, u1    int     // output columns whose centre is inside the frame
	v0, v1    int     // output rows whose centre is inside the frame
	k         int     // samples per axis per output pixel

	// per output column (u-u0)*k+j: byte offsets of sample j within a row
	xa []int32 // packed pixel, or luma (Y) byte
	xc []int32 // chroma: NV12 U of the UV pair, I420 U/V byte, YUY2 U byte
	// per output row (v-v0)*k+r: source row of sample r
	ys []int32

	acc []int32 // per output column: 3 channel sums
}

// maxSamples bounds k: 4×4 samples per output pixel.
const maxSamples = 4

// setup (re)builds the tables when f's geometry differs from the last one.
// letterbox: keep the aspect ratio and centre the frame in outW×outH (both
// must then be set by the caller); otherwise the caller sets outW, outH to
// the frame's aspect and s is outW/width.
func (sm *sampler) setup(f *frame.Frame, letterbox bool) {
	if f.Format == sm.format && f.Width == sm.width && f.Height == sm.height && sm.xa != nil {
		return
	}
	sm.format, sm.width, sm.height = f.Format, f.Width, f.Height
	w, h := float64(f.Width), float64(f.Height)
	if letterbox {
		sm.s = min(float64(sm.outW)/w, float64(sm.outH)/h)
		sm.ox = (float64(sm.outW) - w*sm.s) / 2
		sm.oy = (float64(sm.outH) - h*sm.s) / 2
	} else {
		sm.s = float64(sm.outW) / w
		sm.ox, sm.oy = 0, 0
	}
	// A pixel's centre u+0.5 is inside the content when ox <= u+0.5 < ox+w*s.
	sm.u0, sm.u1 = span(sm.ox, w*sm.s, sm.outW)
	sm.v0, sm.v1 = span(sm.oy, h*sm.s, sm.outH)
	// Footprint of one output pixel in frame pixels is 1/s; take about one
	// sample per frame pixel up to maxSamples.
	sm.k = min(max(int(math.Ceil(1/sm.s-1e-9)), 1), maxSamples)

	k := sm.k
	sm.xa = grow(sm.xa, (sm.u1-sm.u0)*k)
	sm.xc = grow(sm.xc, (sm.u1-sm.u0)*k)
	sm.ys = grow(sm.ys, (sm.v1-sm.v0)*k)
	sm.acc = grow(sm.acc, sm.outW*3)
	bpp := int32(f.Format.BytesPerPixel())
	for u := sm.u0; u < sm.u1; u++ {
		for j := 0; j < k; j++ {
			x := srcCoord(u, j, k, sm.ox, sm.s, f.Width)
			i := (u-sm.u0)*k + j
			switch f.Format {
			case frame.NV12:
				sm.xa[i], sm.xc[i] = x, x&^1
			case frame.I420:
				sm.xa[i], sm.xc[i] = x, x>>1
			case frame.YUY2:
				sm.xa[i], sm.xc[i] = x*2, (x>>1)*4+1
			default:
				sm.xa[i] = x * bpp
			}
		}
	}
	for v := sm.v0; v < sm.v1; v++ {
		for r := 0; r < k; r++ {
			sm.ys[(v-sm.v0)*k+r] = srcCoord(v, r, k, sm.oy, sm.s, f.Height)
		}
	}
}

// span returns the output pixels [a, b) whose centres lie in [off, off+length).
func span(off, length float64, out int) (int, int) {
	a := int(math.Ceil(off - 0.5 - 1e-9))
	b := int(math.Ceil(off + length - 0.5 - 1e-9))
	return min(max(a, 0), out), min(max(b, 0), out)
}

// srcCoord is the frame pixel holding sample j of k of output pixel u.
func srcCoord(u, j, k int, off, s float64, n int) int32 {
	x := (float64(u) + (float64(j)+0.5)/float64(k) - off) / s
	return int32(min(max(int(math.Floor(x)), 0), n-1))
}

func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	return b[:n]
}

// YUV frames are converted with their matrix and range (frame.Color: the
// zero value is BT.601 limited, "TV range", Y 16..235, U/V 16..240, what USB
// webcams deliver).
const inv = 1 / 127.5

// rgbTensor writes the sampled frame into dst as outH×outW×3 RGB scaled to
// [-1, 1] (HWC, row-major); padding is 0 (mid grey).
func (sm *sampler) rgbTensor(f *frame.Frame, dst []float32) {
	sm.setup(f, true)
	W := sm.outW
	clear(dst[:sm.v0*W*3])
	clear(dst[sm.v1*W*3 : sm.outH*W*3])
	k := sm.k
	n := float32(1) / float32(k*k)
	nu := sm.u1 - sm.u0
	for v := sm.v0; v < sm.v1; v++ {
		row := dst[v*W*3 : (v+1)*W*3]
		clear(row[:sm.u0*3])
		clear(row[sm.u1*3:])
		acc := sm.acc[:nu*3]
		clear(acc)
		for r := 0; r < k; r++ {
			y := int(sm.ys[(v-sm.v0)*k+r])
			sm.accumulate(f, y, acc)
		}
		out := row[sm.u0*3 : sm.u1*3]
		if f.Format.IsYUV() {
			c := f.Color.ToRGB()
			y0, yk, vr, ug, vg, ub := float32(c.Y0), float32(c.Y), float32(c.RV), float32(c.GU), float32(c.GV), float32(c.BU)
			for i := 0; i < nu; i++ {
				yy := float32(acc[i*3])*n - y0
				cb := float32(acc[i*3+1])*n - 128
				cr := float32(acc[i*3+2])*n - 128
				out[i*3] = unit(yk*yy + vr*cr)
				out[i*3+1] = unit(yk*yy - ug*cb - vg*cr)
				out[i*3+2] = unit(yk*yy + ub*cb)
			}
		} else {
			for i := 0; i < nu*3; i++ {
				out[i] = float32(acc[i])*n*inv - 1
			}
		}
	}
}

// unit maps 0..255 (clamped) to [-1, 1].
func unit(x float32) float32 {
	return min(max(x, 0), 255)*inv - 1
}

// accumulate adds the samples of frame row y into acc: per output column,
// R, G, B sums (packed formats) or Y, U, V sums (YUV formats).
func (sm *sampler) accumulate(f *frame.Frame, y int, acc []int32) {
	k := sm.k
	nu := sm.u1 - sm.u0
	xa, xc := sm.xa[:nu*k], sm.xc[:nu*k]
	switch f.Format {
	case frame.NV12:
		ly := f.Planes[0][y*f.Stride[0]:]
		uv := f.Planes[1][(y>>1)*f.Stride[1]:]
		for i := 0; i < nu; i++ {
			var sy, su, sv int32
			for j := i * k; j < i*k+k; j++ {
				sy += int32(ly[xa[j]])
				c := xc[j]
				su += int32(uv[c])
				sv += int32(uv[c+1])
			}
			acc[i*3] += sy
			acc[i*3+1] += su
			acc[i*3+2] += sv
		}
	case frame.I420:
		ly := f.Planes[0][y*f.Stride[0]:]
		pu := f.Planes[1][(y>>1)*f.Stride[1]:]
		pv := f.Planes[2][(y>>1)*f.Stride[2]:]
		for i := 0; i < nu; i++ {
			var sy, su, sv int32
			for j := i * k; j < i*k+k; j++ {
				sy += int32(ly[xa[j]])
				c := xc[j]
				su += int32(pu[c])
				sv += int32(pv[c])
			}
			acc[i*3] += sy
			acc[i*3+1] += su
			acc[i*3+2] += sv
		}
	case frame.YUY2:
		p := f.Planes[0][y*f.Stride[0]:]
		for i := 0; i < nu; i++ {
			var sy, su, sv int32
			for j := i * k; j < i*k+k; j++ {
				sy += int32(p[xa[j]])
				c := xc[j]
				su += int32(p[c])
				sv += int32(p[c+2])
			}
			acc[i*3] += sy
			acc[i*3+1] += su
			acc[i*3+2] += sv
		}
	default:
		ro, gro, bo := channelOffsets(f.Format)
		p := f.Planes[0][y*f.Stride[0]:]
		for i := 0; i < nu; i++ {
			var sr, sg, sb int32
			for j := i * k; j < i*k+k; j++ {
				q := p[xa[j]:]
				sr += int32(q[ro])
				sg += int32(q[gro])
				sb += int32(q[bo])
			}
			acc[i*3] += sr
			acc[i*3+1] += sg
			acc[i*3+2] += sb
		}
	}
}

// channelOffsets returns the byte offsets of R, G and B in a packed pixel.
func channelOffsets(f frame.Format) (r, g, b int) {
	switch f {
	case frame.RGBA, frame.RGB24:
		return 0, 1, 2
	}
	return 2, 1, 0 // BGRA, BGRX, BGR24
}

// luma writes the sampled frame's brightness into dst (outW×outH bytes, row
// stride outW): the Y plane for YUV formats (stretched from limited to full
// range when it is limited), BT.601 luma of R, G, B otherwise. No letterbox: the
// caller picks outW, outH with the frame's aspect ratio.
func (sm *sampler) luma(f *frame.Frame, dst []byte) {
	sm.setup(f, false)
	W := sm.outW
	k := sm.k
	nu := sm.u1 - sm.u0
	kk := int32(k * k)
	for v := 0; v < sm.outH; v++ {
		row := dst[v*W : (v+1)*W]
		if v < sm.v0 || v >= sm.v1 {
			clear(row)
			continue
		}
		clear(row[:sm.u0])
		clear(row[sm.u1:])
		acc := sm.acc[:nu*3]
		clear(acc)
		for r := 0; r < k; r++ {
			y := int(sm.ys[(v-sm.v0)*k+r])
			if f.Format.IsYUV() {
				sm.accumulateY(f, y, acc)
			} else {
				sm.accumulate(f, y, acc)
			}
		}
		out := row[sm.u0:sm.u1]
		switch {
		case f.Format.IsYUV() && f.Color.Full:
			for i := range out {
				out[i] = uint8(min(max((acc[i*3]+kk/2)/kk, 0), 255))
			}
		case f.Format.IsYUV():
			// Stretch limited-range Y (16..235) to full range, like luma
			// computed from RGB.
			for i := range out {
				y := (acc[i*3]-16*kk)*255/219 + kk/2
				out[i] = uint8(min(max(y/kk, 0), 255))
			}
		default:
			for i := range out {
				l := (77*acc[i*3] + 150*acc[i*3+1] + 29*acc[i*3+2]) / 256
				out[i] = uint8((l + kk/2) / kk)
			}
		}
	}
}

// accumulateY adds the luma samples of frame row y of a YUV frame into
// acc[i*3].
func (sm *sampler) accumulateY(f *frame.Frame, y int, acc []int32) {
	k := sm.k
	nu := sm.u1 - sm.u0
	xa := sm.xa[:nu*k]
	p := f.Planes[0][y*f.Stride[0]:]
	for i := 0; i < nu; i++ {
		var s int32
		for j := i * k; j < i*k+k; j++ {
			s += int32(p[xa[j]])
		}
		acc[i*3] += s
	}
}
