package tune

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"facelive/internal/clock"
)

const interval = 5 * time.Second

// newSimTuner wires a tuner to m; the returned slice collects log lines.
func newSimTuner(level string, m *sim, clk *fakeClock, explicit map[string]bool, knobs ...Knob) (*Tuner, *[]string) {
	var log []string
	tu := NewTuner(Options{Level: level, Knobs: knobs, Explicit: explicit, Apply: m.apply, Clock: clk,
		Interval: interval, Log: func(s string) { log = append(log, s) }})
	return tu, &log
}

func actions(ds []Decision) []string {
	var out []string
	for _, d := range ds {
		if d.Action != ActionHold {
			out = append(out, d.String())
		}
	}
	return out
}

func TestDecisionString(t *testing.T) {
	at := newClock().Now()
	tests := []struct {
		d    Decision
		want string
	}{
		{Decision{At: at, Action: ActionTry, Key: "workers", From: 2, To: 3, Reason: "fps_out 21.4 < fps_in 30.0, drops 28%"},
			"tuner: try workers 2→3 (fps_out 21.4 < fps_in 30.0, drops 28%)"},
		{Decision{Action: ActionKeep, Key: "workers", From: 2, To: 3, Score: 0.93, Before: 0.71, Reason: "score 0.71 → 0.93"},
			"tuner: keep workers=3 (score 0.71 → 0.93)"},
		{Decision{Action: ActionRevert, Key: "detector.interval", From: 3, To: 2, Reason: "score 0.80 → 0.62"},
			"tuner: revert detector.interval 3→2 (score 0.80 → 0.62)"},
		{Decision{Action: ActionHold, Reason: "level custom: the user's own values stay"},
			"tuner: hold (level custom: the user's own values stay)"},
		{Decision{Action: ActionSkip, Key: "detector.interval", From: 4, To: 4, Reason: "detector.interval was set by the user"},
			"tuner: skip detector.interval (detector.interval was set by the user)"},
		{Decision{Action: ActionHold}, "tuner: hold"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.d.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

// (a) A change that helped is kept, with a line that says so.
func TestTunerKeepsWhatHelped(t *testing.T) {
	tests := []struct {
		level   string
		try     string
		workers int
	}{
		{Balanced, "tuner: try workers 1→2 (fps_out 20.0 < fps_in 30.0, drops 33%, cpu 12%)", 2},
		{Aggressive, "tuner: try workers 1→3 (fps_out 20.0 < fps_in 30.0, drops 33%, cpu 12%)", 3}, // Step×2
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			clk := newClock()
			m := &sim{cores: 8, fpsIn: 30, swapMs: 50, vals: map[string]int{"workers": 1}}
			tu, log := newSimTuner(tt.level, m, clk, nil, Knob{Key: "workers", Min: 1, Max: 8, Step: 1, Value: 1})
			ds := run(t, tu, clk, m, 4)
			if ds[0].String() != tt.try {
				t.Errorf("first decision %q, want %q", ds[0], tt.try)
			}
			keep := ds[1]
			if keep.Action != ActionKeep || keep.Key != "workers" || keep.To != tt.workers || !(keep.Score > keep.Before) {
				t.Fatalf("second decision %+v, want keep workers=%d with a better score", keep, tt.workers)
			}
			if !strings.HasPrefix(keep.String(), "tuner: keep workers=") || !strings.Contains(keep.String(), "(score 0.") {
				t.Errorf("keep line %q", keep)
			}
			if got := tu.Knobs()[0].Value; got != tt.workers || m.vals["workers"] != tt.workers {
				t.Errorf("workers = %d (knob), %d (system), want %d", got, m.vals["workers"], tt.workers)
			}
			if last, ok := tu.Last(); !ok || last.Action != ActionHold || !strings.Contains(last.Reason, "steady") {
				t.Errorf("Last() = %+v after the keep, want a steady hold", last)
			}
			if len(*log) != 3 { // try, keep, one steady hold
				t.Errorf("log %q, want 3 lines", *log)
			}
		})
	}
}

// (b) On a machine where more workers make it slower, the change is
// reverted, and retried only after a ban that grows each time.
func TestTunerRevertsWhatHurt(t *testing.T) {
	clk := newClock()
	m := &sim{cores: 2, fpsIn: 30, swapMs: 50, vals: map[string]int{"workers": 1},
		slow: func(w int) float64 { return 3*float64(w-1) + 1 }} // memory bound: two workers thrash
	tu, _ := newSimTuner(Aggressive, m, clk, nil, Knob{Key: "workers", Min: 1, Max: 2, Step: 1, Value: 1})
	ds := run(t, tu, clk, m, 60)
	if got := ds[0].String(); !strings.HasPrefix(got, "tuner: try workers 1→2 (") {
		t.Errorf("first decision %q; Step×2 clamps to Max", got)
	}
	rev := ds[1]
	if rev.Action != ActionRevert || rev.From != 2 || rev.To != 1 || !(rev.Score < rev.Before) {
		t.Fatalf("second decision %+v, want revert workers 2→1 with a worse score", rev)
	}
	if !strings.HasPrefix(rev.String(), "tuner: revert workers 2→1 (score 0.") {
		t.Errorf("revert line %q", rev)
	}
	if m.vals["workers"] != 1 || tu.Knobs()[0].Value != 1 {
		t.Errorf("workers = %d after the revert", m.vals["workers"])
	}
	var tries []int
	for i, d := range ds {
		if d.Action == ActionTry {
			tries = append(tries, i)
		}
		if d.Action == ActionKeep {
			t.Errorf("interval %d: %s; nothing here helps", i, d)
		}
	}
	// Each failed try (reverted one interval later) bans the move for 6,
	// then 12, then 24 intervals.
	if want := []int{0, 1 + 6, 8 + 12, 21 + 24}; !slices.Equal(tries, want) {
		t.Errorf("tries at intervals %v, want %v", tries, want)
	}
	if ds[2].Action != ActionHold || !strings.Contains(ds[2].Reason, "nothing left to try") {
		t.Errorf("during the ban: %s", ds[2])
	}
}

// (c) Keys the user set are never applied; the skip is said once, when the
// tuner first wants to move the key. Aggressive tries workers first, which
// is enough here, so it may never want to.
func TestTunerNeverTouchesExplicit(t *testing.T) {
	tests := []struct {
		name     string
		explicit map[string]bool
	}{
		{"key", map[string]bool{"detector.interval": true}},
		{"group", map[string]bool{"detector": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, level := range []string{Conservative, Balanced, Aggressive} {
				clk := newClock()
				m := &sim{cores: 4, fpsIn: 30, swapMs: 40, detectMs: 40, vals: map[string]int{"workers": 1, "detector.interval": 2}}
				tu, log := newSimTuner(level, m, clk, tt.explicit,
					Knob{Key: "detector.interval", Min: 1, Max: 10, Step: 1, Value: 2},
					Knob{Key: "workers", Min: 1, Max: 4, Step: 1, Value: 1})
				ds := run(t, tu, clk, m, 40)
				for _, a := range m.applied {
					if strings.HasPrefix(a, "detector.interval=") {
						t.Errorf("%s: applied %s", level, a)
					}
				}
				var skips []string
				for _, d := range ds {
					if d.Action == ActionSkip {
						skips = append(skips, d.String())
					}
				}
				want := []string{"tuner: skip detector.interval (detector.interval was set by the user)"}
				if level == Aggressive && len(skips) == 0 {
					want = nil
				}
				if !slices.Equal(skips, want) {
					t.Errorf("%s: skips %q, want %q", level, skips, want)
				}
				if want != nil && !slices.Contains(*log, want[0]) {
					t.Errorf("%s: log %q lacks the skip", level, *log)
				}
				if level != Conservative && m.vals["workers"] == 1 {
					t.Errorf("%s: workers never moved; the other knobs stay tunable", level)
				}
				if tu.Knobs()[0].Value != 2 {
					t.Errorf("%s: detector.interval knob = %d", level, tu.Knobs()[0].Value)
				}
			}
		})
	}
}

// (d) custom (and anything the tuner does not know, or no Apply) never
// applies, and the hold is logged once, not every interval.
func TestTunerHoldsWithoutLevel(t *testing.T) {
	tests := []struct {
		name, level, reason string
		noApply             bool
	}{
		{"custom", Custom, "level custom: the user's own values stay", false},
		{"unknown level", "turbo", `level "turbo" is not one the tuner knows`, false},
		{"no apply", Balanced, "no way to apply changes", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			m := &sim{cores: 4, fpsIn: 30, swapMs: 80, detectMs: 40, vals: map[string]int{"workers": 1, "detector.interval": 2}}
			var log []string
			o := Options{Level: tt.level, Apply: m.apply, Clock: clk, Interval: interval, Log: func(s string) { log = append(log, s) },
				Knobs: []Knob{{Key: "detector.interval", Min: 1, Max: 10, Value: 2}, {Key: "workers", Min: 1, Max: 4, Value: 1}}}
			if tt.noApply {
				o.Apply = nil
			}
			tu := NewTuner(o)
			for _, d := range run(t, tu, clk, m, 30) {
				if d.Action != ActionHold || !strings.Contains(d.Reason, tt.reason) {
					t.Fatalf("decision %s, want hold (%s)", d, tt.reason)
				}
			}
			if len(m.applied) != 0 {
				t.Errorf("applied %v", m.applied)
			}
			if len(log) != 1 || !strings.HasPrefix(log[0], "tuner: hold (") {
				t.Errorf("log %q, want the hold once", log)
			}
		})
	}
}

