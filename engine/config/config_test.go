package config

import (
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// nest builds the JSON object that sets one dotted key to a JSON literal.
func nest(key, literal string) []byte {
	path := strings.Split(key, ".")
	js := literal
	for i := len(path) - 1; i >= 0; i-- {
		js = `{"` + path[i] + `": ` + js + `}`
	}
	return []byte(js)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// asError asserts that err is a *Error with the package's message prefix.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *config.Error", err, err)
	}
	if !strings.HasPrefix(err.Error(), "config: ") {
		t.Fatalf("message %q does not start with %q", err.Error(), "config: ")
	}
	return e
}

func TestSchemaMatchesStruct(t *testing.T) {
	// Walk Config's json tags; the schema must list the same leaves in the
	// same order, or a new field would be silently unparseable.
	var keys []string
	var walk func(reflect.Type, string)
	walk = func(typ reflect.Type, prefix string) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			key := joinKey(prefix, f.Tag.Get("json"))
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, key)
				continue
			}
			keys = append(keys, key)
		}
	}
	walk(reflect.TypeFor[Config](), "")
	var got []string
	for _, f := range schema {
		got = append(got, f.key)
	}
	if !slices.Equal(got, keys) {
		t.Fatalf("schema keys\n %v\nstruct keys\n %v", got, keys)
	}
}

