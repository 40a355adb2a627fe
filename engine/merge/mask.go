package merge

import (
	"fmt"
	"image"
	"math"

	"facelive/engine/face"
)

// maskEps is the mask value below which a pixel counts as outside: at
// a < 1/512 a blend cannot change an 8-bit value.
const maskEps = 1.0 / 1024

// prepareMask writes src, eroded by erode px and blurred with a Gaussian of
// sigma px fading to 0 at the crop border, into m.mask and its bounding box
// of values > maskEps into m.bbox; m.mask is 0 outside m.dirty.
//
// Erosion is a square min filter (outside the crop counts as 0). The blur is
// three passes of a box filter per axis (≈ Gaussian), with the crop border
// band that the blur reaches from outside zeroed first, so the blurred mask
// is exactly 0 on the crop's outermost pixels (DeepFaceLive's
// fade-to-border). When the blur is too wide for that band (more than a
// quarter of the crop), the band is capped and a linear ramp to 0 across it
// is applied after the blur instead. The outermost ring is always 0.
func (m *Merger) prepareMask(src []float32, erode int, sigma float64) {
	s := m.size
	dst := m.mask
	// Only what the last mask may have left nonzero (m.dirty) is cleared,
	// and only the box of the input's support is read into it: the rest
	// of the crop is never touched.
	for y := m.dirty.Min.Y; y < m.dirty.Max.Y; y++ {
		clear(dst[y*s+m.dirty.Min.X : y*s+m.dirty.Max.X])
	}
	// Everything below happens inside win: the input's support, grown by
	// what the blur can reach; outside it the mask stays 0.
	win := bounds(src, s, 0) // NaN and negative values are not > 0
	m.dirty = win
	if win.Empty() {
		m.bbox = win
		return
	}
	for y := win.Min.Y; y < win.Max.Y; y++ {
		out := dst[y*s+win.Min.X : y*s+win.Max.X]
		for x, v := range src[y*s+win.Min.X : y*s+win.Max.X] {
			switch {
			case v > 1:
				v = 1
			case v > 0:
			default: // negative or NaN
				v = 0
			}
			out[x] = v
		}
	}
	if erode > 0 {
		minRowsT(m.tmp, dst, s, erode, m.deque, win.Min.Y, win.Max.Y, win.Min.X, win.Max.X)
		minRowsT(dst, m.tmp, s, erode, m.deque, win.Min.X, win.Max.X, win.Min.Y, win.Max.Y)
	}
	band, ramp := 1, false
	if sigma >= 0.5 {
		// Three boxes of width w have variance 3(w²−1)/12 = σ².
		r := boxRadius(sigma)
		band = 3*r + 1
		if band > s/4 {
			band, ramp = max(s/4, 1), true
		}
		zeroBorder(dst, s, band, win)
		win = win.Inset(-3 * r).Intersect(image.Rect(0, 0, s, s))
		m.dirty = win
		if sigma >= halfResSigma {
			m.blurHalf(win, sigma)
		} else {
			m.blurFull(win, r)
		}
	}
	if ramp {
		rampBorder(dst, s, band, win)
	} else {
		zeroBorder(dst, s, 1, win)
	}
	m.bbox = boundsIn(dst, s, maskEps, win) // the mask is 0 outside win
}

// Reach is how far (face pixels, along x and along y) outside a mask's
// nonzero values a Paste with o on a size×size face reads the face: what
// the blur spreads the eroded mask, plus the bilinear footprint. Precisely,
// Paste reads only pixels within Reach (Chebyshev distance) of a pixel
// lying between two nonzero mask values of the same row; so within the
// box of the nonzero values grown by Reach too. A swapper whose output
// costs per pixel need only draw that; Paste never looks further.
func Reach(o Options, size int) int {
	spread := 0
	if sigma := blurSigma(o.Blur, size); sigma >= 0.5 {
		// Erosion leaves nothing within erode of the mask's edge, which
		// the blur spreads by 3r (three boxes of radius r), or at half
		// resolution by 6rh + 2: the 2×2 average takes full pixels a..b to
		// half pixels ⌊a/2⌋..⌊b/2⌋, the boxes widen that by 3rh, and full
		// pixel x reads half pixels ⌊x/2 − ¼⌋ and the next (blurHalf).
		blur := 3 * boxRadius(sigma)
		if sigma >= halfResSigma {
			blur = 6*boxRadius(sigma/2) + 2
		}
		spread = max(blur-scalePx(o.Erode, size), 0)
	}
	return spanReach + spread
}

// halfResSigma is the blur above which the mask is blurred at half
// resolution: a Gaussian that wide has nothing a 2×2 average loses (its
// response at the half-resolution Nyquist frequency is below 1 %), and a
// quarter of the pixels costs a quarter of the time. The default blur (25
// px of a 224 face, σ 6.25) is far above it; erosion stays at full
// resolution, it is exact.
const halfResSigma = 3

