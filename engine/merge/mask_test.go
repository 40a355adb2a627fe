package merge

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"testing"

	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
)

func prepared(t *testing.T, src []float32, s, erode, blur int) []float32 {
	t.Helper()
	m := New()
	m.ensure(s)
	m.prepareMask(src, scalePx(erode, s), blurSigma(blur, s))
	for i, v := range m.mask {
		if !(v >= 0 && v <= 1) {
			t.Fatalf("mask[%d] = %v out of 0..1", i, v)
		}
	}
	return m.mask
}

func ones(s int) []float32 {
	m := make([]float32, s*s)
	for i := range m {
		m[i] = 1
	}
	return m
}

func ringMax(m []float32, s int) float32 {
	var r float32
	for i := 0; i < s; i++ {
		r = max(r, m[i], m[(s-1)*s+i], m[i*s], m[i*s+s-1])
	}
	return r
}

func TestMaskFadesToBorder(t *testing.T) {
	for _, tc := range []struct {
		name     string
		s        int
		erode    int
		blur     int
		centreIs float32 // value at the centre
	}{
		{"default", 224, 5, 25, 1},
		{"no blur", 224, 0, 0, 1},
		{"inswapper", 128, 5, 25, 1},
		{"max blur", 224, 0, 255, -1},
		{"max erode", 224, 64, 25, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s
			m := prepared(t, ones(s), s, tc.erode, tc.blur)
			if r := ringMax(m, s); r != 0 {
				t.Errorf("outermost ring reaches %v, want 0", r)
			}
			c := m[s/2*s+s/2]
			if tc.centreIs >= 0 && math.Abs(float64(c-tc.centreIs)) > 1e-4 {
				t.Errorf("centre %v, want %v", c, tc.centreIs)
			}
			if c <= 0 {
				t.Errorf("centre %v, want > 0", c)
			}
			// Non-decreasing from the border to the centre along a row.
			row := m[s/2*s : s/2*s+s]
			for x := 1; x <= s/2; x++ {
				if row[x] < row[x-1]-1e-6 {
					t.Fatalf("row falls at x=%d: %v < %v", x, row[x], row[x-1])
				}
			}
			// A blurred mask's edge is soft: no jump bigger than a box
			// step (hard only without blur).
			if tc.blur > 0 {
				for x := 1; x < s; x++ {
					if d := math.Abs(float64(row[x] - row[x-1])); d > 0.25 {
						t.Fatalf("jump of %.2f at x=%d", d, x)
					}
				}
			}
		})
	}
}

func TestMaskErode(t *testing.T) {
	// Disc of radius 60 around (111.5, 111.5): middle row covers x 52..171.
	for _, tc := range []struct {
		s, erode       int
		first, last    int // first and last 1 on row s/2 after erosion
		discR, centreC float64
	}{
		{224, 0, 52, 171, 60, 111.5},
		{224, 5, 57, 166, 60, 111.5},
		{224, 10, 63, 160, 60, 111.5}, // rows ±10.5 off centre are 2 px shorter
		{112, 5, 29, 82, 30, 55.5},    // 5 px of a 224 face = 3 px here; disc x 26..85
	} {
		s := tc.s
		src := make([]float32, s*s)
		for v := 0; v < s; v++ {
			for u := 0; u < s; u++ {
				if math.Hypot(float64(u)-tc.centreC, float64(v)-tc.centreC) <= tc.discR {
					src[v*s+u] = 1
				}
			}
		}
		m := prepared(t, src, s, tc.erode, 0)
		row := m[s/2*s : s/2*s+s]
		first, last := -1, -1
		for x, v := range row {
			if v == 1 {
				if first < 0 {
					first = x
				}
				last = x
			} else if v != 0 {
				t.Errorf("s=%d erode=%d: value %v at %d, want 0 or 1", s, tc.erode, v, x)
			}
		}
		if first != tc.first || last != tc.last {
			t.Errorf("s=%d erode=%d: ones from %d to %d, want %d to %d", s, tc.erode, first, last, tc.first, tc.last)
		}
	}
}