func TestDefaults(t *testing.T) {
	tests := []struct {
		name string
		get  func() (Config, error)
	}{
		{"JSON round trip", func() (Config, error) { return Parse(Default().JSON()) }},
		{"empty object", func() (Config, error) { return Parse([]byte(" {} \n")) }},
		{"empty merge", func() (Config, error) { return Default().Patch([]byte("{}")) }},
		{"empty groups", func() (Config, error) { return Parse([]byte(`{"swapper": {}, "overlay": {}}`)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.get()
			if err != nil {
				t.Fatal(err)
			}
			if c != Default() {
				t.Fatalf("got %+v, want %+v", c, Default())
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		if err := Default().Validate(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("JSON layout", func(t *testing.T) {
		js := string(Default().JSON())
		for _, want := range []string{"{\n  \"mode\": \"realtime\",\n", "\n  \"swapper\": {\n    \"kind\": \"photo\",\n", "\"morph\": 0.75"} {
			if !strings.Contains(js, want) {
				t.Errorf("JSON() lacks %q:\n%s", want, js)
			}
		}
	})
}

func TestEveryKeySettable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "model.bin")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Each value differs from the default, so a key that is parsed but not
	// stored fails.
	values := map[string]string{
		"mode":                         `"batch"`,
		"profile":                      `"workstation"`,
		"level":                        `"custom"`,
		"swapper.kind":                 `"pixelate"`,
		"swapper.face":                 mustJSON(t, file),
		"swapper.model":                mustJSON(t, file),
		"swapper.arcface_model":        mustJSON(t, file),
		"swapper.morph":                `0.2`,
		"swapper.faces":                `[{"face": ` + mustJSON(t, file) + `, "match": "size", "index": 1}]`,
		"swapper.unlisted":             `"pass"`,
		"swapper.backend":              `"kserve"`,
		"swapper.server.url":           `"gpu-box:8001"`,
		"swapper.server.model":         `"celeb"`,
		"swapper.server.version":       `"2"`,
		"swapper.server.timeout_ms":    `250`,
		"swapper.server.max_in_flight": `16`,
		"swapper.server.tls.ca":        mustJSON(t, file),
		"swapper.server.tls.cert":      mustJSON(t, file),
		"swapper.server.tls.key":       mustJSON(t, file),
		"swapper.server.fallback":      mustJSON(t, file),
		"detector.kind":                `"haar"`,
		"detector.threshold":           `0.7`,
		"detector.interval":            `10`,
		"detector.max_faces":           `16`,
		"landmarks.kind":               `"keypoints"`,
		"landmarks.smoothing":          `0.9`,
		"merge.erode":                  `64`,
		"merge.blur":                   `0`,
		"merge.color_transfer":         `"none"`,
		"merge.opacity":                `0.5`,
		"merge.live_eyes":              `"off"`, // false is stored as "off" (TestLiveFeaturesFollowTheSwapperUnlessSet)
		"merge.live_mouth":             `"on"`,
		"skip":                         `"none"`,
		"decouple":                     `"off"`,
		"unprocessed":                  `"hold"`,
		"target_fps":                   `59.94`,
		"workers":                      `8`,
		"execution_provider":           `"cuda"`,
		"vram_budget_mb":               `1048576`,
		"onnxruntime_library":          mustJSON(t, file),
		"assets_dir":                   mustJSON(t, dir),
		"metrics.prometheus_addr":      `"127.0.0.1:9090"`,
		"overlay.stats":                `true`,
		"overlay.disclosure":           `true`,
	}
	for _, f := range schema {
		t.Run(f.key, func(t *testing.T) {
			literal, ok := values[f.key]
			if !ok {
				t.Fatalf("no test value for %q", f.key)
			}
			c, err := Default().Patch(nest(f.key, literal))
			if err != nil {
				t.Fatal(err)
			}
			if c == Default() {
				t.Fatalf("merging %s left the defaults unchanged", nest(f.key, literal))
			}
			var doc map[string]any
			if err := json.Unmarshal(c.JSON(), &doc); err != nil {
				t.Fatal(err)
			}
			path := strings.Split(f.key, ".")
			name := path[len(path)-1]
			for _, g := range path[:len(path)-1] {
				doc = doc[g].(map[string]any)
			}
			var want any
			if err := json.Unmarshal([]byte(literal), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(doc[name], want) {
				t.Fatalf("JSON() has %q = %v, want %v", f.key, doc[name], want)
			}
		})
	}
}

func TestPartialMerge(t *testing.T) {
	base := Default()
	base.Swapper.Kind = "blur"
	base.Detector.MaxFaces = 2
	base.Workers = 3
	tests := []struct {
		name    string
		partial string
		change  func(*Config)
	}{
		{"nested key keeps siblings", `{"swapper": {"morph": 0.2}}`, func(c *Config) { c.Swapper.Morph = 0.2 }},
		{"top key keeps groups", `{"mode": "quality"}`, func(c *Config) { c.Mode = "quality" }},
		{"two groups", `{"detector": {"threshold": 0.25}, "overlay": {"stats": true}}`,
			func(c *Config) { c.Detector.Threshold = 0.25; c.Overlay.Stats = true }},
		{"integral float for int", `{"workers": 2.0}`, func(c *Config) { c.Workers = 2 }},
		{"exponent for int", `{"vram_budget_mb": 4e3}`, func(c *Config) { c.VRAMBudgetMB = 4000 }},
		{"same value", `{"swapper": {"kind": "blur"}}`, func(*Config) {}},
		{"clear a path", `{"swapper": {"model": ""}}`, func(*Config) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := base
			tt.change(&want)
			got, err := base.Patch([]byte(tt.partial))
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file.bin")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.dfm")
	topKeys := "mode, profile, level, swapper, detector, landmarks, merge, skip, decouple, unprocessed, target_fps, workers, " +
		"execution_provider, vram_budget_mb, onnxruntime_library, assets_dir, metrics, overlay"
	tests := []struct {
		name  string
		input string
		key   string
		msg   string
		// validate: the input parses; only Validate (run by Merge) rejects it.
		validate bool
		missing  bool // the error wraps ErrFileMissing
	}{
		{name: "unknown top key", input: `{"mood": "realtime"}`, key: "mood",
			msg: `config: unknown key "mood"; allowed keys: ` + topKeys},
		{name: "unknown nested key", input: `{"swapper": {"foo": 1}}`, key: "swapper.foo",
			msg: `config: unknown key "swapper.foo"; allowed keys in "swapper": kind, face, model, arcface_model, morph, faces, unlisted`},
		{name: "dotted key at top level", input: `{"swapper.kind": "none"}`, key: "swapper.kind",
			msg: `write it nested: {"swapper": {"kind": ...}}`},
		{name: "int given string", input: `{"workers": "four"}`, key: "workers",
			msg: `config: "workers" must be an integer, got string "four"`},
		{name: "int given 1.5", input: `{"workers": 1.5}`, key: "workers",
			msg: `"workers" must be an integer, got number 1.5`},
		{name: "float given bool", input: `{"target_fps": true}`, key: "target_fps",
			msg: `"target_fps" must be a number, got boolean true`},
		{name: "bool given string", input: `{"overlay": {"stats": "yes"}}`, key: "overlay.stats",
			msg: `"overlay.stats" must be true or false, got string "yes"`},
		{name: "switch given number", input: `{"merge": {"live_eyes": 1}}`, key: "merge.live_eyes",
			msg: `config: "merge.live_eyes" must be true, false or one of auto, on, off, got number 1`},
		{name: "switch given a word", input: `{"merge": {"live_mouth": "yes"}}`, key: "merge.live_mouth",
			msg: `config: "merge.live_mouth" is "yes"; allowed: true, false, auto, on, off`},
		{name: "string given number", input: `{"assets_dir": 3}`, key: "assets_dir",
			msg: `"assets_dir" must be a string, got number 3`},
		{name: "null", input: `{"mode": null}`, key: "mode",
			msg: `config: "mode" must be one of realtime, balanced, quality, batch, got null`},
		{name: "leaf given object", input: `{"mode": {"value": "batch"}}`, key: "mode", msg: `got object`},
		{name: "leaf given array", input: `{"merge": {"blur": [1]}}`, key: "merge.blur", msg: `must be an integer, got array`},
		{name: "group given scalar", input: `{"swapper": "photo"}`, key: "swapper",
			msg: `"swapper" must be an object with keys kind, face, model, arcface_model, morph, faces, unlisted, backend, server, got string "photo"`},
		{name: "group given null", input: `{"detector": null}`, key: "detector", msg: `must be an object with keys kind, threshold`},
		{name: "enum out of set", input: `{"mode": "fast"}`, key: "mode",
			msg: `config: "mode" is "fast"; allowed: realtime, balanced, quality, batch`},
		{name: "enum is case sensitive", input: `{"skip": "None"}`, key: "skip", msg: `allowed: drop_oldest, drop_newest, adaptive, none`},
		{name: "float above range", input: `{"detector": {"threshold": 1.5}}`, key: "detector.threshold",
			msg: `config: "detector.threshold" is 1.5; allowed: 0 to 1`},
		{name: "float below range", input: `{"detector": {"threshold": -0.1}}`, key: "detector.threshold",
			msg: `"detector.threshold" is -0.1; allowed: 0 to 1`},
		{name: "int above range", input: `{"detector": {"max_faces": 17}}`, key: "detector.max_faces",
			msg: `"detector.max_faces" is 17; allowed: 1 to 16`},
		{name: "int below range", input: `{"detector": {"max_faces": 0}}`, key: "detector.max_faces",
			msg: `"detector.max_faces" is 0; allowed: 1 to 16`},
		{name: "int overflowing float64", input: `{"vram_budget_mb": 1e400}`, key: "vram_budget_mb",
			msg: `"vram_budget_mb" is 1e400; allowed: 0 to 1048576`},
		{name: "fps above range", input: `{"target_fps": 240.5}`, key: "target_fps", msg: `allowed: 0 to 240`},
		{name: "broken JSON", input: `{"mode": "x",}`, key: "",
			msg: `config: invalid JSON at byte 14: invalid character '}'`},
		{name: "truncated JSON", input: `{"mode": "x"`, key: "", msg: `config: invalid JSON at byte 12: unexpected end of input`},
		{name: "array at top level", input: `[{"mode": "batch"}]`, key: "",
			msg: `config: must be a JSON object such as {"mode": "realtime"}, got array`},
		{name: "string at top level", input: `"batch"`, key: "", msg: `got string "batch"`},
		{name: "trailing object", input: `{} {}`, key: "", msg: `config: unexpected data after the JSON object`},
		{name: "trailing garbage", input: `{"mode": "batch"} x`, key: "", msg: `config: unexpected data after the JSON object`},
		{name: "empty", input: ``, key: "", msg: `config: empty; pass {} (or NULL from C) for the defaults`},
		{name: "whitespace only", input: " \n\t ", key: "", msg: `config: empty; pass {}`},
		{name: "string with NUL", input: `{"assets_dir": "a\u0000b"}`, key: "assets_dir",
			msg: `"assets_dir" contains a NUL byte`},
		{name: "string too long", input: `{"swapper": {"model": "` + strings.Repeat("a", maxString+1) + `"}}`,
			key: "swapper.model", msg: `"swapper.model" is 4097 bytes long; allowed: at most 4096 bytes`},
		{name: "prometheus addr without port", input: `{"metrics": {"prometheus_addr": "localhost"}}`,
			key: "metrics.prometheus_addr", msg: `"metrics.prometheus_addr" is "localhost"; allowed: "" (off) or host:port`},
		{name: "prometheus port 0", input: `{"metrics": {"prometheus_addr": ":0"}}`,
			key: "metrics.prometheus_addr", msg: `with port 1 to 65535`},
		{name: "prometheus port too big", input: `{"metrics": {"prometheus_addr": "127.0.0.1:65536"}}`,
			key: "metrics.prometheus_addr", msg: `with port 1 to 65535`},
		{name: "prometheus named port", input: `{"metrics": {"prometheus_addr": "localhost:http"}}`,
			key: "metrics.prometheus_addr", msg: `with port 1 to 65535`},
		{name: "dfm without a model", input: `{"swapper": {"kind": "dfm"}}`, key: "swapper.model", validate: true,
			msg: `config: swapper.kind "dfm" needs "swapper.model"`},
		{name: "inswapper without arcface", input: `{"swapper": {"kind": "inswapper", "model": "/etc/hostname"}}`, key: "swapper.model", validate: true,
			msg: `"swapper.arcface_model" (an ArcFace model`},
		{name: "missing swapper.face", input: `{"swapper": {"face": ` + mustJSON(t, missing) + `}}`, key: "swapper.face",
			validate: true, missing: true,
			msg: `config: "swapper.face" names "` + missing + `", which does not exist; fix the path or remove the key`},
		{name: "missing swapper.model", input: `{"swapper": {"model": ` + mustJSON(t, missing) + `}}`, key: "swapper.model",
			validate: true, missing: true, msg: `"swapper.model" names "` + missing + `", which does not exist`},
		{name: "missing swapper.arcface_model", input: `{"swapper": {"arcface_model": ` + mustJSON(t, missing) + `}}`,
			key: "swapper.arcface_model", validate: true, missing: true, msg: `which does not exist`},
		{name: "missing onnxruntime_library", input: `{"onnxruntime_library": ` + mustJSON(t, missing) + `}`,
			key: "onnxruntime_library", validate: true, missing: true, msg: `which does not exist`},
		{name: "missing assets_dir", input: `{"assets_dir": ` + mustJSON(t, missing) + `}`,
			key: "assets_dir", validate: true, missing: true, msg: `which does not exist`},
		{name: "model is a directory", input: `{"swapper": {"model": ` + mustJSON(t, dir) + `}}`,
			key: "swapper.model", validate: true, missing: true, msg: `which is not a regular file`},
		{name: "assets_dir is a file", input: `{"assets_dir": ` + mustJSON(t, file) + `}`,
			key: "assets_dir", validate: true, missing: true, msg: `which is not a directory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := Default()
			got, err := base.Patch([]byte(tt.input))
			if err == nil {
				t.Fatalf("Patch(%s) succeeded", tt.input)
			}
			e := asError(t, err)
			if e.Key != tt.key {
				t.Errorf("Key = %q, want %q", e.Key, tt.key)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message %q\ndoes not contain %q", err.Error(), tt.msg)
			}
			if errors.Is(err, ErrFileMissing) != tt.missing {
				t.Errorf("errors.Is(err, ErrFileMissing) = %v, want %v", !tt.missing, tt.missing)
			}
			if got != (Config{}) {
				t.Errorf("failed Merge returned %+v, want the zero Config", got)
			}
			if base != Default() {
				t.Errorf("failed Merge modified its receiver")
			}

			_, err = Parse([]byte(tt.input))
			switch {
			case tt.validate && err != nil:
				t.Errorf("Parse: %v; want success (only Validate rejects this)", err)
			case !tt.validate && err == nil:
				t.Errorf("Parse succeeded; want the error Merge gave")
			case !tt.validate && asError(t, err).Key != tt.key:
				t.Errorf("Parse error key = %q, want %q", asError(t, err).Key, tt.key)
			}
		})
	}
}

func TestParseNil(t *testing.T) {
	_, err := Parse(nil)
	if e := asError(t, err); e.Key != "" || !strings.Contains(e.Msg, "empty; pass {}") {
		t.Fatalf("Parse(nil) = %v", err)
	}
}

func TestValidateBuiltInGo(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		key    string
		msg    string
	}{
		{"zero Config", func(c *Config) { *c = Config{} }, "mode", `"mode" is ""; allowed: realtime`},
		{"NaN", func(c *Config) { c.Detector.Threshold = math.NaN() }, "detector.threshold", `is NaN; allowed: 0 to 1`},
		{"Inf", func(c *Config) { c.TargetFPS = math.Inf(1) }, "target_fps", `is +Inf; allowed: 0 to 240`},
		{"int out of range", func(c *Config) { c.Workers = 65 }, "workers", `"workers" is 65; allowed: 0 to 64`},
		{"bad enum", func(c *Config) { c.Merge.ColorTransfer = "lab" }, "merge.color_transfer", `allowed: rct, none`},
		{"empty switch", func(c *Config) { c.Merge.LiveEyes = "" }, "merge.live_eyes", `allowed: true, false, auto, on, off`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.change(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("Validate succeeded")
			}
			if e := asError(t, err); e.Key != tt.key || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got Key %q, message %q; want Key %q, message containing %q", e.Key, err, tt.key, tt.msg)
			}
		})
	}
}

func TestJSONNonFinite(t *testing.T) {
	c := Default()
	c.Swapper.Morph = math.NaN()
	js := c.JSON()
	if !json.Valid(js) || !strings.Contains(string(js), `"morph": null`) {
		t.Fatalf("JSON() = %s", js)
	}
	_, err := Parse(js)
	if e := asError(t, err); e.Key != "swapper.morph" {
		t.Fatalf("Parse of NaN config: %v", err)
	}
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "facelive.json")
	tests := []struct {
		name   string
		change func(*Config)
	}{
		{"defaults", func(*Config) {}},
		{"changed values overwrite the file", func(c *Config) {
			c.Mode = "quality"
			c.Detector.Threshold = 0.65
			c.Merge.Blur = 40
			c.AssetsDir = dir
			c.Metrics.PrometheusAddr = ":9090"
			c.Overlay.Disclosure = true
		}},
		{"string needing escapes", func(c *Config) { c.AssetsDir = filepath.Join(dir, `we"ird <&> dir`) }},
	}
	if err := os.Mkdir(filepath.Join(dir, `we"ird <&> dir`), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := Default()
			tt.change(&want)
			if err := want.Save(path); err != nil {
				t.Fatal(err)
			}
			got, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("Load after Save:\n got  %+v\n want %+v", got, want)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o644 {
				t.Errorf("mode %v, want 0644", st.Mode().Perm())
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if strings.Contains(e.Name(), ".tmp-") {
					t.Errorf("temporary file %s left behind", e.Name())
				}
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := filepath.Join(dir, "nope.json")
	tests := []struct {
		name     string
		path     string
		key      string
		msg      string
		notExist bool
	}{
		{"missing file", missing, "", "config: cannot read " + missing + ": no such file or directory", true},
		{"invalid JSON", write("broken.json", `{"mode": `), "", "broken.json: invalid JSON at byte 9", false},
		{"bad value", write("bad.json", `{"merge": {"blur": 300}}`), "merge.blur", `bad.json: "merge.blur" is 300; allowed: 0 to 255`, false},
		{"fails Validate", write("dfm.json", `{"swapper": {"kind": "dfm"}}`), "swapper.model", "dfm.json: swapper.kind \"dfm\" needs \"swapper.model\"", false},
		{"directory", dir, "", "config: cannot read " + dir + ":", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.path)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			e := asError(t, err)
			if e.Key != tt.key || !strings.Contains(err.Error(), tt.path) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got Key %q, message %q; want Key %q, message naming %s and containing %q", e.Key, err, tt.key, tt.path, tt.msg)
			}
			// ErrFileMissing is for files named inside a config, not the config file.
			if errors.Is(err, ErrFileMissing) || errors.Is(err, fs.ErrNotExist) != tt.notExist {
				t.Errorf("errors.Is(err, ErrFileMissing / fs.ErrNotExist) = %v / %v, want false / %v",
					errors.Is(err, ErrFileMissing), errors.Is(err, fs.ErrNotExist), tt.notExist)
			}
		})
	}
}

func TestSaveErrors(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		msg  string
	}{
		{"missing directory", filepath.Join(dir, "no", "such", "dir", "c.json"), "no such file or directory"},
		{"path is a directory", sub, "file exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Default().Save(tt.path)
			if err == nil {
				t.Fatal("Save succeeded")
			}
			e := asError(t, err)
			want := "config: cannot save " + tt.path + ": "
			if e.Key != "" || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("message %q; want prefix %q and %q", err, want, tt.msg)
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.Contains(e.Name(), ".tmp-") {
					t.Errorf("temporary file %s left behind", e.Name())
				}
			}
		})
	}
}

func TestKeysListsWhatTheUserSet(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{}`, ``},
		{`{"mode":"quality"}`, `mode`},
		{`{"detector":{"interval":2,"max_faces":1},"workers":3}`, `detector.interval,detector.max_faces,workers`},
		{`{"metrics":{}}`, ``},
	} {
		got, err := Keys([]byte(tc.in))
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if s := strings.Join(got, ","); s != tc.want {
			t.Fatalf("Keys(%s) = %q, want %q", tc.in, s, tc.want)
		}
	}
	if _, err := Keys([]byte(`{"mode":`)); err == nil {
		t.Fatal("broken JSON: no error")
	}
}

func TestLiveFeaturesFollowTheSwapperUnlessSet(t *testing.T) {
	for _, tc := range []struct {
		name, json  string
		eyes, mouth bool
	}{
		{"photo by default", `{}`, true, true},
		{"dfm by default", `{"swapper": {"kind": "dfm"}}`, false, false},
		{"inswapper by default", `{"swapper": {"kind": "inswapper"}}`, false, false},
		{"photo, eyes off", `{"merge": {"live_eyes": false}}`, false, true},
		{"dfm, mouth on as a bool", `{"swapper": {"kind": "dfm"}, "merge": {"live_mouth": true}}`, false, true},
		{"dfm, both on as words", `{"swapper": {"kind": "dfm"}, "merge": {"live_eyes": "on", "live_mouth": "on"}}`, true, true},
		{"photo, both off as words", `{"merge": {"live_eyes": "off", "live_mouth": "off"}}`, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			eyes, mouth := c.Merge.LiveFeatures(c.Swapper.Kind)
			if eyes != tc.eyes || mouth != tc.mouth {
				t.Fatalf("live eyes %v, mouth %v; want %v, %v", eyes, mouth, tc.eyes, tc.mouth)
			}
			again, err := Parse(c.JSON())
			if err != nil || again != c {
				t.Fatalf("JSON round trip: %v\n%s", err, c.JSON())
			}
		})
	}
}
