package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"facelive/engine"
	"facelive/engine/config"
	"facelive/tune"
)

// settingLines returns the "  key = value  (reason)" lines of tune's output
// by key: value and reason.
func settingLines(t *testing.T, stdout string) map[string][2]string {
	t.Helper()
	rows := make(map[string][2]string)
	in := false
	for _, l := range strings.Split(stdout, "\n") {
		switch {
		case strings.HasPrefix(l, "settings:"):
			in = true
		case in && strings.HasPrefix(l, "  "):
			kv, reason, ok := strings.Cut(strings.TrimSpace(l), "  (")
			key, val, ok2 := strings.Cut(kv, " = ")
			if !ok || !ok2 || !strings.HasSuffix(reason, ")") {
				t.Fatalf("settings line %q is not \"  key = value  (reason)\"", l)
			}
			rows[key] = [2]string{strings.TrimSpace(val), strings.TrimSuffix(reason, ")")}
		default:
			in = false
		}
	}
	return rows
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTune(t *testing.T) {
	dir := t.TempDir()
	base := writeFile(t, dir, "base.json", `{"workers": 3, "detector": {"threshold": 0.6}}`)
	// The calibration runs once per process, so this is the figure tune uses.
	autoProf, _ := tune.PickProfile(engine.SystemFor("auto"))
	// High's aggressive level asks 4 workers; its realtime leaves the host a core.
	hiWorkers, _ := tune.FitWorkers(4, "realtime", engine.System().Cores)
	calibLine := regexp.MustCompile(`\ncalibration: 1080p face frame align\+merge [0-9.]+ ms \(median of 9 runs: align\.Crop \+ merge\.Paste [^\n]*\) → ≈ [0-9]+ fps at 1080p with one face on [0-9]+ cores? \(a whole frame ≈ [0-9.]+ × this\)\n`)
	settingKeys := func(p tune.Profile, level string) []string {
		_, reasons, err := tune.For(p, level)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, r := range reasons {
			k, _, _ := strings.Cut(r, "=")
			keys = append(keys, k)
		}
		return keys
	}
	tests := []struct {
		name    string
		args    []string
		prof    tune.Profile
		level   string
		want    []string          // in stdout
		values  map[string]string // settings lines: key → value
		reasons map[string]string // settings lines: key → text in the reason
		yours   []string          // keys whose reason says they are the user's (besides level custom)
	}{
		{"defaults", nil, autoProf, "balanced",
			[]string{"\nmemory budget: ", "\nexecution provider (auto): ", "(the default)", "\nsettings:\n"}, nil, nil, nil},
		{"high aggressive", []string{"-profile", "high", "-level", "aggressive"}, tune.High, "aggressive",
			[]string{"profile: high — set with --profile (auto would pick " + string(autoProf) + ": "},
			map[string]string{"detector.interval": "1", "merge.blur": "31", "target_fps": "60", "workers": strconv.Itoa(hiWorkers)},
			map[string]string{"detector.interval": "detect every frame"}, nil},
		{"custom", []string{"--level", "custom"}, autoProf, "custom",
			[]string{"every setting is yours"},
			map[string]string{"workers": "0", "merge.blur": "25"}, // the defaults stand
			map[string]string{"workers": "yours, from the defaults", "merge.blur": "yours"}, nil},
		{"base config", []string{"-config", base, "-profile", "medium", "-level", "conservative"}, tune.Medium, "conservative",
			nil,
			map[string]string{"workers": "3", "detector.interval": "4"},
			map[string]string{"workers": "yours, kept: set in " + base, "detector.interval": "detect every 4 frames"},
			[]string{"workers"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := cli(t, append([]string{"tune"}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
			}
			if !strings.HasPrefix(stdout, "machine: ") || !strings.Contains(stdout, " cores") && !strings.Contains(stdout, "1 core") {
				t.Errorf("output does not start with the machine:\n%s", stdout)
			}
			want := append([]string{"\nprofile: " + string(tc.prof) + " — ", "\nlevel: " + tc.level + " — "}, tc.want...)
			for _, w := range want {
				if !strings.Contains(stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, stdout)
				}
			}
			// What was measured, then the profile it picks (auto, or what auto would pick).
			if !calibLine.MatchString(stdout) {
				t.Errorf("no calibration line matching %s:\n%s", calibLine, stdout)
			}
			if c, p := strings.Index(stdout, "\ncalibration: "), strings.Index(stdout, "\nprofile: "); c < 0 || p < c ||
				!regexp.MustCompile(`\nprofile: [^\n]*, 1080p face frame align\+merge [0-9.]+ ms \(≈ [0-9]+ fps on [0-9]+ cores?\) → `+string(autoProf)+`: `).MatchString(stdout) {
				t.Errorf("the profile line does not follow the calibration and show its figure:\n%s", stdout)
			}
			rows := settingLines(t, stdout)
			keys := settingKeys(tc.prof, "balanced") // every level sets the same keys
			if len(rows) != len(keys) {
				t.Errorf("%d settings lines, want one for each of %v:\n%s", len(rows), keys, stdout)
			}
			for _, k := range keys {
				if _, ok := rows[k]; !ok {
					t.Errorf("no settings line for %s:\n%s", k, stdout)
				}
			}
			for k, v := range tc.values {
				if rows[k][0] != v {
					t.Errorf("%s = %q, want %q:\n%s", k, rows[k][0], v, stdout)
				}
			}
			for k, r := range tc.reasons {
				if !strings.Contains(rows[k][1], r) {
					t.Errorf("%s: reason %q lacks %q", k, rows[k][1], r)
				}
			}
			if tc.level != "custom" {
				for k, row := range rows {
					if mine := strings.Contains(row[1], "yours"); mine != slices.Contains(tc.yours, k) {
						t.Errorf("%s: reason %q; the user's keys are %v", k, row[1], tc.yours)
					}
				}
			}
		})
	}
}

// describeCalibration with injected figures: the line's format, never
// this machine's speed.
func TestDescribeCalibration(t *testing.T) {
	cal := tune.Calibration{Stage: engine.CalibrationStage, Ms: 2.97, Runs: 9}
	tests := []struct {
		name string
		sys  tune.System
		err  error
		want string
	}{
		{"measured", tune.System{Cores: 2, CPU: cal}, nil,
			"1080p face frame align+merge 3.0 ms (median of 9 runs: " + engine.CalibrationSetup +
				") → ≈ 240 fps at 1080p with one face on 2 cores (a whole frame ≈ 2.8 × this)"},
		{"one core", tune.System{Cores: 1, CPU: cal}, nil,
			"1080p face frame align+merge 3.0 ms (median of 9 runs: " + engine.CalibrationSetup +
				") → ≈ 120 fps at 1080p with one face on 1 core (a whole frame ≈ 2.8 × this)"},
		{"cores unknown: no estimate", tune.System{CPU: cal}, nil,
			"1080p face frame align+merge 3.0 ms (median of 9 runs: " + engine.CalibrationSetup + ")"},
		{"failed", tune.System{Cores: 2}, errors.New("calibration: boom"), "failed (calibration: boom); the profile falls back to the core count"},
		{"not measured", tune.System{Cores: 2}, nil, "no figure; the profile falls back to the core count"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := describeCalibration(tc.sys, tc.err)
			if got != tc.want {
				t.Errorf("describeCalibration() = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestTuneSaves checks that -o writes a config that loads and holds what
// tune printed, and the keys of --config.
func TestTuneSaves(t *testing.T) {
	dir := t.TempDir()
	base := writeFile(t, dir, "base.json", `{"workers": 3, "swapper": {"kind": "blur"}}`)
	for _, tc := range []struct {
		name string
		args []string
		want map[string]string // in the saved file, besides the printed settings
	}{
		{"defaults", nil, map[string]string{"profile": "auto", "level": "balanced"}},
		{"high aggressive with base", []string{"--profile", "high", "--level", "aggressive", "--config", base},
			map[string]string{"profile": "high", "level": "aggressive", "workers": "3", "swapper.kind": "blur"}},
		{"custom", []string{"--level", "custom"}, map[string]string{"level": "custom"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".json")
			code, stdout, stderr := cli(t, append([]string{"tune", "-o", out}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
			}
			if !strings.Contains(stdout, "saved to "+out) || !strings.Contains(stdout, "--config "+out) {
				t.Errorf("output does not say where it saved and how to use it:\n%s", stdout)
			}
			c, err := config.Load(out)
			if err != nil {
				t.Fatalf("config.Load of the saved file: %v", err)
			}
			saved := configValues(c)
			rows := settingLines(t, stdout)
			if len(rows) == 0 {
				t.Fatalf("no settings printed:\n%s", stdout)
			}
			for k, row := range rows {
				if saved[k] != row[0] {
					t.Errorf("printed %s = %s, the file holds %q", k, row[0], saved[k])
				}
			}
			for k, v := range tc.want {
				if saved[k] != v {
					t.Errorf("the file holds %s = %q, want %q", k, saved[k], v)
				}
			}
		})
	}
}

func TestTuneErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.json", `{"detector": {"threshold": 2}}`)
	missing := filepath.Join(dir, "missing.json")
	tests := []struct {
		name string
		args []string
		code int
		want []string // in stderr
	}{
		{"unknown profile", []string{"-profile", "foo"}, 2,
			[]string{`--profile "foo"`, "auto, low, medium, high, workstation"}},
		{"unknown level", []string{"-level", "max"}, 2,
			[]string{`--level "max"`, "conservative, balanced, aggressive, custom"}},
		{"stray argument", []string{"high"}, 2, []string{`"high"`}},
		{"unknown flag", []string{"-profil", "high"}, 2, []string{"profil"}},
		{"config missing", []string{"-config", missing}, 1, []string{"--config " + missing, "leave --config out"}},
		{"config invalid", []string{"-config", bad}, 1, []string{"--config", bad, "detector.threshold"}},
		{"output a directory", []string{"-o", dir}, 2, []string{"--output " + dir, "is a directory"}},
		{"output unwritable", []string{"-o", filepath.Join(missing, "x.json")}, 1,
			[]string{"-o", "cannot save", "a folder you can write to"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append([]string{"tune"}, tc.args...), &out, &errb)
			stderr := errb.String()
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if tc.code == 2 && strings.Count(strings.TrimSpace(stderr), "\n") > 0 && !strings.Contains(stderr, "Usage:") {
				t.Errorf("want one line on stderr:\n%s", stderr)
			}
			if tc.name != "output unwritable" && out.Len() > 0 {
				t.Errorf("printed a report before failing:\n%s", out.String())
			}
		})
	}
}

// TestRunConfigKeys checks the keys run passes to engine.WithExplicit: the
// file's, plus mode when run chose batch, so that the profile never turns a
// file run into a live one.
func TestRunConfigKeys(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		file     string // "" = no --config
		wantKeys []string
		wantMode string
		wantSkip string
	}{
		{"no config", "", []string{"mode"}, "batch", "adaptive"},
		{"workers", `{"workers": 3}`, []string{"mode", "workers"}, "batch", "adaptive"},
		{"group", `{"detector": {"interval": 2, "max_faces": 1}}`,
			[]string{"detector.interval", "detector.max_faces", "mode"}, "batch", "adaptive"},
		{"live mode", `{"mode": "realtime"}`, []string{"mode"}, "realtime", "adaptive"},
		{"dropping skip", `{"skip": "drop_oldest"}`, []string{"mode", "skip"}, "batch", "none"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = writeFile(t, dir, strings.ReplaceAll(tc.name, " ", "_")+".json", tc.file)
			}
			var errb bytes.Buffer
			c, keys, err := runConfig(path, &console{w: &errb}, false)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(keys)
			if !slices.Equal(keys, tc.wantKeys) || c.Mode != tc.wantMode || c.Skip != tc.wantSkip {
				t.Errorf("keys %v, mode %s, skip %s; want %v, %s, %s", keys, c.Mode, c.Skip, tc.wantKeys, tc.wantMode, tc.wantSkip)
			}
			// What the engine makes of it: the keys run owns stay as run set them.
			explicit := map[string]bool{}
			for _, k := range keys {
				explicit[k] = true
			}
			out, _, _, err := engine.ProfileSettings(c, explicit, engine.System())
			if err != nil {
				t.Fatal(err)
			}
			if out.Mode != tc.wantMode || tc.file == `{"workers": 3}` && out.Workers != 3 {
				t.Errorf("after the profile: mode %s, workers %d", out.Mode, out.Workers)
			}
		})
	}
}
