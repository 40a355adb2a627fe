// Package warp moves an image piecewise-affinely: a triangulation over a
// set of points (a face's landmarks plus a few fixed border points) is
// drawn from the points' old positions onto their new ones, and every
// pixel inside a moved triangle samples the source through that
// triangle's own affine map. The photo swapper uses it to make the source
// face follow the live landmarks; tests use it to make a photo blink and
// talk with known landmarks.
//
// Coordinates are pixels with pixel centres at integers, as in package face.
package warp

import (
	"fmt"
	"image"
	"math"

	"facelive/engine/face"
)

// Tri is a triangle as three indices into a point list.
type Tri [3]uint8

// MaxPoints bounds the points a triangulation may index (Tri holds uint8).
const MaxPoints = 256

// Delaunay returns a Delaunay triangulation of pts, every triangle with
// the same winding (a positive cross product of its edges).
// It is brute force, O(n⁴): meant to run once over a face's few dozen
// points, never per frame. Four or more points on one circle (a
// mirror-symmetric mean face has many) are decided by a tiny fixed
// perturbation, so the triangles never overlap.
func Delaunay(pts []face.Point) ([]Tri, error) {
	n := len(pts)
	if n < 3 || n > MaxPoints {
		return nil, fmt.Errorf("warp: triangulation needs 3..%d points, got %d", MaxPoints, n)
	}
	// Scale to the unit box, then perturb each point by a different
	// amount far below any real distance between landmarks.
	b := bounds(pts)
	scale := max(b.W(), b.H())
	if !(scale > 0) || math.IsInf(scale, 0) {
		return nil, fmt.Errorf("warp: points have no extent")
	}
	p := make([]face.Point, n)
	for i, q := range pts {
		p[i] = face.Point{
			X: (q.X-b.X0)/scale + 1e-7*math.Sin(float64(3*i+1)),
			Y: (q.Y-b.Y0)/scale + 1e-7*math.Cos(float64(5*i+2)),
		}
	}
	var tris []Tri
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			for k := j + 1; k < n; k++ {
				a, c, d := p[i], p[j], p[k]
				area := cross(a, c, d)
				if math.Abs(area) < 1e-12 || math.Abs(cross(pts[i], pts[j], pts[k])) < 1e-9*scale*scale {
					continue // flat, or flat but for the perturbation (collinear border points)
				}
				empty := true
				for m := 0; m < n && empty; m++ {
					if m != i && m != j && m != k && inCircle(a, c, d, p[m], area) {
						empty = false
					}
				}
				if !empty {
					continue
				}
				t := Tri{uint8(i), uint8(j), uint8(k)}
				if area < 0 {
					t[1], t[2] = t[2], t[1]
				}
				tris = append(tris, t)
			}
		}
	}
	if len(tris) == 0 {
		return nil, fmt.Errorf("warp: points are collinear")
	}
	return tris, nil
}

// cross is twice the signed area of triangle abc.
func cross(a, b, c face.Point) float64 {
	return (b.X-a.X)*(c.Y-a.Y) - (b.Y-a.Y)*(c.X-a.X)
}

// inCircle reports whether d lies strictly inside the circumcircle of abc
// (area = cross(a, b, c), which fixes the determinant's sign).
func inCircle(a, b, c, d face.Point, area float64) bool {
	ax, ay := a.X-d.X, a.Y-d.Y
	bx, by := b.X-d.X, b.Y-d.Y
	cx, cy := c.X-d.X, c.Y-d.Y
	det := (ax*ax+ay*ay)*(bx*cy-cx*by) - (bx*bx+by*by)*(ax*cy-cx*ay) + (cx*cx+cy*cy)*(ax*by-bx*ay)
	if area < 0 {
		det = -det
	}
	return det > 0
}

