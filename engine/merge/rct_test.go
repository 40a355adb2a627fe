package merge

import (
	"bytes"
	"fmt"
	"math"
	"math/rand"
	"testing"

	"facelive/engine/align"
	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
)

// Reference CIE Lab (D65, sRGB), float64, independent of the tables.
func refLab(c [3]byte) [3]float64 {
	lin := func(v byte) float64 {
		x := float64(v) / 255
		if x <= 0.04045 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	b, g, r := lin(c[0]), lin(c[1]), lin(c[2])
	x := (0.412453*r + 0.357580*g + 0.180423*b) / 0.950456
	y := 0.212671*r + 0.715160*g + 0.072169*b
	z := (0.019334*r + 0.119193*g + 0.950227*b) / 1.088754
	f := func(t float64) float64 {
		if t > 0.008856 {
			return math.Cbrt(t)
		}
		return 7.787*t + 16.0/116
	}
	return [3]float64{116*f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))}
}

func refBGR(lab [3]float64) [3]byte {
	fy := (lab[0] + 16) / 116
	fx, fz := fy+lab[1]/500, fy-lab[2]/200
	inv := func(f float64) float64 {
		if f > 6.0/29 {
			return f * f * f
		}
		return (f - 16.0/116) / 7.787
	}
	x, y, z := inv(fx)*0.950456, inv(fy), inv(fz)*1.088754
	enc := func(c float64) byte {
		c = math.Max(0, math.Min(1, c))
		if c <= 0.0031308 {
			c *= 12.92
		} else {
			c = 1.055*math.Pow(c, 1/2.4) - 0.055
		}
		return round8(c * 255)
	}
	r := 3.240479*x - 1.537150*y - 0.498535*z
	g := -0.969256*x + 1.875992*y + 0.041556*z
	b := 0.055648*x - 0.204043*y + 1.057311*z
	return [3]byte{enc(b), enc(g), enc(r)}
}

type labStats struct{ mean, std [3]float64 }

func statsOf(pix [][3]byte) labStats {
	var s, q [3]float64
	for _, p := range pix {
		l := refLab(p)
		for c := range 3 {
			s[c] += l[c]
			q[c] += l[c] * l[c]
		}
	}
	var st labStats
	n := float64(len(pix))
	for c := range 3 {
		st.mean[c] = s[c] / n
		st.std[c] = math.Sqrt(q[c]/n - st.mean[c]*st.mean[c])
	}
	return st
}

func TestLabTablesMatchReference(t *testing.T) {
	initLUTs()
	worstLab, worstRT := 0.0, 0
	for i := 0; i < 1<<24; i += 4099 { // a spread of colours
		c := [3]byte{byte(i), byte(i >> 8), byte(i >> 16)}
		L, A, B := toLab(c[0], c[1], c[2])
		ref := refLab(c)
		for k, v := range [3]float32{L, A, B} {
			worstLab = math.Max(worstLab, math.Abs(float64(v)-ref[k]))
		}
		b, g, r := fromLab(L, A, B)
		for k, v := range [3]byte{b, g, r} {
			worstRT = max(worstRT, int(math.Abs(float64(v)-float64(c[k]))))
		}
	}
	if worstLab > 0.05 {
		t.Errorf("table Lab differs from reference by %.3f", worstLab)
	}
	if worstRT > 1 {
		t.Errorf("BGR → Lab → BGR round trip off by %d", worstRT)
	}
}

// TestRCT pastes a face of known Lab statistics onto a frame region of
// other known statistics. Unmasked pixels on both sides are an extreme
// colour the statistics must ignore.
func TestRCT(t *testing.T) {
	const s = 128
	const radius = 40.0
	blue, magenta := [3]byte{255, 0, 0}, [3]byte{255, 0, 255}
	gauss := func(rng *rand.Rand, mean, std [3]float64) [3]byte {
		return refBGR([3]float64{mean[0] + std[0]*rng.NormFloat64(), mean[1] + std[1]*rng.NormFloat64(), mean[2] + std[2]*rng.NormFloat64()})
	}
	cases := []struct {
		name     string
		faceMean [3]float64
		faceStd  [3]float64 // zero: a solid face
	}{
		{"textured", [3]float64{45, -5, -15}, [3]float64{10, 5, 6}},
		{"solid", [3]float64{80, -60, 50}, [3]float64{}},
	}
	for _, f := range []frame.Format{frame.BGR24, frame.BGRA, frame.RGB24} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/%s", f, tc.name), func(t *testing.T) {
				rng := rand.New(rand.NewSource(7))
				// Face space = frame pixels (x-64, y-64).
				tr := faceTransform(t, 0, s, 64+63.5, 64+63.5, s)
				h := (float64(s) - 1) / 2
				in := func(u, v int) bool { return math.Hypot(float64(u)-h, float64(v)-h) <= radius }
				faceImg := newImage(s, s)
				img := newImage(256, 256)
				var target [][3]byte
				for y := 0; y < 256; y++ {
					for x := 0; x < 256; x++ {
						c := magenta
						if in(x-64, y-64) {
							c = gauss(rng, [3]float64{65, 20, 25}, [3]float64{6, 4, 6})
							target = append(target, c)
						}
						img.set(x, y, c)
					}
				}
				for v := 0; v < s; v++ {
					for u := 0; u < s; u++ {
						c := blue
						if in(u, v) {
							c = gauss(rng, tc.faceMean, tc.faceStd)
						}
						faceImg.set(u, v, c)
					}
				}
				before := frametest.FromBGR(img.pix, img.w, img.h, f, 5)
				fr := frametest.Clone(before)
				m := New()
				o := Options{ColorTransfer: "rct", Opacity: 1}
				if err := m.Paste(fr, tr, faceImg.pix, discMask(s, radius), o); err != nil {
					t.Fatal(err)
				}
				if st := m.Stats(); !st.Transferred || st.FacePixels != len(target) || st.TargetPixels != len(target) {
					t.Errorf("stats %+v, want transfer over %d pixels on both sides", st, len(target))
				}
				var got [][3]byte
				for y := 0; y < 256; y++ {
					for x := 0; x < 256; x++ {
						p := frametest.ReadBGR(fr, x, y)
						if in(x-64, y-64) {
							got = append(got, p)
						} else if p != magenta {
							t.Fatalf("unmasked pixel (%d,%d) = %v, want magenta", x, y, p)
						}
					}
				}
				want, have := statsOf(target), statsOf(got)
				for c, name := range []string{"L", "a", "b"} {
					if d := math.Abs(have.mean[c] - want.mean[c]); d > 1 {
						t.Errorf("%s mean %.2f, want %.2f", name, have.mean[c], want.mean[c])
					}
					wantStd := want.std[c]
					if tc.faceStd == ([3]float64{}) {
						wantStd = 0 // a solid face stays solid, in the target's mean colour
					}
					if d := math.Abs(have.std[c] - wantStd); d > 1 {
						t.Errorf("%s std %.2f, want %.2f", name, have.std[c], wantStd)
					}
				}
			})
		}
	}
}

