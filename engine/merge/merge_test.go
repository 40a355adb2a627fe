package merge

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"math"
	"testing"
	"time"

	"facelive/engine/align"
	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
)

var green = [3]byte{0, 255, 0}

func TestPasteEveryFormat(t *testing.T) {
	const s = 224
	img := texture(640, 480)
	faceImg := solidFace(s, green)
	mask := discMask(s, 0.35*s)
	none := Options{Erode: 5, Blur: 25, ColorTransfer: "none", Opacity: 1}
	half := none
	half.Opacity = 0.5
	cases := []struct {
		name           string
		deg, side      float64
		cx, cy         float64
		o              Options
		wantMix        float64 // expected share of green at the face centre; <0: don't check
		outsideMissing bool    // face centre outside the frame
	}{
		{"centre", 17, 300, 320, 240, none, 1, false},
		{"opacity 0.5", 17, 300, 320, 240, half, 0.5, false},
		{"rct", -20, 260, 300, 250, DefaultOptions(), -1, false},
		{"bottom-left border", 30, 300, 10, 470, none, 1, false},
		{"top-right corner", 0, 400, 639, 0, none, 1, false},
		{"small", 5, 60, 101, 77, none, 1, false},
		{"entirely outside", 0, 200, -500, 100, none, 0, true},
	}
	for _, f := range frame.Formats {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/%s", f, tc.name), func(t *testing.T) {
				before := frametest.FromBGR(img.pix, img.w, img.h, f, 11)
				fr := frametest.Clone(before)
				tr := faceTransform(t, tc.deg, tc.side, tc.cx, tc.cy, s)
				m := New()
				if err := m.Paste(fr, tr, faceImg, mask, tc.o); err != nil {
					t.Fatal(err)
				}
				roi := tr.FrameROI(fr.Width, fr.Height)
				if m.Stats().ROI != roi {
					t.Errorf("Stats().ROI = %v, want %v", m.Stats().ROI, roi)
				}
				checkOutside(t, before, fr, roi)
				if tc.o.ColorTransfer == "rct" && !m.Stats().Transferred {
					t.Error("colour transfer did not run")
				}
				if tc.outsideMissing {
					if !roi.Empty() {
						t.Errorf("ROI %v, want empty", roi)
					}
					return
				}
				// The face centre is a frame pixel; compare it.
				c := tr.Inverse(face.Point{X: (s - 1) / 2.0, Y: (s - 1) / 2.0})
				x, y := int(math.Round(c.X)), int(math.Round(c.Y))
				x, y = min(max(x, 0), fr.Width-1), min(max(y, 0), fr.Height-1)
				got, orig := frametest.ReadBGR(fr, x, y), frametest.ReadBGR(before, x, y)
				if tc.wantMix >= 0 {
					var want [3]byte
					for i := range 3 {
						want[i] = round8(float64(orig[i])*(1-tc.wantMix) + float64(green[i])*tc.wantMix)
					}
					if !near(got, want, 4) {
						t.Errorf("pixel (%d,%d) = %v, want %v (was %v)", x, y, got, want, orig)
					}
				} else if got == orig {
					t.Errorf("pixel (%d,%d) unchanged", x, y)
				}
				// Pixels whose face position is well outside the blurred,
				// eroded disc keep their bytes in packed formats; in YUV
				// their luma does.
				checkUntouched(t, before, fr, tr, 0.35*s+30)
				// The alpha / X byte never changes.
				if f.BytesPerPixel() == 4 {
					for y := 0; y < fr.Height; y++ {
						for x := 0; x < fr.Width; x++ {
							if i := y*fr.Stride[0] + 4*x + 3; fr.Planes[0][i] != before.Planes[0][i] {
								t.Fatalf("alpha byte of (%d,%d) changed", x, y)
							}
						}
					}
				}
			})
		}
	}
}

