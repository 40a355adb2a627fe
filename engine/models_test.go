package engine

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestModelsComeBackFromTheCache: a pipeline that stops gives its models
// back; the next one with the same settings (an OBS filter added again, a
// swapper chosen again) gets them without loading.
func TestModelsComeBackFromTheCache(t *testing.T) {
	cfg := `{"swapper":{"kind":"photo"}}`
	first := newPipeline(t, cfg)
	waitFaceReady(t, first)
	before := first.Metrics().ModelCache
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	idle := first.Metrics().ModelCache.IdleMB
	if idle <= 0 {
		t.Fatalf("after Close the cache holds %.1f MB idle; the models were not given back", idle)
	}

	t0 := time.Now()
	second := newPipeline(t, cfg)
	waitFaceReady(t, second)
	ready := time.Since(t0)
	after := second.Metrics().ModelCache
	if hits := after.Hits - before.Hits; hits < 3 { // detector, landmarks, swapper
		t.Fatalf("model cache hits went %d → %d; want the detector, landmarks and swapper back", before.Hits, after.Hits)
	}
	if after.Misses != before.Misses {
		t.Fatalf("model cache misses went %d → %d: something was loaded again", before.Misses, after.Misses)
	}
	t.Logf("second pipeline ready in %v from the cache (hits %d → %d)", ready, before.Hits, after.Hits)

	// Switching the swapper and back: the photo swapper returns from the
	// cache, the pixelate one is new.
	if err := second.SetConfig([]byte(`{"swapper":{"kind":"pixelate"}}`)); err != nil {
		t.Fatal(err)
	}
	waitFaceReady(t, second)
	mid := second.Metrics().ModelCache
	if err := second.SetConfig([]byte(`{"swapper":{"kind":"photo"}}`)); err != nil {
		t.Fatal(err)
	}
	waitFaceReady(t, second)
	end := second.Metrics()
	if end.ModelCache.Misses != mid.Misses {
		t.Fatalf("switching back to photo loaded again: misses %d → %d", mid.Misses, end.ModelCache.Misses)
	}
	if end.ModelCacheHitRate <= 0 || !strings.Contains(end.MemoryBudget, "MB") {
		t.Fatalf("metrics: hit rate %v, memory budget %q", end.ModelCacheHitRate, end.MemoryBudget)
	}
}

func TestPrometheusEndpointFollowsTheConfig(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := newPipeline(t, `{"metrics":{"prometheus_addr":"`+addr+`"}}`)
	if p.PrometheusAddr() != addr {
		t.Fatalf("endpoint on %q, want %q", p.PrometheusAddr(), addr)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"facelive_frames_submitted_total", "facelive_stage_detect_ms", "facelive_model_cache_hit_rate"} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("scrape lacks %s", want)
		}
	}
	if err := p.SetConfig([]byte(`{"metrics":{"prometheus_addr":""}}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Fatal("endpoint still up after prometheus_addr was cleared")
	}
}
