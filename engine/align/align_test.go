package align

import (
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand"
	"testing"

	"facelive/engine/face"
)

// expected builds the frame→face matrix Fit should find for landmarks made
// by applying sim to canonical c.
func expected(c *face.Landmarks, sim similarity, o Options) [6]float64 {
	// canonical → face: k*(p - ctr) + h; frame → canonical: sim⁻¹.
	side := o.Coverage * 1 // testCanonical spans the unit square
	k := float64(o.Size) / side
	h := (float64(o.Size) - 1) / 2
	cx, cy := 0.5, 0.5-o.ShiftUp*side
	a := -sim.angleDeg * math.Pi / 180
	ic, is := math.Cos(a)/sim.scale, math.Sin(a)/sim.scale
	// sim⁻¹(q) = R(-θ)/s·(q - t)
	inv := [6]float64{ic, -is, -(ic*sim.tx - is*sim.ty), is, ic, -(is*sim.tx + ic*sim.ty)}
	return [6]float64{k * inv[0], k * inv[1], k*(inv[2]-cx) + h, k * inv[3], k * inv[4], k*(inv[5]-cy) + h}
}

func TestFitRecoversSimilarity(t *testing.T) {
	c := testCanonical()
	cases := []struct {
		name  string
		sim   similarity
		size  int
		noise float64
	}{
		{"17deg-130px", similarity{17, 130, 640, 360}, 224, 0.5},
		{"exact", similarity{17, 130, 640, 360}, 224, 0},
		{"-35deg-small", similarity{-35, 48, 100, 90}, 224, 0.3},
		{"inswapper-128", similarity{17, 130, 640, 360}, 128, 0.5},
		{"upside-down-320", similarity{180, 300, 960, 540}, 320, 1},
		{"off-frame", similarity{5, 200, -50, 1070}, 224, 0.5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions(c)
			o.Size = tc.size
			lm := tc.sim.landmarks(c, tc.noise, rand.New(rand.NewSource(1)))
			tr, err := Fit(lm, o)
			if err != nil {
				t.Fatal(err)
			}
			want := expected(c, tc.sim, o)
			// Compare where the crop corners and centre land in the frame:
			// a matrix tolerance in frame pixels.
			wt, _ := NewTransform(want, tc.size)
			s := float64(tc.size) - 0.5
			tol := 0.5 + 3*tc.noise
			for _, p := range []face.Point{{X: -0.5, Y: -0.5}, {X: s, Y: -0.5}, {X: -0.5, Y: s}, {X: s, Y: s}, {X: s / 2, Y: s / 2}} {
				got, exp := tr.Inverse(p), wt.Inverse(p)
				if d := math.Hypot(got.X-exp.X, got.Y-exp.Y); d > tol {
					t.Errorf("face %v → frame %v, want %v (off by %.2f px > %.2f)", p, got, exp, d, tol)
				}
			}
			if rel := math.Abs(tr.Scale()*float64(tc.size)/(2.2*tc.sim.scale) - 1); rel > 0.01 {
				t.Errorf("crop side %.1f px, want %.1f", tr.Scale()*float64(tc.size), 2.2*tc.sim.scale)
			}
			// Inverse really is the inverse.
			q := face.Point{X: 12.3, Y: -45.6}
			if r := tr.Apply(tr.Inverse(q)); math.Hypot(r.X-q.X, r.Y-q.Y) > 1e-9 {
				t.Errorf("Apply(Inverse(%v)) = %v", q, r)
			}
			// The canonical centre lands 8 % of the crop below the crop
			// centre; the nose tip is near it.
			S := float64(tc.size)
			ctr := tr.Apply(tc.sim.apply(face.Point{X: 0.5, Y: 0.5}))
			wantCtr := face.Point{X: (S - 1) / 2, Y: (S-1)/2 + 0.08*S}
			if d := math.Hypot(ctr.X-wantCtr.X, ctr.Y-wantCtr.Y); d > 0.01*S+2*tc.noise {
				t.Errorf("canonical centre at %v, want %v", ctr, wantCtr)
			}
			nose := tr.Apply(lm[30])
			if d := math.Hypot(nose.X-wantCtr.X, nose.Y-wantCtr.Y); d > 0.06*S {
				t.Errorf("nose tip at %v, want near %v", nose, wantCtr)
			}
		})
	}
}

