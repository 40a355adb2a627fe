package adapt

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// stage is a synthetic pipeline stage whose cost the test controls as a
// function of the rung: cost(level) = base / speedup[level], with ±10 %
// deterministic jitter so the controller sees realistic noise.
type stage struct {
	base    time.Duration
	speedup []float64
	queued  func(level int) int
	seed    uint32
	noJit   bool
}

func (s *stage) cost(level int) time.Duration {
	c := float64(s.base) / s.speedup[level]
	if !s.noJit {
		s.seed = s.seed*1664525 + 1013904223
		c *= 0.9 + 0.2*float64(s.seed>>8)/float64(1<<24)
	}
	return time.Duration(c)
}

// sim drives a controller at a camera rate on a fake clock: every frame
// arrives, is processed at the current rung's cost, and Step runs.
type sim struct {
	clk     *fakeClock
	c       *Controller
	st      *stage
	fps     float64
	pts     time.Duration
	elapsed time.Duration
	changes []Decision
}

func newSim(o Options, st *stage, fps float64) *sim {
	clk := newFakeClock()
	o.Clock = clk
	return &sim{clk: clk, c: NewController(o), st: st, fps: fps}
}

func (s *sim) run(d time.Duration) {
	frame := time.Duration(float64(time.Second) / s.fps)
	for end := s.elapsed + d; s.elapsed < end; s.elapsed += frame {
		s.clk.Advance(frame)
		s.pts += frame
		s.c.ObserveInput(s.pts)
		level, _ := s.c.Level()
		q := 0
		if s.st.queued != nil {
			q = s.st.queued(level)
		}
		s.c.ObserveFrame(s.st.cost(level), q)
		if dec, ok := s.c.Step(); ok {
			s.changes = append(s.changes, dec)
		}
	}
}

func (s *sim) level() int { l, _ := s.c.Level(); return l }

// flips counts direction reversals among changes.
func flips(ds []Decision) int {
	n, dir := 0, 0
	for _, d := range ds {
		nd := 1
		if d.To < d.From {
			nd = -1
		}
		if dir != 0 && nd != dir {
			n++
		}
		dir = nd
	}
	return n
}

func logChanges(t *testing.T, s *sim) {
	t.Helper()
	for _, d := range s.changes {
		t.Logf("%6.2f s  %d → %d  %s", d.At.Sub(newFakeClock().t).Seconds(), d.From, d.To, d.Reason)
	}
}

var defaultSpeedups = []float64{1, 1.3, 1.6, 2.0, 2.6, 3.2} // per DefaultLadder rung

// (a) Over budget: step down until the cost fits, then stay.
func TestControllerStepsDownAndStays(t *testing.T) {
	// 60 ms at rung 0; rung 3 costs 30 ms, under the 33.3 ms budget but not
	// under the 20 ms headroom band: it must settle there.
	st := &stage{base: 60 * time.Millisecond, speedup: defaultSpeedups, seed: 1}
	s := newSim(Options{TargetFPS: 30}, st, 30)
	s.run(60 * time.Second)
	logChanges(t, s)
	if s.level() != 3 {
		t.Fatalf("settled on rung %d, want 3", s.level())
	}
	if len(s.changes) != 3 || flips(s.changes) != 0 {
		t.Fatalf("%d changes, %d flips; want 3 steps down and nothing else", len(s.changes), flips(s.changes))
	}
	for i, d := range s.changes {
		if d.To != d.From+1 || !strings.Contains(d.Reason, "over the 33.3 ms budget of 30.0 fps") {
			t.Fatalf("change %d: %+v", i, d)
		}
		if i > 0 && d.At.Sub(s.changes[i-1].At) < 2*time.Second {
			t.Fatalf("change %d came %v after the previous one, inside the cooldown", i, d.At.Sub(s.changes[i-1].At))
		}
	}
}

