package engine

import (
	"fmt"
	"os"
	"sync"
	"time"

	"facelive/vram"
)

// The process-wide memory budget and model cache. Pipelines check models
// out while they use them and give them back when they stop or switch
// models, so a filter added again, or a swapper chosen again, starts at once
// instead of loading (and holding) its own copy.
var (
	sharedOnce    sync.Once
	sharedCache   *vram.Cache
	sharedMonitor *vram.Monitor
	nvmlErr       error
	gpuSource     vram.GPUSource
	budgetSaid    sync.Once // the first pipeline logs the budget and its source
)

// shared returns the cache and the budget monitor, creating them on first
// use. NVML is tried once; without it the budget comes from system RAM.
func shared() (*vram.Cache, *vram.Monitor) {
	sharedOnce.Do(func() {
		var closeNVML func()
		gpuSource, closeNVML, nvmlErr = vram.OpenNVML()
		_ = closeNVML // the library is never unloaded: NVML stays open with it
		// No polling goroutine: the budget is re-read when someone asks
		// and it is older than budgetPoll (see budgetNow), so nothing runs
		// (or allocates) in the background of a stream.
		sharedMonitor = vram.NewMonitor(gpuSource, nvmlErr, vram.SystemRAM(), 0, 0, func(string) {})
		sharedCache = vram.NewCache(int64(sharedMonitor.Budget().LimitMB)<<20, func(string) {})
	})
	return sharedCache, sharedMonitor
}

// budgetPoll is how often the monitor reads GPU and RAM use.
const budgetPoll = 2 * time.Second

// budgetNow returns the memory budget, polling GPU and RAM again when the
// last reading is older than budgetPoll.
func budgetNow() vram.Budget {
	_, m := shared()
	b := m.Budget()
	if time.Since(b.At) > budgetPoll {
		m.Refresh()
		b = m.Budget()
	}
	return b
}

// Each pipeline's vram_budget_mb (0 = measured), while it runs. The model
// cache is shared by the process, so its budget is the smallest a running
// pipeline asks for: no pipeline gets more memory used than it allowed.
var (
	overrideMu sync.Mutex
	overrides  = map[*Pipeline]int{}
)

// setBudgetOverride records p's vram_budget_mb (0 = none, also when p
// closes) and applies the smallest one to the shared cache.
func setBudgetOverride(p *Pipeline, mb int) {
	overrideMu.Lock()
	defer overrideMu.Unlock()
	if mb == 0 {
		delete(overrides, p)
	} else {
		overrides[p] = mb
	}
	least := 0
	for _, v := range overrides {
		if least == 0 || v < least {
			least = v
		}
	}
	c, m := shared()
	m.SetOverride(least)
	b := m.Budget()
	limit := int64(b.LimitMB) << 20
	if b.Source == "gpu" {
		// A GPU budget is a share of the memory free now, which our own
		// models already took from: count them back in.
		st := c.Stats()
		limit += st.ActiveBytes + st.IdleBytes
	}
	c.SetBudget(limit)
}

// ref is one model checked out of the cache: its value and how to free it
// when the cache evicts it.
type ref[T any] struct {
	v    T
	free func()
}

func (r *ref[T]) Close() error {
	if r.free != nil {
		r.free()
	}
	return nil
}

// checkedOut remembers what a faceModels holds, to give it back.
type checkedOut struct {
	key    string
	m      vram.Model
	shared bool // from checkoutShared: other pipelines may hold it too
}

// checkout returns the model for key from the cache, loading it with load
// on a miss; the result is recorded in held so that giveBack returns it.
func checkout[T any](held *[]checkedOut, key string, size int64, load func() (T, func(), error)) (T, error) {
	c, _ := shared()
	m, err := c.Acquire(key, size, func() (vram.Model, error) {
		v, free, err := load()
		if err != nil {
			return nil, err
		}
		return &ref[T]{v: v, free: free}, nil
	})
	if err != nil {
		var zero T
		return zero, err
	}
	*held = append(*held, checkedOut{key: key, m: m})
	return m.(*ref[T]).v, nil
}

// giveBack returns every model in held to the cache (idle, reusable); a
// shared one goes back when its last user gives it back.
func giveBack(held []checkedOut) {
	c, _ := shared()
	for _, h := range held {
		if h.shared {
			releaseShared(h.key)
			continue
		}
		if keepIdle(h.m) {
			c.Release(h.key, h.m)
		} else {
			c.Discard(h.key, h.m)
		}
	}
}

// Models that are safe for concurrent use (dlib's predictor: read-only, a
// scratch buffer per call) are checked out of the cache once and shared by
// every pipeline that wants them, instead of one copy each: OBS keeps
// removed filters alive for a while, and with a copy of the ~100 MB
// predictor each, adding and removing a filter 100 times grew the process
// by 1 GB.
var (
	sharedMu     sync.Mutex
	sharedModels = map[string]*sharedModel{}
)

// sharedModel is one shared checkout: its users and, once loaded, the model.
type sharedModel struct {
	load  sync.Mutex // held while the first user loads: later ones wait and share
	users int        // under sharedMu
	m     vram.Model // set under load, read under load or after it
}

// checkoutShared is checkout for a model many pipelines may use at once.
func checkoutShared[T any](held *[]checkedOut, key string, size int64, load func() (T, func(), error)) (T, error) {
	sharedMu.Lock()
	e := sharedModels[key]
	if e == nil {
		e = &sharedModel{}
		sharedModels[key] = e
	}
	e.users++
	sharedMu.Unlock()

	e.load.Lock()
	if e.m == nil {
		var one []checkedOut
		if _, err := checkout(&one, key, size, load); err != nil {
			e.load.Unlock()
			releaseShared(key) // the next waiter, if any, tries again
			var zero T
			return zero, err
		}
		e.m = one[0].m
	}
	m := e.m
	e.load.Unlock()
	*held = append(*held, checkedOut{key: key, m: m, shared: true})
	return m.(*ref[T]).v, nil
}

// releaseShared drops one user of a shared model; the last one gives it
// back to the cache (idle: the next pipeline that wants it gets it at once).
func releaseShared(key string) {
	sharedMu.Lock()
	e := sharedModels[key]
	if e == nil {
		sharedMu.Unlock()
		return
	}
	e.users--
	last := e.users == 0
	if last {
		delete(sharedModels, key)
	}
	sharedMu.Unlock()
	if last {
		e.load.Lock() // a load in progress finishes first
		m := e.m
		e.m = nil
		e.load.Unlock()
		if m != nil {
			c, _ := shared()
			c.Release(key, m)
		}
	}
}

// fileID names a file's content as far as the cache is concerned: path,
// size and modification time, so that a model file replaced on disk is
// loaded again rather than served stale from the cache.
func fileID(path string) string {
	if path == "" {
		return ""
	}
	st, err := os.Stat(path)
	if err != nil {
		return path + "|missing"
	}
	return fmt.Sprintf("%s|%d|%d", path, st.Size(), st.ModTime().UnixNano())
}
