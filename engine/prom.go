package engine

import (
	"sort"

	"facelive/engine/metricsrv"
)

// promSamples is what metrics.prometheus_addr serves: the same numbers as
// Metrics, under Prometheus names.
func (p *Pipeline) promSamples(dst []metricsrv.Sample) []metricsrv.Sample {
	m := p.Metrics()
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	add := func(name, help string, v float64, counter bool) {
		dst = append(dst, metricsrv.Sample{Name: name, Help: help, Value: v, Counter: counter})
	}
	add("frames_submitted_total", "Frames handed to the pipeline.", float64(m.FramesSubmitted), true)
	add("frames_output_total", "Processed frames fetched by the host.", float64(m.FramesOutput), true)
	add("frames_dropped_total", "Frames dropped by the skip policy or superseded.", float64(m.FramesDropped), true)
	add("frames_refused_total", "Frames refused by back-pressure (not taken).", float64(m.FramesRefused), true)
	add("frames_processed_total", "Frames through the stages.", float64(m.FramesProcessed), true)
	add("frames_in_flight", "Frames inside the pipeline now.", float64(m.InFlight), false)
	add("fps_in", "Submitted frames per second.", m.FPSIn, false)
	add("fps_out", "Output frames per second.", m.FPSOut, false)
	add("swap_fps", "Swap model runs per second.", m.SwapFPS, false)
	add("decoupled", "1 when the swap model runs at its own rate.", b2f(m.Decoupled), false)
	add("latency_p50_ms", "Submit to output latency, median.", m.LatencyMs.P50, false)
	add("latency_p95_ms", "Submit to output latency, 95th percentile.", m.LatencyMs.P95, false)
	add("latency_p99_ms", "Submit to output latency, 99th percentile.", m.LatencyMs.P99, false)
	add("faces", "Faces swapped in the last frame.", float64(m.Faces), false)
	add("faces_rejected_total", "Faces the plausibility gate refused to swap, counted once per face per frame.", float64(m.FacesRejected), true)
	add("quality_level", "Adaptive quality rung (0 = full).", float64(m.QualityLevel), false)
	add("rss_mb", "Resident memory of the process.", m.RSSMB, false)
	add("vram_used_mb", "GPU memory in use (NVML), else what the model cache holds.", m.VRAMUsedMB, false)
	add("memory_budget_mb", "Memory the model cache may use.", m.MemoryBudgetMB, false)
	add("model_cache_hit_rate", "Share of model checkouts served from the cache.", m.ModelCacheHitRate, false)
	add("buffer_pool_hit_rate", "Share of frame buffers reused.", m.BufferPoolHitRate, false)
	add("poisoned", "1 after an internal fault (frames pass through).", b2f(m.Poisoned), false)
	dst = remoteSamples(dst, m)
	stages := make([]string, 0, len(m.StageMs))
	for s := range m.StageMs {
		stages = append(stages, s)
	}
	sort.Strings(stages)
	for _, s := range stages {
		add("stage_"+s+"_ms", "Smoothed time of the "+s+" stage per frame.", m.StageMs[s], false)
	}
	return dst
}

// applyProm starts, moves or stops the Prometheus endpoint for addr. The
// new endpoint is bound before the old one stops, so a port in use fails
// the config change and leaves everything as it was.
func (p *Pipeline) applyProm(addr string) error {
	p.promMu.Lock()
	defer p.promMu.Unlock()
	if addr == p.promAddr {
		return nil
	}
	var next *metricsrv.Server
	if addr != "" {
		var err error
		if next, err = metricsrv.Start(addr, p.promSamples); err != nil {
			return err
		}
		p.log(LevelInfo, "Prometheus metrics on http://"+next.Addr()+"/metrics")
	}
	if p.prom != nil {
		p.prom.Close()
	}
	p.prom, p.promAddr = next, addr
	return nil
}

// PrometheusAddr is the address the endpoint is bound to ("" when off).
func (p *Pipeline) PrometheusAddr() string {
	p.promMu.Lock()
	defer p.promMu.Unlock()
	if p.prom == nil {
		return ""
	}
	return p.prom.Addr()
}