// boxRadius returns the radius of the three box filters whose sum has
// variance σ².
func boxRadius(sigma float64) int {
	return int(math.Round((math.Sqrt(4*sigma*sigma+1) - 1) / 2))
}

// blurFull blurs m.mask inside win with three box filters of radius r per
// axis.
func (m *Merger) blurFull(win image.Rectangle, r int) {
	s, dst := m.size, m.mask
	for range 3 {
		hbox(dst, s, r, win, m.rowTmp)
	}
	vbox(m.tmp, dst, s, r, win, m.acc)
	vbox(dst, m.tmp, s, r, win, m.acc)
	vbox(m.tmp, dst, s, r, win, m.acc)
	for y := win.Min.Y; y < win.Max.Y; y++ {
		copy(dst[y*s+win.Min.X:y*s+win.Max.X], m.tmp[y*s+win.Min.X:y*s+win.Max.X])
	}
}

// blurHalf blurs m.mask inside win at half resolution: 2×2 averages, the
// three box filters for σ/2, then bilinear upsampling back (half-resolution
// sample k sits at full-resolution 2k + 0.5).
func (m *Merger) blurHalf(win image.Rectangle, sigma float64) {
	s, dst := m.size, m.mask
	h := (s + 1) / 2
	hw := image.Rect(win.Min.X/2, win.Min.Y/2, (win.Max.X+1)/2, (win.Max.Y+1)/2)
	half, tmp := m.tmp[:h*h], m.tmp[h*h:2*h*h]
	for y := hw.Min.Y; y < hw.Max.Y; y++ {
		y0, y1 := 2*y, min(2*y+1, s-1)
		r0, r1 := dst[y0*s:y0*s+s], dst[y1*s:y1*s+s]
		out := half[y*h : y*h+h]
		for x := hw.Min.X; x < hw.Max.X; x++ {
			x0, x1 := 2*x, min(2*x+1, s-1)
			out[x] = 0.25 * (r0[x0] + r0[x1] + r1[x0] + r1[x1])
		}
	}
	r := boxRadius(sigma / 2)
	for range 3 {
		hbox(half, h, r, hw, m.rowTmp)
	}
	vbox(tmp, half, h, r, hw, m.acc)
	vbox(half, tmp, h, r, hw, m.acc)
	vbox(tmp, half, h, r, hw, m.acc)
	// Up: full-resolution x reads half-resolution (x−0.5)/2, clamped to the
	// half window (outside it the blurred mask is 0 anyway). The column
	// taps are the same on every row: computed once.
	xi, xw := m.deque[:s], m.rowTmp[:s]
	taps := func(x, lo, hi int) (int, float32) {
		f := min(max(float32(x)*0.5-0.25, float32(lo)), float32(hi))
		i := int(f)
		w := f - float32(i)
		if i == hi && hi > lo { // keep i+1 inside the window
			i, w = hi-1, 1
		}
		return i, w
	}
	for x := win.Min.X; x < win.Max.X; x++ {
		i, w := taps(x, hw.Min.X, hw.Max.X-1)
		xi[x], xw[x] = int32(i), w
	}
	single := hw.Dx() == 1
	for y := win.Min.Y; y < win.Max.Y; y++ {
		j, wy := taps(y, hw.Min.Y, hw.Max.Y-1)
		j1 := min(j+1, hw.Max.Y-1)
		a, b := tmp[j*h:j*h+h], tmp[j1*h:j1*h+h]
		out := dst[y*s : y*s+s]
		for x := win.Min.X; x < win.Max.X; x++ {
			i, wx := int(xi[x]), xw[x]
			i1 := i + 1
			if single {
				i1 = i
			}
			top := a[i] + (a[i1]-a[i])*wx
			bot := b[i] + (b[i1]-b[i])*wx
			out[x] = min(top+(bot-top)*wy, 1) // float rounding may pass 1
		}
	}
}

// minRowsT writes, transposed into dst, the minimum of src over a window of
// ±r along rows [y0, y1), columns [x0, x1); windows reaching outside the
// crop give 0, src outside the columns counts as 0.
func minRowsT(dst, src []float32, s, r int, dq []int32, y0, y1, x0, x1 int) {
	for y := y0; y < y1; y++ {
		row := src[y*s : y*s+s]
		head, tail := 0, 0
		for x := x0; x < x1; x++ {
			for tail > head && row[dq[tail-1]] >= row[x] {
				tail--
			}
			dq[tail] = int32(x)
			tail++
			xo := x - r
			if xo < x0 {
				continue
			}
			if int(dq[head]) < x-2*r {
				head++
			}
			if xo < r || xo-r < x0 {
				dst[xo*s+y] = 0
			} else {
				dst[xo*s+y] = row[dq[head]]
			}
		}
		for xo := max(x1-r, x0); xo < x1; xo++ {
			dst[xo*s+y] = 0
		}
	}
}

