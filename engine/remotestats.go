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
	m.Remote = &RemoteMetrics{Server: c.Where(), Up: st.Up, Requests: st.Requests, Errors: st.Errors, InFlight: st.InFlight}
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
	up := 0.0
	if m.Remote.Up {
		up = 1
	}
	return append(dst,
		metricsrv.Sample{Name: "remote_up", Help: "1 when the inference server answered the last request.", Value: up},
		metricsrv.Sample{Name: "remote_requests_total", Help: "Inference requests sent to the server.", Value: float64(m.Remote.Requests), Counter: true},
		metricsrv.Sample{Name: "remote_errors_total", Help: "Failed requests: server errors, timeouts, unusable answers.", Value: float64(m.Remote.Errors), Counter: true},
		metricsrv.Sample{Name: "remote_in_flight", Help: "Inference requests out now.", Value: float64(m.Remote.InFlight)},
		metricsrv.Sample{Name: "remote_rtt_p50_ms", Help: "Round trip of an inference request, median.", Value: m.RemoteRTTMs.P50},
		metricsrv.Sample{Name: "remote_rtt_p99_ms", Help: "Round trip of an inference request, 99th percentile.", Value: m.RemoteRTTMs.P99},
	)
}