// checkUntouched verifies frame pixels mapping farther than r face pixels
// from the face centre are unchanged (packed) or keep their luma (YUV).
func checkUntouched(t *testing.T, before, after *frame.Frame, tr align.Transform, r float64) {
	t.Helper()
	h := (float64(tr.Size) - 1) / 2
	changed := 0
	for y := 0; y < before.Height; y++ {
		for x := 0; x < before.Width; x++ {
			p := tr.Apply(face.Point{X: float64(x), Y: float64(y)})
			if math.Hypot(p.X-h, p.Y-h) <= r {
				continue
			}
			var same bool
			switch before.Format {
			case frame.NV12, frame.I420:
				same = before.Planes[0][y*before.Stride[0]+x] == after.Planes[0][y*after.Stride[0]+x]
			case frame.YUY2:
				same = before.Planes[0][y*before.Stride[0]+2*x] == after.Planes[0][y*after.Stride[0]+2*x]
			default:
				same = frametest.ReadBGR(before, x, y) == frametest.ReadBGR(after, x, y)
			}
			if !same {
				changed++
			}
		}
	}
	if changed > 0 {
		t.Errorf("%d pixels outside the mask changed", changed)
	}
}

// TestPasteCoversMask checks the blended area: inside the eroded disc the
// face shows fully, and the edge fades.
func TestPasteCoversMask(t *testing.T) {
	const s = 224
	img := texture(640, 480)
	for _, f := range []frame.Format{frame.BGR24, frame.NV12} {
		t.Run(f.String(), func(t *testing.T) {
			fr := frametest.FromBGR(img.pix, img.w, img.h, f, 0)
			tr := faceTransform(t, 0, 448, 320, 240, s) // 2 frame px per face px
			m := New()
			o := Options{Erode: 5, Blur: 25, ColorTransfer: "none", Opacity: 1}
			if err := m.Paste(fr, tr, solidFace(s, green), discMask(s, 80), o); err != nil {
				t.Fatal(err)
			}
			// Along a radius from the centre: green well inside (r ≤ 60
			// face px = 120 frame px), original beyond 80+blur reach.
			for _, rc := range []struct {
				r     float64
				green bool
			}{{0, true}, {30, true}, {60, true}, {100, false}} {
				x, y := int(320+2*rc.r), 240
				got := frametest.ReadBGR(fr, x, y)
				if isGreen := near(got, green, 6); isGreen != rc.green {
					t.Errorf("r=%v face px: pixel %v, green=%v want %v", rc.r, got, isGreen, rc.green)
				}
			}
			// Halfway along the fade the pixel is a mix.
			got := frametest.ReadBGR(fr, 320+2*75, 240)
			if got[1] < 140 || near(got, green, 20) {
				t.Errorf("edge pixel %v is not a mix", got)
			}
		})
	}
}

func TestPasteOpacityZeroAndEmptyMask(t *testing.T) {
	const s = 128
	img := texture(320, 240)
	for _, tc := range []struct {
		name string
		mask []float32
		o    Options
	}{
		{"opacity 0", discMask(s, 40), Options{ColorTransfer: "rct", Opacity: 0}},
		{"empty mask", make([]float32, s*s), DefaultOptions()},
		{"eroded away", discMask(s, 3), Options{Erode: 10, Opacity: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := frametest.FromBGR(img.pix, img.w, img.h, frame.NV12, 3)
			fr := frametest.Clone(before)
			if err := New().Paste(fr, faceTransform(t, 10, 200, 160, 120, s), solidFace(s, green), tc.mask, tc.o); err != nil {
				t.Fatal(err)
			}
			checkOutside(t, before, fr, image.Rectangle{})
		})
	}
}