func TestFitKeypointsAgrees(t *testing.T) {
	c := testCanonical()
	for _, sim := range []similarity{{17, 130, 640, 360}, {-8, 80, 300, 200}, {30, 220, 900, 500}} {
		t.Run(fmt.Sprintf("%.0fdeg-%.0fpx", sim.angleDeg, sim.scale), func(t *testing.T) {
			rng := rand.New(rand.NewSource(2))
			o := DefaultOptions(c)
			lm := sim.landmarks(c, 0.5, rng)
			full, err := Fit(lm, o)
			if err != nil {
				t.Fatal(err)
			}
			d := face.Detection{HasKeypoints: true, Keypoints: KeypointsOf(lm)}
			// Detector keypoints are noisier: σ = 1 px.
			for i := range d.Keypoints {
				d.Keypoints[i].X += rng.NormFloat64()
				d.Keypoints[i].Y += rng.NormFloat64()
			}
			kp, err := FitKeypoints(&d, o)
			if err != nil {
				t.Fatal(err)
			}
			// Inner-face landmarks (17–67) land at the same face-space
			// positions within a few frame pixels.
			worst := 0.0
			for _, p := range lm[17:] {
				q := kp.Inverse(full.Apply(p))
				worst = math.Max(worst, math.Hypot(q.X-p.X, q.Y-p.Y))
			}
			t.Logf("worst disagreement %.2f frame px", worst)
			if worst > 4 {
				t.Errorf("keypoint fit differs from 68-point fit by %.2f frame px", worst)
			}
			if rel := math.Abs(kp.Scale()/full.Scale() - 1); rel > 0.03 {
				t.Errorf("scales differ by %.1f %%", rel*100)
			}
		})
	}
}

