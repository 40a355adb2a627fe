package tune

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// configRanges is copied from engine/config/schema.go for the keys Settings
// sets: tune may not import engine/config, so the engine carries the test
// that checks For's output against the real schema and keeps this in step.
var configRanges = map[string]struct {
	min, max float64  // numbers
	enum     []string // strings
}{
	"mode":                {enum: []string{"realtime", "balanced", "quality", "batch"}},
	"workers":             {min: 0, max: 64},
	"detector.interval":   {min: 0, max: 1000},
	"detector.max_faces":  {min: 1, max: 16},
	"landmarks.smoothing": {min: 0, max: 1},
	"merge.blur":          {min: 0, max: 255},
	"merge.erode":         {min: 0, max: 64},
	"execution_provider":  {enum: []string{"auto", "cpu", "cuda", "tensorrt"}},
	"target_fps":          {min: 0, max: 240},
}

func checkRanges(t *testing.T, vals map[string]any) {
	t.Helper()
	for key, v := range vals {
		r, ok := configRanges[key]
		if !ok {
			t.Errorf("%s: not a key Settings should set", key)
			continue
		}
		var x float64
		switch v := v.(type) {
		case string:
			if !slices.Contains(r.enum, v) {
				t.Errorf("%s = %q, allowed %v", key, v, r.enum)
			}
			continue
		case int:
			x = float64(v)
		case float64:
			x = v
		default:
			t.Errorf("%s = %v (%T), want a string, int or float64", key, v, v)
			continue
		}
		if x < r.min || x > r.max {
			t.Errorf("%s = %v, allowed %v to %v", key, x, r.min, r.max)
		}
	}
}

func TestFor(t *testing.T) {
	allKeys := []string{"mode", "detector.interval", "detector.max_faces", "landmarks.smoothing", "merge.erode",
		"merge.blur", "target_fps", "workers", "execution_provider"}
	for _, p := range Profiles() {
		var byLevel [3]Settings
		for i, level := range Levels() {
			t.Run(string(p)+"/"+level, func(t *testing.T) {
				s, why, err := For(p, level)
				if err != nil {
					t.Fatal(err)
				}
				if level == Custom {
					if s != (Settings{}) || len(why) != 0 || string(s.Patch(nil)) != "{}" {
						t.Errorf("custom = %+v, %q; want empty settings and no reasons", s, why)
					}
					return
				}
				byLevel[i] = s
				vals := s.Values()
				checkRanges(t, vals)
				// Every level sets every key, so switching level leaves
				// nothing of the previous one behind.
				var keys []string
				for _, e := range s.entries() {
					keys = append(keys, e.key)
				}
				if !slices.Equal(keys, allKeys) {
					t.Errorf("keys set = %v, want %v", keys, allKeys)
				}
				if len(why) != len(keys) {
					t.Fatalf("%d reasons for %d keys: %q", len(why), len(keys), why)
				}
				for j, w := range why {
					key, rest, _ := strings.Cut(w, "=")
					_, text, ok := strings.Cut(rest, ": ")
					if key != keys[j] || !ok || len(text) < 10 {
						t.Errorf("reason %d = %q, want %q=value: why", j, w, keys[j])
					}
				}
			})
		}
		t.Run(string(p)+"/levels in order", func(t *testing.T) {
			c, b, a := byLevel[0], byLevel[1], byLevel[2]
			if !(c.Workers <= b.Workers && b.Workers <= a.Workers) {
				t.Errorf("workers %d, %d, %d: conservative must use fewest, aggressive most", c.Workers, b.Workers, a.Workers)
			}
			if !(c.DetectorInterval >= b.DetectorInterval && b.DetectorInterval >= a.DetectorInterval) {
				t.Errorf("detector.interval %d, %d, %d: conservative must detect least often", c.DetectorInterval, b.DetectorInterval, a.DetectorInterval)
			}
			if !(c.MaxFaces <= a.MaxFaces && c.MergeBlur <= a.MergeBlur && c.TargetFPS <= b.TargetFPS && b.TargetFPS <= a.TargetFPS) {
				t.Errorf("conservative %+v must not cost more than aggressive %+v", c, a)
			}
			if c.Mode != "realtime" || b.Mode != "realtime" {
				t.Errorf("conservative and balanced modes %q, %q; want realtime", c.Mode, b.Mode)
			}
			if c.ExecutionProvider != "auto" {
				t.Errorf("conservative execution_provider %q; want auto, which never fails", c.ExecutionProvider)
			}
			if (p == High || p == Workstation) && a.DetectorInterval != 1 {
				t.Errorf("aggressive on %s detects every %d frames, want every frame", p, a.DetectorInterval)
			}
			if wantMode := map[bool]string{true: "balanced", false: "realtime"}[p == Workstation]; a.Mode != wantMode {
				t.Errorf("aggressive mode on %s = %q, want %q", p, a.Mode, wantMode)
			}
		})
	}
}

