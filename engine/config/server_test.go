package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServerKeys(t *testing.T) {
	dir := t.TempDir()
	pem := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(pem, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	q := mustJSON(t, pem)
	const base = `"kind": "dfm", "backend": "kserve"`
	tests := []struct {
		name, json, key, msg string // key "": valid
	}{
		{"dfm over kserve needs no local model", `{"swapper": {` + base + `, "server": {"url": "gpu:8001", "model": "celeb"}}}`, "", ""},
		{"inswapper over kserve", `{"swapper": {"kind": "inswapper", "model": ` + q + `, "arcface_model": ` + q + `, "backend": "kserve", "server": {"url": "[::1]:8001", "model": "inswapper_128"}}}`, "", ""},
		{"photo ignores the server", `{"swapper": {"backend": "kserve"}}`, "", ""},
		{"TLS", `{"swapper": {` + base + `, "server": {"url": "gpu:8001", "model": "m", "tls": {"ca": ` + q + `, "cert": ` + q + `, "key": ` + q + `}}}}`, "", ""},
		{"no url", `{"swapper": {` + base + `, "server": {"model": "m"}}}`, "swapper.server.url", `needs "swapper.server.url"`},
		{"no model", `{"swapper": {` + base + `, "server": {"url": "gpu:8001"}}}`, "swapper.server.model", `needs "swapper.server.model"`},
		{"url with a scheme", `{"swapper": {"server": {"url": "grpc://gpu:8001"}}}`, "swapper.server.url", "no scheme"},
		{"url without a port", `{"swapper": {"server": {"url": "gpu"}}}`, "swapper.server.url", "host:port"},
		{"port out of range", `{"swapper": {"server": {"url": "gpu:70000"}}}`, "swapper.server.url", "host:port"},
		{"unknown backend", `{"swapper": {"backend": "triton"}}`, "swapper.backend", "allowed: local, kserve"},
		{"timeout 0", `{"swapper": {"server": {"timeout_ms": 0}}}`, "swapper.server.timeout_ms", "allowed: 1 to 60000"},
		{"in flight 17", `{"swapper": {"server": {"max_in_flight": 17}}}`, "swapper.server.max_in_flight", "allowed: 1 to 16"},
		{"cert without key", `{"swapper": {` + base + `, "server": {"url": "gpu:8001", "model": "m", "tls": {"ca": ` + q + `, "cert": ` + q + `}}}}`, "swapper.server.tls.cert", "set both or neither"},
		{"client cert without CA", `{"swapper": {` + base + `, "server": {"url": "gpu:8001", "model": "m", "tls": {"cert": ` + q + `, "key": ` + q + `}}}}`, "swapper.server.tls.ca", "needs"},
		{"missing CA file", `{"swapper": {"server": {"tls": {"ca": "/nonexistent/ca.pem"}}}}`, "swapper.server.tls.ca", "does not exist"},
		{"unknown TLS key", `{"swapper": {"server": {"tls": {"pem": "x"}}}}`, "swapper.server.tls.pem", `allowed keys in "swapper.server.tls": ca, cert, key`},
		{"server given a string", `{"swapper": {"server": "gpu:8001"}}`, "swapper.server", "must be an object with keys url, model, version, timeout_ms, max_in_flight, tls"},
		{"server keys end with fallback", `{"swapper": {"server": {"fallback_model": "x"}}}`, "swapper.server.fallback_model", `allowed keys in "swapper.server": url, model, version, timeout_ms, max_in_flight, tls, fallback`},
		{"a local fallback", `{"swapper": {` + base + `, "server": {"url": "gpu:8001", "model": "m", "fallback": ` + q + `}}}`, "", ""},
		{"missing fallback file", `{"swapper": {` + base + `, "server": {"url": "gpu:8001", "model": "m", "fallback": "/nonexistent/celeb.dfm"}}}`, "swapper.server.fallback", "does not exist"},
		{"fallback not a file", `{"swapper": {"server": {"fallback": ` + mustJSON(t, dir) + `}}}`, "swapper.server.fallback", "not a regular file"},
		{"fallback given a number", `{"swapper": {"server": {"fallback": 1}}}`, "swapper.server.fallback", "string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Default().Patch([]byte(tt.json))
			if tt.key == "" {
				if err != nil {
					t.Fatal(err)
				}
				again, err := Parse(c.JSON())
				if err != nil || again != c {
					t.Fatalf("JSON round trip: %v\n%s", err, c.JSON())
				}
				return
			}
			e := asError(t, err)
			if e.Key != tt.key || !strings.Contains(e.Msg, tt.msg) {
				t.Fatalf("got key %q message %q; want key %q and %q", e.Key, e.Msg, tt.key, tt.msg)
			}
		})
	}
}