// hbox replaces each row segment of win by its mean over ±r, counting
// values outside win as 0.
func hbox(d []float32, s, r int, win image.Rectangle, tmp []float32) {
	inv := 1 / float32(2*r+1)
	x0, x1 := win.Min.X, win.Max.X
	n := x1 - x0
	for y := win.Min.Y; y < win.Max.Y; y++ {
		row := d[y*s+x0 : y*s+x1]
		t := tmp[:n]
		copy(t, row)
		var sum float32
		for x := 0; x <= min(r, n-1); x++ {
			sum += t[x]
		}
		for x := range row {
			row[x] = max(sum*inv, 0)
			if a := x + r + 1; a < n {
				sum += t[a]
			}
			if b := x - r; b >= 0 {
				sum -= t[b]
			}
		}
	}
}

// vbox writes into dst the mean of src over ±r rows, inside win, counting
// values outside win as 0.
func vbox(dst, src []float32, s, r int, win image.Rectangle, acc []float32) {
	inv := 1 / float32(2*r+1)
	x0, x1, y0, y1 := win.Min.X, win.Max.X, win.Min.Y, win.Max.Y
	a := acc[:x1-x0]
	clear(a)
	for y := y0; y <= min(y0+r, y1-1); y++ {
		row := src[y*s+x0 : y*s+x1]
		for x, v := range row {
			a[x] += v
		}
	}
	for y := y0; y < y1; y++ {
		out := dst[y*s+x0 : y*s+x1]
		for x := range out {
			out[x] = max(a[x]*inv, 0)
		}
		if y+r+1 < y1 {
			in := src[(y+r+1)*s+x0 : (y+r+1)*s+x1]
			for x, v := range in {
				a[x] += v
			}
		}
		if y-r >= y0 {
			in := src[(y-r)*s+x0 : (y-r)*s+x1]
			for x, v := range in {
				a[x] -= v
			}
		}
	}
}

// zeroBorder clears the outer band pixels of every side, inside win
// (outside it d is 0).
func zeroBorder(d []float32, s, band int, win image.Rectangle) {
	band = min(band, s)
	for y := win.Min.Y; y < win.Max.Y; y++ {
		row := d[y*s : y*s+s]
		if y < band || y >= s-band {
			clear(row[win.Min.X:win.Max.X])
			continue
		}
		clear(row[win.Min.X:max(min(band, win.Max.X), win.Min.X)])
		clear(row[min(max(s-band, win.Min.X), win.Max.X):win.Max.X])
	}
}

// rampBorder multiplies pixels at distance k < band from the border by
// k/band, inside win (outside it d is 0).
func rampBorder(d []float32, s, band int, win image.Rectangle) {
	inv := 1 / float32(band)
	for y := win.Min.Y; y < win.Max.Y; y++ {
		row := d[y*s : y*s+s]
		dy := min(y, s-1-y)
		for x := win.Min.X; x < win.Max.X; x++ {
			if k := min(dy, x, s-1-x); k < band {
				row[x] *= float32(k) * inv
			}
		}
	}
}

// bounds returns the box of values > eps.
func bounds(d []float32, s int, eps float32) image.Rectangle {
	return boundsIn(d, s, eps, image.Rect(0, 0, s, s))
}

// boundsIn returns the box of values > eps inside win.
func boundsIn(d []float32, s int, eps float32, win image.Rectangle) image.Rectangle {
	x0, y0, x1, y1 := s, s, 0, 0
	for y := win.Min.Y; y < win.Max.Y; y++ {
		row := d[y*s : y*s+s]
		for x := win.Min.X; x < win.Max.X; x++ {
			if row[x] > eps {
				x0 = min(x0, x)
				break
			}
		}
		for x := win.Max.X - 1; x >= win.Min.X; x-- {
			if row[x] > eps {
				x1 = max(x1, x+1)
				y0 = min(y0, y)
				y1 = y + 1
				break
			}
		}
	}
	if x0 >= x1 {
		return image.Rectangle{}
	}
	return image.Rect(x0, y0, x1, y1)
}

// MaxHullPoints bounds the points HullMask takes.
const MaxHullPoints = 128