func bounds(pts []face.Point) face.Rect {
	r := face.Rect{X0: pts[0].X, Y0: pts[0].Y, X1: pts[0].X, Y1: pts[0].Y}
	for _, q := range pts[1:] {
		r.X0, r.Y0 = min(r.X0, q.X), min(r.Y0, q.Y)
		r.X1, r.Y1 = max(r.X1, q.X), max(r.Y1, q.Y)
	}
	return r
}

// Image is a packed 8-bit image: pixel (x, y) channel c is
// Pix[y*Stride+x*BPP+c].
type Image struct {
	Pix          []byte
	Stride, W, H int
	BPP          int // bytes per pixel, 1..4; every byte is warped
}

func (m *Image) check(name string) error {
	if m.W < 1 || m.H < 1 || m.BPP < 1 || m.BPP > 4 || m.Stride < m.W*m.BPP || len(m.Pix) < (m.H-1)*m.Stride+m.W*m.BPP {
		return fmt.Errorf("warp: %s image %dx%d, %d bytes per pixel, stride %d, %d bytes is not valid", name, m.W, m.H, m.BPP, m.Stride, len(m.Pix))
	}
	return nil
}

// Triangles draws every triangle of tris from its place at from (in src)
// onto its place at to (in dst): each dst pixel whose centre lies in a
// moved triangle takes src sampled bilinearly through that triangle's
// affine map. Pixels outside every moved triangle keep their values, so a
// caller that wants them defined copies src into dst first (or covers the
// image with border points). Triangles squashed flat at to are skipped:
// their neighbours cover what little area they had. It allocates nothing;
// src and dst must not overlap. To warp one image many times, prepare it
// once with NewSource.
func Triangles(dst, src Image, tris []Tri, from, to []face.Point) error {
	if err := src.check("source"); err != nil {
		return err
	}
	if err := checkWarp(&dst, src.BPP, tris, from, to); err != nil {
		return err
	}
	clip := image.Rect(0, 0, dst.W, dst.H)
	var r raster
	for _, t := range tris {
		if !r.init(clip, from[t[0]], from[t[1]], from[t[2]], to[t[0]], to[t[1]], to[t[2]]) {
			continue
		}
		for y, xa, xb, ok := r.next(); ok; y, xa, xb, ok = r.next() {
			sampleRow(&dst, &src, y, xa, xb, &r.mx, &r.my)
		}
	}
	return nil
}

// checkWarp validates a warp's destination and points against a source
// of bpp bytes per pixel.
func checkWarp(dst *Image, bpp int, tris []Tri, from, to []face.Point) error {
	if err := dst.check("destination"); err != nil {
		return err
	}
	if dst.BPP != bpp {
		return fmt.Errorf("warp: destination has %d bytes per pixel, source %d", dst.BPP, bpp)
	}
	if len(from) != len(to) {
		return fmt.Errorf("warp: %d source points but %d destination points", len(from), len(to))
	}
	for _, t := range tris {
		if int(t[0]) >= len(to) || int(t[1]) >= len(to) || int(t[2]) >= len(to) {
			return fmt.Errorf("warp: triangle %v indexes past %d points", t, len(to))
		}
	}
	return nil
}

// raster walks one triangle's pixels row by row: the spans of pixel
// centres inside the triangle d0d1d2, with the affine map (mx, my) that
// takes a destination pixel to its source position in triangle s0s1s2.
type raster struct {
	mx, my [3]float64 // source x, y = m·(x, y, 1)
	y, y1  int        // the next row and the last
	x0, x1 int
	// Each barycentric weight l = a·x + b·y + c is ≥ −eps on a row from
	// (or up to, for a < 0) x = p·y + q; for a = 0, on the whole row when
	// b·y + c + eps ≥ 0. Worked out once per triangle: no division per row.
	e [3]edge
}

type edge struct{ a, b, c, p, q float64 }

func newEdge(a, b, c float64) edge {
	e := edge{a: a, b: b, c: c + eps}
	if a != 0 {
		e.p, e.q = -b/a, -(c+eps)/a
	}
	return e
}

