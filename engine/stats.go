package engine

import (
	"encoding/json"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"facelive/adapt"
)

// stats holds the counters and meters behind Metrics. The three frame
// counters and in-flight move together under one lock, so every snapshot
// satisfies submitted == output + dropped + in_flight.
type stats struct {
	clock Clock

	mu                                  sync.Mutex
	submitted, output, dropped, refused uint64
	rejected                            uint64 // faces the plausibility gate refused, per frame
	inFlightN                           int64
	mode                                string
	in, out                             rateMeter
	swaps                               rateMeter     // swap model runs
	latency                             [1024]float32 // ms, ring
	latencyN                            int
	stageNames                          []string
	stageMs                             []float64 // smoothed
}

func newStats(stageNames []string, clock Clock) *stats {
	return &stats{clock: clock, stageNames: stageNames, stageMs: make([]float64, len(stageNames)),
		in: newRateMeter(), out: newRateMeter(), swaps: newRateMeter()}
}

func (s *stats) admit(nowNs int64) {
	s.mu.Lock()
	s.submitted++
	s.inFlightN++
	s.in.add(nowNs)
	s.mu.Unlock()
}

func (s *stats) drop() {
	s.mu.Lock()
	s.dropped++
	s.inFlightN--
	s.mu.Unlock()
}

func (s *stats) refuse() {
	s.mu.Lock()
	s.refused++
	s.mu.Unlock()
}

func (s *stats) emitted(nowNs, latencyNs int64) {
	s.mu.Lock()
	s.output++
	s.inFlightN--
	s.out.add(nowNs)
	s.latency[s.latencyN%len(s.latency)] = float32(latencyNs) / 1e6
	s.latencyN++
	s.mu.Unlock()
}

// brief is what the stats overlay shows: output rate, the newest latency,
// and frames dropped so far. Cheap: no copies, no sorting.
func (s *stats) brief(nowNs int64) (fps, latencyMs float64, dropped uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.latencyN > 0 {
		latencyMs = float64(s.latency[(s.latencyN-1)%len(s.latency)])
	}
	return s.out.rate(nowNs), latencyMs, s.dropped
}

// tunerSample is what the auto-tuner reads every second, without the
// allocations of a full snapshot: rates, counters, p95 latency (sorted in
// scratch, which must hold len(s.latency) values).
func (s *stats) tunerSample(nowNs int64, scratch []float32) (fpsIn, fpsOut float64, submitted, dropped uint64, p95 float64) {
	s.mu.Lock()
	fpsIn, fpsOut, submitted, dropped = s.in.rate(nowNs), s.out.rate(nowNs), s.submitted, s.dropped
	n := copy(scratch, s.latency[:min(s.latencyN, len(s.latency))])
	s.mu.Unlock()
	slices.Sort(scratch[:n])
	return fpsIn, fpsOut, submitted, dropped, percentile(scratch[:n], 0.95)
}

// rejectedFace counts one face the plausibility gate refused in one frame.
func (s *stats) rejectedFace() {
	s.mu.Lock()
	s.rejected++
	s.mu.Unlock()
}

// swapped counts one run of the swap model (over one frame's faces).
func (s *stats) swapped(nowNs int64) {
	s.mu.Lock()
	s.swaps.add(nowNs)
	s.mu.Unlock()
}

func (s *stats) inFlight() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlightN
}

func (s *stats) stageTime(i int, ns int64) {
	s.mu.Lock()
	ms := float64(ns) / 1e6
	if s.stageMs[i] == 0 {
		s.stageMs[i] = ms
	} else {
		s.stageMs[i] = 0.9*s.stageMs[i] + 0.1*ms
	}
	s.mu.Unlock()
}

func (s *stats) setMode(mode string) {
	s.mu.Lock()
	s.mode = mode
	s.mu.Unlock()
}

// rateMeter is a frame or run rate over the last second, by the
// pipeline's clock; 0 once nothing happened for rateIdle.
type rateMeter struct{ adapt.RateMeter }

const rateWindow, rateIdle = time.Second, 2 * time.Second

func newRateMeter() rateMeter { return rateMeter{*adapt.NewRateMeter(rateWindow, nil)} }

func (m *rateMeter) add(ns int64) { m.Add(time.Duration(ns)) }

