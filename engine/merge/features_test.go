package merge

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"facelive/engine/align"
	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
	"facelive/engine/landmark"
)

// liveFace is the mean face in a 224 face space, its mouth opened by
// open face px (inner lips 61–63 up by half, 65–67 down by half).
func liveFace(open float64) face.Landmarks {
	var lm face.Landmarks
	for i, p := range landmark.MeanFace {
		lm[i] = face.Point{X: 61 + 102*p.X, Y: 70 + 102*p.Y}
	}
	for i := 61; i <= 63; i++ {
		lm[i].Y -= open / 2
	}
	for i := 65; i <= 67; i++ {
		lm[i].Y += open / 2
	}
	return lm
}

// mean is the centre of landmarks lo..hi.
func mean(lm *face.Landmarks, lo, hi int) face.Point {
	var c face.Point
	for _, p := range lm[lo : hi+1] {
		c.X += p.X / float64(hi-lo+1)
		c.Y += p.Y / float64(hi-lo+1)
	}
	return c
}

func TestFeatureMaskKeepsEyesAndInnerMouth(t *testing.T) {
	const s = 224
	open := liveFace(14)
	at := func(keep []float32, p face.Point) float32 { return keep[int(p.Y+0.5)*s+int(p.X+0.5)] }
	rightEye, leftEye, mouth := mean(&open, 36, 41), mean(&open, 42, 47), mean(&open, 60, 67)
	nose, cheek := open[30], face.Point{X: open[2].X + 12, Y: open[2].Y}
	belowEye := face.Point{X: rightEye.X, Y: rightEye.Y + 0.4*open.InterOcular()}
	for _, tc := range []struct {
		name        string
		eyes, mouth bool
		one, zero   []face.Point // where keep must be 1, and 0
	}{
		{"both", true, true, []face.Point{rightEye, leftEye, mouth}, []face.Point{nose, cheek, belowEye, open[8]}},
		{"eyes only", true, false, []face.Point{rightEye, leftEye}, []face.Point{mouth, nose}},
		{"mouth only", false, true, []face.Point{mouth}, []face.Point{rightEye, leftEye, nose}},
		{"neither", false, false, nil, []face.Point{rightEye, leftEye, mouth}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keep := make([]float32, s*s)
			for i := range keep {
				keep[i] = 0.5 // FeatureMask writes every value
			}
			if _, err := FeatureMask(&open, s, tc.eyes, tc.mouth, keep); err != nil {
				t.Fatal(err)
			}
			for _, p := range tc.one {
				if v := at(keep, p); v != 1 {
					t.Errorf("keep at %v = %v, want 1", p, v)
				}
			}
			for _, p := range tc.zero {
				if v := at(keep, p); v != 0 {
					t.Errorf("keep at %v = %v, want 0", p, v)
				}
			}
			for i, v := range keep {
				if !(v >= 0 && v <= 1) {
					t.Fatalf("keep[%d] = %v", i, v)
				}
			}
		})
	}
	closed := liveFace(0) // a closed mouth keeps a band along the lips' meeting line
	keep := make([]float32, s*s)
	if _, err := FeatureMask(&closed, s, false, true, keep); err != nil {
		t.Fatal(err)
	}
	if v := at(keep, mean(&closed, 60, 67)); v != 1 {
		t.Errorf("closed mouth: keep at its centre %v, want 1", v)
	}
	if _, err := FeatureMask(&face.Landmarks{}, s, true, true, keep); err == nil {
		t.Error("landmarks without an eye distance accepted")
	}
	if n := testing.AllocsPerRun(10, func() { _, _ = FeatureMask(&open, s, true, true, keep) }); n != 0 {
		t.Errorf("FeatureMask allocates %v times", n)
	}
}

func TestPasteKeepShowsTheFrame(t *testing.T) {
	const s = 224
	img := texture(640, 480)
	lm := liveFace(14)
	keep := make([]float32, s*s)
	box, err := FeatureMask(&lm, s, true, true, keep)
	if err != nil {
		t.Fatal(err)
	}
	tr := faceTransform(t, 0, 448, 320, 240, s) // 2 frame px per face px
	toFrame := func(p face.Point) (int, int) {
		q := tr.Inverse(p)
		return int(q.X + 0.5), int(q.Y + 0.5)
	}
	for _, f := range []frame.Format{frame.BGR24, frame.NV12} {
		t.Run(f.String(), func(t *testing.T) {
			before := frametest.FromBGR(img.pix, img.w, img.h, f, 0)
			fr := frametest.Clone(before)
			o := Options{Erode: 5, Blur: 25, ColorTransfer: "rct", Opacity: 1, Keep: keep, KeepBox: box}
			m := New()
			if err := m.Paste(fr, tr, solidFace(s, green), discMask(s, 100), o); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				p    face.Point
				kept bool
			}{{mean(&lm, 36, 41), true}, {mean(&lm, 42, 47), true}, {mean(&lm, 60, 67), true}, {lm[30], false}, {lm[33], false}} {
				x, y := toFrame(c.p)
				got, was := frametest.ReadBGR(fr, x, y), frametest.ReadBGR(before, x, y)
				if kept := near(got, was, 2); kept != c.kept {
					t.Errorf("face %v (frame %d,%d): %v, was %v; kept %v, want %v", c.p, x, y, got, was, kept, c.kept)
				}
			}
			faceImg, mask := solidFace(s, green), discMask(s, 100)
			if n := testing.AllocsPerRun(5, func() { _ = m.Paste(fr, tr, faceImg, mask, o) }); n != 0 {
				t.Errorf("Paste with Keep allocates %v times", n)
			}
			short := o
			short.Keep = keep[:10]
			if err := m.Paste(fr, tr, solidFace(s, green), discMask(s, 100), short); err == nil {
				t.Error("short Keep accepted")
			}
		})
	}
}