// clip narrows [lo, hi] to the x of row fy where the weight is ≥ −eps.
func (e *edge) clip(lo, hi, fy float64) (float64, float64) {
	switch {
	case e.a > 0:
		lo = max(lo, e.p*fy+e.q)
	case e.a < 0:
		hi = min(hi, e.p*fy+e.q)
	case e.b*fy+e.c < 0:
		return 1, 0 // empty
	}
	return lo, hi
}

// eps: shared edges: a pixel centre on one belongs to both triangles.
const eps = 1e-6

// init sets r to the triangle s0s1s2 → d0d1d2, inside clip; false when it
// covers no pixel there (or is squashed flat at d, or not finite).
func (r *raster) init(clip image.Rectangle, s0, s1, s2, d0, d1, d2 face.Point) bool {
	area := cross(d0, d1, d2)
	if !(math.Abs(area) > 1e-3) { // flat, or not finite
		return false
	}
	// The barycentric weights of pixel p, as affine functions of x and
	// y: l1 = a1·x + b1·y + c1, l2 likewise.
	inv := 1 / area
	e1x, e1y := d1.X-d0.X, d1.Y-d0.Y
	e2x, e2y := d2.X-d0.X, d2.Y-d0.Y
	a1, b1 := e2y*inv, -e2x*inv // l1 = ((p−d0) × e2)/area
	c1 := -(a1*d0.X + b1*d0.Y)
	a2, b2 := -e1y*inv, e1x*inv // l2 = (e1 × (p−d0))/area
	c2 := -(a2*d0.X + b2*d0.Y)
	// The source position is s0 + l1·(s1−s0) + l2·(s2−s0).
	f1x, f1y := s1.X-s0.X, s1.Y-s0.Y
	f2x, f2y := s2.X-s0.X, s2.Y-s0.Y
	r.mx = [3]float64{a1*f1x + a2*f2x, b1*f1x + b2*f2x, c1*f1x + c2*f2x + s0.X}
	r.my = [3]float64{a1*f1y + a2*f2y, b1*f1y + b2*f2y, c1*f1y + c2*f2y + s0.Y}
	r.x0 = max(int(math.Ceil(min(d0.X, d1.X, d2.X)-eps)), clip.Min.X)
	r.x1 = min(int(math.Floor(max(d0.X, d1.X, d2.X)+eps)), clip.Max.X-1)
	r.y = max(int(math.Ceil(min(d0.Y, d1.Y, d2.Y)-eps)), clip.Min.Y)
	r.y1 = min(int(math.Floor(max(d0.Y, d1.Y, d2.Y)+eps)), clip.Max.Y-1)
	// l3 = 1 − l1 − l2 is the third weight; a pixel is inside when all
	// three are ≥ 0, which on a row is one span of x.
	r.e = [3]edge{newEdge(a1, b1, c1), newEdge(a2, b2, c2), newEdge(-a1-a2, -b1-b2, 1-c1-c2)}
	return r.x0 <= r.x1 && r.y <= r.y1
}

// next returns the next row's span [xa, xb] (inclusive); ok is false
// after the last row.
func (r *raster) next() (y, xa, xb int, ok bool) {
	for ; r.y <= r.y1; r.y++ {
		fy := float64(r.y)
		lo, hi := float64(r.x0), float64(r.x1)
		lo, hi = r.e[0].clip(lo, hi, fy)
		lo, hi = r.e[1].clip(lo, hi, fy)
		lo, hi = r.e[2].clip(lo, hi, fy)
		if xa, xb = int(math.Ceil(lo)), int(math.Floor(hi)); xa <= xb {
			y = r.y
			r.y++
			return y, xa, xb, true
		}
	}
	return 0, 0, 0, false
}

