package tune

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// fakeClock is moved by the test; only the Observe goroutine reads it.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *fakeClock { return &fakeClock{t: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)} }

// sim is a pipeline whose speed follows its settings: every frame costs
// swapMs per face (up to detector.max_faces of the faces in the scene) plus
// detectMs every detector.interval frames, times slow(workers); workers run
// frames in parallel on at most cores cores.
type sim struct {
	cores    int
	fpsIn    float64
	swapMs   float64
	detectMs float64
	faces    int                       // faces in the scene; 0 = 1
	slow     func(workers int) float64 // nil: 1 (no contention)
	noise    float64                   // ± share of fps_out, from rng
	rng      *rand.Rand
	vals     map[string]int
	applied  []string // "key=value" per successful Apply
	fail     func(key string, value int) error
}

func (m *sim) apply(key string, v int) error {
	if m.fail != nil {
		if err := m.fail(key, v); err != nil {
			return err
		}
	}
	m.vals[key] = v
	m.applied = append(m.applied, fmt.Sprintf("%s=%d", key, v))
	return nil
}

func (m *sim) val(key string, def int) int {
	if v, ok := m.vals[key]; ok && v > 0 {
		return v
	}
	return def
}

// exact is the noise-free sample of the current settings.
func (m *sim) exact() Sample {
	w := m.val("workers", 1)
	faces := min(max(m.faces, 1), m.val("detector.max_faces", 16))
	perFrame := m.swapMs*float64(faces) + m.detectMs/float64(m.val("detector.interval", 1))
	if m.slow != nil {
		perFrame *= m.slow(w)
	}
	capacity := 1000 * float64(min(w, m.cores)) / perFrame
	out := min(m.fpsIn, capacity)
	return Sample{FPSIn: m.fpsIn, FPSOut: out, DropRate: 1 - out/m.fpsIn, LatencyP95Ms: 1.2 * perFrame,
		CPUBusy: min(1, out*perFrame/(1000*float64(m.cores)))}
}

func (m *sim) sample() Sample {
	s := m.exact()
	if m.rng != nil && m.noise > 0 {
		f := 1 + m.noise*(2*m.rng.Float64()-1)
		s.FPSOut = min(s.FPSIn, s.FPSOut*f)
		s.DropRate = 1 - s.FPSOut/s.FPSIn
		s.LatencyP95Ms /= f
	}
	return s
}

// run feeds one sample a second for n intervals of 5 s and returns the
// decisions made.
func run(t *testing.T, tu *Tuner, clk *fakeClock, m *sim, n int) []Decision {
	t.Helper()
	var out []Decision
	for range n {
		for range 5 {
			clk.Advance(time.Second)
			if d, ok := tu.Observe(m.sample()); ok {
				out = append(out, d)
			}
		}
	}
	if len(out) != n {
		t.Fatalf("%d decisions in %d intervals, want one per interval", len(out), n)
	}
	return out
}