// (b) The load goes away: climb back to rung 0 one rung at a time.
func TestControllerClimbsBackWhenLoadGoes(t *testing.T) {
	st := &stage{base: 60 * time.Millisecond, speedup: defaultSpeedups, seed: 2}
	s := newSim(Options{TargetFPS: 30}, st, 30)
	s.run(30 * time.Second)
	if s.level() != 3 {
		t.Fatalf("loaded: rung %d, want 3", s.level())
	}
	down := len(s.changes)
	st.base = 10 * time.Millisecond // e.g. the second face left the frame
	s.run(60 * time.Second)
	logChanges(t, s)
	ups := s.changes[down:]
	if s.level() != 0 || len(ups) != 3 {
		t.Fatalf("rung %d after %d changes, want rung 0 after 3 climbs", s.level(), len(ups))
	}
	for i, d := range ups {
		if d.To != d.From-1 {
			t.Fatalf("climb %d: %+v", i, d)
		}
		if i > 0 && d.At.Sub(ups[i-1].At) < 5*time.Second {
			t.Fatalf("climb %d came %v after the previous one, want ≥ UpAfter", i, d.At.Sub(ups[i-1].At))
		}
	}
}

// (c) A cost between two rungs: rung 1 is over budget, rung 2 sits under the
// headroom band, so a controller that only compares with the headroom would
// climb, go over, drop, and climb again every ~7 s.
func TestControllerDoesNotFlipBetweenRungs(t *testing.T) {
	ladder := DefaultLadder()[:3]
	st := &stage{base: 45 * time.Millisecond, speedup: []float64{1, 1.2, 2.5}, seed: 3}
	// The trap, checked: rung 1 over 33.3 ms, rung 2 under 0.6 × 33.3 ms.
	if c1, c2 := float64(st.base)/1.2, float64(st.base)/2.5; c1 < 1.05*float64(time.Second/30) || c2 > 0.95*0.6*float64(time.Second/30) {
		t.Fatalf("bad scenario: %v %v", time.Duration(c1), time.Duration(c2))
	}
	for _, start := range []int{0, 2} {
		t.Run([]string{"from the top", "", "from the bottom"}[start], func(t *testing.T) {
			s := newSim(Options{Ladder: ladder, Start: start, TargetFPS: 30}, st, 30)
			s.run(60 * time.Second)
			logChanges(t, s)
			if f := flips(s.changes); f > 1 {
				t.Fatalf("%d flips in 60 s, want at most 1", f)
			}
			if s.level() != 2 {
				t.Fatalf("ended on rung %d, want 2", s.level())
			}
		})
	}
}

// A prediction that blocks a climb is re-checked rarely, not never, and each
// failed re-check backs off further.
func TestControllerRechecksRarely(t *testing.T) {
	ladder := DefaultLadder()[:2]
	st := &stage{base: 40 * time.Millisecond, speedup: []float64{1, 2.7}, seed: 4}
	s := newSim(Options{Ladder: ladder, TargetFPS: 30}, st, 30)
	s.run(400 * time.Second)
	logChanges(t, s)
	var climbs []time.Time
	for _, d := range s.changes {
		if d.To < d.From {
			climbs = append(climbs, d.At)
		}
	}
	if len(climbs) < 2 || len(climbs) > 3 {
		t.Fatalf("%d climbs in 400 s, want 2 or 3 re-checks", len(climbs))
	}
	if first := climbs[0].Sub(newFakeClock().t); first < 80*time.Second {
		t.Fatalf("first re-check after %v, want ≥ 16 × UpAfter", first)
	}
	for i := 1; i < len(climbs); i++ {
		if gap := climbs[i].Sub(climbs[i-1]); gap < 160*time.Second {
			t.Fatalf("re-check %d after %v, want ≥ 2 × 16 × UpAfter after a failed one", i, gap)
		}
	}
}

