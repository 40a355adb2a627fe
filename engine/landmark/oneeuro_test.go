package landmark

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"facelive/engine/face"
)

const (
	fps30      = 30
	frameDT    = time.Second / fps30
	noiseSigma = 1.5 // px
)

// baseFace is a plausible still face: the mean face scaled to 200 px at
// (400, 300).
func baseFace() face.Landmarks {
	var l face.Landmarks
	for i, p := range MeanFace {
		l[i] = face.Point{X: 400 + 200*p.X, Y: 300 + 200*p.Y}
	}
	return l
}

// jitter runs a still face with Gaussian noise through s for frames frames
// and returns the mean over points and axes of the standard deviation over
// time of the raw and the smoothed positions (after warm frames).
func jitter(s *Smoother, frames, warm int, seed uint64) (raw, smooth float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	base := baseFace()
	var sumR, sumR2, sumS, sumS2 [136]float64
	n := 0
	for k := 0; k < frames; k++ {
		var in face.Landmarks
		for i := range base {
			in[i] = face.Point{X: base[i].X + noiseSigma*rng.NormFloat64(), Y: base[i].Y + noiseSigma*rng.NormFloat64()}
		}
		out := in
		s.Update(time.Duration(k)*frameDT, out[:])
		if k < warm {
			continue
		}
		n++
		for i := range in {
			for a, v := range [2][2]float64{{in[i].X, out[i].X}, {in[i].Y, out[i].Y}} {
				j := 2*i + a
				sumR[j] += v[0]
				sumR2[j] += v[0] * v[0]
				sumS[j] += v[1]
				sumS2[j] += v[1] * v[1]
			}
		}
	}
	std := func(s, s2 float64) float64 {
		m := s / float64(n)
		return math.Sqrt(max(0, s2/float64(n)-m*m))
	}
	for j := range sumR {
		raw += std(sumR[j], sumR2[j])
		smooth += std(sumS[j], sumS2[j])
	}
	return raw / 136, smooth / 136
}

// lag moves a noise-free face at speed px/s along x and returns the mean
// distance between the smoothed and the true points over the last second of
// a 3 s run.
func lag(s *Smoother, speed float64) float64 {
	base := baseFace()
	var sum float64
	n := 0
	for k := 0; k < 3*fps30; k++ {
		t := time.Duration(k) * frameDT
		dx := speed * t.Seconds()
		var in face.Landmarks
		for i := range base {
			in[i] = face.Point{X: base[i].X + dx, Y: base[i].Y}
		}
		out := in
		s.Update(t, out[:])
		if k >= 2*fps30 {
			for i := range in {
				sum += math.Hypot(out[i].X-in[i].X, out[i].Y-in[i].Y)
				n++
			}
		}
	}
	return sum / float64(n)
}

func TestOneEuroJitter(t *testing.T) {
	for _, s := range []float64{0.25, 0.5, 0.75, 1} {
		raw, sm := jitter(NewSmoother(s), 300, 30, 7)
		t.Logf("smoothing %.2f: jitter raw %.3f px, smoothed %.3f px (%.0f%%); lag at 300 px/s %.2f px",
			s, raw, sm, 100*sm/raw, lag(NewSmoother(s), 300))
	}
	raw, sm := jitter(NewSmoother(0.5), 300, 30, 7)
	if math.Abs(raw-noiseSigma) > 0.15 {
		t.Fatalf("raw jitter %.3f px, want ≈ %.1f: the harness is wrong", raw, noiseSigma)
	}
	if !(sm < raw/2) {
		t.Errorf("smoothing 0.5: smoothed jitter %.3f px is not below half the raw %.3f px", sm, raw)
	}
	// Stronger smoothing must smooth more.
	_, sm1 := jitter(NewSmoother(1), 300, 30, 7)
	if !(sm1 < sm) {
		t.Errorf("smoothing 1 jitter %.3f px is not below smoothing 0.5's %.3f px", sm1, sm)
	}
}

func TestOneEuroMovingFaceLag(t *testing.T) {
	const speed, maxLag = 300.0, 3.0 // px/s, px
	for _, s := range []float64{0.5, 1} {
		got := lag(NewSmoother(s), speed)
		t.Logf("smoothing %.1f: lag after settling at %g px/s: %.2f px", s, speed, got)
		if s == 0.5 && !(got < maxLag) {
			t.Errorf("smoothing %.1f: lag %.2f px at %g px/s, want < %g px", s, got, speed, maxLag)
		}
	}
	// Beta is what keeps the lag small: without it a moving face trails far.
	sm := NewSmoother(0.5)
	sm.Beta = 0
	if got := lag(sm, speed); !(got > 3*maxLag) {
		t.Errorf("with beta 0 the lag is %.2f px; the test cannot tell beta's effect", got)
	}
}

