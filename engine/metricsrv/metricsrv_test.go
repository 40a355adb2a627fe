package metricsrv

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestListenAddrDefaultsToLoopback(t *testing.T) {
	for in, want := range map[string]string{":9090": "127.0.0.1:9090", "0.0.0.0:9100": "0.0.0.0:9100", "[::1]:9": "[::1]:9"} {
		if got, err := ListenAddr(in); err != nil || got != want {
			t.Fatalf("ListenAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ListenAddr("nope"); err == nil {
		t.Fatal("no error for an address without a port")
	}
}

func TestScrapeServesTheSamples(t *testing.T) {
	calls := 0
	s, err := Start("127.0.0.1:0", func(dst []Sample) []Sample {
		calls++
		return append(dst, Sample{Name: "frames_submitted_total", Help: "h", Value: 42, Counter: true},
			Sample{Name: "fps_out", Help: "h", Value: 29.5})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := http.Get("http://" + s.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"# TYPE facelive_frames_submitted_total counter", "facelive_frames_submitted_total 42", "facelive_fps_out 29.5"} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("scrape lacks %q:\n%s", want, body)
		}
	}
	if calls != 1 {
		t.Fatalf("reader called %d times for one scrape", calls)
	}
	s.Close()
	s.Close() // idempotent
	if _, err := http.Get("http://" + s.Addr() + "/metrics"); err == nil {
		t.Fatal("still serving after Close")
	}
}

func TestPortInUseSaysSo(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Start(ln.Addr().String(), func(dst []Sample) []Sample { return dst })
	if err == nil || !strings.Contains(err.Error(), "metrics.prometheus_addr") || !strings.Contains(err.Error(), "free port") {
		t.Fatalf("error %v; want one naming the key and the fix", err)
	}
}