// sampleRow writes dst's row y from xa to xb (inclusive), each pixel src
// sampled bilinearly at (mx·(x, y, 1), my·(x, y, 1)), clamped to src.
// Positions step in 16.16 fixed point and weights in 8 bits: the pixel
// loop has no float conversions, and its rounding (under 1/256 of a pixel,
// half a level) is below what an 8-bit image shows.
func sampleRow(dst, src *Image, y, xa, xb int, mx, my *[3]float64) {
	const one = 1 << 16
	bpp := dst.BPP
	fy := float64(y)
	bx, by := mx[1]*fy+mx[2], my[1]*fy+my[2]
	// Clamped to the image at the span's ends, so that in between (the
	// position is linear in x) every sample stays inside it too.
	wMax, hMax := float64(src.W-1), float64(src.H-1)
	clamp := func(v, hi float64) float64 {
		if v < 0 {
			return 0
		}
		if v > hi {
			return hi
		}
		return v
	}
	sx0, sy0 := clamp(mx[0]*float64(xa)+bx, wMax), clamp(my[0]*float64(xa)+by, hMax)
	sx1, sy1 := clamp(mx[0]*float64(xb)+bx, wMax), clamp(my[0]*float64(xb)+by, hMax)
	sx, sy := int64(sx0*one+0.5), int64(sy0*one+0.5)
	var dsx, dsy int64
	if xb > xa {
		dsx, dsy = int64((sx1-sx0)*one)/int64(xb-xa), int64((sy1-sy0)*one)/int64(xb-xa)
	}
	row := dst.Pix[y*dst.Stride:]
	last := int64(src.W-1) << 16
	lastY := int64(src.H-1) << 16
	for x := xa; x <= xb; x++ {
		cx, cy := min(max(sx, 0), last), min(max(sy, 0), lastY)
		px, py := (cx+128)>>8, (cy+128)>>8 // to the nearest 1/256: a whole position stays whole
		ix, iy := int(px>>8), int(py>>8)
		wx, wy := int32(px&255), int32(py&255)
		dx, dy := bpp, src.Stride
		if ix == src.W-1 {
			dx = 0
		}
		if iy == src.H-1 {
			dy = 0
		}
		p := src.Pix[iy*src.Stride+ix*bpp:]
		if bpp == 3 { // BGR faces: unrolled, bounds checked once
			q := p[dy+dx+2]
			_ = q
			t0, t1, t2 := int32(p[0])*(256-wx)+int32(p[dx])*wx, int32(p[1])*(256-wx)+int32(p[dx+1])*wx, int32(p[2])*(256-wx)+int32(p[dx+2])*wx
			r := p[dy:]
			u0, u1, u2 := int32(r[0])*(256-wx)+int32(r[dx])*wx, int32(r[1])*(256-wx)+int32(r[dx+1])*wx, int32(r[2])*(256-wx)+int32(r[dx+2])*wx
			o := row[3*x : 3*x+3 : 3*x+3]
			o[0] = byte((t0*(256-wy) + u0*wy + 1<<15) >> 16)
			o[1] = byte((t1*(256-wy) + u1*wy + 1<<15) >> 16)
			o[2] = byte((t2*(256-wy) + u2*wy + 1<<15) >> 16)
			sx += dsx
			sy += dsy
			continue
		}
		out := row[x*bpp : x*bpp+bpp]
		for c := range out {
			top := int32(p[c])*(256-wx) + int32(p[dx+c])*wx
			bot := int32(p[dy+c])*(256-wx) + int32(p[dy+dx+c])*wx
			out[c] = byte((top*(256-wy) + bot*wy + 1<<15) >> 16)
		}
		sx += dsx
		sy += dsy
	}
}

// Source is an image prepared once to be warped many times (the photo
// swapper's aligned source face, warped onto every frame's landmarks).
// Each pixel's bytes are spread into the 16-bit lanes of one word, and the
// last column and row are repeated once past the edge, so that a bilinear
// sample is four word loads and two multiplies per lane pair, with no edge
// tests.
type Source struct {
	px     []uint64 // (W+1)×(H+1) words; channel c in bits 16c..16c+7
	stride int      // words per row, W+1
	w, h   int
	bpp    int
}

