package merge

import (
	"math"
	"sync"
	"time"
)

// DefaultSteadyTime is the engine's colour time constant: sensor noise and
// a mask edge that moves by a pixel average out over several frames, while
// a real change of light is followed within about half a second.
const DefaultSteadyTime = 250 * time.Millisecond

// steadySlots bounds the tracks remembered: detector.max_faces (≤ 16) in
// view plus as many that left lately.
const steadySlots = 32

// steadyGap: a track whose last paste is further than this from the
// current one (a seek, a long gap, a revived track) starts over from its
// own statistics: its old colour says nothing about now.
const steadyGap = int64(time.Second)

// steadyFrame is the step taken when the timestamps do not give one: a
// host numbering its frames (steps under a millisecond), or a frame that a
// second worker pasted before an earlier one (a step back).
const steadyFrame = int64(time.Second / 30)

// Steady smooths the frame-side statistics of the "rct" colour transfer
// over time, per track: an exponential moving average of the Lab mean and
// standard deviation of the frame's face, with time constant Tau, stepped
// by the frames' timestamps (never the wall clock, so a file comes out the
// same on every machine). The face-side statistics stay the frame's own:
// they describe the pixels being transformed, so the pasted face's mean is
// the smoothed frame mean. A track seen for the first time, or after more
// than a second, starts from its own statistics.
//
// One Steady is shared by the workers that paste one stream's faces; it
// is safe for concurrent use and allocates nothing after New.
type Steady struct {
	mu    sync.Mutex
	tau   float64 // seconds; 0: no smoothing
	tick  uint64  // updates so far: picks the least recently used slot
	slots [steadySlots]steadySlot
}

type steadySlot struct {
	id        uint64
	used      uint64 // tick of the last update; 0: free
	pts       int64  // the newest timestamp folded in
	mean, std [3]float32
}

// NewSteady returns a Steady with time constant tau; tau ≤ 0 turns the
// smoothing off (every frame uses its own statistics).
func NewSteady(tau time.Duration) *Steady {
	s := &Steady{}
	s.SetTime(tau)
	return s
}

// SetTime changes the time constant; tau ≤ 0 turns the smoothing off. The
// tracks' smoothed statistics are kept.
func (s *Steady) SetTime(tau time.Duration) {
	s.mu.Lock()
	s.tau = max(tau.Seconds(), 0)
	s.mu.Unlock()
}

// smooth folds one frame's statistics of track id at pts (ns) into the
// track's and replaces them with the smoothed ones.
func (s *Steady) smooth(id uint64, pts int64, mean, std *[3]float32) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tau == 0 {
		return
	}
	s.tick++
	var sl *steadySlot
	for i := range s.slots {
		if c := &s.slots[i]; c.used != 0 && c.id == id {
			sl = c
			break
		}
	}
	dt := int64(0)
	if sl != nil {
		dt = pts - sl.pts
	}
	if sl == nil || dt > steadyGap || dt < -steadyGap {
		if sl == nil {
			sl = s.oldest()
		}
		*sl = steadySlot{id: id, used: s.tick, pts: pts, mean: *mean, std: *std}
		return
	}
	if dt < int64(time.Millisecond) {
		dt = steadyFrame
	}
	a := float32(1 - math.Exp(-float64(dt)/1e9/s.tau))
	for c := range 3 {
		sl.mean[c] += a * (mean[c] - sl.mean[c])
		sl.std[c] += a * (std[c] - sl.std[c])
	}
	sl.used, sl.pts = s.tick, max(sl.pts, pts)
	*mean, *std = sl.mean, sl.std
}

// oldest returns a free slot, or else the least recently updated one: a
// track not pasted for a while is dropped.
func (s *Steady) oldest() *steadySlot {
	o := &s.slots[0]
	for i := range s.slots {
		if c := &s.slots[i]; c.used < o.used {
			o = c
		}
	}
	return o
}
