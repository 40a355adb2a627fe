package engine

import "runtime"

// policy is what a mode and a skip strategy mean for the queues. It is
// derived from the config and replaced whole on every config change.
type policy struct {
	mode    string
	skip    string // resolved: drop_oldest, drop_newest, adaptive or none
	workers int
	// inCap bounds frames waiting for a worker; maxInFlight bounds every
	// frame the pipeline holds (waiting, processing, processed-not-fetched).
	inCap, maxInFlight int
	// outCap bounds processed frames waiting for the caller in unordered
	// modes; the oldest is superseded when a newer one is ready.
	outCap int
	// ordered modes output every frame in submit order (quality, batch);
	// unordered modes output the newest and drop stale results.
	ordered bool
}

func newPolicy(mode, skip string, workers int) policy {
	if workers <= 0 {
		workers = autoWorkers(mode)
	}
	p := policy{mode: mode, skip: skip, workers: workers}
	switch mode {
	case "realtime": // newest wins, never queue
		p.inCap, p.outCap = 1, 1
	case "balanced": // a small bounded queue smooths jitter
		p.inCap, p.outCap = 3, 3
	case "quality": // every frame, in order; back-pressure when full
		p.inCap, p.outCap, p.ordered = 8, 8, true
	case "batch": // throughput: keep every worker fed, in order
		p.inCap, p.outCap, p.ordered = 4*workers, 4*workers, true
	}
	p.maxInFlight = p.inCap + p.workers + p.outCap
	return p
}

// autoWorkers picks the worker count when the config says 0: the ordered
// modes use every core for throughput; the live modes keep a core free for
// the host (OBS renders and encodes on the same machine).
func autoWorkers(mode string) int {
	n := runtime.NumCPU()
	if mode == "quality" || mode == "batch" {
		return n
	}
	return max(1, min(2, n-1))
}

// onFull says what to do with a new frame when the pipeline is full.
type fullAction int

const (
	evictOldest fullAction = iota // drop the oldest waiting frame, take the new one
	dropNew                       // take and drop the new frame (counted)
	refuse                        // back-pressure: do not take it (not counted)
)

// whenFull resolves the skip strategy. "adaptive" follows the mode: live
// modes evict stale frames but drop a new one instead while the waiting frame
// is still fresh (that saves a copy on the caller's thread and keeps drops
// evenly spaced); ordered modes push back.
func (p policy) whenFull(oldestWaitNs, serviceNs int64) fullAction {
	switch p.skip {
	case "drop_oldest":
		return evictOldest
	case "drop_newest":
		return dropNew
	case "none":
		return refuse
	}
	if p.ordered {
		return refuse
	}
	if oldestWaitNs >= 0 && oldestWaitNs < serviceNs {
		return dropNew
	}
	return evictOldest
}
