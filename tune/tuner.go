package tune

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"facelive/internal/clock"
)

// Clock tells the time; tests inject a fake one.
type Clock = clock.Clock

// Knob is one integer setting the tuner may move, such as
// {Key: "workers", Min: 1, Max: cores, Step: 1, Value: 2}.
type Knob struct {
	Key            string // dotted config key
	Min, Max, Step int    // Step < 1 counts as 1
	Value          int    // the value in effect now
	// Cost says what raising Value does to the load: +1 costs more CPU
	// (workers, detector.max_faces, merge.blur), -1 saves CPU
	// (detector.interval). 0 takes Cost and Parallel from the key for those
	// keys; a knob with another key and Cost 0 is never moved.
	Cost int
	// Parallel marks a knob whose extra cost buys throughput rather than
	// quality (workers): when frames drop and a core is idle, raising it is
	// the remedy, and it is lowered only when the cores are saturated.
	Parallel bool
}

// knownCosts fills Knob.Cost and Knob.Parallel for the keys the engine lets
// the tuner move.
var knownCosts = map[string]Knob{
	"workers":            {Cost: +1, Parallel: true},
	"detector.interval":  {Cost: -1},
	"detector.max_faces": {Cost: +1},
	"merge.blur":         {Cost: +1},
	"merge.erode":        {Cost: +1},
}

// Decision actions.
const (
	ActionTry    = "try"    // a change was applied; the next evaluation judges it
	ActionKeep   = "keep"   // the change helped (or cost nothing) and stays
	ActionRevert = "revert" // the change did not help and was undone, or could not be applied
	ActionHold   = "hold"   // nothing changed
	ActionSkip   = "skip"   // a move was wanted on a key the user set; reported once per key
)

// Decision is one step of the tuner, kept for the metrics key
// tuner.last_decision and written to the log as String().
type Decision struct {
	At     time.Time
	Action string // ActionTry, ActionKeep, ActionRevert, ActionHold or ActionSkip
	Key    string // dotted config key; "" for hold
	// From and To: try moves From→To; keep leaves To in place; revert goes
	// back from the tried From to the earlier To; skip has both = the value.
	From, To int
	Score    float64 // score of the window this decision looked at
	Before   float64 // keep and revert: the score before the change
	Reason   string  // the part in parentheses
}

// String is one log line, such as
// "tuner: try workers 2→3 (fps_out 21.4 < fps_in 30.0, drops 28%)",
// "tuner: keep workers=3 (score 0.71 → 0.93)" or
// "tuner: revert detector.interval 3→2 (score 0.80 → 0.62)".
func (d Decision) String() string {
	var b strings.Builder
	b.WriteString("tuner: " + d.Action)
	switch d.Action {
	case ActionTry, ActionRevert:
		fmt.Fprintf(&b, " %s %d→%d", d.Key, d.From, d.To)
	case ActionKeep:
		fmt.Fprintf(&b, " %s=%d", d.Key, d.To)
	case ActionSkip:
		b.WriteString(" " + d.Key)
	}
	if d.Reason != "" {
		b.WriteString(" (" + d.Reason + ")")
	}
	return b.String()
}

// Options configure a Tuner.
type Options struct {
	Level    string          // Conservative, Balanced, Aggressive or Custom; anything else holds like Custom
	Knobs    []Knob          // what may move, in order of preference
	Explicit map[string]bool // dotted keys (or whole groups) the user set: never moved
	// Apply sets one key live. It is called from Observe's goroutine with
	// no tuner lock held, so it may call Last or Knobs. nil: nothing is
	// ever applied (every decision is a hold).
	Apply    func(key string, value int) error
	Log      func(string)  // one line per decision; repeated holds are logged once; nil: silent
	Clock    Clock         // nil: the wall clock
	Interval time.Duration // between decisions; 0: 5s
	MinGain  float64       // score gain that justifies a change; 0: 0.03
}