func (m *rateMeter) rate(nowNs int64) float64 { return m.SteadyRate(time.Duration(nowNs), rateIdle) }

// Latency is a set of percentiles in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

// Metrics is a snapshot of a pipeline's counters. Keys are part of the
// public contract (see DESIGN.md).
type Metrics struct {
	FramesSubmitted   uint64             `json:"frames_submitted"`
	FramesDropped     uint64             `json:"frames_dropped"`
	FramesProcessed   uint64             `json:"frames_processed"`
	FramesOutput      uint64             `json:"frames_output"`
	FramesRefused     uint64             `json:"frames_refused"`
	InFlight          int64              `json:"in_flight"`
	FPSIn             float64            `json:"fps_in"`
	FPSOut            float64            `json:"fps_out"`
	LatencyMs         Latency            `json:"latency_ms"`
	StageMs           map[string]float64 `json:"stage_ms"`
	Faces             int                `json:"faces"`
	FacesRejected     uint64             `json:"faces_rejected"` // fits the plausibility gate refused, once per face per frame
	FacePipeline      string             `json:"face_pipeline"`  // off, loading, ready, failed
	Detections        uint64             `json:"detections"`     // detector runs (tracking covers the rest)
	SwapFPS           float64            `json:"swap_fps"`       // swap model runs per second; below fps_out when decoupled
	Decoupled         bool               `json:"decoupled"`      // the swap model runs at its own rate
	QualityLevel      int                `json:"quality_level"`
	Quality           string             `json:"quality"` // the level's name (adapt ladder)
	Profile           string             `json:"profile"` // the profile in use (resolved from auto)
	Mode              string             `json:"mode"`
	Skip              string             `json:"skip"`
	Workers           int                `json:"workers"`
	RSSMB             float64            `json:"rss_mb"`
	Goroutines        int                `json:"goroutines"` // of the whole process (soaks watch it stay flat)
	VRAMUsedMB        float64            `json:"vram_used_mb"`
	ModelCacheHitRate float64            `json:"model_cache_hit_rate"`
	ModelCache        CacheMetrics       `json:"model_cache"`
	MemoryBudgetMB    float64            `json:"memory_budget_mb"`
	MemoryBudget      string             `json:"memory_budget"` // where the budget comes from, in words
	ExecutionProvider string             `json:"execution_provider"`
	ProviderReason    string             `json:"execution_provider_reason"`
	// ProvidersAvailable: every execution provider facelive knows and
	// whether it can run here, once the models are loaded ("cpu" always;
	// "cuda"/"tensorrt" with a GPU and their libraries): what a host
	// should offer. An object, not a list, so that hosts with a plain
	// key-value JSON reader (libobs's obs_data drops lists of strings)
	// read it too.
	ProvidersAvailable map[string]bool `json:"execution_providers_available,omitempty"`
	Tuner              TunerMetrics    `json:"tuner"`
	BufferPoolHitRate  float64         `json:"buffer_pool_hit_rate"`
	BuffersOutstanding int             `json:"buffers_outstanding"`
	Poisoned           bool            `json:"poisoned"`
	// Remote: the inference server of swapper.backend kserve (absent for
	// local models); remote_rtt_ms is its request round trip.
	Remote      *RemoteMetrics `json:"remote,omitempty"`
	RemoteRTTMs *RemoteRTT     `json:"remote_rtt_ms,omitempty"`
	LastError   string         `json:"last_error"`
	// Error is last_error with the config key to change and what fixes it,
	// for hosts to show as they are (absent when nothing failed).
	Error *ErrorInfo `json:"error,omitempty"`
}

// CacheMetrics describe the process-wide model cache (shared by every
// pipeline in the process).
type CacheMetrics struct {
	Hits      uint64  `json:"hits"`
	Misses    uint64  `json:"misses"`
	Evictions uint64  `json:"evictions"`
	ActiveMB  float64 `json:"active_mb"` // models in use
	IdleMB    float64 `json:"idle_mb"`   // models kept for reuse
}

// TunerMetrics say what the auto-tuner did last.
type TunerMetrics struct {
	LastDecision string `json:"last_decision"`
}