// (e) conservative only lowers the load: no try raises the cost and no
// value ever goes past where it started in the costly direction, whether
// the machine struggles or has room to spare.
func TestTunerConservativeNeverRaisesCost(t *testing.T) {
	tests := []struct {
		name    string
		m       *sim
		workers int
		helped  bool // the stream struggles and a relief move helps
	}{
		{"detection heavy", &sim{cores: 4, fpsIn: 30, swapMs: 10, detectMs: 120, faces: 1}, 1, true},
		{"too many faces", &sim{cores: 4, fpsIn: 30, swapMs: 20, detectMs: 20, faces: 4}, 1, true},
		{"cores oversubscribed", &sim{cores: 2, fpsIn: 30, swapMs: 30, detectMs: 20, faces: 1,
			slow: func(w int) float64 { return 1 + 0.5*float64(max(0, w-2)) }}, 4, true},
		{"hopeless", &sim{cores: 2, fpsIn: 60, swapMs: 200, detectMs: 100, faces: 1}, 2, false},
		{"headroom", &sim{cores: 8, fpsIn: 10, swapMs: 2, detectMs: 5, faces: 1}, 2, false},
		{"noisy", &sim{cores: 4, fpsIn: 30, swapMs: 12, detectMs: 100, faces: 2, noise: 0.08, rng: rand.New(rand.NewPCG(1, 2))}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			m := tt.m
			start := map[string]int{"workers": tt.workers, "detector.interval": 2, "detector.max_faces": 4}
			m.vals = maps.Clone(start)
			tu, log := newSimTuner(Conservative, m, clk, nil,
				Knob{Key: "detector.interval", Min: 1, Max: 10, Step: 1, Value: 2},
				Knob{Key: "workers", Min: 1, Max: 4, Step: 1, Value: tt.workers},
				Knob{Key: "detector.max_faces", Min: 1, Max: 16, Step: 1, Value: 4})
			ds := run(t, tu, clk, m, 60)
			kept := 0
			for _, d := range ds {
				switch d.Action {
				case ActionTry:
					costlier := d.To > d.From
					if d.Key == "detector.interval" {
						costlier = d.To < d.From
					}
					if costlier {
						t.Errorf("%s raises the cost", d)
					}
				case ActionKeep:
					kept++
				}
			}
			for key, v := range m.vals {
				if (key == "detector.interval" && v < start[key]) || (key != "detector.interval" && v > start[key]) {
					t.Errorf("%s = %d, past its start %d in the costly direction", key, v, start[key])
				}
			}
			if tt.helped != (kept > 0) {
				t.Errorf("%d changes kept; want some: %v\n%s", kept, tt.helped, strings.Join(*log, "\n"))
			}
			if tt.name == "headroom" && len(m.applied) != 0 {
				t.Errorf("applied %v with headroom", m.applied)
			}
		})
	}
}