// (d) Target 0 follows the measured input rate.
func TestControllerBudgetFollowsInput(t *testing.T) {
	clk := newFakeClock()
	c := NewController(Options{Clock: clk})
	if got := c.Budget(); got != time.Second/30 {
		t.Fatalf("before input: %v, want 1/30 s", got)
	}
	for i := 0; i < 50; i++ {
		c.ObserveInput(time.Duration(i) * 40 * time.Millisecond)
	}
	if got := c.Budget(); got != 40*time.Millisecond {
		t.Fatalf("25 fps input: budget %v, want 40ms", got)
	}
	if got := c.InputFPS(); got != 25 {
		t.Fatalf("InputFPS %v, want 25", got)
	}
	c.SetTarget(60)
	if got, sixty := c.Budget(), 60.0; got != time.Duration(float64(time.Second)/sixty) {
		t.Fatalf("target 60: %v", got)
	}
	c.SetTarget(0)
	if got := c.Budget(); got != 40*time.Millisecond {
		t.Fatalf("back to input: %v", got)
	}
	c.SetTarget(-5)
	if got := c.Budget(); got != 40*time.Millisecond {
		t.Fatalf("negative target follows input: %v", got)
	}
}

// Following a 25 fps input, a 36 ms frame fits (40 ms budget) though it
// would not fit 30 fps.
func TestControllerJudgesAgainstInputRate(t *testing.T) {
	st := &stage{base: 36 * time.Millisecond, speedup: defaultSpeedups, noJit: true}
	s := newSim(Options{}, st, 25)
	s.run(20 * time.Second)
	if len(s.changes) != 0 {
		logChanges(t, s)
		t.Fatal("36 ms frames at 25 fps must not step down")
	}
	s.c.SetTarget(30)
	s.run(5 * time.Second)
	if s.level() != 1 {
		t.Fatalf("target 30: rung %d, want 1", s.level())
	}
}

func TestControllerStaysInsideLadder(t *testing.T) {
	t.Run("bottom", func(t *testing.T) {
		st := &stage{base: time.Second, speedup: defaultSpeedups, seed: 5}
		s := newSim(Options{TargetFPS: 30}, st, 30)
		s.run(60 * time.Second)
		if last := len(DefaultLadder()) - 1; s.level() != last || len(s.changes) != last {
			t.Fatalf("rung %d after %d changes, want %d after %d", s.level(), len(s.changes), last, last)
		}
	})
	t.Run("top", func(t *testing.T) {
		st := &stage{base: time.Millisecond, speedup: defaultSpeedups, seed: 6}
		s := newSim(Options{TargetFPS: 30}, st, 30)
		s.run(60 * time.Second)
		if s.level() != 0 || len(s.changes) != 0 {
			t.Fatalf("rung %d after %d changes, want 0 and none", s.level(), len(s.changes))
		}
	})
}

func TestControllerQueueGrowing(t *testing.T) {
	// 25 ms fits the budget, but two frames have been waiting at rung 0 all
	// along (a stage the cost does not show, e.g. CPU contention).
	st := &stage{base: 25 * time.Millisecond, speedup: []float64{1, 1, 1, 1, 1, 1}, noJit: true,
		queued: func(level int) int { return []int{3, 1, 0, 0, 0, 0}[level] }}
	s := newSim(Options{TargetFPS: 30}, st, 30)
	s.run(30 * time.Second)
	logChanges(t, s)
	if s.level() != 1 || len(s.changes) != 1 {
		t.Fatalf("rung %d after %d changes, want 1 after 1", s.level(), len(s.changes))
	}
	want := "3 or more frames queued for 1.0 s (frame cost 25.0 ms, budget 33.3 ms of 30.0 fps): detector every 3 frames"
	if got := s.changes[0].Reason; got != want {
		t.Fatalf("reason\n got %q\nwant %q", got, want)
	}
}