const (
	defaultInterval = 5 * time.Second
	defaultMinGain  = 0.03
	// banIntervals is how long a move that did not help waits before it is
	// tried again; every further failure of the same move doubles it, up to
	// banMaxIntervals, so a tuner on a noisy machine settles instead of
	// trying the same thing forever.
	banIntervals    = 6
	banMaxIntervals = 96
	// settleShare of an interval after a change is not sampled: the
	// engine's rate windows still hold frames from before it.
	settleShare = 5
	// quietHolds intervals pass before the same kind of hold is logged again.
	quietHolds = 12
)

// moveKind is why a move is made, which decides how it is judged.
type moveKind int

const (
	relief     moveKind = iota // lower the load while struggling: kept only if the score rose by MinGain
	parallelUp                 // more workers while struggling with a core free: kept only if the score rose by MinGain
	quality                    // raise quality with headroom: kept while the score falls by less than MinGain and the stream keeps up
)

type move struct {
	key string
	dir int // +1 raise, -1 lower
}

type ban struct {
	until time.Time
	count int
}

// trial is a change made and not yet judged.
type trial struct {
	knob     int
	dir      int
	kind     moveKind
	from, to int
	before   float64
}

// Tuner moves knobs one at a time from measurements. Observe must be called
// from one goroutine; Last and Knobs are safe from any.
//
// Every Interval it takes the mean of the samples since the last decision
// (a window) and classifies it: struggling (more than 5 % of the wanted
// frames dropped, or fps_out under 90 % of the wanted rate), headroom (at
// most 1 % drops, fps_out at 97 % or more, p95 under half a frame interval,
// CPU under 80 % when known) or steady. Then, by level:
//
//	custom        never applies anything; every decision is a hold
//	conservative  struggling: lower the load (raise detector.interval, lower
//	              a Cost +1 knob; fewer workers only when the cores are
//	              saturated); never raises cost, not even with headroom
//	balanced      struggling: lower the load first, then more workers if a
//	              core is free; headroom: raise quality (lower
//	              detector.interval, raise a Cost +1 knob other than workers)
//	aggressive    as balanced, but more workers first and steps of 2×Step
//
// A change is judged on the window after it, against the score before it:
// a change that lowers quality or spends CPU (relief, more workers) must
// raise the score by MinGain or it is reverted, since it costs something
// the score does not see; a quality change stays while the score falls by
// less than MinGain and the stream is not struggling. A reverted move, or
// one whose Apply failed, is not tried again for 6 intervals, then 12, 24,
// 48 and at most 96 after each further failure; a kept relief or
// more-workers change bans the move that would undo it the same way, so the
// tuner settles instead of oscillating. Keys in Explicit are never applied: the first time a move on
// one is wanted, the decision is a skip that says so.
type Tuner struct {
	level    string
	explicit map[string]bool
	apply    func(string, int) error
	log      func(string)
	clock    Clock
	interval time.Duration
	minGain  float64

	// Observe's own state.
	lastAt      time.Time // of the last decision (or the start)
	settleUntil time.Time
	sum         Sample // sums over the window; CPUBusy summed over cpuN samples
	n, cpuN     int
	pending     *trial
	bans        map[move]ban
	skipped     map[string]bool
	holdKind    string               // kind of the last hold logged; "" after any other decision
	holdLogged  map[string]time.Time // when each kind of hold was last logged since the last change

	mu      sync.Mutex // guards knobs writes and last; Observe reads knobs without it
	knobs   []Knob
	last    Decision
	hasLast bool
}

// NewTuner returns a tuner whose first decision comes one Interval after
// this call.
func NewTuner(o Options) *Tuner {
	t := &Tuner{
		level: o.Level, explicit: maps.Clone(o.Explicit), apply: o.Apply, log: o.Log, clock: o.Clock,
		interval: o.Interval, minGain: o.MinGain,
		bans: make(map[move]ban), skipped: make(map[string]bool), holdLogged: make(map[string]time.Time),
	}
	if t.clock == nil {
		t.clock = clock.System{}
	}
	if t.interval <= 0 {
		t.interval = defaultInterval
	}
	if t.minGain <= 0 {
		t.minGain = defaultMinGain
	}
	for _, k := range o.Knobs {
		if k.Step < 1 {
			k.Step = 1
		}
		k.Max = max(k.Max, k.Min)
		if known, ok := knownCosts[k.Key]; ok && k.Cost == 0 {
			k.Cost, k.Parallel = known.Cost, known.Parallel
		}
		t.knobs = append(t.knobs, k)
	}
	t.lastAt = t.clock.Now()
	return t
}

