package engine

import (
	"strings"
	"testing"

	"facelive/engine/config"
	"facelive/tune"
)

func TestProfileFillsWhatTheUserLeftOpen(t *testing.T) {
	low := tune.System{Cores: 2, RAMMB: 8192}
	ws := tune.System{Cores: 32, RAMMB: 131072, GPUs: []tune.GPU{{Name: "big", TotalMB: 81920}}}
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
		{"a named profile wins over the machine", `{"profile":"high"}`, low, tune.High, func(config.Config) string { return "" }, "profile high"},
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
