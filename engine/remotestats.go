package engine

import (
	"facelive/engine/metricsrv"
	"facelive/engine/swap"
)

// RemoteMetrics describe the inference server the swap model runs on.
type RemoteMetrics struct {
	Server   string `json:"server"`    // the model and where: `model "celeb" on gpu-box:8001`
	Up       bool   `json:"up"`        // the last request or check succeeded
	Requests uint64 `json:"requests"`  // inference requests sent
	Errors   uint64 `json:"errors"`    // failed requests and checks: server errors, timeouts, unusable answers
	InFlight int    `json:"in_flight"` // requests out now
	// Which model swapped the faces: frames whose faces came from the
	// server, and from the local fallback model (swapper.server.fallback,
	// named in Fallback) while the server had no fresh answer;
	// FallbackActive: the last swapped frame's came from the fallback.
	ServerFrames   uint64 `json:"server_frames"`
	Fallback       string `json:"fallback,omitempty"`
	FallbackFrames uint64 `json:"fallback_frames"`
	FallbackActive bool   `json:"fallback_active"`
}

// RemoteRTT is the round trip of the recent answered requests.
type RemoteRTT struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
}

// remoteMetrics fills in the server's numbers when the swap model is
// remote, and its failure as last_error when nothing else failed.
func (p *Pipeline) remoteMetrics(m *Metrics) {
	fm := p.face.loader.installed()
	if fm == nil {
		return
	}
	r, ok := fm.sw.(swap.Remote)
	if !ok {
		return
	}
	c := r.Server()
	st := c.Stats()
	rr := &p.face.swap.remote
	m.Remote = &RemoteMetrics{Server: c.Where(), Up: st.Up, Requests: st.Requests, Errors: st.Errors, InFlight: st.InFlight,
		ServerFrames: rr.serverFrames.Load(), Fallback: fm.fallbackName(),
		FallbackFrames: rr.fallbackFrames.Load(), FallbackActive: rr.onFallback.Load()}
	m.RemoteRTTMs = &RemoteRTT{P50: st.RTTP50Ms, P99: st.RTTP99Ms}
	if m.LastError == "" && st.LastError != "" {
		m.LastError = st.LastError
	}
}

// remoteSamples adds the server's numbers to the Prometheus samples.
func remoteSamples(dst []metricsrv.Sample, m Metrics) []metricsrv.Sample {
	if m.Remote == nil {
		return dst
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	up := b2f(m.Remote.Up)
	return append(dst,
		metricsrv.Sample{Name: "remote_up", Help: "1 when the inference server answered the last request.", Value: up},
		metricsrv.Sample{Name: "remote_requests_total", Help: "Inference requests sent to the server.", Value: float64(m.Remote.Requests), Counter: true},
		metricsrv.Sample{Name: "remote_errors_total", Help: "Failed requests: server errors, timeouts, unusable answers.", Value: float64(m.Remote.Errors), Counter: true},
		metricsrv.Sample{Name: "remote_in_flight", Help: "Inference requests out now.", Value: float64(m.Remote.InFlight)},
		metricsrv.Sample{Name: "remote_rtt_p50_ms", Help: "Round trip of an inference request, median.", Value: m.RemoteRTTMs.P50},
		metricsrv.Sample{Name: "remote_rtt_p99_ms", Help: "Round trip of an inference request, 99th percentile.", Value: m.RemoteRTTMs.P99},
		metricsrv.Sample{Name: "remote_server_frames_total", Help: "Frames whose faces the inference server swapped.", Value: float64(m.Remote.ServerFrames), Counter: true},
		metricsrv.Sample{Name: "remote_fallback_frames_total", Help: "Frames whose faces the local fallback model (swapper.server.fallback) swapped while the server had no fresh answer.", Value: float64(m.Remote.FallbackFrames), Counter: true},
		metricsrv.Sample{Name: "remote_fallback_active", Help: "1 when the last swapped frame's faces came from the local fallback model.", Value: b2f(m.Remote.FallbackActive)},
	)
}
