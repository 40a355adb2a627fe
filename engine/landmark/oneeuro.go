package landmark

import (
	"math"
	"time"

	"facelive/engine/face"
)

// OneEuro is the One-Euro filter of Casiez, Roussel and Vogel (CHI 2012): a
// first-order low-pass filter whose cutoff rises with the signal's speed, so
// a still signal is smoothed hard (little jitter) and a moving one barely
// (little lag).
//
//	cutoff = MinCutoff + Beta·|ẋ|   (ẋ: the speed, itself low-passed at DCutoff)
//	α      = 1 / (1 + 1/(2π·cutoff·Δt))
//	x̂      = α·x + (1−α)·x̂_prev
//
// Δt comes from the caller's timestamps (no clock is read). The zero value
// with MinCutoff > 0 set is ready to use. The first sample, a sample whose
// timestamp is not after the previous one, and the first sample after Reset
// pass through unchanged and restart the filter.
type OneEuro struct {
	MinCutoff float64 // Hz: the cutoff at rest; lower = smoother when still
	Beta      float64 // Hz per unit/s: how fast the cutoff rises with speed; higher = less lag
	DCutoff   float64 // Hz: the cutoff of the speed estimate (Casiez et al. use 1)

	st euroState
}

type euroState struct {
	x, dx   float64
	t       time.Duration
	started bool
}

// Filter returns the filtered value of sample x taken at time t.
func (o *OneEuro) Filter(t time.Duration, x float64) float64 {
	return o.st.filter(t, x, o.MinCutoff, o.Beta, o.DCutoff)
}

// Reset forgets the history: the next sample passes through.
func (o *OneEuro) Reset() { o.st = euroState{} }

func alpha(cutoff, dt float64) float64 {
	return 1 / (1 + 1/(2*math.Pi*cutoff*dt))
}

func (s *euroState) filter(t time.Duration, x, minCutoff, beta, dCutoff float64) float64 {
	if !s.started || t <= s.t {
		*s = euroState{x: x, t: t, started: true}
		return x
	}
	dt := (t - s.t).Seconds()
	s.t = t
	// The speed against the previous filtered value, as in the paper.
	ad := alpha(dCutoff, dt)
	s.dx += ad * ((x-s.x)/dt - s.dx)
	a := alpha(minCutoff+beta*math.Abs(s.dx), dt)
	s.x += a * (x - s.x)
	return s.x
}

// The mapping of landmarks.smoothing s in (0, 1] to filter parameters,
// interpolated geometrically between the ends:
//
//	MinCutoff = 6 Hz · (0.25/6)^s      (s=0.5: 1.2 Hz; s=1: 0.25 Hz)
//	Beta      = 0.3 · (0.01/0.3)^s Hz per px/s   (s=0.5: 0.055; s=1: 0.01)
//	DCutoff   = 1 Hz
//
// s = 0 is no filter at all: the points pass through exactly. Beta is in
// pixels because landmarks are frame pixels.
const (
	minCutoffLo, minCutoffHi = 6.0, 0.25
	betaLo, betaHi           = 0.3, 0.01
	dCutoffDefault           = 1.0
)

// SmoothingParams returns the One-Euro parameters for landmarks.smoothing s
// (clamped to [0, 1]); see the mapping above. For s = 0 it returns zeros:
// Smoother treats that as pass-through.
func SmoothingParams(s float64) (minCutoff, beta, dCutoff float64) {
	if !(s > 0) { // also NaN
		return 0, 0, 0
	}
	s = min(s, 1)
	return minCutoffLo * math.Pow(minCutoffHi/minCutoffLo, s), betaLo * math.Pow(betaHi/betaLo, s), dCutoffDefault
}

// Smoother stabilises the landmarks of one tracked face: every point's x and
// y go through their own One-Euro filter with shared parameters. Call Update
// once per frame with that frame's timestamp and Reset when the face is lost.
// It allocates nothing. A Smoother is not safe for concurrent use; keep one
// per tracked face.
type Smoother struct {
	MinCutoff, Beta, DCutoff float64 // see OneEuro; MinCutoff <= 0 means pass-through

	n  int // points filtered by the last Update; a change restarts the filters
	st [2 * len(face.Landmarks{})]euroState
}

// NewSmoother returns a Smoother for landmarks.smoothing s in [0, 1]: 0 = no
// smoothing (exact pass-through), 1 = strongest. See SmoothingParams.
func NewSmoother(s float64) *Smoother {
	sm := &Smoother{}
	sm.SetSmoothing(s)
	return sm
}

// SetSmoothing changes the strength live (a config change) without losing
// the history.
func (sm *Smoother) SetSmoothing(s float64) {
	sm.MinCutoff, sm.Beta, sm.DCutoff = SmoothingParams(s)
}

// Update filters pts, the face's points in frame t (e.g. Result.Valid(), at
// most 68), in place. t is the frame's timestamp (its PTS); only differences
// matter. A different number of points than last time (dlib finished loading,
// or fell back to keypoints) or a timestamp that does not advance restarts the
// filters.
func (sm *Smoother) Update(t time.Duration, pts []face.Point) {
	if len(pts) > len(face.Landmarks{}) {
		pts = pts[:len(face.Landmarks{})]
	}
	if len(pts) != sm.n {
		sm.Reset()
		sm.n = len(pts)
	}
	if !(sm.MinCutoff > 0) {
		if sm.st[0].started { // smoothing was just switched off
			sm.st = [len(sm.st)]euroState{}
		}
		return
	}
	for i := range pts {
		p := &pts[i]
		p.X = sm.st[2*i].filter(t, p.X, sm.MinCutoff, sm.Beta, sm.DCutoff)
		p.Y = sm.st[2*i+1].filter(t, p.Y, sm.MinCutoff, sm.Beta, sm.DCutoff)
	}
}

// Reset forgets all history (call it when the face is lost): the next Update
// passes its points through.
func (sm *Smoother) Reset() {
	sm.st = [len(sm.st)]euroState{}
	sm.n = 0
}
