package align

import (
	"fmt"
	"math"
	"testing"

	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
)

func absDiff(a, b byte) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// compare returns the mean and max absolute channel difference.
func compare(a, b []byte) (float64, int) {
	sum, worst := 0, 0
	for i := range a {
		d := absDiff(a[i], b[i])
		sum += d
		worst = max(worst, d)
	}
	return float64(sum) / float64(len(a)), worst
}

func mustTransform(t testing.TB, m [6]float64, size int) Transform {
	t.Helper()
	tr, err := NewTransform(m, size)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestCropTranslationIsExact(t *testing.T) {
	img := pattern(320, 240)
	tr := mustTransform(t, [6]float64{1, 0, -37, 0, 1, -21}, 64)
	for _, f := range []frame.Format{frame.BGRA, frame.RGBA, frame.BGRX, frame.BGR24, frame.RGB24} {
		t.Run(f.String(), func(t *testing.T) {
			fr := frametest.FromBGR(img.pix, img.w, img.h, f, 12)
			dst := make([]byte, 64*64*3)
			if err := Crop(fr, tr, dst); err != nil {
				t.Fatal(err)
			}
			for v := 0; v < 64; v++ {
				for u := 0; u < 64; u++ {
					b, g, r := img.at(u+37, v+21)
					o := (v*64 + u) * 3
					if dst[o] != b || dst[o+1] != g || dst[o+2] != r {
						t.Fatalf("(%d,%d) = %v, want %v", u, v, dst[o:o+3], []byte{b, g, r})
					}
				}
			}
		})
	}
}

func TestCropBilinearAndBorder(t *testing.T) {
	img := pattern(100, 80)
	fr := frametest.FromBGR(img.pix, img.w, img.h, frame.BGR24, 5)
	cases := []struct {
		name string
		m    [6]float64
		want func(u, v int) [3]float64 // expected BGR
	}{
		{"half pixel", [6]float64{1, 0, -10.5, 0, 1, -20}, func(u, v int) [3]float64 {
			return avg(img, u+10, v+20, u+11, v+20)
		}},
		// u = x + 8, v = y + 4: face pixels u<8 / v<4 lie left of / above
		// the frame and repeat its edge.
		{"edge clamp", [6]float64{1, 0, 8, 0, 1, 4}, func(u, v int) [3]float64 {
			x, y := max(u-8, 0), max(v-4, 0)
			return avg(img, x, y, x, y)
		}},
		{"far outside", [6]float64{1, 0, 5000, 0, 1, -9000}, func(u, v int) [3]float64 {
			return avg(img, 0, 79, 0, 79)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]byte, 32*32*3)
			if err := Crop(fr, mustTransform(t, tc.m, 32), dst); err != nil {
				t.Fatal(err)
			}
			for v := 0; v < 32; v++ {
				for u := 0; u < 32; u++ {
					w := tc.want(u, v)
					for c := 0; c < 3; c++ {
						if d := math.Abs(float64(dst[(v*32+u)*3+c]) - w[c]); d > 0.51 {
							t.Fatalf("(%d,%d) ch %d = %d, want %.1f", u, v, c, dst[(v*32+u)*3+c], w[c])
						}
					}
				}
			}
		})
	}
}

func avg(img *bgrImage, x0, y0, x1, y1 int) [3]float64 {
	b0, g0, r0 := img.at(x0, y0)
	b1, g1, r1 := img.at(x1, y1)
	return [3]float64{(float64(b0) + float64(b1)) / 2, (float64(g0) + float64(g1)) / 2, (float64(r0) + float64(r1)) / 2}
}

// TestCropEveryFormat crops a rotated, scaled face out of the same picture
// stored in every format; BGR24 is the reference.
func TestCropEveryFormat(t *testing.T) {
	c := testCanonical()
	img := pattern(640, 480)
	cases := []struct {
		name string
		sim  similarity
		size int
	}{
		{"inside", similarity{17, 90, 320, 220}, 224},
		{"inswapper", similarity{-25, 60, 300, 260}, 128},
		{"at border", similarity{10, 100, 620, 30}, 224}, // edge clamp path
		{"upscaled", similarity{3, 30, 200, 200}, 256},
	}
	for _, tc := range cases {
		tr, err := Fit(tc.sim.landmarks(c, 0, nil), Options{Size: tc.size, Coverage: 2.2, ShiftUp: 0.08, Canonical: c})
		if err != nil {
			t.Fatal(err)
		}
		ref := make([]byte, tc.size*tc.size*3)
		if err := Crop(frametest.FromBGR(img.pix, img.w, img.h, frame.BGR24, 0), tr, ref); err != nil {
			t.Fatal(err)
		}
		for _, f := range frame.Formats {
			t.Run(fmt.Sprintf("%s/%s", tc.name, f), func(t *testing.T) {
				fr := frametest.FromBGR(img.pix, img.w, img.h, f, 9)
				dst := make([]byte, len(ref)+7)
				for i := range dst {
					dst[i] = frametest.Sentinel
				}
				if err := Crop(fr, tr, dst); err != nil {
					t.Fatal(err)
				}
				for _, b := range dst[len(ref):] {
					if b != frametest.Sentinel {
						t.Fatal("Crop wrote past S*S*3 bytes")
					}
				}
				mean, worst := compare(ref, dst[:len(ref)])
				// Packed formats hold the same bytes: identical. YUV adds
				// rounding and 4:2:0 / 4:2:2 chroma loss.
				maxMean, maxWorst := 0.0, 0
				if f.IsYUV() {
					maxMean, maxWorst = 0.6, 4
				}
				if mean > maxMean || worst > maxWorst {
					t.Errorf("differs from BGR24 crop: mean %.2f (max %.2f), worst %d (max %d)", mean, maxMean, worst, maxWorst)
				}
			})
		}
	}
}