func TestPasteErrors(t *testing.T) {
	const s = 64
	fr := frametest.FromBGR(texture(128, 96).pix, 128, 96, frame.BGRA, 0)
	tr := faceTransform(t, 0, 64, 64, 48, s)
	good := DefaultOptions()
	face, mask := solidFace(s, green), discMask(s, 20)
	cases := []struct {
		name       string
		f          *frame.Frame
		tr         align.Transform
		face       []byte
		mask       []float32
		o          Options
		wantsInput bool
	}{
		{"opacity", fr, tr, face, mask, Options{Opacity: 1.5}, true},
		{"NaN opacity", fr, tr, face, mask, Options{Opacity: math.NaN()}, true},
		{"erode", fr, tr, face, mask, Options{Erode: 65, Opacity: 1}, true},
		{"blur", fr, tr, face, mask, Options{Blur: -1, Opacity: 1}, true},
		{"color transfer", fr, tr, face, mask, Options{ColorTransfer: "lab", Opacity: 1}, true},
		{"short face", fr, tr, face[:len(face)-1], mask, good, true},
		{"short mask", fr, tr, face, mask[:10], good, true},
		{"zero transform", fr, align.Transform{}, face, mask, good, true},
		{"bad frame", &frame.Frame{Format: frame.NV12, Width: 3, Height: 2}, tr, face, mask, good, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := New().Paste(tc.f, tc.tr, tc.face, tc.mask, tc.o)
			if err == nil {
				t.Fatal("Paste succeeded")
			}
			if tc.wantsInput && !errors.Is(err, ErrInput) {
				t.Errorf("error %q does not wrap ErrInput", err)
			}
		})
	}
}

func TestPasteAllocs(t *testing.T) {
	const s = 224
	img := texture(1280, 720)
	faceImg, mask := solidFace(s, green), discMask(s, 80)
	m := New()
	for _, f := range frame.Formats {
		for _, o := range []Options{DefaultOptions(), {Erode: 5, Blur: 25, ColorTransfer: "none", Opacity: 0.8}} {
			fr := frametest.FromBGR(img.pix, img.w, img.h, f, 0)
			tr := faceTransform(t, 17, 400, 640, 360, s)
			if n := testing.AllocsPerRun(5, func() { _ = m.Paste(fr, tr, faceImg, mask, o) }); n != 0 {
				t.Errorf("%s %s: %v allocs per Paste", f, o.ColorTransfer, n)
			}
		}
	}
	pts := []face.Point{{X: 10, Y: 10}, {X: 200, Y: 20}, {X: 100, Y: 210}, {X: 50, Y: 100}}
	if n := testing.AllocsPerRun(5, func() { _ = HullMask(pts, s, mask) }); n != 0 {
		t.Errorf("%v allocs per HullMask", n)
	}
}

// BenchmarkPaste pastes a 224 face (face 250 px wide, crop 550 px, 17°)
// into a 1080p frame. x-copy is the time relative to frame.Copy of the
// whole frame, measured in the same run.
func BenchmarkPaste(b *testing.B) {
	const s = 224
	img := texture(1920, 1080)
	faceImg, mask := solidFace(s, green), discMask(s, 0.3*s)
	for _, f := range []frame.Format{frame.BGRA, frame.NV12, frame.I420, frame.YUY2, frame.BGR24} {
		for _, ct := range []string{"rct", "none"} {
			fr := frametest.FromBGR(img.pix, img.w, img.h, f, 0)
			dst := frametest.Clone(fr)
			tr := faceTransform(b, 17, 550, 960, 540, s)
			o := DefaultOptions()
			o.ColorTransfer = ct
			b.Run(fmt.Sprintf("%s/%s", f, ct), func(b *testing.B) {
				start := time.Now()
				for range 20 {
					frame.Copy(dst, fr)
				}
				copyNs := float64(time.Since(start).Nanoseconds()) / 20
				m := New()
				_ = m.Paste(fr, tr, faceImg, mask, o) // size the scratch buffers
				b.ReportAllocs()
				for b.Loop() {
					_ = m.Paste(fr, tr, faceImg, mask, o)
				}
				per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				b.ReportMetric(per/1e6, "ms/paste")
				b.ReportMetric(per/copyNs, "x-copy")
			})
		}
	}
}