// (f) Over 100 intervals the tuner settles: few changes, most of them
// early, and the stream ends at least as good as it started. The bounds
// follow from the bans: a move that keeps failing is tried at intervals 0,
// 7, 20, 45 and 94 at most, so two knobs × two directions try at most 4
// times in the last 50 intervals, whatever the noise.
func TestTunerSettles(t *testing.T) {
	scenarios := []struct {
		name string
		m    func() *sim
	}{
		{"detection heavy, cores free", func() *sim {
			return &sim{cores: 4, fpsIn: 30, swapMs: 40, detectMs: 30, vals: map[string]int{"workers": 1, "detector.interval": 5}}
		}},
		{"two cores", func() *sim {
			return &sim{cores: 2, fpsIn: 30, swapMs: 30, detectMs: 60, vals: map[string]int{"workers": 1, "detector.interval": 2}}
		}},
		{"workers thrash", func() *sim {
			return &sim{cores: 8, fpsIn: 30, swapMs: 25, detectMs: 40, vals: map[string]int{"workers": 2, "detector.interval": 1},
				slow: func(w int) float64 { return 1 + 0.8*float64(w-1) }}
		}},
		{"headroom", func() *sim {
			return &sim{cores: 8, fpsIn: 30, swapMs: 4, detectMs: 20, vals: map[string]int{"workers": 2, "detector.interval": 8}}
		}},
		{"hopeless", func() *sim {
			return &sim{cores: 2, fpsIn: 60, swapMs: 200, detectMs: 100, vals: map[string]int{"workers": 2, "detector.interval": 3}}
		}},
	}
	for _, sc := range scenarios {
		for _, level := range []string{Conservative, Balanced, Aggressive} {
			for _, noise := range []float64{0, 0.04} {
				t.Run(fmt.Sprintf("%s/%s/noise %.0f%%", sc.name, level, 100*noise), func(t *testing.T) {
					clk := newClock()
					m := sc.m()
					m.noise, m.rng = noise, rand.New(rand.NewPCG(7, 11))
					startScore := m.exact().Score()
					tu, log := newSimTuner(level, m, clk, nil,
						Knob{Key: "detector.interval", Min: 1, Max: 10, Step: 1, Value: m.vals["detector.interval"]},
						Knob{Key: "workers", Min: 1, Max: m.cores, Step: 1, Value: m.vals["workers"]})
					ds := run(t, tu, clk, m, 100)
					late := 0
					for _, d := range ds[50:] {
						if d.Action == ActionTry {
							late++
						}
					}
					if len(m.applied) > 24 || late > 4 {
						t.Errorf("%d changes applied, %d in the last 50 intervals: thrash\n%s", len(m.applied), late, strings.Join(*log, "\n"))
					}
					end := m.exact().Score()
					if end < startScore-1e-9 {
						t.Errorf("score %.3f at the end < %.3f at the start\n%s", end, startScore, strings.Join(*log, "\n"))
					}
					for i, k := range tu.Knobs() {
						if m.vals[k.Key] != k.Value {
							t.Errorf("knob %d %s = %d, system has %d", i, k.Key, k.Value, m.vals[k.Key])
						}
					}
				})
			}
		}
	}
}