func TestControllerReasons(t *testing.T) {
	st := &stage{base: 48 * time.Millisecond, speedup: []float64{1, 2, 2, 2, 2, 2}, noJit: true}
	s := newSim(Options{TargetFPS: 30}, st, 30)
	s.run(5 * time.Second)
	if len(s.changes) != 1 {
		t.Fatalf("%d changes, want 1", len(s.changes))
	}
	d := s.changes[0]
	if want := "frame cost 48.0 ms over the 33.3 ms budget of 30.0 fps for 1.0 s: detector every 3 frames"; d.Reason != want || d.From != 0 || d.To != 1 {
		t.Fatalf("got %d → %d %q\nwant 0 → 1 %q", d.From, d.To, d.Reason, want)
	}
	// Judged from the first full window (~1.03 s), over for 1 s more.
	if at := d.At.Sub(newFakeClock().t); at < 2*time.Second || at > 2200*time.Millisecond {
		t.Fatalf("At %v after the start, want ~2.07 s", at)
	}
	st.base = 12 * time.Millisecond // rung 1 costs 6 ms, rung 0 12 ms: fits
	s.run(10 * time.Second)
	if len(s.changes) != 2 {
		logChanges(t, s)
		t.Fatalf("%d changes, want 2", len(s.changes))
	}
	if want := "frame cost 6.0 ms under 60% of the 33.3 ms budget of 30.0 fps for 5.0 s: detector adaptive"; s.changes[1].Reason != want {
		t.Fatalf("got %q\nwant %q", s.changes[1].Reason, want)
	}
}

func TestControllerNeedsEvidence(t *testing.T) {
	clk := newFakeClock()
	c := NewController(Options{Clock: clk, TargetFPS: 30})
	for i := 0; i < 100; i++ { // no frames at all
		clk.Advance(100 * time.Millisecond)
		if _, ok := c.Step(); ok {
			t.Fatal("changed without frames")
		}
	}
	for i := 0; i < 2; i++ { // two awful frames are not a trend
		c.ObserveFrame(time.Second, 5)
	}
	for i := 0; i < 100; i++ {
		clk.Advance(100 * time.Millisecond)
		if _, ok := c.Step(); ok {
			t.Fatal("changed on two frames")
		}
	}
}

func TestControllerOptions(t *testing.T) {
	c := NewController(Options{})
	if l, lv := c.Level(); l != 0 || lv != DefaultLadder()[0] {
		t.Fatalf("default start: %d %+v", l, lv)
	}
	if c.o.Window != time.Second || c.o.DownAfter != time.Second || c.o.UpAfter != 5*time.Second ||
		c.o.Headroom != 0.6 || c.o.Cooldown != 2*time.Second {
		t.Fatalf("defaults: %+v", c.o)
	}
	if l, _ := NewController(Options{Start: 99}).Level(); l != len(DefaultLadder())-1 {
		t.Fatalf("Start clamps to the last rung: %d", l)
	}
	if l, _ := NewController(Options{Start: -3}).Level(); l != 0 {
		t.Fatalf("Start clamps to 0: %d", l)
	}
	ladder := DefaultLadder()
	c = NewController(Options{Ladder: ladder, Headroom: 3})
	ladder[0].Name = "changed"
	if _, lv := c.Level(); lv.Name != "full" {
		t.Fatal("the controller must copy the ladder")
	}
	if c.o.Headroom != 1 {
		t.Fatalf("headroom above 1 clamps to 1: %v", c.o.Headroom)
	}
}

func TestControllerAllocs(t *testing.T) {
	clk := newFakeClock()
	c := NewController(Options{Clock: clk, TargetFPS: 30})
	var pts time.Duration
	allocs := testing.AllocsPerRun(2000, func() {
		clk.Advance(time.Second / 30)
		pts += time.Second / 30
		c.ObserveInput(pts)
		c.ObserveFrame(10*time.Millisecond, 0)
		c.Step() // at rung 0 under headroom: evaluates everything, changes nothing
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per frame, want 0", allocs)
	}
}

func TestControllerConcurrent(t *testing.T) {
	c := NewController(Options{Window: 20 * time.Millisecond, DownAfter: 10 * time.Millisecond,
		UpAfter: 20 * time.Millisecond, Cooldown: 10 * time.Millisecond})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				switch w {
				case 0:
					c.ObserveInput(time.Duration(i) * time.Millisecond)
				case 1:
					c.ObserveFrame(time.Duration(i%50)*time.Millisecond, i%3)
				case 2:
					c.Step()
					c.Level()
					c.Budget()
					c.InputFPS()
					c.SetTarget(float64(i % 60))
				}
			}
		}(w)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
}