func TestOneEuroPassThrough(t *testing.T) {
	sm := NewSmoother(0)
	rng := rand.New(rand.NewPCG(3, 4))
	for k := 0; k < 50; k++ {
		var in face.Landmarks
		for i := range in {
			in[i] = face.Point{X: 1000 * rng.Float64(), Y: 1000 * rng.Float64()}
		}
		out := in
		sm.Update(time.Duration(k)*frameDT, out[:])
		if out != in {
			t.Fatalf("frame %d: smoothing 0 changed the points", k)
		}
	}
	// Switching smoothing off and on again does not bring back old history.
	sm.SetSmoothing(0.5)
	pts := []face.Point{pt(1, 1)}
	sm.Update(0, pts)
	sm.SetSmoothing(0)
	sm.Update(frameDT, []face.Point{pt(2, 2)})
	sm.SetSmoothing(0.5)
	pts[0] = pt(500, 500)
	sm.Update(2*frameDT, pts)
	if pts[0] != (pt(500, 500)) {
		t.Errorf("after smoothing was off, the first point is %v, want it passed through", pts[0])
	}
}

func TestOneEuroReset(t *testing.T) {
	sm := NewSmoother(1)
	for k := 0; k < 30; k++ {
		pts := []face.Point{pt(100, 100), pt(200, 100)}
		sm.Update(time.Duration(k)*frameDT, pts)
	}
	// A small step: strong smoothing follows it only partly.
	pts := []face.Point{pt(110, 100), pt(210, 100)}
	sm.Update(30*frameDT, pts)
	if pts[0].X > 105 {
		t.Fatalf("strong smoothing followed a 10 px step to %v at once; the test cannot tell Reset's effect", pts[0])
	}
	sm.Reset()
	pts = []face.Point{pt(600, 400), pt(700, 400)}
	sm.Update(31*frameDT, pts)
	if pts[0] != (pt(600, 400)) || pts[1] != (pt(700, 400)) {
		t.Errorf("after Reset the first update gave %v, want the input unchanged", pts)
	}
	// A timestamp that does not advance (a new stream) also restarts.
	pts = []face.Point{pt(10, 10), pt(20, 20)}
	sm.Update(0, pts)
	if pts[0] != (pt(10, 10)) {
		t.Errorf("a timestamp going backwards did not restart the filter: %v", pts[0])
	}
	// So does a change in the number of points (68 ↔ 6 keypoints).
	one := []face.Point{pt(5, 5)}
	sm.Update(frameDT, one)
	if one[0] != (pt(5, 5)) {
		t.Errorf("a new point count did not restart the filter: %v", one[0])
	}
}

func TestOneEuroSingle(t *testing.T) {
	// A single filter converges to a constant and filters a step partially.
	o := OneEuro{MinCutoff: 1, Beta: 0, DCutoff: 1}
	if got := o.Filter(0, 5); got != 5 {
		t.Fatalf("first sample %g, want 5", got)
	}
	got := o.Filter(frameDT, 10)
	a := alpha(1, frameDT.Seconds())
	if want := 5 + a*5; math.Abs(got-want) > 1e-12 {
		t.Errorf("step: %g, want %g (α = %g)", got, want, a)
	}
	for k := 2; k < 300; k++ {
		got = o.Filter(time.Duration(k)*frameDT, 10)
	}
	if math.Abs(got-10) > 1e-6 {
		t.Errorf("did not converge: %g", got)
	}
	o.Reset()
	if got := o.Filter(0, -3); got != -3 {
		t.Errorf("after Reset: %g, want -3", got)
	}
}

func TestSmoothingParams(t *testing.T) {
	if a, b, c := SmoothingParams(0); a != 0 || b != 0 || c != 0 {
		t.Errorf("s=0: %g %g %g, want zeros (pass-through)", a, b, c)
	}
	prevC, prevB := math.Inf(1), math.Inf(1)
	for _, s := range []float64{0.01, 0.25, 0.5, 0.75, 1} {
		mc, beta, dc := SmoothingParams(s)
		if !(mc < prevC && beta < prevB) || dc != 1 {
			t.Errorf("s=%g: min cutoff %g, beta %g, d cutoff %g: not monotone", s, mc, beta, dc)
		}
		prevC, prevB = mc, beta
	}
	a1, b1, _ := SmoothingParams(1)
	if a2, b2, _ := SmoothingParams(2); a2 != a1 || b2 != b1 {
		t.Errorf("s=2 is not clamped to 1: %g %g vs %g %g", a2, b2, a1, b1)
	}
}

func TestSmootherNoAlloc(t *testing.T) {
	sm := NewSmoother(0.5)
	l := baseFace()
	k := 0
	allocs := testing.AllocsPerRun(100, func() {
		k++
		sm.Update(time.Duration(k)*frameDT, l[:])
	})
	if allocs != 0 {
		t.Errorf("Update allocates %g times per call", allocs)
	}
}

func pt(x, y float64) face.Point { return face.Point{X: x, Y: y} }