func TestTunerApplyErrors(t *testing.T) {
	t.Run("try fails", func(t *testing.T) {
		clk := newClock()
		m := &sim{cores: 8, fpsIn: 30, swapMs: 50, vals: map[string]int{"workers": 1}}
		m.fail = func(key string, v int) error { return errors.New("engine busy") }
		tu, _ := newSimTuner(Balanced, m, clk, nil, Knob{Key: "workers", Min: 1, Max: 8, Value: 1})
		ds := run(t, tu, clk, m, 8)
		d := ds[0]
		if d.Action != ActionRevert || d.String() != "tuner: revert workers 2→1 (could not apply workers=2: engine busy)" {
			t.Errorf("first decision %s", d)
		}
		if tu.Knobs()[0].Value != 1 {
			t.Errorf("knob moved to %d although Apply failed", tu.Knobs()[0].Value)
		}
		if ds[1].Action != ActionHold {
			t.Errorf("after a failed apply: %s; nothing is pending and the move is banned", ds[1])
		}
		if ds[5].Action != ActionHold || ds[6].Action != ActionRevert {
			t.Errorf("after the ban: %s, %s; want another attempt at interval 6", ds[5], ds[6])
		}
	})
	t.Run("revert fails", func(t *testing.T) {
		clk := newClock()
		m := &sim{cores: 2, fpsIn: 30, swapMs: 50, vals: map[string]int{"workers": 1},
			slow: func(w int) float64 { return 2.5 * float64(w) }}
		m.fail = func(key string, v int) error {
			if v == 1 {
				return errors.New("engine busy")
			}
			return nil
		}
		tu, _ := newSimTuner(Balanced, m, clk, nil, Knob{Key: "workers", Min: 1, Max: 2, Value: 1})
		ds := run(t, tu, clk, m, 2)
		d := ds[1]
		if d.Action != ActionRevert || !strings.Contains(d.Reason, "could not apply workers=1: engine busy, so 2 stays") {
			t.Errorf("second decision %s", d)
		}
		if got := tu.Knobs()[0].Value; got != 2 || m.vals["workers"] != 2 {
			t.Errorf("knob %d, system %d; want both 2", got, m.vals["workers"])
		}
	})
}

