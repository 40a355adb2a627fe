package engine

import (
	"slices"
	"testing"
)

// Once the models are loaded the metrics list the execution providers that
// can run here, for a host to offer: the CPU always; the GPU ones only
// with a GPU and their libraries next to ONNX Runtime, which the npm build
// make deps fetches does not have.
func TestMetricsListAvailableProviders(t *testing.T) {
	p := newPipeline(t, `{"mode":"quality","workers":1,"swapper":{"kind":"photo"}}`)
	if got := p.Metrics().ProvidersAvailable; got != nil && !slices.Contains(got, "cpu") {
		t.Fatalf("before the load: %v", got)
	}
	waitFaceReady(t, p)
	if got := p.Metrics().ProvidersAvailable; !slices.Equal(got, []string{"cpu"}) {
		t.Fatalf("execution_providers_available %v, want [cpu] (no GPU provider library beside the npm ONNX Runtime)", got)
	}
}