// Observe feeds one metrics sample. When Interval has passed since the last
// decision it decides from the mean of the samples since then and returns
// that decision; otherwise ok is false.
func (t *Tuner) Observe(s Sample) (Decision, bool) {
	now := t.clock.Now()
	if !now.Before(t.settleUntil) {
		t.add(s)
	}
	if now.Sub(t.lastAt) < t.interval {
		return Decision{}, false
	}
	w := t.window(s)
	t.lastAt = now
	d, holdKind := t.decide(now, w)
	d.At = now
	t.mu.Lock()
	t.last, t.hasLast = d, true
	t.mu.Unlock()
	if t.shouldLog(now, d, holdKind) && t.log != nil {
		t.log(d.String())
	}
	return d, true
}

// shouldLog says whether a decision goes to the log. Every change does; a
// hold is logged when its kind differs from the last hold logged, except a
// kind already logged within quietHolds intervals: a machine at the edge of
// struggling flips between "steady" and "struggling" every interval and
// would fill the log.
func (t *Tuner) shouldLog(now time.Time, d Decision, holdKind string) bool {
	if d.Action != ActionHold {
		t.holdKind = ""
		clear(t.holdLogged)
		return true
	}
	if holdKind == t.holdKind {
		return false
	}
	if at, ok := t.holdLogged[holdKind]; ok && now.Sub(at) < quietHolds*t.interval {
		return false
	}
	t.holdKind = holdKind
	t.holdLogged[holdKind] = now
	return true
}

// Last returns the latest decision, for the metrics key tuner.last_decision.
func (t *Tuner) Last() (Decision, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last, t.hasLast
}

// Knobs returns a copy of the knobs with their current values.
func (t *Tuner) Knobs() []Knob {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.knobs)
}

func (t *Tuner) add(s Sample) {
	t.sum.FPSIn += finite(s.FPSIn)
	t.sum.FPSOut += finite(s.FPSOut)
	t.sum.DropRate += finite(s.DropRate)
	t.sum.LatencyP95Ms += finite(s.LatencyP95Ms)
	t.sum.TargetFPS += finite(s.TargetFPS)
	if c := finite(s.CPUBusy); c > 0 { // 0 is "unknown", not "idle"
		t.sum.CPUBusy += c
		t.cpuN++
	}
	t.n++
}

// window returns the mean of the samples since the last decision and starts
// a new window; last stands in when every sample fell in a settle period.
func (t *Tuner) window(last Sample) Sample {
	if t.n == 0 {
		t.add(last)
	}
	n := float64(t.n)
	w := Sample{FPSIn: t.sum.FPSIn / n, FPSOut: t.sum.FPSOut / n, DropRate: t.sum.DropRate / n,
		LatencyP95Ms: t.sum.LatencyP95Ms / n, TargetFPS: t.sum.TargetFPS / n}
	if t.cpuN > 0 {
		w.CPUBusy = t.sum.CPUBusy / float64(t.cpuN)
	}
	t.sum, t.n, t.cpuN = Sample{}, 0, 0
	return w
}

// decide makes one decision from the window w; holdKind names the kind of a
// hold so repeated holds are logged once.
func (t *Tuner) decide(now time.Time, w Sample) (d Decision, holdKind string) {
	score := w.Score()
	hold := func(kind, reason string) (Decision, string) {
		return Decision{Action: ActionHold, Score: score, Reason: reason}, kind
	}
	switch t.level {
	case Custom:
		return hold("custom", "level custom: the user's own values stay")
	case Conservative, Balanced, Aggressive:
	default:
		return hold("level", fmt.Sprintf("level %q is not one the tuner knows; nothing changes", t.level))
	}
	if t.apply == nil {
		return hold("apply", "no way to apply changes")
	}
	if !(w.FPSIn > 0) {
		// A paused source says nothing about a pending change: judge it later.
		return hold("input", "no input frames")
	}
	if t.pending != nil {
		return t.evaluate(now, w), ""
	}
	return t.propose(now, w)
}