// TestRCTTargetCrop: passing the swapper's crop gives the same result as
// letting Paste crop the frame itself.
func TestRCTTargetCrop(t *testing.T) {
	const s = 224
	img := texture(640, 480)
	tr := faceTransform(t, 12, 300, 300, 260, s)
	faceImg := make([]byte, 3*s*s)
	for i := range faceImg {
		faceImg[i] = byte(i * 31 / 7)
	}
	mask := discMask(s, 70)
	for _, f := range []frame.Format{frame.BGRA, frame.NV12} {
		t.Run(f.String(), func(t *testing.T) {
			a, b := frametest.FromBGR(img.pix, img.w, img.h, f, 0), frametest.FromBGR(img.pix, img.w, img.h, f, 0)
			crop := make([]byte, 3*s*s)
			if err := align.Crop(b, tr, crop); err != nil {
				t.Fatal(err)
			}
			if err := New().Paste(a, tr, faceImg, mask, DefaultOptions()); err != nil {
				t.Fatal(err)
			}
			o := DefaultOptions()
			o.TargetCrop = crop
			if err := New().Paste(b, tr, faceImg, mask, o); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < f.Planes(); i++ {
				if !bytes.Equal(a.Planes[i], b.Planes[i]) {
					t.Errorf("plane %d differs", i)
				}
			}
		})
	}
}

// TestRCTSubsampledStats: a large mask's statistics come from every other
// row and column (statSubsampleArea); the transferred face must still get
// the target's Lab mean and deviation within the same tolerance as TestRCT.
func TestRCTSubsampledStats(t *testing.T) {
	const s = 224
	const radius = 80.0 // box 160² > statSubsampleArea
	rng := rand.New(rand.NewSource(11))
	gauss := func(mean, std [3]float64) [3]byte {
		return refBGR([3]float64{mean[0] + std[0]*rng.NormFloat64(), mean[1] + std[1]*rng.NormFloat64(), mean[2] + std[2]*rng.NormFloat64()})
	}
	tr := faceTransform(t, 0, s, 32+111.5, 32+111.5, s) // face space = frame pixels (x-32, y-32)
	h := (float64(s) - 1) / 2
	in := func(u, v int) bool { return math.Hypot(float64(u)-h, float64(v)-h) <= radius }
	faceImg, img := newImage(s, s), newImage(288, 288)
	var target [][3]byte
	for y := 0; y < img.h; y++ {
		for x := 0; x < img.w; x++ {
			c := [3]byte{0, 255, 0}
			if in(x-32, y-32) {
				c = gauss([3]float64{60, 15, 20}, [3]float64{8, 4, 5})
				target = append(target, c)
			}
			img.set(x, y, c)
		}
	}
	for v := 0; v < s; v++ {
		for u := 0; u < s; u++ {
			faceImg.set(u, v, gauss([3]float64{40, -8, -12}, [3]float64{12, 6, 5}))
		}
	}
	fr := frametest.FromBGR(img.pix, img.w, img.h, frame.BGR24, 0)
	m := New()
	if err := m.Paste(fr, tr, faceImg.pix, discMask(s, radius), Options{ColorTransfer: "rct", Opacity: 1}); err != nil {
		t.Fatal(err)
	}
	st := m.Stats()
	if !st.Transferred || st.FacePixels > len(target)/3 || st.FacePixels < len(target)/5 {
		t.Errorf("stats %+v: want the transfer from about a quarter of the %d masked pixels", st, len(target))
	}
	var got [][3]byte
	for y := 0; y < img.h; y++ {
		for x := 0; x < img.w; x++ {
			if in(x-32, y-32) {
				got = append(got, frametest.ReadBGR(fr, x, y))
			}
		}
	}
	want, have := statsOf(target), statsOf(got)
	for c, name := range []string{"L", "a", "b"} {
		if d := math.Abs(have.mean[c] - want.mean[c]); d > 1 {
			t.Errorf("%s mean %.2f, want %.2f", name, have.mean[c], want.mean[c])
		}
		if d := math.Abs(have.std[c] - want.std[c]); d > 1 {
			t.Errorf("%s std %.2f, want %.2f", name, have.std[c], want.std[c])
		}
	}
}