func TestMaskBlurWidth(t *testing.T) {
	const s = 224
	src := make([]float32, s*s)
	for v := 0; v < s; v++ {
		for u := 0; u < s/2; u++ {
			src[v*s+u] = 1
		}
	}
	m := prepared(t, src, s, 0, 25)
	row := m[s/2*s : s/2*s+s]
	x90, x10 := -1, -1
	for x := 60; x < s-40; x++ {
		if x90 < 0 && row[x] < 0.9 {
			x90 = x
		}
		if x10 < 0 && row[x] < 0.1 {
			x10 = x
		}
	}
	// σ ≈ 25/4 → 10–90 % width ≈ 2.56σ ≈ 16.6 px, centred on the edge.
	if w := x10 - x90; w < 13 || w > 20 {
		t.Errorf("10–90 %% edge width %d px, want ≈ 16", w)
	}
	if mid := (x10 + x90) / 2; mid < s/2-3 || mid > s/2+3 {
		t.Errorf("edge centred at %d, want ≈ %d", mid, s/2)
	}
}

func TestMaskSanitises(t *testing.T) {
	const s = 32
	src := ones(s)
	src[5*s+5] = float32(math.NaN())
	src[6*s+6] = -3
	src[7*s+7] = 9
	m := prepared(t, src, s, 0, 0) // prepared checks 0..1
	if m[5*s+5] != 0 || m[6*s+6] != 0 || m[7*s+7] != 1 {
		t.Errorf("got %v %v %v, want 0 0 1", m[5*s+5], m[6*s+6], m[7*s+7])
	}
}

func TestHullMask(t *testing.T) {
	const s = 128
	square := []face.Point{{X: 20, Y: 20}, {X: 100, Y: 20}, {X: 100, Y: 100}, {X: 20, Y: 100}, {X: 50, Y: 60}, {X: 70, Y: 30}}
	tri := []face.Point{{X: 10, Y: 100}, {X: 110, Y: 100}, {X: 60, Y: 10}}
	cases := []struct {
		name string
		pts  []face.Point
		area float64
		in   []face.Point
		out  []face.Point
	}{
		// Pixel centres 20..100 are covered; edges at centres give ½.
		{"square", square, 80 * 80, []face.Point{{X: 60, Y: 60}, {X: 21, Y: 99}}, []face.Point{{X: 10, Y: 10}, {X: 101, Y: 60}, {X: 60, Y: 19}}},
		{"triangle", tri, 100 * 90 / 2, []face.Point{{X: 60, Y: 60}}, []face.Point{{X: 15, Y: 20}, {X: 100, Y: 20}}},
		{"clipped", []face.Point{{X: -50, Y: -50}, {X: 60, Y: -50}, {X: 60, Y: 60}, {X: -50, Y: 60}}, 60.5 * 60.5, []face.Point{{X: 0, Y: 0}}, []face.Point{{X: 70, Y: 70}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]float32, s*s)
			for i := range dst {
				dst[i] = 7 // must be overwritten
			}
			if err := HullMask(tc.pts, s, dst); err != nil {
				t.Fatal(err)
			}
			sum := 0.0
			for _, v := range dst {
				if v < 0 || v > 1 {
					t.Fatalf("value %v", v)
				}
				sum += float64(v)
			}
			// Rows are sampled at pixel centres: allow a row's worth.
			if math.Abs(sum-tc.area) > 0.02*tc.area+100 {
				t.Errorf("area %.0f, want %.0f", sum, tc.area)
			}
			for _, p := range tc.in {
				if v := dst[int(p.Y)*s+int(p.X)]; v != 1 {
					t.Errorf("inside %v = %v", p, v)
				}
			}
			for _, p := range tc.out {
				if v := dst[int(p.Y)*s+int(p.X)]; v != 0 {
					t.Errorf("outside %v = %v", p, v)
				}
			}
		})
	}
	for _, bad := range []struct {
		name string
		pts  []face.Point
		n    int
	}{
		{"two points", square[:2], s * s},
		{"collinear", []face.Point{{X: 1, Y: 1}, {X: 2, Y: 2}, {X: 3, Y: 3}, {X: 4, Y: 4}}, s * s},
		{"NaN", []face.Point{{X: 1, Y: 1}, {X: math.NaN(), Y: 2}, {X: 3, Y: 9}}, s * s},
		{"too many", make([]face.Point, MaxHullPoints+1), s * s},
		{"short dst", square, s*s - 1},
	} {
		t.Run(bad.name, func(t *testing.T) {
			if err := HullMask(bad.pts, s, make([]float32, bad.n)); !errors.Is(err, ErrInput) {
				t.Errorf("err = %v, want ErrInput", err)
			}
		})
	}
}