// evaluate judges the pending change on the window after it.
func (t *Tuner) evaluate(now time.Time, w Sample) Decision {
	p := t.pending
	t.pending = nil
	k := t.knobs[p.knob]
	score := w.Score()
	d := Decision{Key: k.Key, Score: score, Before: p.before,
		Reason: fmt.Sprintf("score %.2f → %.2f", p.before, score)}
	var keep bool
	switch p.kind {
	case quality:
		// Quality does not show in the score: a better setting that costs
		// (almost) nothing and keeps the stream up is a win.
		keep = score >= p.before-t.minGain && !w.struggling()
		switch {
		case keep:
			d.Reason += fmt.Sprintf(", within %.2f and keeping up", t.minGain)
		case w.struggling():
			d.Reason += ", the stream fell behind"
		}
	default:
		// Lower quality or more CPU must pay for itself.
		keep = score >= p.before+t.minGain
		if !keep && score > p.before {
			d.Reason += fmt.Sprintf(", gain under %.2f", t.minGain)
		}
	}
	if keep {
		d.Action, d.From, d.To = ActionKeep, p.from, p.to
		if p.kind != quality {
			// Do not hand back at once what was just won.
			t.ban(move{k.Key, -p.dir}, now)
		}
		return d
	}
	d.Action, d.From, d.To = ActionRevert, p.to, p.from
	t.ban(move{k.Key, p.dir}, now)
	if err := t.apply(k.Key, p.from); err != nil {
		d.Reason += fmt.Sprintf("; could not apply %s=%d: %v, so %d stays", k.Key, p.from, err, p.to)
		return d
	}
	t.setValue(p.knob, p.from)
	t.settleUntil = now.Add(t.interval / settleShare)
	return d
}

// propose applies the first useful move the level allows, or holds.
func (t *Tuner) propose(now time.Time, w Sample) (Decision, string) {
	score := w.Score()
	for _, c := range t.candidates(w) {
		k := t.knobs[c.knob]
		if isExplicit(t.explicit, k.Key) {
			if t.skipped[k.Key] {
				continue
			}
			t.skipped[k.Key] = true
			return Decision{Action: ActionSkip, Key: k.Key, From: k.Value, To: k.Value, Score: score,
				Reason: k.Key + " was set by the user"}, ""
		}
		step := k.Step
		if t.level == Aggressive {
			step *= 2
		}
		to := min(max(k.Value+c.dir*step, k.Min), k.Max)
		if (to-k.Value)*c.dir <= 0 { // at the bound, or outside the range already
			continue
		}
		mv := move{k.Key, c.dir}
		if b, ok := t.bans[mv]; ok && now.Before(b.until) {
			continue
		}
		if err := t.apply(k.Key, to); err != nil {
			t.ban(mv, now)
			return Decision{Action: ActionRevert, Key: k.Key, From: to, To: k.Value, Score: score, Before: score,
				Reason: fmt.Sprintf("could not apply %s=%d: %v", k.Key, to, err)}, ""
		}
		t.setValue(c.knob, to)
		t.pending = &trial{knob: c.knob, dir: c.dir, kind: c.kind, from: k.Value, to: to, before: score}
		t.settleUntil = now.Add(t.interval / settleShare)
		return Decision{Action: ActionTry, Key: k.Key, From: k.Value, To: to, Score: score,
			Reason: symptoms(w, c.kind)}, ""
	}
	switch {
	case w.struggling() && t.level == Conservative:
		return Decision{Action: ActionHold, Score: score,
			Reason: symptoms(w, relief) + "; nothing left that lowers the load"}, "stuck"
	case w.struggling():
		return Decision{Action: ActionHold, Score: score, Reason: symptoms(w, relief) + "; nothing left to try"}, "stuck"
	case w.headroom() && t.level != Conservative:
		return Decision{Action: ActionHold, Score: score, Reason: symptoms(w, quality) + "; nothing left to raise"}, "top"
	}
	return Decision{Action: ActionHold, Score: score,
		Reason: fmt.Sprintf("steady: fps_out %.1f of %.1f, drops %.0f%%", w.FPSOut, w.want(), 100*w.drops())}, "steady"
}

