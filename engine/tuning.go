package engine

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"facelive/engine/config"
	"facelive/tune"
)

// WithExplicit says which dotted config keys the user set (config.Keys of
// the JSON they passed). With it, the profile and level fill in every other
// key they cover, and the auto-tuner may move those keys while the stream
// runs; keys the user set are never touched. Without it (a config built in
// code) the config is taken exactly as given and nothing is tuned.
func WithExplicit(keys []string) Option {
	return func(o *options) {
		o.explicit = make(map[string]bool, len(keys))
		for _, k := range keys {
			o.explicit[k] = true
		}
	}
}

// System returns the machine facts the profile is picked from, without the
// CPU calibration (SystemFor adds it where "auto" needs it).
func System() tune.System {
	_, mon := shared()
	b := mon.Budget()
	s := tune.System{Cores: runtime.NumCPU(), RAMMB: b.RAMTotalMB}
	for _, g := range b.GPUs {
		s.GPUs = append(s.GPUs, tune.GPU(g))
	}
	return s
}

// ProfileSettings resolves cfg.Profile (auto: from sys, see SystemFor) and
// cfg.Level into concrete settings, fits the workers to the mode and
// sys.Cores, applies those the user did not set explicitly, and explains
// each choice in lines for the log.
func ProfileSettings(cfg config.Config, explicit map[string]bool, sys tune.System) (config.Config, tune.Profile, []string, error) {
	prof, why, err := tune.Resolve(cfg.Profile, sys)
	if err != nil {
		return cfg, "", nil, err
	}
	lines := []string{fmt.Sprintf("profile %s (%s)", prof, why)}
	mode := "" // the level's, unless the user set one: theirs decides the workers
	if explicit["mode"] {
		mode = cfg.Mode
	}
	s, reasons, err := tune.ForMode(prof, cfg.Level, mode, sys.Cores)
	if err != nil {
		return cfg, prof, nil, err
	}
	if cfg.Level == tune.Custom {
		return cfg, prof, append(lines, "level custom: every setting is yours"), nil
	}
	if need := cfg.Swapper.Faces.People(); s.MaxFaces != 0 && s.MaxFaces < need {
		// A profile's cap must not leave a person swapper.faces names unfound.
		s.MaxFaces = need
		reasons = append(reasons, fmt.Sprintf("detector.max_faces=%d: swapper.faces names that many people", need))
	}
	patch := s.Patch(explicit)
	out, err := cfg.Patch(patch)
	if err != nil {
		return cfg, prof, nil, fmt.Errorf("profile %s, level %s: %w", prof, cfg.Level, err)
	}
	for _, r := range reasons {
		key, _, _ := strings.Cut(r, "=")
		if explicit[key] || explicit[strings.SplitN(key, ".", 2)[0]] {
			lines = append(lines, key+": yours, kept")
			continue
		}
		lines = append(lines, r)
	}
	return out, prof, lines, nil
}

// tuning is the pipeline's auto-tuner: every second it feeds the metrics to
// a tune.Tuner, which every few seconds may move workers or the detection
// interval and keeps a change only if it helped.
type tuning struct {
	p                    *Pipeline
	mu                   sync.Mutex // guards explicit, tuner, profile, last
	explicit             map[string]bool
	tuner                *tune.Tuner
	profile              tune.Profile
	last                 string
	scratch              [1024]float32 // for tunerSample: no allocation per second
	prevSub, prevDropped uint64        // counters at the last sample (the tuner goroutine's own)
	quit                 chan struct{}
	wg                   sync.WaitGroup
}

func newTuning(p *Pipeline, explicit map[string]bool) *tuning {
	return &tuning{p: p, explicit: explicit, quit: make(chan struct{})}
}

// start runs the loop; stop ends it and waits.
func (t *tuning) start() {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		defer func() { // a fault in the tuner must not take the host down
			if r := recover(); r != nil {
				t.p.Poison(fmt.Sprintf("panic in the auto-tuner: %v", r))
			}
		}()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-t.quit:
				return
			case <-tick.C:
				t.observe()
			}
		}
	}()
}

func (t *tuning) stop() {
	close(t.quit)
	t.wg.Wait()
}

