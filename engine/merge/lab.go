package merge

import (
	"image"
	"math"
	"sync"

	"facelive/engine/align"
	"facelive/engine/frame"
)

// CIE L*a*b* (D65) of sRGB, as OpenCV's cvtColor(BGR2Lab) on float input:
// L in 0..100, a and b about −127..127. Conversions run through tables:
// sRGB byte → linear, f(t) = ∛t (linear near 0), linear → sRGB byte.
const (
	cbrtN = 4096  // f(t) samples over t ∈ [0, 1]
	linN  = 16384 // linear → byte bins over [0, 1]
)

var (
	srgbLin  [256]float32
	cbrtTab  [cbrtN + 2]float32
	linSRGB  [linN + 1]uint8
	initLUTs = sync.OnceFunc(func() {
		for i := range srgbLin {
			c := float64(i) / 255
			if c <= 0.04045 {
				c /= 12.92
			} else {
				c = math.Pow((c+0.055)/1.055, 2.4)
			}
			srgbLin[i] = float32(c)
		}
		for i := range cbrtTab {
			t := float64(i) / cbrtN
			if t > 0.008856 {
				cbrtTab[i] = float32(math.Cbrt(t))
			} else {
				cbrtTab[i] = float32(7.787*t + 16.0/116)
			}
		}
		for i := range linSRGB {
			c := float64(i) / linN
			if c <= 0.0031308 {
				c *= 12.92
			} else {
				c = 1.055*math.Pow(c, 1/2.4) - 0.055
			}
			linSRGB[i] = uint8(math.Round(math.Max(0, math.Min(1, c)) * 255))
		}
	})
)

func labF(t float32) float32 {
	if t <= 0 {
		return cbrtTab[0]
	}
	if t >= 1 {
		t = 1
	}
	x := t * cbrtN
	i := int(x)
	fr := x - float32(i)
	return cbrtTab[i] + (cbrtTab[i+1]-cbrtTab[i])*fr
}

func labFInv(f float32) float32 {
	if f > 6.0/29 {
		return f * f * f
	}
	return (f - 16.0/116) / 7.787
}

// toLab converts one BGR8 pixel.
func toLab(b, g, r byte) (L, A, B float32) {
	R, G, Bl := srgbLin[r], srgbLin[g], srgbLin[b]
	x := (0.412453*R + 0.357580*G + 0.180423*Bl) * (1 / 0.950456)
	y := 0.212671*R + 0.715160*G + 0.072169*Bl
	z := (0.019334*R + 0.119193*G + 0.950227*Bl) * (1 / 1.088754)
	fx, fy, fz := labF(x), labF(y), labF(z)
	return 116*fy - 16, 500 * (fx - fy), 200 * (fy - fz)
}

func linByte(c float32) byte {
	if c <= 0 {
		return 0
	}
	if c >= 1 {
		return 255
	}
	return linSRGB[int(c*linN+0.5)]
}

// clamp32 clamps v to [lo, hi] with plain comparisons (min and max also
// order NaNs and signed zeros, which costs in a per-pixel loop).
func clamp32(v, lo, hi float32) float32 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// fromLab converts Lab to BGR8, clipping out-of-gamut colours per channel.
func fromLab(L, A, B float32) (byte, byte, byte) {
	fy := (L + 16) * (1.0 / 116)
	fx := fy + A*(1.0/500)
	fz := fy - B*(1.0/200)
	x := labFInv(fx) * 0.950456
	y := labFInv(fy)
	z := labFInv(fz) * 1.088754
	r := 3.240479*x - 1.537150*y - 0.498535*z
	g := -0.969256*x + 1.875992*y + 0.041556*z
	b := 0.055648*x - 0.204043*y + 1.057311*z
	return linByte(b), linByte(g), linByte(r)
}

// statSubsampleArea is the mask box area (face pixels) above which the
// colour statistics are taken on every other row and column (a 224 face's
// box is about 17,000).
const statSubsampleArea = 8192

// minStatPixels is the fewest pixels a side's statistics may rest on.
const minStatPixels = 16

type moments struct{ n, s0, s1, s2, q0, q1, q2 float64 }

func (m *moments) add(l, a, b float32) {
	m.n++
	m.s0 += float64(l)
	m.s1 += float64(a)
	m.s2 += float64(b)
	m.q0 += float64(l) * float64(l)
	m.q1 += float64(a) * float64(a)
	m.q2 += float64(b) * float64(b)
}

func (m *moments) meanStd() (mean, std [3]float32) {
	s, q := [3]float64{m.s0, m.s1, m.s2}, [3]float64{m.q0, m.q1, m.q2}
	for c := range 3 {
		mu := s[c] / m.n
		mean[c] = float32(mu)
		std[c] = float32(math.Sqrt(math.Max(q[c]/m.n-mu*mu, 0)))
	}
	return
}

// spanReach: Paste's sampling reads face pixels within this many pixels
// (Chebyshev) of a nonzero mask value. A bilinear footprint with a nonzero
// weight has a nonzero corner, so its pixels are within 1; the chroma of a
// YUV block is sampled at the block's centre, which lies within one more
// pixel of such a footprint when the block spans at most one face pixel
// (see paster.centred).
const spanReach = 2

