package vram

import (
	"slices"
	"sync"
	"time"
)

// MonitorConfig is everything a Monitor needs; [NewMonitor] fills Clock and
// Ticks with the real ones. Tests set Ticks to a channel they send on, which
// drives the polling goroutine without sleeping.
type MonitorConfig struct {
	GPUs       GPUSource // nil when NVML is absent
	NVMLErr    error     // why GPUs is nil
	RAM        RAMSource
	OverrideMB int              // vram_budget_mb; 0 = measure
	Interval   time.Duration    // poll period when Ticks is nil; <= 0: no goroutine, Refresh only
	Ticks      <-chan time.Time // overrides Interval when set
	Log        func(string)     // nil: silent
	Clock      Clock            // nil: SystemClock
}

// Monitor polls GPU and RAM on its own goroutine and keeps the latest Budget.
// It says once that NVML is missing and then works on the RAM budget.
type Monitor struct {
	gpus    GPUSource
	nvmlErr error
	ram     RAMSource
	log     func(string)
	clock   Clock

	refreshMu sync.Mutex // one probe at a time, so results land in order

	mu         sync.Mutex
	override   int
	budget     Budget
	loggedNVML bool
	lastGPUErr string // the GPU query error last logged, to log each new one once

	stop      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// NewMonitor probes once (so Budget is valid at once) and then re-probes every
// interval until Close; interval <= 0 means only Refresh and SetOverride
// update it. log may be nil.
func NewMonitor(gpus GPUSource, nvmlErr error, ram RAMSource, overrideMB int, interval time.Duration, log func(string)) *Monitor {
	return NewMonitorConfig(MonitorConfig{
		GPUs: gpus, NVMLErr: nvmlErr, RAM: ram, OverrideMB: overrideMB,
		Interval: interval, Log: log,
	})
}

// NewMonitorConfig is NewMonitor with an injectable clock and tick source.
func NewMonitorConfig(cfg MonitorConfig) *Monitor {
	m := &Monitor{
		gpus: cfg.GPUs, nvmlErr: cfg.NVMLErr, ram: cfg.RAM,
		log: cfg.Log, clock: cfg.Clock, override: cfg.OverrideMB,
		stop: make(chan struct{}),
	}
	if m.log == nil {
		m.log = func(string) {}
	}
	if m.clock == nil {
		m.clock = SystemClock{}
	}
	m.Refresh()

	ticks := cfg.Ticks
	var ticker *time.Ticker
	if ticks == nil && cfg.Interval > 0 {
		ticker = time.NewTicker(cfg.Interval)
		ticks = ticker.C
	}
	if ticks == nil {
		return m
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if ticker != nil {
			defer ticker.Stop()
		}
		for {
			select {
			case <-m.stop:
				return
			case _, ok := <-ticks:
				if !ok {
					return
				}
				m.Refresh()
			}
		}
	}()
	return m
}

// Budget returns the latest budget (its GPUs slice is the caller's own copy).
func (m *Monitor) Budget() Budget {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.budget
	b.GPUs = slices.Clone(b.GPUs)
	return b
}

// SetOverride changes vram_budget_mb (0 = measure again) and re-probes now,
// so a config change shows in Budget before the next tick.
func (m *Monitor) SetOverride(mb int) {
	m.mu.Lock()
	m.override = mb
	m.mu.Unlock()
	m.Refresh()
}

// Refresh probes now. The ticker calls it; so may anyone else.
func (m *Monitor) Refresh() {
	m.refreshMu.Lock()
	defer m.refreshMu.Unlock()

	m.mu.Lock()
	override := m.override
	first := !m.loggedNVML
	m.loggedNVML = true
	m.mu.Unlock()

	if first && m.gpus == nil {
		msg := "NVML not available"
		if m.nvmlErr != nil {
			msg += ": " + m.nvmlErr.Error()
		} else {
			msg += ": " + ramFallback
		}
		m.log(msg)
	}

	// NVML calls can take milliseconds; no lock is held across them, so
	// Budget never waits on the driver.
	var gpuErr error
	src := m.gpus
	if src != nil {
		src = gpuErrorTap{src, &gpuErr}
	}
	b := Probe(src, m.nvmlErr, m.ram, override)
	b.At = m.clock.Now()

	m.mu.Lock()
	m.budget = b
	logErr := ""
	if gpuErr != nil && gpuErr.Error() != m.lastGPUErr {
		logErr = gpuErr.Error()
	}
	if gpuErr == nil {
		m.lastGPUErr = ""
	} else {
		m.lastGPUErr = gpuErr.Error()
	}
	m.mu.Unlock()
	if logErr != "" { // a GPU that stops answering is logged once per distinct error, not every tick
		m.log("GPU query failed: " + logErr)
	}
}

// gpuErrorTap records the error a GPUSource returned, so Refresh can log it
// while Probe still decides the budget.
type gpuErrorTap struct {
	src GPUSource
	err *error
}

func (t gpuErrorTap) GPUs() ([]GPU, error) {
	g, err := t.src.GPUs()
	*t.err = err
	return g, err
}

// Close stops the polling goroutine and waits for it. Safe to call twice.
func (m *Monitor) Close() {
	m.closeOnce.Do(func() { close(m.stop) })
	m.wg.Wait()
}