// convexHull puts the convex hull of points, in order around it, into hull
// and returns how many it has; it fails for fewer than three
// non-collinear points, more than MaxHullPoints, or one not finite.
func convexHull(points []face.Point, hull *[2*MaxHullPoints + 1]face.Point) (int, error) {
	n := len(points)
	if n < 3 || n > MaxHullPoints {
		return 0, fmt.Errorf("%w: hull needs 3..%d points, got %d", ErrInput, MaxHullPoints, n)
	}
	var pts [MaxHullPoints]face.Point
	copy(pts[:], points)
	for i := range n {
		if math.IsNaN(pts[i].X) || math.IsNaN(pts[i].Y) || math.IsInf(pts[i].X, 0) || math.IsInf(pts[i].Y, 0) {
			return 0, fmt.Errorf("%w: hull point %d is not finite", ErrInput, i)
		}
	}
	// Insertion sort by x, then y (n ≤ 128).
	for i := 1; i < n; i++ {
		p := pts[i]
		j := i - 1
		for j >= 0 && (pts[j].X > p.X || (pts[j].X == p.X && pts[j].Y > p.Y)) {
			pts[j+1] = pts[j]
			j--
		}
		pts[j+1] = p
	}
	// Andrew's monotone chain.
	cross := func(o, a, b face.Point) float64 { return (a.X-o.X)*(b.Y-o.Y) - (a.Y-o.Y)*(b.X-o.X) }
	k := 0
	for i := 0; i < n; i++ {
		for k >= 2 && cross(hull[k-2], hull[k-1], pts[i]) <= 0 {
			k--
		}
		hull[k] = pts[i]
		k++
	}
	for i, lo := n-2, k+1; i >= 0; i-- {
		for k >= lo && cross(hull[k-2], hull[k-1], pts[i]) <= 0 {
			k--
		}
		hull[k] = pts[i]
		k++
	}
	k-- // the last point repeats the first
	if k < 3 {
		return 0, fmt.Errorf("%w: hull points are collinear", ErrInput)
	}
	return k, nil
}

// HullMask rasterises the convex hull of points (face-space pixels, pixel
// centres at integers) into dst as an S×S mask: 1 inside, 0 outside, the
// horizontal edge coverage anti-aliased. It is meant for the photo swapper:
// map the 68 landmarks into face space with Transform.Apply and pass them
// here, then to Paste. It allocates nothing and fails for fewer than three
// non-collinear points, more than MaxHullPoints, or a short dst.
func HullMask(points []face.Point, size int, dst []float32) error {
	if size < 1 || len(dst) < size*size {
		return fmt.Errorf("%w: hull mask of size %d into %d values", ErrInput, size, len(dst))
	}
	var hull [2*MaxHullPoints + 1]face.Point
	k, err := convexHull(points, &hull)
	if err != nil {
		return err
	}
	s := size
	ylo, yhi := hull[0].Y, hull[0].Y
	for _, p := range hull[1:k] {
		ylo, yhi = min(ylo, p.Y), max(yhi, p.Y)
	}
	for y := 0; y < s; y++ {
		row := dst[y*s : y*s+s]
		clear(row)
		fy := float64(y)
		if fy < ylo || fy > yhi {
			continue
		}
		xl, xr := math.Inf(1), math.Inf(-1)
		for i := 0; i < k; i++ {
			a, b := hull[i], hull[i+1]
			if (fy < a.Y && fy < b.Y) || (fy > a.Y && fy > b.Y) {
				continue
			}
			var x0, x1 float64
			if a.Y == b.Y {
				x0, x1 = math.Min(a.X, b.X), math.Max(a.X, b.X)
			} else {
				x0 = a.X + (fy-a.Y)*(b.X-a.X)/(b.Y-a.Y)
				x1 = x0
			}
			xl, xr = math.Min(xl, x0), math.Max(xr, x1)
		}
		if !(xl <= xr) {
			continue
		}
		// Pixel x covers [x-0.5, x+0.5): the ones wholly inside [xl, xr]
		// are 1, the (at most two) at each end partly covered.
		lo := int(math.Min(math.Max(math.Floor(xl+0.5), 0), float64(s)))
		hi := int(math.Max(math.Min(math.Ceil(xr-0.5), float64(s-1)), -1))
		full0 := int(math.Min(math.Max(math.Ceil(xl+0.5), float64(lo)), float64(hi+1)))
		full1 := int(math.Max(math.Min(math.Floor(xr-0.5), float64(hi)), float64(full0-1)))
		cover := func(x int) {
			fx := float64(x)
			c := math.Min(fx+0.5, xr) - math.Max(fx-0.5, xl)
			row[x] = float32(math.Max(0, math.Min(1, c)))
		}
		for x := lo; x < full0; x++ {
			cover(x)
		}
		for x := full0; x <= full1; x++ {
			row[x] = 1
		}
		for x := max(full1+1, full0); x <= hi; x++ {
			cover(x)
		}
	}
	return nil
}
