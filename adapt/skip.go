package adapt

import "runtime"

// Policy is what a mode and a skip strategy mean for the pipeline's queues.
// It is derived from the config and replaced whole on every config change.
type Policy struct {
	Mode    string // realtime, balanced, quality or batch (validated by config)
	Skip    string // drop_oldest, drop_newest, adaptive or none
	Workers int
	// InCap bounds frames waiting for a worker; MaxInFlight bounds every
	// frame the pipeline holds (waiting, processing, processed-not-fetched).
	InCap, MaxInFlight int
	// OutCap bounds processed frames waiting for the caller in unordered
	// modes; the oldest is superseded when a newer one is ready.
	OutCap int
	// Ordered modes output every frame in submit order (quality, batch);
	// unordered modes output the newest and drop stale results.
	Ordered bool
}

// NewPolicy derives the queue bounds for mode. workers ≤ 0 means
// [AutoWorkers] on this machine's cores.
func NewPolicy(mode, skip string, workers int) Policy {
	if workers <= 0 {
		workers = AutoWorkers(mode, runtime.NumCPU())
	}
	p := Policy{Mode: mode, Skip: skip, Workers: workers}
	switch mode {
	case "realtime": // newest wins, never queue
		p.InCap, p.OutCap = 1, 1
	case "balanced": // a small bounded queue smooths jitter
		p.InCap, p.OutCap = 3, 3
	case "quality": // every frame, in order; back-pressure when full
		p.InCap, p.OutCap, p.Ordered = 8, 8, true
	case "batch": // throughput: keep every worker fed, in order
		p.InCap, p.OutCap, p.Ordered = 4*workers, 4*workers, true
	}
	p.MaxInFlight = p.InCap + p.Workers + p.OutCap
	return p
}

// AutoWorkers picks the worker count when the config says 0: the ordered
// modes use every core for throughput; the live modes keep a core free for
// the host (OBS renders and encodes on the same machine).
func AutoWorkers(mode string, cores int) int {
	if mode == "quality" || mode == "batch" {
		return max(1, cores)
	}
	return max(1, min(2, cores-1))
}

// FullAction says what to do with a new frame when the pipeline is full.
type FullAction int

const (
	EvictOldest FullAction = iota // drop the oldest waiting frame, take the new one
	DropNew                       // take and drop the new frame (counted)
	Refuse                        // back-pressure: do not take it (not counted)
)

// String names the action for logs and test failures.
func (a FullAction) String() string {
	switch a {
	case EvictOldest:
		return "evict_oldest"
	case DropNew:
		return "drop_new"
	case Refuse:
		return "refuse"
	}
	return "unknown"
}

// WhenFull resolves the skip strategy. oldestWaitNs is how long the oldest
// waiting frame has waited (negative: nothing waits); serviceNs is the
// typical time a worker takes per frame. "adaptive" follows the mode: live
// modes evict stale frames but drop a new one instead while the waiting frame
// is still fresh (that saves a copy on the caller's thread and keeps drops
// evenly spaced); ordered modes push back.
func (p Policy) WhenFull(oldestWaitNs, serviceNs int64) FullAction {
	switch p.Skip {
	case "drop_oldest":
		return EvictOldest
	case "drop_newest":
		return DropNew
	case "none":
		return Refuse
	}
	if p.Ordered {
		return Refuse
	}
	if oldestWaitNs >= 0 && oldestWaitNs < serviceNs {
		return DropNew
	}
	return EvictOldest
}
