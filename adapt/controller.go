package adapt

import (
	"fmt"
	"math"
	"sync"
	"time"
)

const (
	// frameCap bounds the frame samples held: a 1 s window up to 512 fps.
	frameCap = 512
	// minSamples: fewer frames than this in a window are no evidence.
	minSamples = 3
	// defaultFPS sets the budget before a target or an input rate is known.
	defaultFPS = 30
	// upMargin: a climb the learned rung ratio predicts would land above this
	// share of the budget is not tried; the 10 % absorbs measurement noise.
	upMargin = 0.9
	// maxBackoff caps the doubling of the climb delay after failed climbs
	// (32 × UpAfter, 160 s by default).
	maxBackoff = 5
	// recheckAfter × UpAfter under headroom climbs even against a prediction,
	// so a ratio learned from a fluke cannot pin the quality down for good;
	// each failed climb doubles it, as it does UpAfter.
	recheckAfter = 16
)

// Options configures a [Controller]; zero fields take the defaults noted.
type Options struct {
	Ladder    []Level // nil: DefaultLadder()
	Start     int     // rung to start on, clamped to the ladder
	TargetFPS float64 // frames per second to keep up with; 0 follows the measured input rate
	Clock     Clock   // nil: SystemClock
	// Window is the span the frame cost is averaged over (1 s).
	Window time.Duration
	// DownAfter: over budget this long steps one rung down (1 s).
	DownAfter time.Duration
	// UpAfter: under Headroom × budget this long steps one rung up (5 s).
	UpAfter time.Duration
	// Headroom is the share of the budget the cost must stay under before a
	// climb (0.6): climbing costs more per frame, so it needs room to land in.
	Headroom float64
	// Cooldown follows every change (2 s) so the new rung is measured before
	// it is judged.
	Cooldown time.Duration
}

// Decision is one level change and why.
type Decision struct {
	At       time.Time
	From, To int
	// Reason reads like "frame cost 48.2 ms over the 33.3 ms budget of 30.0 fps
	// for 1.0 s: detector every 3 frames" (what was measured, then what the new
	// rung changes).
	Reason string
}

// sample is one processed frame.
type sample struct {
	at, cost time.Duration
	queued   int
}

// Controller moves the pipeline up and down a quality ladder so that a
// frame's processing cost fits the frame interval. Feed it with
// [Controller.ObserveInput] and [Controller.ObserveFrame] from any goroutine
// (neither allocates) and call [Controller.Step] often (every frame or every
// ~100 ms); it only decides, the caller applies [Controller.Level].
//
// Hysteresis, so it does not flip between two rungs:
//   - it judges a rung only on a full Window of that rung's own frames (the
//     samples are dropped on every change) with at least 3 frames in it;
//   - down one rung when the mean cost has been over the budget, or at least
//     2 frames have been queued the whole window, for DownAfter;
//   - up one rung only after UpAfter with the mean cost under Headroom ×
//     budget and no queue, and only if the rung above is predicted to fit:
//     on every change it learns the cost ratio between the two rungs, and a
//     climb whose predicted cost exceeds 90 % of the budget waits 16 ×
//     UpAfter instead (a re-check, in case the ratio was a fluke);
//   - a climb undone within UpAfter doubles both delays before the next climb
//     to that rung (up to 32 ×); staying UpAfter clears the doubling;
//   - nothing moves during Cooldown after a change, or past the ladder's ends.
type Controller struct {
	mu     sync.Mutex
	o      Options
	clock  Clock
	t0     time.Time
	level  int
	target float64
	input  RateMeter // source pts

	ring    [frameCap]sample // this rung's frames since the last change
	head, n int
	first   time.Duration // first sample on this rung; -1 none yet

	overSince, underSince time.Duration // -1 while the condition does not hold
	changed               bool
	changedAt             time.Duration

	learnFrom  int           // rung left at the last change, until the ratio is learned; -1 none
	costBefore time.Duration // its mean cost when it was left
	rel        []float64     // rel[j]: cost on rung j-1 over cost on rung j; 0 unknown
	fails      []int         // failed climbs into rung j
	probe      int           // rung last climbed into, until it proves itself; -1 none
	probeAt    time.Duration
}

