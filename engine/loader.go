package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"facelive/engine/config"
)

// Face pipeline states, shown in the metrics as face_pipeline.
const (
	faceOff     = "off"     // swapper.kind none: nothing to do
	faceLoading = "loading" // models load in the background; frames leave as unprocessed says
	faceReady   = "ready"
	faceFailed  = "failed" // see last_error; frames leave as unprocessed says
)

// FaceFailed reports whether the face models failed to load.
const FaceFailed = faceFailed

// closeWait bounds how long close waits for a cancelled load: a load stops
// before its next model, but one model (dlib's 0.45 s, a large ONNX file)
// cannot be interrupted. What it loaded goes to the cache either way.
const closeWait = time.Second

// modelLoader owns the face models: it loads them in the background when a
// config key they depend on changes (a newer config cancels an older load),
// installs them, and hands them out one use at a time. A use keeps models
// alive after they are replaced; the last use gives them back to the cache.
type modelLoader struct {
	log Logger

	cur   atomic.Pointer[faceModels] // installed; nil while loading, failed or off
	state atomic.Pointer[loadState]

	mu     sync.Mutex // guards everything below
	key    faceKey
	gen    uint64             // the newest load wins
	cancel context.CancelFunc // the load under way, if any
	ready  chan struct{}      // closed when the newest load has ended
	closed bool
	wg     sync.WaitGroup // load goroutines
}

// loadState is what the metrics and hosts are told.
type loadState struct {
	state, err string
	info       *ErrorInfo // err with its key and hint (nil when none)
}

func newModelLoader(log Logger) *modelLoader {
	l := &modelLoader{log: log}
	l.setState(faceOff, "")
	return l
}

func (l *modelLoader) setState(state, err string) { l.state.Store(&loadState{state: state, err: err}) }

// setFailed records a failed load, with its key and hint.
func (l *modelLoader) setFailed(err error) {
	l.state.Store(&loadState{state: faceFailed, err: err.Error(), info: errorInfo(err)})
}

// errorInfo is the failed load's error with its key and hint, or nil.
func (l *modelLoader) errorInfo() *ErrorInfo { return l.state.Load().info }

// status returns the state and, when failed, why.
func (l *modelLoader) status() (string, string) {
	s := l.state.Load()
	return s.state, s.err
}

// acquire returns the installed models with a use taken (end it with
// done), or nil when there are none.
func (l *modelLoader) acquire() *faceModels {
	for {
		m := l.cur.Load()
		if m == nil || m.tryUse() {
			return m
		}
		// Replaced and given back since we read it: read again.
	}
}

// installed returns the current models without taking a use (metrics).
func (l *modelLoader) installed() *faceModels { return l.cur.Load() }

// loading returns a channel closed when the load under way ends, or nil
// when no load is under way.
func (l *modelLoader) loading() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st, _ := l.status(); st != faceLoading {
		return nil
	}
	return l.ready
}

// configure starts a background load when cfg's model keys changed since
// the last call. It never waits for a load.
func (l *modelLoader) configure(cfg config.Config) {
	key := keyOf(cfg)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || (key == l.key && l.gen > 0) {
		return
	}
	l.key = key
	l.gen++
	if l.cancel != nil {
		l.cancel() // the older load stops before its next model
		l.cancel = nil
	}
	if cfg.Swapper.Kind == "none" {
		l.installLocked(nil)
		l.setState(faceOff, "")
		return
	}
	l.setState(faceLoading, "")
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	l.cancel, l.ready = cancel, ready
	gen := l.gen
	l.wg.Add(1)
	loadsInFlight.Add(1)
	go func() {
		defer l.wg.Done()
		defer loadsInFlight.Add(-1)
		defer close(ready)
		defer cancel()
		start := time.Now()
		m, err := loadModelsSafely(cfg, l.log, func() bool { return ctx.Err() != nil })
		l.mu.Lock()
		defer l.mu.Unlock()
		if gen != l.gen || l.closed { // superseded while loading: to the cache
			if m != nil {
				m.done()
			}
			return
		}
		l.cancel = nil
		if err != nil {
			l.installLocked(nil) // what we say must be true: no old models keep swapping
			l.setFailed(err)
			l.log(LevelError, "face pipeline failed to load: "+err.Error())
			return
		}
		l.installLocked(m)
		l.setState(faceReady, "")
		l.log(LevelInfo, fmt.Sprintf("face pipeline ready in %d ms: swapper %s", time.Since(start).Milliseconds(), cfg.Swapper.Kind))
	}()
}

// installLocked makes m current; the models it replaces go back to the
// cache when their last use ends. Called with mu held.
func (l *modelLoader) installLocked(m *faceModels) {
	if old := l.cur.Swap(m); old != nil {
		old.done()
	}
}

// close cancels the load under way and waits for it at most closeWait (an
// OBS filter removed while loading must not hold OBS's thread for long);
// a load still running finishes into the cache. The installed models go
// back when their last use ends.
func (l *modelLoader) close() {
	l.mu.Lock()
	l.closed = true
	if l.cancel != nil {
		l.cancel()
		l.cancel = nil
	}
	l.installLocked(nil)
	l.mu.Unlock()
	ended := make(chan struct{})
	go func() {
		l.wg.Wait()
		close(ended)
	}()
	timer := time.NewTimer(closeWait)
	defer timer.Stop()
	select {
	case <-ended:
	case <-timer.C:
		l.log(LevelInfo, "a model load is still finishing; it goes to the model cache")
	}
}

// loadsInFlight counts model loads under way in the process, including
// those of pipelines already closed (they finish into the cache).
var loadsInFlight atomic.Int64

// WaitLoads waits until no model load is under way in the process, for at
// most timeout, and reports whether that happened. Hosts never need it;
// tests that measure the whole process (allocations, goroutines) do.
func WaitLoads(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for loadsInFlight.Load() > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}