func TestCropErrors(t *testing.T) {
	fr := frametest.FromBGR(pattern(64, 64).pix, 64, 64, frame.NV12, 0)
	tr := mustTransform(t, [6]float64{1, 0, 0, 0, 1, 0}, 32)
	if err := Crop(fr, tr, make([]byte, 32*32*3-1)); err == nil {
		t.Error("short dst accepted")
	}
	if err := Crop(fr, Transform{}, make([]byte, 10)); err == nil {
		t.Error("zero Transform accepted")
	}
	bad := *fr
	bad.Planes[1] = nil
	if err := Crop(&bad, tr, make([]byte, 32*32*3)); err == nil {
		t.Error("frame without chroma plane accepted")
	}
}

func TestCropAllocs(t *testing.T) {
	c := testCanonical()
	tr, err := Fit(similarity{17, 90, 320, 220}.landmarks(c, 0, nil), DefaultOptions(c))
	if err != nil {
		t.Fatal(err)
	}
	img := pattern(640, 480)
	dst := make([]byte, 224*224*3)
	for _, f := range frame.Formats {
		fr := frametest.FromBGR(img.pix, img.w, img.h, f, 4)
		if n := testing.AllocsPerRun(5, func() { _ = Crop(fr, tr, dst) }); n != 0 {
			t.Errorf("%s: %v allocs per Crop", f, n)
		}
	}
	lm := similarity{17, 90, 320, 220}.landmarks(c, 0, nil)
	o := DefaultOptions(c)
	if n := testing.AllocsPerRun(5, func() { _, _ = Fit(lm, o) }); n != 0 {
		t.Errorf("%v allocs per Fit", n)
	}
}

// BenchmarkCrop crops a 224 face (face 250 px wide, crop 550 px) out of a
// 1080p frame, per source format.
func BenchmarkCrop(b *testing.B) {
	c := testCanonical()
	tr, err := Fit(similarity{12, 250, 960, 540}.landmarks(c, 0, nil), DefaultOptions(c))
	if err != nil {
		b.Fatal(err)
	}
	img := pattern(1920, 1080)
	for _, f := range []frame.Format{frame.BGRA, frame.BGR24, frame.NV12, frame.I420, frame.YUY2} {
		fr := frametest.FromBGR(img.pix, img.w, img.h, f, 0)
		dst := make([]byte, 224*224*3)
		b.Run(f.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Crop(fr, tr, dst)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(224*224), "ns/px")
		})
	}
}

// refCrop is a plain float64 bilinear, edge-clamped reference.
func refCrop(img *bgrImage, t Transform) []byte {
	s := t.Size
	out := make([]byte, s*s*3)
	clampi := func(i, n int) int { return min(max(i, 0), n-1) }
	for v := 0; v < s; v++ {
		for u := 0; u < s; u++ {
			x := t.Inv[0]*float64(u) + t.Inv[1]*float64(v) + t.Inv[2]
			y := t.Inv[3]*float64(u) + t.Inv[4]*float64(v) + t.Inv[5]
			x0, y0 := math.Floor(x), math.Floor(y)
			fx, fy := x-x0, y-y0
			xa, xb := clampi(int(x0), img.w), clampi(int(x0)+1, img.w)
			ya, yb := clampi(int(y0), img.h), clampi(int(y0)+1, img.h)
			for c := 0; c < 3; c++ {
				p := func(x, y int) float64 { return float64(img.pix[(y*img.w+x)*3+c]) }
				val := (p(xa, ya)*(1-fx)+p(xb, ya)*fx)*(1-fy) + (p(xa, yb)*(1-fx)+p(xb, yb)*fx)*fy
				out[(v*s+u)*3+c] = round8(val)
			}
		}
	}
	return out
}

func TestCropMatchesReference(t *testing.T) {
	c := testCanonical()
	img := pattern(640, 480)
	fr := frametest.FromBGR(img.pix, img.w, img.h, frame.BGRA, 3)
	for _, sim := range []similarity{{17, 90, 320, 220}, {10, 100, 620, 30}, {-100, 120, 20, 460}} {
		t.Run(fmt.Sprintf("%v", sim), func(t *testing.T) {
			tr, err := Fit(sim.landmarks(c, 0, nil), DefaultOptions(c))
			if err != nil {
				t.Fatal(err)
			}
			dst := make([]byte, 224*224*3)
			if err := Crop(fr, tr, dst); err != nil {
				t.Fatal(err)
			}
			mean, worst := compare(refCrop(img, tr), dst)
			if mean > 0.3 || worst > 2 {
				t.Errorf("differs from reference: mean %.3f, worst %d", mean, worst)
			}
		})
	}
}