// BenchmarkPrepareMask prepares a 224 face's mask (a disc of radius 0.3 S,
// about a face hull) with the default erode and blur.
func BenchmarkPrepareMask(b *testing.B) {
	const s = 224
	mask := discMask(s, 0.3*s)
	m := New()
	m.ensure(s)
	o := DefaultOptions()
	b.ReportAllocs()
	for b.Loop() {
		m.prepareMask(mask, scalePx(o.Erode, s), blurSigma(o.Blur, s))
	}
}

// Paste reads the face only within Reach of the mask's rows (each row
// from its first nonzero value to its last): a face that is garbage
// further away pastes the same bytes.
func TestPasteReadsTheFaceOnlyWithinReach(t *testing.T) {
	img := texture(640, 480)
	for _, s := range []int{224, 128} {
		lm := liveFace(14)
		for i := range lm {
			lm[i].X = lm[i].X * float64(s) / 224
			lm[i].Y = lm[i].Y * float64(s) / 224
		}
		hull := make([]float32, s*s)
		if err := HullMask(lm[:], s, hull); err != nil {
			t.Fatal(err)
		}
		edge := discMask(s, 0.3*float64(s)) // a disc cut by the crop's left edge
		for v := 0; v < s; v++ {
			copy(edge[v*s:v*s+s-s/3], edge[v*s+s/3:v*s+s])
		}
		two := make([]float32, s*s) // two small discs, apart: not convex
		for v := range s {
			for u := range s {
				if math.Hypot(float64(u)-0.3*float64(s), float64(v)-0.35*float64(s)) < 0.12*float64(s) ||
					math.Hypot(float64(u)-0.7*float64(s), float64(v)-0.6*float64(s)) < 0.1*float64(s) {
					two[v*s+u] = 1
				}
			}
		}
		face := make([]byte, 3*s*s)
		for i := range face {
			face[i] = byte(60 + (i*7)%131)
		}
		for _, mk := range []struct {
			name string
			mask []float32
		}{{"hull", hull}, {"edge", edge}, {"two", two}} {
			// Each row from its first nonzero value to its last.
			lo, hi := make([]int, s), make([]int, s)
			for v := range s {
				lo[v], hi[v] = s, -1
				for u := range s {
					if mk.mask[v*s+u] > 0 {
						lo[v], hi[v] = min(lo[v], u), max(hi[v], u)
					}
				}
			}
			for _, o := range []Options{
				DefaultOptions(),
				{Erode: 0, Blur: 0, ColorTransfer: "rct", Opacity: 1},
				{Erode: 20, Blur: 5, ColorTransfer: "none", Opacity: 0.7},
				{Erode: 2, Blur: 100, ColorTransfer: "rct", Opacity: 1},
				{Erode: 0, Blur: 255, ColorTransfer: "rct", Opacity: 1},
				{Erode: 10, Blur: 25, ColorTransfer: "none", Opacity: 1},
				{Erode: 30, Blur: 60, ColorTransfer: "rct", Opacity: 1},
				{Erode: 12, Blur: 10, ColorTransfer: "none", Opacity: 1}, // full-resolution blur
			} {
				reach := Reach(o, s)
				near := func(u, v int) bool {
					for k := max(v-reach, 0); k <= min(v+reach, s-1); k++ {
						if u >= lo[k]-reach && u <= hi[k]+reach {
							return true
						}
					}
					return false
				}
				poisoned := append([]byte(nil), face...)
				for v := range s {
					for u := range s {
						if !near(u, v) {
							o := 3 * (v*s + u)
							poisoned[o], poisoned[o+1], poisoned[o+2] = 255, 0, 255
						}
					}
				}
				for _, f := range []frame.Format{frame.BGRA, frame.NV12, frame.YUY2, frame.BGR24} {
					t.Run(fmt.Sprintf("%d/%s/erode%d-blur%d-%s/%s", s, mk.name, o.Erode, o.Blur, o.ColorTransfer, f), func(t *testing.T) {
						tr := faceTransform(t, 11, 2.2*float64(s), 320, 240, s)
						want := frametest.FromBGR(img.pix, img.w, img.h, f, 0)
						got := frametest.Clone(want)
						if err := New().Paste(want, tr, face, mk.mask, o); err != nil {
							t.Fatal(err)
						}
						if err := New().Paste(got, tr, poisoned, mk.mask, o); err != nil {
							t.Fatal(err)
						}
						for p := range want.Planes {
							if !bytes.Equal(want.Planes[p], got.Planes[p]) {
								t.Fatalf("plane %d differs: Paste read the face more than %d px from the mask's rows", p, reach)
							}
						}
					})
				}
			}
		}
	}
}