func TestForErrors(t *testing.T) {
	tests := []struct {
		profile Profile
		level   string
		want    string
	}{
		{Low, "turbo", `unknown level "turbo"; allowed: conservative, balanced, aggressive, custom`},
		{Low, "", `unknown level ""`},
		{"auto", Balanced, `unknown profile "auto"`},
		{"", Custom, `unknown profile ""`},
	}
	for _, tt := range tests {
		t.Run(string(tt.profile)+"/"+tt.level, func(t *testing.T) {
			s, why, err := For(tt.profile, tt.level)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
			if s != (Settings{}) || why != nil {
				t.Errorf("got %+v, %q with the error", s, why)
			}
		})
	}
}

func TestReasonsReadable(t *testing.T) {
	_, why, _ := For(Low, Conservative)
	want := []string{
		"mode=realtime: the newest frame wins and nothing queues, so a live stream never stalls",
		"detector.interval=5: detect every 5 frames and track in between to save CPU",
		"workers=1: few workers leave cores to the host (OBS encodes on the same machine)",
		"target_fps=15: a rate a low machine holds with room to spare",
	}
	for _, w := range want {
		if !slices.Contains(why, w) {
			t.Errorf("reasons %q lack %q", why, w)
		}
	}
}

func TestPatch(t *testing.T) {
	s := Settings{Mode: "realtime", Workers: 2, DetectorInterval: 3, MaxFaces: 1, Smoothing: 0.6,
		MergeBlur: 21, MergeErode: 5, ExecutionProvider: "auto", TargetFPS: 20}
	tests := []struct {
		name     string
		s        Settings
		explicit map[string]bool
		want     string // canonical JSON (encoding/json sorts keys)
	}{
		{"all keys nested", s, nil,
			`{"detector":{"interval":3,"max_faces":1},"execution_provider":"auto","landmarks":{"smoothing":0.6},` +
				`"merge":{"blur":21,"erode":5},"mode":"realtime","target_fps":20,"workers":2}`},
		{"explicit keys skipped", s, map[string]bool{"detector.interval": true, "workers": true, "landmarks.smoothing": true},
			`{"detector":{"max_faces":1},"execution_provider":"auto","merge":{"blur":21,"erode":5},"mode":"realtime","target_fps":20}`},
		{"explicit group skips its keys", s, map[string]bool{"merge": true, "detector": true},
			`{"execution_provider":"auto","landmarks":{"smoothing":0.6},"mode":"realtime","target_fps":20,"workers":2}`},
		{"explicit false is not explicit", s, map[string]bool{"workers": false, "mode": true},
			`{"detector":{"interval":3,"max_faces":1},"execution_provider":"auto","landmarks":{"smoothing":0.6},` +
				`"merge":{"blur":21,"erode":5},"target_fps":20,"workers":2}`},
		{"partial settings", Settings{DetectorInterval: 4}, nil, `{"detector":{"interval":4}}`},
		{"every set key explicit", Settings{DetectorInterval: 4, Workers: 1}, map[string]bool{"detector.interval": true, "workers": true}, `{}`},
		{"empty", Settings{}, nil, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.s.Patch(tt.explicit)
			var obj map[string]any
			if err := json.Unmarshal(raw, &obj); err != nil {
				t.Fatalf("Patch() = %s: %v", raw, err)
			}
			for k, v := range obj {
				if strings.Contains(k, ".") {
					t.Errorf("dotted key %q in %s: config wants nested groups", k, raw)
				}
				if sub, ok := v.(map[string]any); ok && len(sub) == 0 {
					t.Errorf("empty group %q in %s", k, raw)
				}
			}
			canon, _ := json.Marshal(obj)
			if string(canon) != tt.want {
				t.Errorf("Patch() = %s\nwant      %s", canon, tt.want)
			}
		})
	}
}

// TestPatchMatchesValues: every key of every level's patch, read back
// through JSON, holds the value Values reports.
func TestPatchMatchesValues(t *testing.T) {
	for _, p := range Profiles() {
		for _, level := range []string{Conservative, Balanced, Aggressive} {
			s, _, _ := For(p, level)
			var obj map[string]any
			if err := json.Unmarshal(s.Patch(nil), &obj); err != nil {
				t.Fatal(err)
			}
			for key, want := range s.Values() {
				var got any = obj
				for part := range strings.SplitSeq(key, ".") {
					got = got.(map[string]any)[part]
				}
				var w any = want
				if i, ok := want.(int); ok {
					w = float64(i) // encoding/json reads numbers as float64
				}
				if got != w {
					t.Errorf("%s/%s: %s = %v in the patch, %v in Values", p, level, key, got, want)
				}
			}
		}
	}
}