// rowSpans sets, for each row v of box, the columns [lo[v], hi[v]) that
// Paste's bilinear sampling can read: those with a mask value > 0 within
// spanReach pixels (in box). Rows with none get lo = hi.
func (m *Merger) rowSpans(box image.Rectangle) {
	s := m.size
	lo, hi := m.spanLo, m.spanHi
	// Each row's own span of nonzero values first...
	for v := box.Min.Y; v < box.Max.Y; v++ {
		row := m.mask[v*s : v*s+s]
		a, b := box.Max.X, box.Min.X
		for x := box.Min.X; x < box.Max.X; x++ {
			if row[x] > 0 {
				a = x
				break
			}
		}
		for x := box.Max.X - 1; x >= a; x-- {
			if row[x] > 0 {
				b = x + 1
				break
			}
		}
		m.rowTmp[v] = float32(a) // scratch: the row's own span
		m.acc[v] = float32(b)
	}
	// ... then the union with the rows above and below, widened by one.
	for v := box.Min.Y; v < box.Max.Y; v++ {
		a, b := box.Max.X, box.Min.X
		for k := max(v-spanReach, box.Min.Y); k <= min(v+spanReach, box.Max.Y-1); k++ {
			if ka, kb := int(m.rowTmp[k]), int(m.acc[k]); ka < kb {
				a, b = min(a, ka), max(b, kb)
			}
		}
		if a < b {
			a, b = max(a-spanReach, box.Min.X), min(b+spanReach, box.Max.X)
		} else {
			a, b = box.Min.X, box.Min.X
		}
		lo[v], hi[v] = int32(a), int32(b)
	}
}

// colorTransfer writes into m.adj the face with its Lab mean and standard
// deviation per channel matched to those of the frame's face (Reinhard et
// al. 2001), and reports whether it did. Both sides' statistics use only
// pixels of the prepared mask > 0.5 (or, when that leaves fewer than
// minStatPixels, of the caller's mask > 0.5); frame pixels whose sample
// point lies outside the frame are left out. Only the part of m.adj that
// Paste samples (the mask box plus one pixel) is written. With o.Steady
// the frame-side statistics are the track's smoothed ones.
func (m *Merger) colorTransfer(f *frame.Frame, t *align.Transform, faceBGR []byte, raw []float32, o *Options) bool {
	s, target := m.size, o.TargetCrop
	sel, win := m.mask, m.bbox // the prepared mask is 0 outside its box
	n := 0
	for v := win.Min.Y; v < win.Max.Y && n < minStatPixels; v++ {
		for _, mv := range sel[v*s+win.Min.X : v*s+win.Max.X] {
			if mv > 0.5 {
				n++
			}
		}
	}
	if n < minStatPixels {
		sel, win = raw[:s*s], image.Rect(0, 0, s, s)
	}
	if len(target) < 3*s*s {
		if align.Crop(f, *t, m.crop) != nil {
			return false
		}
		target = m.crop
	}
	// The face's Lab over the pixels whose colours the blend can use (the
	// use spans, Merger.weights) is converted once: the statistics read it
	// and the transfer writes from it.
	ab, lo, hi := m.sampled, m.useLo, m.useHi
	lab := m.lab
	for v := ab.Min.Y; v < ab.Max.Y; v++ {
		for o := 3 * (v*s + int(lo[v])); o < 3*(v*s+int(hi[v])); o += 3 {
			lab[o], lab[o+1], lab[o+2] = toLab(faceBGR[o], faceBGR[o+1], faceBGR[o+2])
		}
	}
	// A large mask's statistics come from every other row and column: a
	// quarter of the conversions, and still thousands of pixels a side.
	step := 1
	if win.Dx()*win.Dy() > statSubsampleArea {
		step = 2
	}
	var fm, tm moments
	w, h := float64(f.Width-1), float64(f.Height-1)
	inv := &t.Inv
	for v := win.Min.Y; v < win.Max.Y; v += step {
		// Frame position of (0, v), stepping by inv[0], inv[3] per u.
		x := inv[1]*float64(v) + inv[2]
		y := inv[4]*float64(v) + inv[5]
		row := sel[v*s : v*s+win.Max.X]
		inBox := v >= ab.Min.Y && v < ab.Max.Y
		for u := win.Min.X; u < win.Max.X; u += step {
			if mv := row[u]; mv > 0.5 {
				o := 3 * (v*s + u)
				if inBox && u >= int(lo[v]) && u < int(hi[v]) {
					fm.add(lab[o], lab[o+1], lab[o+2])
				} else {
					fm.add(toLab(faceBGR[o], faceBGR[o+1], faceBGR[o+2]))
				}
				if fx, fy := x+float64(u)*inv[0], y+float64(u)*inv[3]; fx >= 0 && fy >= 0 && fx <= w && fy <= h {
					tm.add(toLab(target[o], target[o+1], target[o+2]))
				}
			}
		}
	}
	m.stats.FacePixels, m.stats.TargetPixels = int(fm.n), int(tm.n)
	if fm.n < minStatPixels || tm.n < minStatPixels {
		return false
	}
	fMean, fStd := fm.meanStd()
	tMean, tStd := tm.meanStd()
	o.Steady.smooth(o.Track, o.PTS, &tMean, &tStd)
	var k [3]float32
	for c := range 3 {
		k[c] = tStd[c] / max(fStd[c], 1e-3)
	}
	for v := ab.Min.Y; v < ab.Max.Y; v++ {
		for o := 3 * (v*s + int(lo[v])); o < 3*(v*s+int(hi[v])); o += 3 {
			L := clamp32((lab[o]-fMean[0])*k[0]+tMean[0], 0, 100)
			A := clamp32((lab[o+1]-fMean[1])*k[1]+tMean[1], -127, 127)
			B := clamp32((lab[o+2]-fMean[2])*k[2]+tMean[2], -127, 127)
			m.adj[o], m.adj[o+1], m.adj[o+2] = fromLab(L, A, B)
		}
	}
	m.stats.Transferred = true
	return true
}