func TestTunerInterval(t *testing.T) {
	clk := newClock()
	tu := NewTuner(Options{Level: Custom, Clock: clk}) // Interval 0: 5 s
	s := Sample{FPSIn: 30, FPSOut: 30}
	for _, step := range []time.Duration{time.Second, 3 * time.Second, 900 * time.Millisecond} {
		clk.Advance(step)
		if d, ok := tu.Observe(s); ok {
			t.Fatalf("decision %s before 5 s", d)
		}
	}
	if _, ok := tu.Last(); ok {
		t.Error("Last() reports a decision before any was made")
	}
	clk.Advance(100 * time.Millisecond)
	d, ok := tu.Observe(s)
	if !ok || !d.At.Equal(clk.Now()) {
		t.Fatalf("no decision at 5 s (%v, %v)", d, ok)
	}
	if last, ok := tu.Last(); !ok || last != d {
		t.Errorf("Last() = %v, want %v", last, d)
	}
	clk.Advance(4 * time.Second)
	if _, ok := tu.Observe(s); ok {
		t.Error("decision 4 s after the last one")
	}
}

// The decision looks at the mean of the window, not the last sample.
func TestTunerWindow(t *testing.T) {
	clk := newClock()
	tu := NewTuner(Options{Level: Custom, Clock: clk, Interval: 4 * time.Second})
	samples := []Sample{
		{FPSIn: 30, FPSOut: 30, CPUBusy: 0.5},
		{FPSIn: 30, FPSOut: 10, DropRate: 0.6},
		{FPSIn: 30, FPSOut: 30, CPUBusy: 0.7},
		{FPSIn: 30, FPSOut: 30},
	}
	var d Decision
	for _, s := range samples {
		clk.Advance(time.Second)
		d, _ = tu.Observe(s)
	}
	want := Sample{FPSIn: 30, FPSOut: 25, DropRate: 0.15, CPUBusy: 0.6}.Score()
	if d.Score != want {
		t.Errorf("score %v, want %v (the window's mean)", d.Score, want)
	}
}

func TestTunerDefaults(t *testing.T) {
	tu := NewTuner(Options{Level: Balanced, Knobs: []Knob{
		{Key: "workers", Min: 1, Max: 4},
		{Key: "detector.interval", Min: 1, Max: 10, Step: 2},
		{Key: "detector.max_faces", Min: 4, Max: 1},
		{Key: "overlay.level", Min: 0, Max: 3},
		{Key: "workers", Min: 1, Max: 4, Cost: +1},
	}})
	want := []Knob{
		{Key: "workers", Min: 1, Max: 4, Step: 1, Cost: +1, Parallel: true},
		{Key: "detector.interval", Min: 1, Max: 10, Step: 2, Cost: -1},
		{Key: "detector.max_faces", Min: 4, Max: 4, Step: 1, Cost: +1},
		{Key: "overlay.level", Min: 0, Max: 3, Step: 1},
		{Key: "workers", Min: 1, Max: 4, Step: 1, Cost: +1}, // Cost given: Parallel is the caller's
	}
	if got := tu.Knobs(); !slices.Equal(got, want) {
		t.Errorf("Knobs() = %+v\nwant %+v", got, want)
	}
	if tu.interval != defaultInterval || tu.minGain != defaultMinGain {
		t.Errorf("interval %v, min gain %v", tu.interval, tu.minGain)
	}
	if _, ok := tu.clock.(clock.System); !ok {
		t.Errorf("clock %T, want the system clock", tu.clock)
	}
}

