package vram

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func countPrefix(lines []string, prefix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// settle waits for the Refresh in progress (the one a fake RAM call just
// reported) to store its budget: Refresh holds refreshMu throughout.
func settle(m *Monitor) {
	m.refreshMu.Lock()
	m.refreshMu.Unlock() // empty on purpose: we only wait for the holder
}

func TestMonitorLogsMissingNVMLOnce(t *testing.T) {
	var logs logSink
	m := NewMonitor(nil, errNoDriver, &fakeRAM{total: 8000, avail: 4000}, 0, 0, logs.log)
	for range 5 {
		m.Refresh()
	}
	m.SetOverride(0)
	lines := logs.all()
	if n := countPrefix(lines, "NVML not available: "); n != 1 {
		t.Fatalf("logged NVML absence %d times: %q", n, lines)
	}
	if want := "NVML not available: no NVIDIA driver (libnvidia-ml.so.1 not found): using the system RAM budget"; lines[0] != want {
		t.Errorf("log %q, want %q", lines[0], want)
	}
	if b := m.Budget(); b.Source != "ram" || b.LimitMB != 2000 {
		t.Errorf("budget %+v", b)
	}
	m.Close()
	m.Close() // idempotent
}

func TestMonitorTicksAndOverride(t *testing.T) {
	gpus := &fakeGPUs{gpus: []GPU{h100}}
	ram := &fakeRAM{total: 8000, avail: 4000, called: make(chan struct{}, 1)}
	ticks := make(chan time.Time)
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var logs logSink
	m := NewMonitorConfig(MonitorConfig{
		GPUs: gpus, RAM: ram, Ticks: ticks, Log: logs.log, Clock: fakeClock{at},
	})
	<-ram.called // the first probe, in the constructor

	t.Run("first probe", func(t *testing.T) {
		b := m.Budget()
		if b.Source != "gpu" || b.LimitMB != 64000 || !b.At.Equal(at) {
			t.Errorf("budget %+v", b)
		}
	})
	t.Run("tick re-probes", func(t *testing.T) {
		gpus.set([]GPU{{Name: "NVIDIA H100", TotalMB: 81559, FreeMB: 1000}}, nil)
		ticks <- at
		<-ram.called
		settle(m)
		if b := m.Budget(); b.LimitMB != 800 {
			t.Errorf("after tick: %+v", b)
		}
	})
	t.Run("override", func(t *testing.T) {
		go m.SetOverride(512)
		<-ram.called
		settle(m)
		if b := m.Budget(); b.Source != "config" || b.LimitMB != 512 {
			t.Errorf("after override: %+v", b)
		}
	})
	t.Run("GPU error logged once, budget falls back to RAM", func(t *testing.T) {
		go m.SetOverride(0)
		<-ram.called
		gpus.set(nil, errors.New("GPU is lost"))
		for range 3 {
			ticks <- at
			<-ram.called
		}
		settle(m)
		if b := m.Budget(); b.Source != "ram" || !strings.Contains(b.Reason, "GPU is lost") {
			t.Errorf("budget %+v", b)
		}
		lines := logs.all()
		if n := countPrefix(lines, "GPU query failed: GPU is lost"); n != 1 {
			t.Errorf("logged %d times: %q", n, lines)
		}
		if n := countPrefix(lines, "NVML not available"); n != 0 {
			t.Errorf("NVML is available here, yet: %q", lines)
		}
	})
	t.Run("Budget returns a copy", func(t *testing.T) {
		gpus.set([]GPU{h100}, nil)
		ticks <- at
		<-ram.called
		settle(m)
		b := m.Budget()
		b.GPUs[0].Name = "changed"
		if m.Budget().GPUs[0].Name != h100.Name {
			t.Error("Budget shares its GPUs slice")
		}
	})
	m.Close()
	m.Close()
	select {
	case ticks <- at:
		t.Error("goroutine still reading ticks after Close")
	default:
	}
}

func TestMonitorRealTicker(t *testing.T) {
	// Only that a running ticker goroutine stops: no timing is asserted.
	m := NewMonitor(nil, nil, &fakeRAM{total: 1000, avail: 800}, 0, time.Millisecond, nil)
	if b := m.Budget(); b.Source != "ram" || b.LimitMB != 400 {
		t.Errorf("budget %+v", b)
	}
	m.Close()
	m.Close()
}