// NewSource prepares m (1 to 4 bytes per pixel) for Warp; m is not kept.
func NewSource(m Image) (*Source, error) {
	if err := m.check("source"); err != nil {
		return nil, err
	}
	s := &Source{px: make([]uint64, (m.W+1)*(m.H+1)), stride: m.W + 1, w: m.W, h: m.H, bpp: m.BPP}
	for y := 0; y <= m.H; y++ {
		row := m.Pix[min(y, m.H-1)*m.Stride:]
		out := s.px[y*s.stride : (y+1)*s.stride]
		for x := range out {
			p := row[min(x, m.W-1)*m.BPP:]
			var v uint64
			for c := range m.BPP {
				v |= uint64(p[c]) << (16 * c)
			}
			out[x] = v
		}
	}
	return s, nil
}

// Warp is Triangles from s, drawing only the destination pixels inside
// clip (clipped to dst): the caller pays for the part it will use. The
// bilinear weights are 8-bit as in Triangles; the horizontal pass is
// rounded to whole levels before the vertical one, so a sample may differ
// from Triangles' by one level. It allocates nothing.
func (s *Source) Warp(dst Image, tris []Tri, from, to []face.Point, clip image.Rectangle) error {
	return s.warp(dst, tris, from, to, clip, nil)
}

// Span is the pixels [X0, X1) of one row.
type Span struct{ X0, X1 int32 }

// WarpSpans is Warp drawing, on each row y < len(spans), only the pixels
// in spans[y] (and none on the rows past them): for a region that is not
// a rectangle, such as a face's hull grown by a margin.
func (s *Source) WarpSpans(dst Image, tris []Tri, from, to []face.Point, spans []Span) error {
	return s.warp(dst, tris, from, to, image.Rect(0, 0, dst.W, len(spans)), spans)
}

func (s *Source) warp(dst Image, tris []Tri, from, to []face.Point, clip image.Rectangle, spans []Span) error {
	if err := checkWarp(&dst, s.bpp, tris, from, to); err != nil {
		return err
	}
	if clip = clip.Intersect(image.Rect(0, 0, dst.W, dst.H)); clip.Empty() {
		return nil
	}
	// Rows outside the clip are skipped; along a row the span is the
	// whole image's, cut after the sampling steps are set, so that a pixel
	// comes out the same whatever the clip.
	rows := image.Rect(0, clip.Min.Y, dst.W, clip.Max.Y)
	var r raster
	for _, t := range tris {
		if !r.init(rows, from[t[0]], from[t[1]], from[t[2]], to[t[0]], to[t[1]], to[t[2]]) {
			continue
		}
		for y, xa, xb, ok := r.next(); ok; y, xa, xb, ok = r.next() {
			ca, cb := max(xa, clip.Min.X), min(xb, clip.Max.X-1)
			if spans != nil {
				ca, cb = max(ca, int(spans[y].X0)), min(cb, int(spans[y].X1)-1)
			}
			if ca <= cb {
				s.sampleRow(&dst, y, xa, xb, ca, cb, &r.mx, &r.my)
			}
		}
	}
	return nil
}

// Lanes of a Source word: the rounding half added to each, and the mask of
// their low bytes.
const (
	laneHalf = 0x0080_0080_0080_0080
	laneLow  = 0x00ff_00ff_00ff_00ff
)