// HullMask fills the row between its partly covered ends with 1 and skips
// the rows outside the hull: the same values as computing every pixel's
// coverage (hullMaskEveryPixel), for random hulls with fractional corners,
// some cut by the crop.
func TestHullMaskMatchesEveryPixelCoverage(t *testing.T) {
	const s = 96
	rng := rand.New(rand.NewPCG(1, 2))
	got, want := make([]float32, s*s), make([]float32, s*s)
	for n := range 300 {
		pts := make([]face.Point, 3+n%12)
		for i := range pts {
			pts[i] = face.Point{X: rng.Float64()*130 - 17, Y: rng.Float64()*130 - 17}
		}
		errGot, errWant := HullMask(pts, s, got), hullMaskEveryPixel(pts, s, want)
		if (errGot == nil) != (errWant == nil) {
			t.Fatalf("hull %d: error %v, want %v", n, errGot, errWant)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("hull %d %v: pixel (%d,%d) is %v, want %v", n, pts, i%s, i/s, got[i], want[i])
			}
		}
	}
}

func hullMaskEveryPixel(points []face.Point, size int, dst []float32) error {
	if size < 1 || len(dst) < size*size {
		return fmt.Errorf("%w: hull mask of size %d into %d values", ErrInput, size, len(dst))
	}
	var hull [2*MaxHullPoints + 1]face.Point
	k, err := convexHull(points, &hull)
	if err != nil {
		return err
	}
	s := size
	for y := 0; y < s; y++ {
		row := dst[y*s : y*s+s]
		clear(row)
		fy := float64(y)
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
		// Pixel x covers [x-0.5, x+0.5).
		lo := int(math.Min(math.Max(math.Floor(xl+0.5), 0), float64(s)))
		hi := int(math.Max(math.Min(math.Ceil(xr-0.5), float64(s-1)), -1))
		for x := lo; x <= hi; x++ {
			fx := float64(x)
			c := math.Min(fx+0.5, xr) - math.Max(fx-0.5, xl)
			row[x] = float32(math.Max(0, math.Min(1, c)))
		}
	}
	return nil
}

