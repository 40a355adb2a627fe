package config

import (
	"errors"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"mode": "batch", "workers": 4}`,
		`{"swapper": {"kind": "dfm", "model": "/m.dfm", "morph": 0.2}}`,
		`{"swapper": {"kind": "dfm", "backend": "kserve", "server": {"url": "gpu:8001", "model": "m", "timeout_ms": 200, "tls": {"ca": "/ca.pem"}}}}`,
		`{"swapper": {"server": {"tls": "x"}}}`,
		`{"swapper": {"kind": "inswapper", "backend": "kserve", "server": {"url": "gpu:8001", "model": "m", "fallback": "/inswapper_128.onnx"}}}`,
		`{"detector": {"threshold": 1e-3, "interval": 2.0, "max_faces": 16}}`,
		`{"merge": {"erode": 0, "blur": 255, "color_transfer": "none", "opacity": -0}}`,
		`{"merge": {"live_eyes": true, "live_mouth": "auto"}}`,
		`{"merge": {"live_eyes": "off", "live_mouth": 0}}`,
		`{"metrics": {"prometheus_addr": "[::1]:9090"}, "overlay": {"stats": true}}`,
		`{"assets_dir": "caf\u00e9 \ud83d\ude00", "onnxruntime_library": "\u003c\u0026\u003e"}`,
		`{"target_fps": 240, "vram_budget_mb": 1048576}`,
		`{"swapper": {"faces": [{"face": "/a.jpg", "match": "position", "index": 1}, {"face": "b", "match": "reference", "reference": "r"}], "unlisted": "pass"}}`,
		`{"swapper": {"faces": [{"face": "a", "match": "size"}, {"face": "a", "match": "size"}]}}`,
		`{"swapper": {"faces": [{"match": "reference", "index": 0}]}}`,
		`{"mode": "fast"}`,
		`{"workers": 1.5}`,
		`{"swapper": null}`,
		`{"swapper.kind": "none"}`,
		`[1, 2]`,
		`{"mode": "batch"} {}`,
		`{"mode": "x",`,
		"  \t\n",
		"{\"assets_dir\": \"\xff\xfe\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is %T, not *Error", err, err)
			}
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Fatalf("message %q lacks the config: prefix", err)
			}
			return
		}
		js := c.JSON()
		again, err := Parse(js)
		if err != nil {
			t.Fatalf("Parse(JSON()) of a parsed config: %v\n%s", err, js)
		}
		if again != c {
			t.Fatalf("round trip changed the config:\n got  %+v\n want %+v", again, c)
		}
	})
}
