package adapt

import "time"

// rateCap bounds the events a RateMeter remembers. 256 covers a one-second
// window up to 240 fps; above that the meter measures over the span it still
// holds, which is just as accurate, only shorter.
const rateCap = 256

// RateMeter counts events per second over a sliding window. Times are
// durations on any axis that only moves forward: a frame's pts, or a clock's
// reading since an epoch ([RateMeter.Tick] does that for you). It keeps a
// fixed ring, so recording and reading never allocate.
//
// A RateMeter is not safe for concurrent use; its owner holds the lock.
type RateMeter struct {
	window time.Duration
	clock  Clock
	epoch  time.Time
	ring   [rateCap]time.Duration
	head   int // next write
	n      int // events held, at most rateCap
}

// NewRateMeter returns a meter over window (1 s when ≤ 0). clock may be nil
// when only timestamps are passed in ([RateMeter.Add], [RateMeter.Rate]).
func NewRateMeter(window time.Duration, clock Clock) *RateMeter {
	m := &RateMeter{}
	m.init(window, clock)
	return m
}

func (m *RateMeter) init(window time.Duration, clock Clock) {
	if window <= 0 {
		window = time.Second
	}
	if clock == nil {
		clock = SystemClock{}
	}
	m.window, m.clock, m.epoch = window, clock, clock.Now()
}

// Window is the span the meter averages over.
func (m *RateMeter) Window() time.Duration { return m.window }

// Add records one event at t. A t before the newest event restarts the meter:
// timestamps that go back mean a new source or a looped file, and mixing the
// two axes would give nonsense.
func (m *RateMeter) Add(t time.Duration) {
	if m.n > 0 && t < m.at(m.n-1) {
		m.Reset()
	}
	m.ring[m.head] = t
	m.head = (m.head + 1) % rateCap
	if m.n < rateCap {
		m.n++
	}
}

// Tick records one event now, by the meter's clock.
func (m *RateMeter) Tick() { m.Add(m.since()) }

// Rate is the events per second in the window that ends at now: the count in
// (now-window, now] over the window, or over the span since the oldest event
// held when that is shorter (so a young meter is not read low). It falls to
// zero when events stop.
func (m *RateMeter) Rate(now time.Duration) float64 {
	if m.n == 0 {
		return 0
	}
	start := now - m.window
	if oldest := m.at(0); oldest > start {
		start = oldest
	}
	span := now - start
	if span <= 0 {
		return 0
	}
	count := 0
	for i := m.n - 1; i >= 0; i-- {
		t := m.at(i)
		if t <= start {
			break
		}
		if t <= now {
			count++
		}
	}
	return float64(count) / span.Seconds()
}

// RateNow is [RateMeter.Rate] at the clock's now.
func (m *RateMeter) RateNow() float64 { return m.Rate(m.since()) }

// EventRate is the rate from the spacing of the events in the window that
// ends at the newest one: (n-1) intervals over the time they span. Only the
// two end events' jitter matters, so it is steadier than counting, but it
// does not fall when events stop: use it for timestamps that arrive with the
// events (pts), where "now" is the newest event anyway.
func (m *RateMeter) EventRate() float64 {
	if m.n < 2 {
		return 0
	}
	newest := m.at(m.n - 1)
	from := newest - m.window
	oldest, count := newest, 0
	for i := m.n - 1; i >= 0; i-- {
		t := m.at(i)
		if t <= from {
			break
		}
		oldest = t
		count++
	}
	span := newest - oldest
	if count < 2 || span <= 0 {
		return 0
	}
	return float64(count-1) / span.Seconds()
}

// SteadyRate is [RateMeter.EventRate] while events keep coming, and 0
// once none came in the idle span before now: steady from frame to frame
// like EventRate, yet it falls to zero when a stream stops.
func (m *RateMeter) SteadyRate(now, idle time.Duration) float64 {
	if m.n == 0 || now-m.at(m.n-1) > idle {
		return 0
	}
	return m.EventRate()
}

// Len is the number of events held.
func (m *RateMeter) Len() int { return m.n }

// Reset forgets every event.
func (m *RateMeter) Reset() { m.head, m.n = 0, 0 }

// at returns the i-th held event, oldest first.
func (m *RateMeter) at(i int) time.Duration {
	return m.ring[(m.head-m.n+i+rateCap)%rateCap]
}

func (m *RateMeter) since() time.Duration { return m.clock.Now().Sub(m.epoch) }