// NewController returns a controller on o.Start with o's defaults filled in.
func NewController(o Options) *Controller {
	if len(o.Ladder) == 0 {
		o.Ladder = DefaultLadder()
	} else {
		o.Ladder = append([]Level(nil), o.Ladder...) // the caller may reuse its slice
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Window <= 0 {
		o.Window = time.Second
	}
	if o.DownAfter <= 0 {
		o.DownAfter = time.Second
	}
	if o.UpAfter <= 0 {
		o.UpAfter = 5 * time.Second
	}
	if o.Headroom <= 0 || math.IsNaN(o.Headroom) {
		o.Headroom = 0.6
	}
	o.Headroom = min(o.Headroom, 1)
	if o.Cooldown <= 0 {
		o.Cooldown = 2 * time.Second
	}
	o.Start = max(0, min(o.Start, len(o.Ladder)-1))
	c := &Controller{
		o: o, clock: o.Clock, t0: o.Clock.Now(), level: o.Start,
		first: -1, overSince: -1, underSince: -1, learnFrom: -1, probe: -1,
		rel:   make([]float64, len(o.Ladder)),
		fails: make([]int, len(o.Ladder)),
	}
	c.target = cleanFPS(o.TargetFPS)
	c.input.init(o.Window, o.Clock)
	return c
}

// ObserveInput records that one source frame arrived, by its pts (or its
// arrival time): the spacing gives the input rate the budget follows when no
// target is set. pts that go back restart the measurement.
func (c *Controller) ObserveInput(pts time.Duration) {
	c.mu.Lock()
	c.input.Add(pts)
	c.mu.Unlock()
}

// ObserveFrame records one processed frame: its cost (processing time as the
// pipeline's throughput sees it — with N workers in parallel, the time divided
// by N) and how many frames were waiting for a worker.
func (c *Controller) ObserveFrame(cost time.Duration, queued int) {
	at := c.clock.Now().Sub(c.t0)
	c.mu.Lock()
	c.ring[c.head] = sample{at: at, cost: max(cost, 0), queued: queued}
	c.head = (c.head + 1) % frameCap
	if c.n < frameCap {
		c.n++
	}
	if c.first < 0 {
		c.first = at
	}
	c.mu.Unlock()
}

// Step evaluates the rules at the clock's now; changed is true when the level
// moved, and the Decision says from where to where and why.
func (c *Controller) Step() (d Decision, changed bool) {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	t := now.Sub(c.t0)
	budget := c.budgetLocked()
	count, mean, minQueued := c.windowLocked(t)
	if count < minSamples || c.first < 0 || t-c.first < c.o.Window {
		c.overSince, c.underSince = -1, -1 // no evidence: nothing holds continuously
		return Decision{}, false
	}
	c.learnLocked(mean)
	if c.probe == c.level && t-c.probeAt >= c.o.UpAfter {
		c.fails[c.level], c.probe = 0, -1 // the climb held
	}

	costOver, queueOver := mean > budget, minQueued > 1
	over := costOver || queueOver
	under := !over && float64(mean) < c.o.Headroom*float64(budget)
	c.overSince = holdSince(over, c.overSince, t)
	c.underSince = holdSince(under, c.underSince, t)
	if c.changed && t-c.changedAt < c.o.Cooldown {
		return Decision{}, false
	}

	fps := float64(time.Second) / float64(budget)
	last := len(c.o.Ladder) - 1
	if over && t-c.overSince >= c.o.DownAfter && c.level < last {
		to := c.level + 1
		var why string
		if costOver {
			why = fmt.Sprintf("frame cost %.1f ms over the %.1f ms budget of %.1f fps for %.1f s",
				ms(mean), ms(budget), fps, (t - c.overSince).Seconds())
		} else {
			why = fmt.Sprintf("%d or more frames queued for %.1f s (frame cost %.1f ms, budget %.1f ms of %.1f fps)",
				minQueued, (t - c.overSince).Seconds(), ms(mean), ms(budget), fps)
		}
		if c.probe == c.level && t-c.probeAt < c.o.UpAfter {
			c.fails[c.level] = min(c.fails[c.level]+1, maxBackoff) // the climb did not hold
		}
		return c.moveLocked(now, t, to, mean, why), true
	}
	if under && c.level > 0 {
		to := c.level - 1
		wait := c.o.UpAfter << c.fails[to]
		if r := c.rel[c.level]; r > 0 && float64(mean)*r >= upMargin*float64(budget) {
			wait = max(wait, recheckAfter*c.o.UpAfter<<c.fails[to]) // predicted not to fit
		}
		if t-c.underSince >= wait {
			why := fmt.Sprintf("frame cost %.1f ms under %.0f%% of the %.1f ms budget of %.1f fps for %.1f s",
				ms(mean), 100*c.o.Headroom, ms(budget), fps, (t - c.underSince).Seconds())
			c.probe, c.probeAt = to, t
			return c.moveLocked(now, t, to, mean, why), true
		}
	}
	return Decision{}, false
}

// moveLocked changes the rung and starts measuring the new one afresh.
func (c *Controller) moveLocked(now time.Time, t time.Duration, to int, mean time.Duration, why string) Decision {
	from := c.level
	d := Decision{At: now, From: from, To: to,
		Reason: why + ": " + describeChange(c.o.Ladder[from], c.o.Ladder[to])}
	c.level = to
	c.changed, c.changedAt = true, t
	c.overSince, c.underSince = -1, -1
	c.head, c.n, c.first = 0, 0, -1
	c.learnFrom, c.costBefore = from, mean
	if to > from {
		c.probe = -1
	}
	return d
}

// learnLocked records, on the first full window after a change, how the
// costs of the two rungs compare; climbs are predicted from it.
func (c *Controller) learnLocked(mean time.Duration) {
	if c.learnFrom < 0 || mean <= 0 || c.costBefore <= 0 {
		c.learnFrom = -1
		return
	}
	upper, lower := c.learnFrom, c.level // rung j-1 and rung j
	costUpper, costLower := c.costBefore, mean
	if upper > lower {
		upper, lower = lower, upper
		costUpper, costLower = costLower, costUpper
	}
	if lower == upper+1 {
		c.rel[lower] = float64(costUpper) / float64(costLower)
	}
	c.learnFrom = -1
}

// windowLocked summarises this rung's frames in (t-Window, t].
func (c *Controller) windowLocked(t time.Duration) (count int, mean time.Duration, minQueued int) {
	from := t - c.o.Window
	var sum time.Duration
	minQueued = math.MaxInt
	for i := 1; i <= c.n; i++ {
		s := &c.ring[(c.head-i+frameCap)%frameCap]
		if s.at <= from {
			break
		}
		if s.at > t {
			continue
		}
		sum += s.cost
		minQueued = min(minQueued, s.queued)
		count++
	}
	if count == 0 {
		return 0, 0, 0
	}
	return count, sum / time.Duration(count), minQueued
}

func holdSince(holds bool, since, t time.Duration) time.Duration {
	switch {
	case !holds:
		return -1
	case since < 0:
		return t
	}
	return since
}

// Level is the current rung's index and settings.
func (c *Controller) Level() (int, Level) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.level, c.o.Ladder[c.level]
}

// SetTarget sets the frame rate to keep up with; 0 (or less) follows the
// measured input rate.
func (c *Controller) SetTarget(fps float64) {
	c.mu.Lock()
	c.target = cleanFPS(fps)
	c.mu.Unlock()
}

// Budget is the time one frame may cost: 1/target, else 1/measured input
// rate, else 1/30 s before any input.
func (c *Controller) Budget() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.budgetLocked()
}

func (c *Controller) budgetLocked() time.Duration {
	fps := c.target
	if fps <= 0 {
		fps = c.input.EventRate()
	}
	if fps <= 0 {
		fps = defaultFPS
	}
	return time.Duration(float64(time.Second) / fps)
}

// InputFPS is the measured source frame rate (0 before two frames).
func (c *Controller) InputFPS() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.input.EventRate()
}

func cleanFPS(fps float64) float64 {
	if fps > 0 && !math.IsInf(fps, 0) {
		return fps
	}
	return 0
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
