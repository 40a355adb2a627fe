package merge

import (
	"testing"

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
			if err := FeatureMask(&open, s, tc.eyes, tc.mouth, keep); err != nil {
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
	if err := FeatureMask(&closed, s, false, true, keep); err != nil {
		t.Fatal(err)
	}
	if v := at(keep, mean(&closed, 60, 67)); v != 1 {
		t.Errorf("closed mouth: keep at its centre %v, want 1", v)
	}
	if err := FeatureMask(&face.Landmarks{}, s, true, true, keep); err == nil {
		t.Error("landmarks without an eye distance accepted")
	}
	if n := testing.AllocsPerRun(10, func() { _ = FeatureMask(&open, s, true, true, keep) }); n != 0 {
		t.Errorf("FeatureMask allocates %v times", n)
	}
}

func TestPasteKeepShowsTheFrame(t *testing.T) {
	const s = 224
	img := texture(640, 480)
	lm := liveFace(14)
	keep := make([]float32, s*s)
	if err := FeatureMask(&lm, s, true, true, keep); err != nil {
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
			o := Options{Erode: 5, Blur: 25, ColorTransfer: "rct", Opacity: 1, Keep: keep}
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