func TestFitErrors(t *testing.T) {
	c := testCanonical()
	o := DefaultOptions(c)
	var same face.Landmarks
	for i := range same {
		same[i] = face.Point{X: 100, Y: 200}
	}
	nan := *(similarity{0, 100, 10, 10}.landmarks(c, 0, nil))
	nan[20].X = math.NaN()
	inf := *(similarity{0, 100, 10, 10}.landmarks(c, 0, nil))
	inf[30].Y = math.Inf(1)
	good := similarity{0, 100, 10, 10}.landmarks(c, 0, nil)
	var flat face.Landmarks
	cases := []struct {
		name    string
		lm      *face.Landmarks
		o       Options
		degener bool
	}{
		{"all points equal", &same, o, true},
		{"NaN", &nan, o, true},
		{"Inf", &inf, o, true},
		{"nil canonical", good, Options{Size: 224, Coverage: 2.2}, false},
		{"zero size", good, Options{Coverage: 2.2, Canonical: c}, false},
		{"zero coverage", good, Options{Size: 224, Canonical: c}, false},
		{"canonical collapsed", good, DefaultOptions(&flat), true},
		{"nil landmarks", nil, o, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Fit(tc.lm, tc.o)
			if err == nil {
				t.Fatal("Fit succeeded")
			}
			if tc.degener && !errors.Is(err, ErrDegenerate) {
				t.Errorf("error %q does not wrap ErrDegenerate", err)
			}
		})
	}
	t.Run("keypoints equal", func(t *testing.T) {
		d := face.Detection{HasKeypoints: true}
		for i := range d.Keypoints {
			d.Keypoints[i] = face.Point{X: 5, Y: 5}
		}
		if _, err := FitKeypoints(&d, o); !errors.Is(err, ErrDegenerate) {
			t.Errorf("err = %v, want ErrDegenerate", err)
		}
	})
	t.Run("no keypoints", func(t *testing.T) {
		d := face.Detection{Keypoints: KeypointsOf(good)}
		if _, err := FitKeypoints(&d, o); err == nil {
			t.Error("FitKeypoints without HasKeypoints succeeded")
		}
	})
	t.Run("singular matrix", func(t *testing.T) {
		if _, err := NewTransform([6]float64{1, 2, 0, 2, 4, 0}, 10); !errors.Is(err, ErrDegenerate) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestUmeyamaRejectsReflection(t *testing.T) {
	// A mirrored point set has no proper similarity that fits it exactly;
	// the fit must still be a rotation (det > 0), never a reflection.
	src := []face.Point{{X: 0, Y: 0}, {X: 10, Y: 0}, {X: 0, Y: 5}, {X: 3, Y: 7}}
	dst := []face.Point{{X: 0, Y: 0}, {X: -10, Y: 0}, {X: 0, Y: 5}, {X: -3, Y: 7}}
	m, err := Umeyama(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if det := m[0]*m[4] - m[1]*m[3]; det < 0 {
		t.Errorf("det = %v < 0", det)
	}
	if m[0] != m[4] || m[1] != -m[3] {
		t.Errorf("not a similarity: %v", m)
	}
}

func TestFrameROI(t *testing.T) {
	cases := []struct {
		name string
		m    [6]float64
		size int
		w, h int
		want image.Rectangle
	}{
		// Identity-scale crop of frame pixels 101..324 (odd start → 100).
		{"translation", [6]float64{1, 0, -101, 0, 1, -51}, 224, 640, 480, image.Rect(100, 50, 326, 276)},
		{"clipped", [6]float64{1, 0, 100, 0, 1, 100}, 224, 640, 480, image.Rect(0, 0, 124, 124)},
		{"outside", [6]float64{1, 0, 2000, 0, 1, 0}, 224, 640, 480, image.Rectangle{}},
		{"odd frame", [6]float64{1, 0, -500, 0, 1, 0}, 224, 641, 359, image.Rect(500, 0, 641, 224)},
		// Scale 2 (face px = frame px / 2): 448 frame px.
		{"half scale", [6]float64{0.5, 0, -10, 0, 0.5, -10}, 224, 1920, 1080, image.Rect(18, 18, 468, 468)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := NewTransform(tc.m, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			if got := tr.FrameROI(tc.w, tc.h); got != tc.want {
				t.Errorf("FrameROI = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("rotated covers crop", func(t *testing.T) {
		c := testCanonical()
		tr, err := Fit(similarity{17, 130, 640, 360}.landmarks(c, 0, nil), DefaultOptions(c))
		if err != nil {
			t.Fatal(err)
		}
		r := tr.FrameROI(1280, 720)
		if r.Min.X%2 != 0 || r.Min.Y%2 != 0 || r.Max.X%2 != 0 || r.Max.Y%2 != 0 {
			t.Errorf("ROI %v not even-aligned", r)
		}
		// Every face-space pixel centre maps inside it.
		for v := 0; v < tr.Size; v += 7 {
			for u := 0; u < tr.Size; u += 7 {
				p := tr.Inverse(face.Point{X: float64(u), Y: float64(v)})
				if !image.Pt(int(math.Round(p.X)), int(math.Round(p.Y))).In(r) {
					t.Fatalf("face (%d,%d) → frame %v outside ROI %v", u, v, p, r)
				}
			}
		}
		// And it is tight: side ≈ crop side × (cos+sin) of 17°.
		side := 2.2 * 130 * (math.Cos(17*math.Pi/180) + math.Sin(17*math.Pi/180))
		if math.Abs(float64(r.Dx())-side) > 4 {
			t.Errorf("ROI width %d, want ≈ %.0f", r.Dx(), side)
		}
	})
}
