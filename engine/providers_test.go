package engine

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
)

// Once the models are loaded the metrics say which execution providers can
// run here, for a host to offer: the CPU always; the GPU ones only with a
// GPU and their libraries next to ONNX Runtime, which the npm build make
// deps fetches does not have. Every known provider is named, as an object
// (libobs's JSON reader drops lists of strings).
func TestMetricsListAvailableProviders(t *testing.T) {
	p := newPipeline(t, `{"mode":"quality","workers":1,"swapper":{"kind":"photo"}}`)
	if got := p.Metrics().ProvidersAvailable; got != nil && !got["cpu"] {
		t.Fatalf("before the load: %v", got)
	}
	waitFaceReady(t, p)
	want := map[string]bool{"cpu": true, "cuda": false, "tensorrt": false}
	m := p.Metrics()
	if got := m.ProvidersAvailable; !maps.Equal(got, want) {
		t.Fatalf("execution_providers_available %v, want %v (no GPU provider library beside the npm ONNX Runtime)", got, want)
	}
	b, _ := json.Marshal(m)
	if !strings.Contains(string(b), `"execution_providers_available":{"cpu":true,"cuda":false,"tensorrt":false}`) {
		t.Fatalf("metrics JSON: %s", b)
	}
}