// sampleRow is imageRows' sampleRow for a Source: positions in 16.16
// fixed point, clamped to the image at the span's ends (in between they
// are linear in x, so they stay inside too); four channels interpolated at
// once, one per 16-bit lane (255·256 < 2^16 in each pass).
//
// The span is [xa, xb]; only [ca, cb] inside it is written.
func (s *Source) sampleRow(dst *Image, y, xa, xb, ca, cb int, mx, my *[3]float64) {
	const one = 1 << 16
	fy := float64(y)
	bx, by := mx[1]*fy+mx[2], my[1]*fy+my[2]
	wMax, hMax := float64(s.w-1), float64(s.h-1)
	ux0, uy0 := mx[0]*float64(xa)+bx, my[0]*float64(xa)+by
	ux1, uy1 := mx[0]*float64(xb)+bx, my[0]*float64(xb)+by
	var sx, sy, dsx, dsy int64
	// A row whose ends lie a pixel inside the image steps by the map's
	// own slope, no division (rounding it moves the last position by far
	// less than that pixel); one that does not is clamped at its ends and
	// stepped between them.
	if ux0 >= 1 && ux1 >= 1 && uy0 >= 1 && uy1 >= 1 && ux0 <= wMax-1 && ux1 <= wMax-1 && uy0 <= hMax-1 && uy1 <= hMax-1 && xb-xa < 1<<14 {
		sx, sy = int64(ux0*one+0.5), int64(uy0*one+0.5)
		dsx, dsy = int64(math.Round(mx[0]*one)), int64(math.Round(my[0]*one))
	} else {
		sx0, sy0 := clampTo(ux0, wMax), clampTo(uy0, hMax)
		sx1, sy1 := clampTo(ux1, wMax), clampTo(uy1, hMax)
		sx, sy = int64(sx0*one+0.5), int64(sy0*one+0.5)
		sx, sy = min(sx, int64(s.w-1)<<16), min(sy, int64(s.h-1)<<16)
		if xb > xa {
			dsx, dsy = int64((sx1-sx0)*one)/int64(xb-xa), int64((sy1-sy0)*one)/int64(xb-xa)
		}
	}
	sx, sy = sx+dsx*int64(ca-xa), sy+dsy*int64(ca-xa)
	px, st := s.px, s.stride
	row := dst.Pix[y*dst.Stride:]
	if s.bpp != 3 {
		for x := ca; x <= cb; x++ {
			v := bilinear(px, st, sx, sy)
			out := row[x*s.bpp : x*s.bpp+s.bpp]
			for c := range out {
				out[c] = byte(v >> (16*c + 8))
			}
			sx += dsx
			sy += dsy
		}
		return
	}
	out := row[3*ca : 3*cb+3]
	for o := 0; o+2 < len(out); o += 3 {
		// bilinear, by hand: the compiler does not inline it here.
		i := int(sy>>16)*st + int(sx>>16)
		wx, wy := uint64(sx>>8)&255, uint64(sy>>8)&255
		q := px[i : i+st+2]
		top := (q[0]*(256-wx) + q[1]*wx + laneHalf) >> 8 & laneLow
		bot := (q[st]*(256-wx) + q[st+1]*wx + laneHalf) >> 8 & laneLow
		v := top*(256-wy) + bot*wy + laneHalf
		out[o], out[o+1], out[o+2] = byte(v>>8), byte(v>>24), byte(v>>40)
		sx += dsx
		sy += dsy
	}
}

// bilinear samples the words px (rows of st) at (sx, sy) in 16.16, which
// must lie in the image (its last column and row are repeated past it):
// each lane of the result holds its channel ×256, rounded.
func bilinear(px []uint64, st int, sx, sy int64) uint64 {
	i := int(sy>>16)*st + int(sx>>16)
	wx, wy := uint64(sx>>8)&255, uint64(sy>>8)&255
	q := px[i : i+st+2]
	top := (q[0]*(256-wx) + q[1]*wx + laneHalf) >> 8 & laneLow
	bot := (q[st]*(256-wx) + q[st+1]*wx + laneHalf) >> 8 & laneLow
	return top*(256-wy) + bot*wy + laneHalf
}

// clampTo clamps v to [0, hi]; NaN gives 0.
func clampTo(v, hi float64) float64 {
	if !(v >= 0) {
		return 0
	}
	return min(v, hi)
}