// BenchmarkPasteLive is the engine's merge stage for a photo swap that
// follows the face: a 224 face (crop 550 px, 17°, a 250 px face) pasted into
// a 1080p frame with its landmark hull as the mask, the live features'
// mask made from the landmarks each paste (Features, as the engine does),
// steady colour and the aligned crop as TargetCrop.
// "plain" pastes the same face without live features. x-copy is the time
// relative to frame.Copy of the whole frame, measured in the same run.
func BenchmarkPasteLive(b *testing.B) {
	const s = 224
	img := texture(1920, 1080)
	lm := liveFace(14)
	faceImg := make([]byte, 3*s*s)
	for i := range faceImg {
		faceImg[i] = byte(90 + i%7*9)
	}
	mask := make([]float32, s*s)
	if err := HullMask(lm[:], s, mask); err != nil {
		b.Fatal(err)
	}
	for _, f := range []frame.Format{frame.NV12, frame.BGRA} {
		for _, live := range []bool{true, false} {
			name := map[bool]string{true: "live", false: "plain"}[live]
			b.Run(fmt.Sprintf("%s/%s", f, name), func(b *testing.B) {
				fr := frametest.FromBGR(img.pix, img.w, img.h, f, 0)
				dst := frametest.Clone(fr)
				tr := faceTransform(b, 17, 550, 960, 540, s)
				start := time.Now()
				for range 20 {
					frame.Copy(dst, fr)
				}
				copyNs := float64(time.Since(start).Nanoseconds()) / 20
				m, features := New(), &Features{}
				o := DefaultOptions()
				o.Steady, o.Track = NewSteady(DefaultSteadyTime), 1
				o.TargetCrop = make([]byte, 3*s*s) // the engine passes the swapper's input
				if err := align.Crop(fr, tr, o.TargetCrop); err != nil {
					b.Fatal(err)
				}
				paste := func() {
					o.PTS += int64(time.Second / 60)
					o.Keep, o.KeepBox = nil, image.Rectangle{}
					if live {
						keep, box, err := features.Mask(&lm, s, true, true)
						if err != nil {
							b.Fatal(err)
						}
						o.Keep, o.KeepBox = keep, box
					}
					if err := m.Paste(fr, tr, faceImg, mask, o); err != nil {
						b.Fatal(err)
					}
				}
				paste() // size the scratch buffers
				b.ReportAllocs()
				for b.Loop() {
					paste()
				}
				per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				b.ReportMetric(per/1e6, "ms/paste")
				b.ReportMetric(per/copyNs, "x-copy")
			})
		}
	}
}

// FeatureMask computes distances only outside the polygons and only near
// them: the same values as the signed distance of every pixel of the
// polygons' boxes (keepEveryPixel), on open, closed and jittered faces,
// and 0 outside the box it returns.
func TestFeatureMaskMatchesEveryPixelDistance(t *testing.T) {
	const s = 224
	rng := rand.New(rand.NewPCG(3, 4))
	got, want := make([]float32, s*s), make([]float32, s*s)
	for n := range 40 {
		lm := liveFace(float64(n % 20))
		if n >= 10 {
			for i := 36; i < 68; i++ {
				lm[i].X += rng.NormFloat64() * 2
				lm[i].Y += rng.NormFloat64() * 2
			}
		}
		box, err := FeatureMask(&lm, s, true, true, got)
		if err != nil {
			t.Fatal(err)
		}
		clear(want)
		io := lm.InterOcular()
		keepEveryPixel(lm[36:42], s, eyeMargin*io, eyeFeather*io, want)
		keepEveryPixel(lm[42:48], s, eyeMargin*io, eyeFeather*io, want)
		keepEveryPixel(lm[60:68], s, mouthMargin*io, mouthFeather*io, want)
		for i := range got {
			if d := got[i] - want[i]; d > 1e-5 || d < -1e-5 {
				t.Fatalf("face %d: keep at (%d,%d) is %v, want %v", n, i%s, i/s, got[i], want[i])
			}
			if got[i] != 0 && !image.Pt(i%s, i/s).In(box) {
				t.Fatalf("face %d: keep at (%d,%d) is %v, outside the box %v", n, i%s, i/s, got[i], box)
			}
		}
	}
}

