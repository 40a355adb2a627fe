package adapt

import (
	"math"
	"testing"
	"time"
)

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol*math.Abs(want) }

func TestRateMeterSteadyPTS(t *testing.T) {
	m := NewRateMeter(time.Second, nil)
	var pts time.Duration
	for i := 0; i < 100; i++ {
		m.Add(pts)
		pts += 40 * time.Millisecond
	}
	last := pts - 40*time.Millisecond
	if got := m.EventRate(); got != 25 {
		t.Fatalf("EventRate = %v, want 25", got)
	}
	if got := m.Rate(last); got != 25 {
		t.Fatalf("Rate(last) = %v, want 25", got)
	}
}

func TestRateMeterYoung(t *testing.T) {
	// Three events 100 ms apart: 10/s, not 3/s over a window not yet filled.
	m := NewRateMeter(time.Second, nil)
	for _, ms := range []int{100, 200, 300} {
		m.Add(time.Duration(ms) * time.Millisecond)
	}
	if got := m.Rate(300 * time.Millisecond); !near(got, 10, 1e-9) {
		t.Fatalf("Rate = %v, want 10", got)
	}
	if got := m.EventRate(); !near(got, 10, 1e-9) {
		t.Fatalf("EventRate = %v, want 10", got)
	}
	one := NewRateMeter(time.Second, nil)
	one.Add(time.Second)
	if one.Rate(time.Second) != 0 || one.EventRate() != 0 {
		t.Fatal("one event is no rate")
	}
	if (&RateMeter{}).Rate(0) != 0 {
		t.Fatal("empty meter")
	}
}

func TestRateMeterDecays(t *testing.T) {
	m := NewRateMeter(time.Second, nil)
	for i := 0; i <= 30; i++ {
		m.Add(time.Duration(i) * 100 * time.Millisecond) // 0 .. 3 s at 10/s
	}
	if got := m.Rate(3500 * time.Millisecond); !near(got, 5, 1e-9) {
		t.Fatalf("half a window after the last event: %v, want 5", got)
	}
	if got := m.Rate(5 * time.Second); got != 0 {
		t.Fatalf("long after: %v, want 0", got)
	}
	if got := m.EventRate(); !near(got, 10, 1e-9) {
		t.Fatalf("EventRate does not decay: %v, want 10", got)
	}
}

func TestRateMeterBackwardsRestarts(t *testing.T) {
	m := NewRateMeter(time.Second, nil)
	for i := 0; i < 50; i++ {
		m.Add(10*time.Second + time.Duration(i)*20*time.Millisecond) // 50/s
	}
	// A new source starts its pts at 0, at 25/s.
	for i := 0; i < 30; i++ {
		m.Add(time.Duration(i) * 40 * time.Millisecond)
	}
	if got := m.EventRate(); !near(got, 25, 1e-9) {
		t.Fatalf("after pts went back: %v, want 25", got)
	}
	if m.Len() != 30 {
		t.Fatalf("Len = %d, want 30 (old source forgotten)", m.Len())
	}
}

func TestRateMeterOverflowMeasuresShorterSpan(t *testing.T) {
	// 1000/s overflows the 256-event ring in a 1 s window; the rate is still
	// right, measured over the span held.
	m := NewRateMeter(time.Second, nil)
	for i := 0; i < 2000; i++ {
		m.Add(time.Duration(i) * time.Millisecond)
	}
	if got := m.Rate(1999 * time.Millisecond); !near(got, 1000, 1e-9) {
		t.Fatalf("Rate = %v, want 1000", got)
	}
	if got := m.EventRate(); !near(got, 1000, 1e-9) {
		t.Fatalf("EventRate = %v, want 1000", got)
	}
}

func TestRateMeterJitter(t *testing.T) {
	// Arrival times at 30/s with ±5 ms jitter: the spacing estimate stays
	// within 2 %.
	m := NewRateMeter(time.Second, nil)
	seed := uint32(1)
	for i := 0; i < 300; i++ {
		seed = seed*1664525 + 1013904223
		jitter := time.Duration(int(seed>>16)%11-5) * time.Millisecond
		m.Add(time.Duration(i)*time.Second/30 + jitter)
		if i > 60 && !near(m.EventRate(), 30, 0.02) {
			t.Fatalf("frame %d: EventRate %v, want 30 ± 2%%", i, m.EventRate())
		}
	}
}

func TestRateMeterClock(t *testing.T) {
	clk := newFakeClock()
	m := NewRateMeter(2*time.Second, clk)
	if m.Window() != 2*time.Second {
		t.Fatal(m.Window())
	}
	for i := 0; i < 50; i++ {
		clk.Advance(50 * time.Millisecond)
		m.Tick()
	}
	if got := m.RateNow(); !near(got, 20, 1e-9) {
		t.Fatalf("RateNow = %v, want 20", got)
	}
	clk.Advance(3 * time.Second)
	if got := m.RateNow(); got != 0 {
		t.Fatalf("idle: %v, want 0", got)
	}
	m.Reset()
	if m.Len() != 0 {
		t.Fatal("Reset")
	}
	if NewRateMeter(0, nil).Window() != time.Second {
		t.Fatal("default window")
	}
}

func TestRateMeterAllocs(t *testing.T) {
	clk := newFakeClock()
	byPTS, byClock := NewRateMeter(time.Second, nil), NewRateMeter(time.Second, clk)
	var pts time.Duration
	allocs := testing.AllocsPerRun(1000, func() {
		pts += time.Millisecond
		byPTS.Add(pts)
		clk.Advance(time.Millisecond)
		byClock.Tick()
		_ = byPTS.Rate(pts) + byPTS.EventRate() + byClock.RateNow()
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per call, want 0", allocs)
	}
}
