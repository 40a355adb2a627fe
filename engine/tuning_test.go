package engine

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"facelive/adapt"
	"facelive/engine/config"
	"facelive/tune"
)

func TestProfileFillsWhatTheUserLeftOpen(t *testing.T) {
	low := tune.System{Cores: 2, RAMMB: 8192}
	ws := tune.System{Cores: 32, RAMMB: 131072, GPUs: []tune.GPU{{Name: "big", TotalMB: 81920}}}
	// Measured figures are injected: no test depends on this machine's speed.
	epyc := tune.System{Cores: 2, RAMMB: 24576, CPU: tune.Calibration{Stage: CalibrationStage, Ms: 1.9, Runs: 9}}
	big := tune.System{Cores: 8, RAMMB: 32768, CPU: tune.Calibration{Stage: CalibrationStage, Ms: 2, Runs: 9}}
	workers := func(n int) func(c config.Config) string {
		return func(c config.Config) string {
			if c.Workers != n {
				return fmt.Sprintf("workers %d, want %d", c.Workers, n)
			}
			return ""
		}
	}
	for _, tc := range []struct {
		name     string
		json     string
		sys      tune.System
		profile  tune.Profile
		check    func(c config.Config) string
		logWants string
	}{
		{"auto picks low on 2 cores", `{}`, low, tune.Low, func(c config.Config) string {
			if c.Workers != 1 || c.Detector.Interval == 0 {
				return "want 1 worker and a fixed detection interval"
			}
			return ""
		}, "profile low"},
		{"the user's keys stay", `{"workers":2,"detector":{"interval":7}}`, low, tune.Low, func(c config.Config) string {
			if c.Workers != 2 || c.Detector.Interval != 7 {
				return "the user's workers 2 and interval 7 were overridden"
			}
			return ""
		}, "workers: yours, kept"},
		{"auto picks workstation on a big GPU", `{"level":"aggressive"}`, ws, tune.Workstation, func(c config.Config) string {
			if c.Workers < 2 {
				return "workstation aggressive with fewer than 2 workers"
			}
			return ""
		}, "profile workstation"},
		{"custom changes nothing", `{"level":"custom"}`, low, tune.Low, func(c config.Config) string {
			if c.Workers != 0 || c.Detector.Interval != 0 {
				return "level custom changed settings"
			}
			return ""
		}, "level custom"},
		{"swapper.faces lifts the profile's max_faces", `{"swapper":{"faces":[{"face":"/etc/hostname","match":"position","index":2}]}}`, low, tune.Low,
			func(c config.Config) string {
				if c.Detector.MaxFaces != 3 {
					return fmt.Sprintf("max_faces %d, want 3 for the face at position 2", c.Detector.MaxFaces)
				}
				return ""
			}, "detector.max_faces=3: swapper.faces names that many people"},
		{"a named profile wins over the machine", `{"profile":"high"}`, low, tune.High, func(config.Config) string { return "" }, "profile high"},
		{"a measured 2-core EPYC is medium", `{}`, epyc, tune.Medium, workers(1),
			"profile medium (2 cores, 24 GiB RAM, no GPU, 1080p face frame align+merge 1.9 ms (≈ 380 fps on 2 cores) → medium: "},
		{"a live level keeps the host's core", `{}`, epyc, tune.Medium, workers(1), "workers=1: realtime leaves the host one of its 2 cores"},
		{"the user's batch uses every core", `{"mode":"batch"}`, low, tune.Low, workers(2), "workers=2: batch uses every core"},
		{"batch on 8 measured cores", `{"mode":"batch","level":"conservative"}`, big, tune.High, workers(8), "workers=8: batch uses every core"},
		{"the user's quality over a level's realtime", `{"mode":"quality","level":"aggressive"}`, epyc, tune.Medium, workers(2), "mode: yours, kept; "},
		{"the user's workers win over batch", `{"mode":"batch","workers":1}`, epyc, tune.Medium, workers(1), "workers: yours, kept"},
		{"room for the level's workers", `{"mode":"realtime","level":"aggressive"}`, ws, tune.Workstation, workers(4),
			"workers=4: more workers for throughput"},
		{"the user's batch over workstation's balanced", `{"mode":"batch","level":"aggressive"}`, ws, tune.Workstation, workers(32),
			"workers=32: batch uses every core"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			keys, _ := config.Keys([]byte(tc.json))
			explicit := map[string]bool{}
			for _, k := range keys {
				explicit[k] = true
			}
			out, prof, lines, err := ProfileSettings(cfg, explicit, tc.sys)
			if err != nil {
				t.Fatal(err)
			}
			if prof != tc.profile {
				t.Fatalf("profile %s, want %s", prof, tc.profile)
			}
			if msg := tc.check(out); msg != "" {
				t.Fatalf("%s: %s", msg, out.JSON())
			}
			if log := strings.Join(lines, "; "); !strings.Contains(log, tc.logWants) {
				t.Fatalf("log %q does not say %q", log, tc.logWants)
			}
			if err := out.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Every profile × level gives a config the engine accepts.
func TestEveryProfileAndLevelIsAValidConfig(t *testing.T) {
	for _, p := range tune.Profiles() {
		for _, l := range tune.Levels() {
			s, _, err := tune.For(p, l)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := config.Default().Patch(s.Patch(nil)); err != nil {
				t.Fatalf("%s/%s: %v", p, l, err)
			}
		}
	}
}

func TestPipelineWithExplicitTunesAndReports(t *testing.T) {
	cfg, _ := config.Parse([]byte(`{"swapper":{"kind":"none"},"workers":2}`))
	p, err := New(cfg, WithExplicit([]string{"swapper.kind", "workers"}))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if c := p.Config(); c.Workers != 2 {
		t.Fatalf("workers %d, the user said 2", c.Workers)
	}
	if m := p.Metrics(); m.Profile == "" {
		t.Fatal("metrics do not say which profile is in use")
	}
	// A user change pins that key from now on.
	if err := p.SetConfig([]byte(`{"detector":{"interval":9}}`)); err != nil {
		t.Fatal(err)
	}
	if err := p.SetConfig([]byte(`{"level":"conservative"}`)); err != nil {
		t.Fatal(err)
	}
	if c := p.Config(); c.Detector.Interval != 9 || c.Workers != 2 {
		t.Fatalf("a level change overrode the user's keys: interval %d workers %d", c.Detector.Interval, c.Workers)
	}
}

// The profile's worker bound and the engine's own choice for workers 0
// agree: ordered modes take every core, live ones leave the host one.
func TestMaxWorkersMatchesAutoWorkers(t *testing.T) {
	for _, mode := range []string{"realtime", "balanced", "quality", "batch"} {
		for cores := 1; cores <= 64; cores++ {
			auto, bound := adapt.AutoWorkers(mode, cores), tune.MaxWorkers(mode, cores)
			if tune.Ordered(mode) && auto != bound || auto > bound || bound > max(1, cores) {
				t.Errorf("%s on %d cores: auto %d workers, the profile's bound %d", mode, cores, auto, bound)
			}
			if !tune.Ordered(mode) && cores > 1 && bound != cores-1 {
				t.Errorf("%s on %d cores: bound %d, want every core but one", mode, cores, bound)
			}
		}
	}
}

// A mode the user sets while the stream runs refits the profile's workers.
func TestUserModeRefitsWorkers(t *testing.T) {
	cfg, _ := config.Parse([]byte(`{"swapper":{"kind":"none"}}`))
	p, err := New(cfg, WithExplicit([]string{"swapper.kind"}))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cores := runtime.NumCPU()
	if c := p.Config(); c.Mode != "realtime" || c.Workers < 1 || c.Workers > tune.MaxWorkers("realtime", cores) {
		t.Fatalf("mode %s with %d workers on %d cores", c.Mode, c.Workers, cores)
	}
	for _, tc := range []struct {
		patch   string
		workers int
	}{
		{`{"mode":"batch"}`, cores},
		{`{"mode":"quality"}`, cores},
		{`{"workers":1}`, 1},    // the user's own count
		{`{"mode":"batch"}`, 1}, // stays theirs
		{`{"detector":{"interval":4}}`, 1},
	} {
		if err := p.SetConfig([]byte(tc.patch)); err != nil {
			t.Fatal(err)
		}
		if c := p.Config(); c.Workers != tc.workers {
			t.Fatalf("after %s: %d workers, want %d", tc.patch, c.Workers, tc.workers)
		}
	}
}

// The engine's start line names the profile with the measured figure (the
// calibration is swapped for a fixed one: not safe beside parallel tests).
func TestStartLogShowsCalibration(t *testing.T) {
	saved := machineCalibration
	defer func() { machineCalibration = saved }()
	machineCalibration = &calibration{measure: func() (tune.Calibration, error) {
		return tune.Calibration{Stage: CalibrationStage, Ms: 1.9, Runs: 9}, nil
	}}
	var mu sync.Mutex
	var logs []string
	logger := func(_ Level, msg string) { mu.Lock(); logs = append(logs, msg); mu.Unlock() }
	cfg, _ := config.Parse([]byte(`{"swapper":{"kind":"none"}}`))
	p, err := New(cfg, WithExplicit([]string{"swapper.kind"}), WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	mu.Lock()
	defer mu.Unlock()
	want := ", 1080p face frame align+merge 1.9 ms (≈ "
	for _, l := range logs {
		if strings.HasPrefix(l, "profile ") && strings.Contains(l, want) {
			return
		}
	}
	t.Errorf("no profile line with %q in %q", want, logs)
}