type candidate struct {
	knob int
	dir  int
	kind moveKind
}

// candidates lists the moves worth trying for the window, best first:
//
//   - struggling: relief moves (raise a Cost -1 knob, lower a Cost +1 one,
//     lower a Parallel one only when the cores are saturated) and, unless
//     the level is conservative, more of a Parallel knob when a core is
//     free; aggressive tries the Parallel knob first, balanced last.
//   - headroom (balanced, aggressive): quality moves, the other way round
//     from relief; Parallel knobs stay, they add no quality.
//   - otherwise none.
func (t *Tuner) candidates(w Sample) []candidate {
	var reliefs, ups, qualities []candidate
	for i, k := range t.knobs {
		switch {
		case k.Parallel && k.Cost > 0:
			if w.CPUBusy >= busyCPU {
				reliefs = append(reliefs, candidate{i, -1, relief})
			} else if w.CPUBusy < roomCPU {
				ups = append(ups, candidate{i, +1, parallelUp})
			}
		case k.Cost > 0:
			reliefs = append(reliefs, candidate{i, -1, relief})
			qualities = append(qualities, candidate{i, +1, quality})
		case k.Cost < 0:
			reliefs = append(reliefs, candidate{i, +1, relief})
			qualities = append(qualities, candidate{i, -1, quality})
		}
	}
	switch {
	case w.struggling() && t.level == Conservative:
		return reliefs
	case w.struggling() && t.level == Aggressive:
		return append(ups, reliefs...)
	case w.struggling():
		return append(reliefs, ups...)
	case w.headroom() && t.level != Conservative:
		return qualities
	}
	return nil
}

// symptoms says what a window shows, for the reason of a move of kind k:
// "fps_out 21.4 < fps_in 30.0, drops 28%".
func symptoms(w Sample, k moveKind) string {
	if k == quality {
		s := "headroom: no drops"
		if w.LatencyP95Ms > 0 {
			s += fmt.Sprintf(", p95 %.0f ms of %.0f ms budget", w.LatencyP95Ms, w.budgetMs())
		}
		if w.CPUBusy > 0 {
			s += fmt.Sprintf(", cpu %.0f%%", 100*w.CPUBusy)
		}
		return s
	}
	var parts []string
	if w.rate() < struggleRate {
		of := "fps_in"
		if w.want() < w.FPSIn {
			of = "target_fps"
		}
		parts = append(parts, fmt.Sprintf("fps_out %.1f < %s %.1f", w.FPSOut, of, w.want()))
	}
	if w.drops() > struggleDrops {
		parts = append(parts, "drops "+strconv.FormatFloat(100*w.drops(), 'f', 0, 64)+"%")
	}
	if w.CPUBusy > 0 {
		parts = append(parts, fmt.Sprintf("cpu %.0f%%", 100*w.CPUBusy))
	}
	return strings.Join(parts, ", ")
}

// ban keeps a move from being tried for a while; each ban of the same move
// doubles the wait.
func (t *Tuner) ban(m move, now time.Time) {
	b := t.bans[m]
	b.count++
	n := min(banIntervals<<min(b.count-1, 8), banMaxIntervals) // 6, 12, 24, 48, 96, 96, ...
	b.until = now.Add(time.Duration(n) * t.interval)
	t.bans[m] = b
}

func (t *Tuner) setValue(i, v int) {
	t.mu.Lock()
	t.knobs[i].Value = v
	t.mu.Unlock()
}
