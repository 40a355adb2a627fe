package vram

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// fakeGPUs is a GPUSource whose answer tests change between calls.
type fakeGPUs struct {
	mu   sync.Mutex
	gpus []GPU
	err  error
}

func (f *fakeGPUs) GPUs() ([]GPU, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return append([]GPU(nil), f.gpus...), nil
}

func (f *fakeGPUs) set(gpus []GPU, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gpus, f.err = gpus, err
}

// fakeRAM is a RAMSource; when called is set it reports every call there.
type fakeRAM struct {
	total, avail uint64
	err          error
	called       chan struct{}
}

func (f *fakeRAM) RAM() (uint64, uint64, error) {
	if f.called != nil {
		f.called <- struct{}{}
	}
	return f.total, f.avail, f.err
}

type fakeClock struct{ t time.Time }

func (c fakeClock) Now() time.Time { return c.t }

// logSink collects log lines from several goroutines.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) log(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
}

func (l *logSink) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// fakeModel counts its Close calls so tests can prove each model is closed
// exactly once.
type fakeModel struct {
	key    string
	n      int
	closes atomic.Int32
}

func (m *fakeModel) Close() error {
	if m.closes.Add(1) > 1 {
		return errors.New("closed twice")
	}
	return nil
}

// loader makes fakeModels for one test and remembers every one it made.
type loader struct {
	mu     sync.Mutex
	models []*fakeModel
}

func (l *loader) load(key string) func() (Model, error) {
	return func() (Model, error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		m := &fakeModel{key: key, n: len(l.models)}
		l.models = append(l.models, m)
		return m, nil
	}
}

func (l *loader) made() []*fakeModel {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*fakeModel(nil), l.models...)
}

var errNoDriver = &nvmlError{cause: "no NVIDIA driver (libnvidia-ml.so.1 not found)"}
