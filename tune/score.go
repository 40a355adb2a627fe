package tune

import "math"

// Sample is one reading of the engine's metrics, as the tuner sees it.
type Sample struct {
	FPSIn        float64 // frames submitted per second
	FPSOut       float64 // frames output per second
	DropRate     float64 // share of submitted frames dropped over the window, 0..1
	LatencyP95Ms float64 // 95th percentile submit-to-output latency; 0 = unknown
	CPUBusy      float64 // share of all cores busy, 0..1; 0 = unknown
	// TargetFPS is the output rate asked for (config target_fps); 0 means
	// the input rate. Frames a lower target drops on purpose are not held
	// against the score.
	TargetFPS float64
}

// Weights of the score. Throughput weighs most because a live stream that
// falls behind is the failure users see first; drops count again on their
// own because they come in bursts a rate averages away; latency matters
// least because a frame late by one frame interval is rarely noticed.
const (
	weightRate    = 0.5
	weightDrops   = 0.3
	weightLatency = 0.2
)

// Thresholds that classify a window.
const (
	struggleDrops  = 0.05 // more unplanned drops than this is struggling
	struggleRate   = 0.9  // fps_out under this share of the wanted rate is struggling
	headroomDrops  = 0.01 // at most this many drops leaves headroom
	headroomRate   = 0.97
	headroomBudget = 0.5 // p95 under half a frame interval leaves headroom
	headroomCPU    = 0.8
	busyCPU        = 0.95 // the cores are saturated: fewer workers may help
	roomCPU        = 0.9  // under this, another worker has a core to run on
)

// Score rates a sample in [0, 1]; higher is better:
//
//	want   = fps_in, or target_fps when it is set and lower
//	rate   = clamp(fps_out / want, 0, 1)
//	drops  = clamp((drop_rate − planned) / (1 − planned), 0, 1)
//	         where planned = 1 − want/fps_in, the share a lower target drops on purpose
//	budget = 1000 / want ms, one frame interval
//	lat    = 1 when p95 ≤ budget or p95 is unknown, else budget / p95
//	score  = 0.5·rate + 0.3·(1 − drops) + 0.2·lat
//
// Without input (fps_in ≤ 0) there is nothing to rate and the score is 0.
func (s Sample) Score() float64 {
	if !(s.FPSIn > 0) {
		return 0
	}
	return weightRate*s.rate() + weightDrops*(1-s.drops()) + weightLatency*s.latency()
}

// want is the output rate the stream should reach.
func (s Sample) want() float64 {
	if s.TargetFPS > 0 && s.TargetFPS < s.FPSIn {
		return s.TargetFPS
	}
	return s.FPSIn
}

func (s Sample) rate() float64 { return clamp01(s.FPSOut / s.want()) }

// drops is the share of wanted frames lost, not counting those a lower
// target_fps drops by design.
func (s Sample) drops() float64 {
	planned := 1 - s.want()/s.FPSIn
	return clamp01((s.DropRate - planned) / (1 - planned))
}

func (s Sample) budgetMs() float64 { return 1000 / s.want() }

func (s Sample) latency() float64 {
	b := s.budgetMs()
	if !(s.LatencyP95Ms > b) { // also unknown (0) and NaN
		return 1
	}
	return b / s.LatencyP95Ms
}

// struggling: the stream is losing frames or falling behind.
func (s Sample) struggling() bool {
	return s.FPSIn > 0 && (s.drops() > struggleDrops || s.rate() < struggleRate)
}

// headroom: keeping up with room to spare, so quality may go up.
func (s Sample) headroom() bool {
	return s.FPSIn > 0 && s.drops() <= headroomDrops && s.rate() >= headroomRate &&
		s.LatencyP95Ms <= headroomBudget*s.budgetMs() && s.CPUBusy < headroomCPU
}

// clamp01 also maps NaN to 0.
func clamp01(x float64) float64 {
	if !(x > 0) {
		return 0
	}
	return math.Min(x, 1)
}

// finite maps NaN, ±Inf and negatives to 0, the "unknown" of every field.
func finite(x float64) float64 {
	if !(x > 0) || math.IsInf(x, 1) {
		return 0
	}
	return x
}