// keepEveryPixel is keepPolygon the plain way: the signed distance to the
// polygon of every pixel in its box grown by margin.
func keepEveryPixel(poly []face.Point, size int, margin, feather float64, keep []float32) {
	b := face.Rect{X0: poly[0].X, Y0: poly[0].Y, X1: poly[0].X, Y1: poly[0].Y}
	for _, p := range poly[1:] {
		b.X0, b.Y0 = min(b.X0, p.X), min(b.Y0, p.Y)
		b.X1, b.Y1 = max(b.X1, p.X), max(b.Y1, p.Y)
	}
	x0, x1 := max(int(math.Floor(b.X0-margin)), 0), min(int(math.Ceil(b.X1+margin)), size-1)
	y0, y1 := max(int(math.Floor(b.Y0-margin)), 0), min(int(math.Ceil(b.Y1+margin)), size-1)
	core := max(margin-feather, 0)
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			d := polygonDistance(poly, face.Point{X: float64(x), Y: float64(y)}) // < 0 inside
			if d >= margin {
				continue
			}
			v := 1.0
			if d > core {
				r := (margin - d) / (margin - core)
				v = r * r * (3 - 2*r)
			}
			if i := y*size + x; float32(v) > keep[i] {
				keep[i] = float32(v)
			}
		}
	}
}

// polygonDistance is the signed distance from p to the closed polygon
// poly's outline: negative inside (even-odd rule), positive outside.
func polygonDistance(poly []face.Point, p face.Point) float64 {
	best := math.Inf(1)
	inside := false
	for i := range poly {
		a, b := poly[i], poly[(i+1)%len(poly)]
		if (a.Y > p.Y) != (b.Y > p.Y) && p.X < a.X+(p.Y-a.Y)*(b.X-a.X)/(b.Y-a.Y) {
			inside = !inside
		}
		best = min(best, segmentDistance(a, b, p))
	}
	if inside {
		return -best
	}
	return best
}

// segmentDistance is the distance from p to segment ab.
func segmentDistance(a, b, p face.Point) float64 {
	dx, dy := b.X-a.X, b.Y-a.Y
	t := 0.0
	if l := dx*dx + dy*dy; l > 0 {
		t = min(max(((p.X-a.X)*dx+(p.Y-a.Y)*dy)/l, 0), 1)
	}
	return math.Hypot(p.X-a.X-t*dx, p.Y-a.Y-t*dy)
}

// BenchmarkFeatureMask makes the live features' mask of a 224 face whose
// mouth is open. x-clear is the time relative to clearing the mask, timed
// in the same run.
func BenchmarkFeatureMask(b *testing.B) {
	const s = 224
	lm := liveFace(14)
	keep := make([]float32, s*s)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FeatureMask(&lm, s, true, true, keep); err != nil {
			b.Fatal(err)
		}
	}
	per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	const n = 2000
	t0 := time.Now()
	for range n {
		clear(keep)
	}
	b.ReportMetric(per/1e6, "ms/face")
	b.ReportMetric(per/(float64(time.Since(t0).Nanoseconds())/n), "x-clear")
}

// Features, which clears only what its last mask raised, gives
// FeatureMask's values frame after frame: faces moving and opening their
// mouths, the features switched, a squashed fit and a size change between.
func TestFeaturesMatchesFeatureMask(t *testing.T) {
	var f Features
	for k := range 30 {
		s := 224
		if k >= 20 {
			s = 160
		}
		lm := liveFace(float64(k % 15))
		for i := range lm {
			lm[i].X = lm[i].X*float64(s)/224 + float64(k%7) - 3
			lm[i].Y = lm[i].Y*float64(s)/224 + float64(k%5)*2 - 4
		}
		if k == 9 {
			lm = face.Landmarks{} // no eye distance: an error, nothing kept
		}
		eyes, mouth := k%4 != 1, k%4 != 2
		want := make([]float32, s*s)
		wantBox, wantErr := FeatureMask(&lm, s, eyes, mouth, want)
		got, box, err := f.Mask(&lm, s, eyes, mouth)
		if (err == nil) != (wantErr == nil) || box != wantBox {
			t.Fatalf("face %d: box %v, error %v; want %v, %v", k, box, err, wantBox, wantErr)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("face %d: keep at (%d,%d) is %v, want %v", k, i%s, i/s, got[i], want[i])
			}
		}
	}
	lm := liveFace(10)
	if n := testing.AllocsPerRun(10, func() { _, _, _ = f.Mask(&lm, 160, true, true) }); n != 0 {
		t.Errorf("Features.Mask allocates %v times", n)
	}
}