// Quality moves with headroom stay while they cost nothing and stop where
// the headroom ends, before the stream struggles.
func TestTunerQualityStopsAtHeadroom(t *testing.T) {
	clk := newClock()
	m := &sim{cores: 8, fpsIn: 30, swapMs: 4, detectMs: 60, vals: map[string]int{"workers": 1, "detector.interval": 10}}
	tu, log := newSimTuner(Balanced, m, clk, nil,
		Knob{Key: "workers", Min: 1, Max: 1, Value: 1},
		Knob{Key: "detector.interval", Min: 1, Max: 10, Value: 10})
	ds := run(t, tu, clk, m, 20)
	if got := ds[0].String(); got != "tuner: try detector.interval 10→9 (headroom: no drops, p95 12 ms of 33 ms budget, cpu 4%)" {
		t.Errorf("first decision %q", got)
	}
	if got := ds[1].String(); got != "tuner: keep detector.interval=9 (score 1.00 → 1.00, within 0.03 and keeping up)" {
		t.Errorf("second decision %q", got)
	}
	end := m.exact()
	if iv := m.vals["detector.interval"]; iv >= 10 || end.headroom() || end.struggling() {
		t.Errorf("detector.interval = %d, %+v; want it lowered until the headroom is gone\n%s", iv, end, strings.Join(*log, "\n"))
	}
}

// A quality move that makes the stream fall behind is reverted.
func TestTunerQualityReverts(t *testing.T) {
	clk := newClock()
	iv := 8
	// A cliff: detecting more often than every 5th frame runs out of GPU memory.
	sample := func() Sample {
		if iv < 5 {
			return Sample{FPSIn: 30, FPSOut: 24, DropRate: 0.2, LatencyP95Ms: 30}
		}
		return Sample{FPSIn: 30, FPSOut: 30, LatencyP95Ms: 10, CPUBusy: 0.3}
	}
	var applied []int
	tu := NewTuner(Options{Level: Aggressive, Clock: clk, Interval: interval,
		Knobs: []Knob{{Key: "detector.interval", Min: 1, Max: 10, Value: iv}},
		Apply: func(key string, v int) error { iv = v; applied = append(applied, v); return nil }})
	var lines []string
	for range 8 * 5 {
		clk.Advance(time.Second)
		if d, ok := tu.Observe(sample()); ok && d.Action != ActionHold {
			lines = append(lines, d.String())
		}
	}
	want := []string{
		"tuner: try detector.interval 8→6 (headroom: no drops, p95 10 ms of 33 ms budget, cpu 30%)", // aggressive: Step×2
		"tuner: keep detector.interval=6 (score 1.00 → 1.00, within 0.03 and keeping up)",
		"tuner: try detector.interval 6→4 (headroom: no drops, p95 10 ms of 33 ms budget, cpu 30%)",
		"tuner: revert detector.interval 4→6 (score 1.00 → 0.84, the stream fell behind)",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("decisions:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if iv != 6 || !slices.Equal(applied, []int{6, 4, 6}) {
		t.Errorf("detector.interval %d, applied %v", iv, applied)
	}
}

// Last and Knobs are read from other goroutines while Observe runs.
func TestTunerConcurrentReaders(t *testing.T) {
	clk := newClock()
	m := &sim{cores: 4, fpsIn: 30, swapMs: 40, detectMs: 30, vals: map[string]int{"workers": 1, "detector.interval": 5}}
	tu, _ := newSimTuner(Aggressive, m, clk, nil,
		Knob{Key: "workers", Min: 1, Max: 4, Value: 1}, Knob{Key: "detector.interval", Min: 1, Max: 10, Value: 5})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					tu.Last()
					tu.Knobs()
				}
			}
		})
	}
	run(t, tu, clk, m, 50)
	close(stop)
	wg.Wait()
}