func TestDefaultLadder(t *testing.T) {
	l := DefaultLadder()
	if len(l) < 5 || len(l) > 6 {
		t.Fatalf("%d rungs", len(l))
	}
	if want := (Level{Name: "full", DetectorInput: 128, DetectInterval: 0, Landmarks: "dlib68", SwapSize: 224}); l[0] != want {
		t.Fatalf("rung 0 %+v, want %+v", l[0], want)
	}
	names := map[string]bool{}
	for i, r := range l {
		if names[r.Name] {
			t.Fatalf("duplicate name %q", r.Name)
		}
		names[r.Name] = true
		if i == 0 {
			continue
		}
		p := l[i-1]
		interval := func(v int) int { // adaptive detects most often
			if v == 0 {
				return 1
			}
			return v
		}
		if r == p || r.SwapSize > p.SwapSize || interval(r.DetectInterval) < interval(p.DetectInterval) ||
			r.DetectorInput > p.DetectorInput || (p.Landmarks == "keypoints" && r.Landmarks == "dlib68") {
			t.Fatalf("rung %d %+v is not cheaper than rung %d %+v", i, r, i-1, p)
		}
	}
	if l[len(l)-1].Landmarks != "keypoints" {
		t.Fatal("keypoints must be the last resort")
	}
}

func TestDescribeChange(t *testing.T) {
	l := DefaultLadder()
	tests := []struct {
		from, to Level
		want     string
	}{
		{l[0], l[1], "detector every 3 frames"},
		{l[1], l[2], "detector every 5 frames, swap at 192 px"},
		{l[2], l[1], "detector every 3 frames, swap at 224 px"},
		{l[1], l[0], "detector adaptive"},
		{l[4], l[5], "keypoints landmarks"},
		{l[0], Level{Name: "x", DetectorInput: 96, DetectInterval: 1, Landmarks: "dlib68", SwapSize: 224, ORTThreads: 2},
			"detector input 96 px, detector every frame, 2 ORT threads"},
		{Level{ORTThreads: 2}, Level{Name: "y"}, "ORT threads auto"},
		{l[0], l[0], "level full"},
	}
	for _, tt := range tests {
		if got := describeChange(tt.from, tt.to); got != tt.want {
			t.Errorf("%s → %s: %q, want %q", tt.from.Name, tt.to.Name, got, tt.want)
		}
	}
}

// A climb undone at once doubles the wait before the next climb to that rung;
// a climb that holds clears it again.
func TestControllerBackoffClearsAfterAHeldClimb(t *testing.T) {
	ladder := DefaultLadder()[:2]
	st := &stage{base: 40 * time.Millisecond, speedup: []float64{1, 2.7}, noJit: true}
	s := newSim(Options{Ladder: ladder, Start: 1, TargetFPS: 30}, st, 30)
	s.run(20 * time.Second) // nothing learned yet: climbs, fails, drops back
	if len(s.changes) != 2 || s.level() != 1 {
		logChanges(t, s)
		t.Fatalf("phase 1: %d changes, rung %d", len(s.changes), s.level())
	}
	// Rung 1 now costs 26.7 ms: neither over the budget nor under headroom,
	// so nothing holds and no timer runs.
	st.speedup = []float64{1, 1.5}
	s.run(10 * time.Second)
	st.base = 10 * time.Millisecond // the load is gone: under headroom from here
	s.run(30 * time.Second)
	st.base = 40 * time.Millisecond // back, long after the climb held
	s.run(10 * time.Second)
	st.base = 10 * time.Millisecond
	s.run(30 * time.Second)
	logChanges(t, s)
	if len(s.changes) != 5 || s.level() != 0 {
		t.Fatalf("%d changes, rung %d; want 5, rung 0", len(s.changes), s.level())
	}
	for i, want := range map[int]string{2: "for 10.0 s", 4: "for 5.0 s"} {
		if !strings.Contains(s.changes[i].Reason, want) {
			t.Fatalf("climb %d: %q, want %q", i, s.changes[i].Reason, want)
		}
	}
}