// reset builds a tuner for cfg: called at start and after every user
// change (the values and the explicit keys may have moved).
func (t *tuning) reset(cfg config.Config, workers int) {
	// The tuner keeps the mode's bound: live modes leave the host a core.
	knobs := []tune.Knob{{Key: "workers", Min: 1, Max: max(workers, tune.MaxWorkers(cfg.Mode, runtime.NumCPU())), Step: 1, Value: workers}}
	if cfg.Detector.Interval > 0 { // adaptive (0) has no single value to move from
		knobs = append(knobs, tune.Knob{Key: "detector.interval", Min: 1, Max: 10, Step: 1, Value: cfg.Detector.Interval})
	}
	tn := tune.NewTuner(tune.Options{Level: cfg.Level, Knobs: knobs, Explicit: t.explicit, Clock: t.p.clock,
		Apply: t.apply, Log: func(msg string) { t.p.log(LevelInfo, msg) }})
	t.mu.Lock()
	t.tuner = tn
	t.mu.Unlock()
}

// observe feeds one sample, once the face pipeline runs. Level custom
// tunes nothing, so it does nothing at all.
func (t *tuning) observe() {
	if state, _ := t.p.face.status(); state != faceReady {
		return // loading: low output now says nothing about the settings
	}
	cfg := t.p.Config()
	if cfg.Level == tune.Custom {
		return
	}
	t.mu.Lock()
	tn := t.tuner
	t.mu.Unlock()
	if tn == nil {
		return
	}
	in, out, sub, dropped, p95 := t.p.stats.tunerSample(t.p.clock.Now().UnixNano(), t.scratch[:])
	drop := 0.0 // the share dropped since the last sample
	if sub > t.prevSub {
		drop = float64(dropped-t.prevDropped) / float64(sub-t.prevSub)
	}
	t.prevSub, t.prevDropped = sub, dropped
	if d, ok := tn.Observe(tune.Sample{FPSIn: in, FPSOut: out, DropRate: drop, LatencyP95Ms: p95,
		TargetFPS: cfg.TargetFPS}); ok {
		t.mu.Lock()
		t.last = d.String()
		t.mu.Unlock()
	}
}

// apply is the tuner's hand on the config: a key it may move, changed
// like a user's set_config but not marked explicit.
func (t *tuning) apply(key string, value int) error {
	var patch any = map[string]int{key: value}
	if group, leaf, ok := strings.Cut(key, "."); ok {
		patch = map[string]map[string]int{group: {leaf: value}}
	}
	b, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	p := t.p
	p.cfgMu.Lock()
	defer p.cfgMu.Unlock()
	next, err := p.Config().Patch(b)
	if err != nil {
		return err
	}
	return p.Apply(next)
}

// userChanged records the keys a user's partial config set and, when it
// changed profile, level or mode, applies the profile's settings again.
func (t *tuning) userChanged(partial []byte, cfg config.Config) (config.Config, error) {
	keys, err := config.Keys(partial)
	if err != nil {
		return cfg, err
	}
	t.mu.Lock()
	reprofile := false
	for _, k := range keys {
		if k == "profile" || k == "level" {
			reprofile = true
			continue // choosing a profile is not pinning a setting
		}
		// A new mode refits the profile's workers (batch takes every core).
		reprofile = reprofile || k == "mode"
		t.explicit[k] = true
	}
	explicit := t.explicit
	t.mu.Unlock()
	if !reprofile {
		return cfg, nil
	}
	out, prof, lines, err := ProfileSettings(cfg, explicit, SystemFor(cfg.Profile))
	if err != nil {
		return cfg, err
	}
	t.mu.Lock()
	t.profile = prof
	t.mu.Unlock()
	t.p.log(LevelInfo, strings.Join(lines, "; "))
	return out, nil
}

// pinned reports whether the user set key (dotted) or its group: the
// profile and the tuner leave it alone.
func (t *tuning) pinned(key string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.explicit[key] || t.explicit[strings.SplitN(key, ".", 2)[0]]
}

// pinned reports whether key is the user's own value: set explicitly, or
// the whole config taken as given (no WithExplicit).
func (p *Pipeline) pinned(key string) bool { return p.tun == nil || p.tun.pinned(key) }

func (t *tuning) status() (tune.Profile, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.profile, t.last
}