// A Merger clears and reads only the part of its mask scratch the last
// and the current paste use: pasting a run of masks of different places,
// sizes and options with one Merger gives the same bytes, and the same
// prepared mask, as a fresh Merger for each.
func TestMergerReuseMatchesAFreshOne(t *testing.T) {
	img := texture(640, 480)
	reused := New()
	for k := range 24 {
		s := []int{224, 224, 128, 224}[k%4]
		face := make([]byte, 3*s*s)
		for i := range face {
			face[i] = byte(90 + (i*(k+3))%120)
		}
		mask := make([]float32, s*s)
		cx, cy := float64(s)*(0.3+0.4*math.Sin(float64(k))), float64(s)*(0.5+0.3*math.Cos(float64(k)*1.7))
		rad := float64(s) * (0.1 + 0.05*float64(k%5))
		for v := range s {
			for u := range s {
				if math.Hypot(float64(u)-cx, float64(v)-cy) < rad {
					mask[v*s+u] = 1
				}
			}
		}
		o := []Options{DefaultOptions(), {Erode: 0, Blur: 3, ColorTransfer: "none", Opacity: 0.8}, {Erode: 20, Blur: 200, ColorTransfer: "rct", Opacity: 1}, {Erode: 2, Blur: 0, ColorTransfer: "rct", Opacity: 1}}[k%4]
		f := []frame.Format{frame.NV12, frame.BGRA, frame.YUY2}[k%3]
		tr := faceTransform(t, float64(k*9), 2.2*float64(s), 320, 240, s)
		want := frametest.FromBGR(img.pix, img.w, img.h, f, 0)
		got := frametest.Clone(want)
		fresh := New()
		if err := fresh.Paste(want, tr, face, mask, o); err != nil {
			t.Fatal(err)
		}
		if err := reused.Paste(got, tr, face, mask, o); err != nil {
			t.Fatal(err)
		}
		for p := range want.Planes {
			if !bytes.Equal(want.Planes[p], got.Planes[p]) {
				t.Fatalf("paste %d: plane %d differs from a fresh Merger's", k, p)
			}
		}
		for i, v := range fresh.Mask() {
			if reused.Mask()[i] != v {
				t.Fatalf("paste %d: prepared mask at (%d,%d) is %v, a fresh Merger's %v", k, i%s, i/s, reused.Mask()[i], v)
			}
		}
	}
}

// minRowsT takes each window's minimum as the plain way does, for radii
// from 1 to past the window's width and windows at the crop's edges.
func TestMinRowsTMatchesThePlainMinimum(t *testing.T) {
	const s = 40
	rng := rand.New(rand.NewPCG(5, 6))
	src, got := make([]float32, s*s), make([]float32, s*s)
	for i := range src {
		src[i] = float32(rng.IntN(5)) / 4 // ties, as a mask has
	}
	dq := make([]int32, s)
	for _, w := range []image.Rectangle{image.Rect(0, 0, s, s), image.Rect(3, 5, 31, 22), image.Rect(10, 0, 17, 40)} {
		for r := 1; r <= 16; r++ {
			for i := range got {
				got[i] = -1
			}
			minRowsT(got, src, s, r, dq, w.Min.Y, w.Max.Y, w.Min.X, w.Max.X)
			for y := w.Min.Y; y < w.Max.Y; y++ {
				for x := w.Min.X; x < w.Max.X; x++ {
					want := float32(0) // a window reaching past the columns
					if x-r >= w.Min.X && x+r < w.Max.X {
						want = 1
						for k := x - r; k <= x+r; k++ {
							want = min(want, src[y*s+k])
						}
					}
					if v := got[x*s+y]; v != want {
						t.Fatalf("window %v, r %d: (%d,%d) is %v, want %v", w, r, x, y, v, want)
					}
				}
			}
		}
	}
}