// TestCropPasteRoundTrip: pasting a frame's own crop back with a full mask
// leaves it (nearly) unchanged, which pins Crop and Paste to the same
// pixel-centre and chroma conventions.
func TestCropPasteRoundTrip(t *testing.T) {
	const s = 160
	img := newImage(400, 300)
	for y := 0; y < img.h; y++ {
		for x := 0; x < img.w; x++ {
			fx, fy := float64(x), float64(y)
			img.set(x, y, [3]byte{
				round8(128 + 60*math.Sin(fx/21)*math.Cos(fy/25)),
				round8(120 + 50*math.Cos((fx+fy)/33)),
				round8(125 + 55*math.Sin((fx-2*fy)/41)),
			})
		}
	}
	cases := []struct {
		name      string
		deg       float64
		side      float64
		tolerance int // per channel, in the face's interior
	}{
		{"integer translation", 0, s, 0},
		{"rotated 1:1", 23, s, 3},
		{"scaled", -11, 1.7 * s, 3},
	}
	for _, f := range frame.Formats {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/%s", f, tc.name), func(t *testing.T) {
				before := frametest.FromBGR(img.pix, img.w, img.h, f, 6)
				fr := frametest.Clone(before)
				tr := faceTransform(t, tc.deg, tc.side, 200.5, 150.5, s)
				crop := make([]byte, 3*s*s)
				if err := align.Crop(fr, tr, crop); err != nil {
					t.Fatal(err)
				}
				full := make([]float32, s*s)
				for i := range full {
					full[i] = 1
				}
				if err := New().Paste(fr, tr, crop, full, Options{ColorTransfer: "none", Opacity: 1}); err != nil {
					t.Fatal(err)
				}
				tol := tc.tolerance
				if f.IsYUV() {
					tol += 2 // YUV → BGR → YUV rounding
				}
				worst := 0
				for y := 0; y < fr.Height; y++ {
					for x := 0; x < fr.Width; x++ {
						p := tr.Apply(face.Point{X: float64(x), Y: float64(y)})
						if p.X < 2 || p.Y < 2 || p.X > s-3 || p.Y > s-3 {
							continue
						}
						a, b := frametest.ReadBGR(before, x, y), frametest.ReadBGR(fr, x, y)
						for c := range 3 {
							worst = max(worst, int(math.Abs(float64(a[c])-float64(b[c]))))
						}
					}
				}
				if worst > tol {
					t.Errorf("round trip changes a pixel by %d (max %d)", worst, tol)
				}
			})
		}
	}
}

// The blend skips the pixels at either end of a row that fall in tiles
// with no weight ≥ aMin, and the colour transfer converts only the colours
// within 2 pixels of such a weight: the same bytes as visiting and
// converting every pixel of the spans, in every format, at several angles,
// with and without the live features' holes.
func TestPasteSkipsOnlyVacantPixels(t *testing.T) {
	const s = 224
	img := texture(1280, 720)
	lm := liveFace(14)
	face := make([]byte, 3*s*s)
	for i := range face {
		face[i] = byte(90 + i%7*9 + (i/672)%13)
	}
	mask, keep := make([]float32, s*s), make([]float32, s*s)
	if err := HullMask(lm[:], s, mask); err != nil {
		t.Fatal(err)
	}
	box, err := FeatureMask(&lm, s, true, true, keep)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frame.Formats {
		for _, deg := range []float64{0, 17, -40} {
			for _, o := range []Options{DefaultOptions(), {Erode: 0, Blur: 3, ColorTransfer: "none", Opacity: 0.6, Keep: keep, KeepBox: box},
				{Erode: 0, Blur: 0, ColorTransfer: "rct", Opacity: 1, Keep: keep, KeepBox: box}} { // hard edges: every colour beside them counts
				t.Run(fmt.Sprintf("%s/%g/%s", f, deg, o.ColorTransfer), func(t *testing.T) {
					tr := faceTransform(t, deg, 500, 640, 360, s)
					want := frametest.FromBGR(img.pix, img.w, img.h, f, 0)
					got := frametest.Clone(want)
					every := New()
					every.everyPixel = true
					if err := every.Paste(want, tr, face, mask, o); err != nil {
						t.Fatal(err)
					}
					if err := New().Paste(got, tr, face, mask, o); err != nil {
						t.Fatal(err)
					}
					for p := range want.Planes {
						if !bytes.Equal(want.Planes[p], got.Planes[p]) {
							t.Fatalf("plane %d differs from visiting every pixel", p)
						}
					}
				})
			}
		}
	}
}
