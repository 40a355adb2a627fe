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

// setBudgetOverride applies vram_budget_mb (0 = measured) to the shared
// cache.
func setBudgetOverride(mb int) {
	c, m := shared()
	m.SetOverride(mb)
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
	key string
	m   vram.Model
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
	*held = append(*held, checkedOut{key, m})
	return m.(*ref[T]).v, nil
}

// giveBack returns every model in held to the cache (idle, reusable).
func giveBack(held []checkedOut) {
	c, _ := shared()
	for _, h := range held {
		c.Release(h.key, h.m)
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