// A machine at the edge flips between steady and struggling every interval;
// the log says so about once a minute, not every five seconds.
func TestTunerQuietHolds(t *testing.T) {
	clk := newClock()
	var log []string
	tu := NewTuner(Options{Level: Balanced, Clock: clk, Interval: interval, Apply: func(string, int) error { return nil },
		Log: func(s string) { log = append(log, s) }})
	steady := Sample{FPSIn: 30, FPSOut: 29.5, DropRate: 0.02, LatencyP95Ms: 25}
	behind := Sample{FPSIn: 30, FPSOut: 25, DropRate: 0.15, LatencyP95Ms: 40}
	var holds int
	for i := range 24 {
		s := steady
		if i%2 == 1 {
			s = behind
		}
		clk.Advance(interval)
		if d, ok := tu.Observe(s); ok && d.Action == ActionHold {
			holds++
		}
	}
	if holds != 24 || len(log) != 4 {
		t.Errorf("%d holds, logged %d times: %q; want 24 holds, 4 lines (each kind at 0 and 60 s)", holds, len(log), log)
	}
	if !strings.HasPrefix(log[0], "tuner: hold (steady: fps_out 29.5 of 30.0, drops 2%)") ||
		log[1] != "tuner: hold (fps_out 25.0 < fps_in 30.0, drops 15%; nothing left to try)" {
		t.Errorf("log %q", log)
	}
}

// Garbage in the metrics (NaN, negative, infinite) reads as "unknown" and
// never reaches a decision as NaN.
func TestTunerBadSamples(t *testing.T) {
	clk := newClock()
	var applied []string
	tu := NewTuner(Options{Level: Aggressive, Clock: clk, Interval: interval,
		Knobs: []Knob{{Key: "workers", Min: 1, Max: 4, Value: 1}},
		Apply: func(k string, v int) error { applied = append(applied, fmt.Sprint(k, "=", v)); return nil }})
	nan := math.NaN()
	bad := []Sample{
		{FPSIn: nan, FPSOut: nan, DropRate: nan, LatencyP95Ms: nan, CPUBusy: nan},
		{FPSIn: math.Inf(1), FPSOut: -3, DropRate: 2, LatencyP95Ms: math.Inf(-1)},
		{FPSIn: -30, FPSOut: 30},
	}
	for i := range 3 {
		for _, s := range bad {
			clk.Advance(time.Second)
			tu.Observe(s)
		}
		clk.Advance(interval)
		d, ok := tu.Observe(Sample{})
		if !ok || d.Action != ActionHold || d.Reason != "no input frames" || math.IsNaN(d.Score) {
			t.Errorf("round %d: %+v, %v; want a hold for no input", i, d, ok)
		}
	}
	if len(applied) != 0 {
		t.Errorf("applied %v on garbage", applied)
	}
}

// Samples in the first fifth of an interval after a change still carry
// frames from before it and are left out of the judgement.
func TestTunerSettle(t *testing.T) {
	clk := newClock()
	workers := 1
	tu := NewTuner(Options{Level: Balanced, Clock: clk, Interval: interval,
		Knobs: []Knob{{Key: "workers", Min: 1, Max: 4, Value: 1}},
		Apply: func(_ string, v int) error { workers = v; return nil }})
	struggling := Sample{FPSIn: 30, FPSOut: 20, DropRate: 0.33, LatencyP95Ms: 50}
	fine := Sample{FPSIn: 30, FPSOut: 30, LatencyP95Ms: 40}
	clk.Advance(interval)
	if d, _ := tu.Observe(struggling); d.Action != ActionTry || workers != 2 {
		t.Fatalf("first decision %s", d)
	}
	clk.Advance(500 * time.Millisecond)
	tu.Observe(struggling) // the old rate, still in the engine's window
	clk.Advance(interval - 500*time.Millisecond)
	d, _ := tu.Observe(fine)
	if d.Action != ActionKeep || d.Score != fine.Score() {
		t.Errorf("decision %s with score %v; want keep on %v, the settled samples only", d, d.Score, fine.Score())
	}
}