func TestFitWorkers(t *testing.T) {
	tests := []struct {
		n     int
		mode  string
		cores int
		want  int
		why   string // "" = the level's value and reason stand
	}{
		{1, "batch", 2, 2, "batch uses every core"},
		{4, "batch", 2, 2, "batch uses every core"},
		{2, "batch", 2, 2, "batch uses every core"}, // the level's "few workers" reason would be wrong
		{1, "quality", 16, 16, "quality uses every core"},
		{1, "batch", 1, 1, "batch uses every core"},
		{1, "realtime", 2, 1, ""},
		{2, "realtime", 2, 1, "realtime leaves the host one of its 2 cores"},
		{4, "balanced", 4, 3, "balanced leaves the host one of its 4 cores"},
		{3, "balanced", 4, 3, ""},
		{2, "realtime", 8, 2, ""},
		{2, "realtime", 1, 1, "realtime on 1 core: one worker"},
		{1, "realtime", 1, 1, ""},
		{3, "batch", 0, 3, ""}, // cores unknown: nothing to fit to
		{3, "realtime", -1, 3, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %s on %d", tt.n, tt.mode, tt.cores), func(t *testing.T) {
			got, why := FitWorkers(tt.n, tt.mode, tt.cores)
			if got != tt.want || !strings.HasPrefix(why, tt.why) || (tt.why == "") != (why == "") {
				t.Errorf("FitWorkers(%d, %q, %d) = %d, %q; want %d, %q…", tt.n, tt.mode, tt.cores, got, why, tt.want, tt.why)
			}
			if tt.cores > 0 && (got < 1 || got > MaxWorkers(tt.mode, tt.cores)) {
				t.Errorf("%d workers outside 1..%d", got, MaxWorkers(tt.mode, tt.cores))
			}
		})
	}
}

func TestForMode(t *testing.T) {
	tests := []struct {
		name        string
		p           Profile
		level, mode string
		cores       int
		workers     int
		reason      string // the workers line
	}{
		{"the level's live mode keeps a core free", High, Aggressive, "", 2, 1, "workers=1: realtime leaves the host one of its 2 cores: OBS encodes on the same machine"},
		{"the user's batch takes every core", Low, Balanced, "batch", 2, 2, "workers=2: batch uses every core: every frame is kept in order, so throughput is all that counts"},
		{"the user's quality on many cores", Medium, Conservative, "quality", 12, 12, "workers=12: quality uses every core"},
		{"room enough: the level's reason", Medium, Balanced, "", 8, 2, "workers=2: enough workers to keep up on a medium machine"},
		{"workstation's balanced mode capped", Workstation, Aggressive, "", 4, 3, "workers=3: balanced leaves the host one of its 4 cores"},
		{"the user's realtime overrides the level's balanced", Workstation, Aggressive, "realtime", 2, 1, "workers=1: realtime leaves"},
		{"cores unknown", Low, Aggressive, "batch", 0, 2, "workers=2: more workers for throughput"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, why, err := ForMode(tt.p, tt.level, tt.mode, tt.cores)
			if err != nil {
				t.Fatal(err)
			}
			_, plain, _ := For(tt.p, tt.level)
			if s.Workers != tt.workers || len(why) != len(plain) {
				t.Fatalf("workers %d, %d reasons; want %d, %d", s.Workers, len(why), tt.workers, len(plain))
			}
			n := 0
			for i, r := range why {
				if strings.HasPrefix(r, "workers=") {
					n++
					if !strings.HasPrefix(r, tt.reason) {
						t.Errorf("workers reason %q, want %q…", r, tt.reason)
					}
				} else if r != plain[i] {
					t.Errorf("reason %q changed to %q", plain[i], r)
				}
			}
			if n != 1 {
				t.Errorf("%d workers reasons in %q", n, why)
			}
		})
	}
	if s, why, err := ForMode(Low, Custom, "batch", 2); err != nil || s != (Settings{}) || why != nil {
		t.Errorf("custom: %+v, %q, %v; want nothing set", s, why, err)
	}
	if _, _, err := ForMode(Low, "max", "", 2); err == nil || !strings.Contains(err.Error(), `unknown level "max"`) {
		t.Errorf("unknown level: %v", err)
	}
}
