package engine

import (
	"testing"

	"facelive/engine/metricsrv"
)

// Prometheus carries which model swapped the faces, as the metrics do.
func TestRemoteSamplesSayWhoSwapped(t *testing.T) {
	m := Metrics{Remote: &RemoteMetrics{Up: true, ServerFrames: 7, Fallback: "/m/celeb.dfm", FallbackFrames: 3, FallbackActive: true},
		RemoteRTTMs: &RemoteRTT{P50: 4, P99: 9}}
	got := map[string]metricsrv.Sample{}
	for _, s := range remoteSamples(nil, m) {
		got[s.Name] = s
	}
	for _, want := range []struct {
		name    string
		value   float64
		counter bool
	}{
		{"remote_up", 1, false},
		{"remote_rtt_p99_ms", 9, false},
		{"remote_server_frames_total", 7, true},
		{"remote_fallback_frames_total", 3, true},
		{"remote_fallback_active", 1, false},
	} {
		s, ok := got[want.name]
		if !ok || s.Value != want.value || s.Counter != want.counter {
			t.Errorf("%s: %+v (present %v), want value %v counter %v", want.name, s, ok, want.value, want.counter)
		}
	}
	if len(remoteSamples(nil, Metrics{})) != 0 {
		t.Error("a local swapper has remote samples")
	}
}