// JSON encodes the metrics.
func (m Metrics) JSON() []byte {
	b, _ := json.Marshal(m) // a struct of plain fields cannot fail
	return b
}

func (s *stats) snapshot() Metrics {
	now := s.clock.Now().UnixNano()
	s.mu.Lock()
	m := Metrics{
		FramesSubmitted: s.submitted,
		FramesDropped:   s.dropped,
		FramesOutput:    s.output,
		FramesRefused:   s.refused,
		FacesRejected:   s.rejected,
		InFlight:        s.inFlightN,
		FPSIn:           s.in.rate(now),
		FPSOut:          s.out.rate(now),
		SwapFPS:         s.swaps.rate(now),
		Mode:            s.mode,
		StageMs:         make(map[string]float64, len(s.stageNames)),
	}
	for i, name := range s.stageNames {
		m.StageMs[name] = s.stageMs[i]
	}
	n := min(s.latencyN, len(s.latency))
	lat := slices.Clone(s.latency[:n])
	s.mu.Unlock()
	slices.Sort(lat)
	m.LatencyMs = Latency{percentile(lat, 0.50), percentile(lat, 0.95), percentile(lat, 0.99)}
	return m
}

func percentile(sorted []float32, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[int(q*float64(len(sorted)-1)+0.5)])
}

// Metrics returns a snapshot of the pipeline's counters.
func (p *Pipeline) Metrics() Metrics {
	m := p.stats.snapshot()
	m.FramesProcessed = p.processed.Load()
	ps := p.pool.Stats()
	m.BufferPoolHitRate = ps.HitRate()
	m.BuffersOutstanding = ps.Outstanding
	m.RSSMB = rssMB()
	m.Goroutines = runtime.NumGoroutine()
	p.mu.Lock()
	m.Skip, m.Workers = p.pol.Skip, p.pol.Workers
	p.mu.Unlock()
	m.Decoupled = p.face.swap.decoupled.Load()
	if p.tun != nil {
		prof, last := p.tun.status()
		m.Profile, m.Tuner.LastDecision = string(prof), last
	}
	m.QualityLevel, m.Quality = 0, ladder[0].Name
	if l := p.face.level.Load(); l != nil {
		m.QualityLevel, m.Quality = l.index, l.Name
	}
	c, _ := shared()
	cs, b := c.Stats(), budgetNow()
	m.ModelCacheHitRate = cs.HitRate
	m.ModelCache = CacheMetrics{Hits: cs.Hits, Misses: cs.Misses, Evictions: cs.Evictions,
		ActiveMB: float64(cs.ActiveBytes) / (1 << 20), IdleMB: float64(cs.IdleBytes) / (1 << 20)}
	m.MemoryBudgetMB, m.MemoryBudget = float64(b.LimitMB), b.Reason
	m.VRAMUsedMB = float64(cs.ActiveBytes+cs.IdleBytes) / (1 << 20) // what our models take, by estimate
	if len(b.GPUs) > 0 {
		m.VRAMUsedMB = float64(b.GPUs[0].UsedMB) // the device's own count, when NVML is there
	}
	if fm := p.face.loader.installed(); fm != nil {
		m.ExecutionProvider, m.ProviderReason, m.ProvidersAvailable = fm.provider.Provider, fm.provider.Reason, fm.providers
	}
	m.Faces = int(p.face.faces.Load())
	m.Detections = p.face.tracker.detections.Load()
	state, loadErr := p.face.status()
	m.FacePipeline, m.LastError = state, loadErr
	m.Error = p.face.loader.errorInfo()
	if r := p.configErr.Load(); r != nil {
		m.Error = r // the user's last change, refused: the newest thing to fix
	}
	p.remoteMetrics(&m)
	if msg, ok := p.Poisoned(); ok {
		m.Poisoned, m.LastError = true, msg
		m.Error = &ErrorInfo{Message: msg, Hint: "shut this handle down and create a new one (the OBS filter: Restart engine); " +
			"the log has the panic's stack for a bug report"}
	}
	return m
}

// rssMB reads the resident set size from /proc (Linux); 0 elsewhere.
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b)) // size resident shared ...
	if len(fields) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(fields[1], 10, 64)
	return float64(pages*int64(os.Getpagesize())) / (1 << 20)
}
