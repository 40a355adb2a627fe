package vram

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var h100 = GPU{Index: 0, Name: "NVIDIA H100", TotalMB: 81559, FreeMB: 80000, UsedMB: 1559}

func TestProbe(t *testing.T) {
	tests := []struct {
		name       string
		gpus       GPUSource
		nvmlErr    error
		ram        RAMSource
		override   int
		wantSource string
		wantLimit  uint64
		wantReason string // exact when it starts with "=", else a substring
	}{
		{"override wins over GPU", &fakeGPUs{gpus: []GPU{h100}}, nil, &fakeRAM{total: 8000, avail: 6000}, 2048,
			"config", 2048, "=vram_budget_mb = 2048"},
		{"first GPU, 80% of free", &fakeGPUs{gpus: []GPU{h100, {Index: 1, Name: "other", FreeMB: 10}}}, nil, &fakeRAM{total: 8000, avail: 6000}, 0,
			"gpu", 64000, "=GPU 0 NVIDIA H100: 81559 MB total, 80000 MB free; models may use 80% of free"},
		{"no NVML: half of available RAM", nil, errNoDriver, &fakeRAM{total: 8000, avail: 6000}, 0,
			"ram", 3000, "=no GPU (no NVIDIA driver (libnvidia-ml.so.1 not found)): 50% of available RAM (6000 of 8000 MB available)"},
		{"little RAM: 256 MB minimum", nil, errNoDriver, &fakeRAM{total: 1000, avail: 300}, 0,
			"ram", 256, "raised to the 256 MB minimum"},
		{"RAM unreadable: 256 MB minimum", nil, errNoDriver, &fakeRAM{err: errors.New("boom")}, 0,
			"ram", 256, "system RAM unknown (boom)"},
		{"nil RAM source", nil, nil, nil, 0, "ram", 256, "no RAM source"},
		{"GPU query fails: RAM", &fakeGPUs{err: errors.New("GPU is lost")}, nil, &fakeRAM{total: 8000, avail: 4000}, 0,
			"ram", 2000, "no GPU (GPU is lost)"},
		{"NVML lists no GPU", &fakeGPUs{}, nil, &fakeRAM{total: 8000, avail: 4000}, 0,
			"ram", 2000, "no GPU (NVML lists no GPU)"},
		{"negative override ignored", nil, errNoDriver, &fakeRAM{total: 8000, avail: 4000}, -5,
			"ram", 2000, "50% of available RAM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Probe(tt.gpus, tt.nvmlErr, tt.ram, tt.override)
			if b.Source != tt.wantSource || b.LimitMB != tt.wantLimit {
				t.Errorf("got %s %d MB, want %s %d MB (reason %q)", b.Source, b.LimitMB, tt.wantSource, tt.wantLimit, b.Reason)
			}
			if exact, ok := strings.CutPrefix(tt.wantReason, "="); ok {
				if b.Reason != exact {
					t.Errorf("reason %q, want %q", b.Reason, exact)
				}
			} else if !strings.Contains(b.Reason, tt.wantReason) {
				t.Errorf("reason %q lacks %q", b.Reason, tt.wantReason)
			}
		})
	}
	t.Run("figures filled whichever rule wins", func(t *testing.T) {
		b := Probe(&fakeGPUs{gpus: []GPU{h100}}, nil, &fakeRAM{total: 8000, avail: 6000}, 100)
		if len(b.GPUs) != 1 || b.RAMTotalMB != 8000 || b.RAMAvailableMB != 6000 {
			t.Errorf("got %+v", b)
		}
	})
}

func TestSystemRAM(t *testing.T) {
	total, avail, err := SystemRAM().RAM()
	if err != nil {
		t.Fatal(err)
	}
	if total == 0 || avail > total {
		t.Errorf("total %d MB, available %d MB", total, avail)
	}
}

func TestProcRAM(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	meminfo := write("meminfo", "MemTotal:       16384000 kB\nMemFree:         1024000 kB\nMemAvailable:    8192000 kB\nBuffers: 1 kB\n")
	oldKernel := write("old", "MemTotal: 2048000 kB\nMemFree: 102400 kB\nBuffers: 102400 kB\nCached: 204800 kB\n")
	noTotal := write("bad", "garbage\nMemFree: 5 kB\n")
	limit := write("max", "4294967296\n")    // 4096 MB
	used := write("current", "3221225472\n") // 3072 MB
	unlimited := write("unlimited", "max\n")
	tests := []struct {
		name             string
		p                procRAM
		wantTotal, avail uint64
		wantErr          string
	}{
		{"meminfo", procRAM{meminfo: meminfo}, 16000, 8000, ""},
		{"no MemAvailable", procRAM{meminfo: oldKernel}, 2000, 400, ""},
		{"cgroup limit", procRAM{meminfo: meminfo, cgroupMax: limit, cgroupUsed: used}, 4096, 1024, ""},
		{"cgroup unlimited", procRAM{meminfo: meminfo, cgroupMax: unlimited, cgroupUsed: used}, 16000, 8000, ""},
		{"missing file", procRAM{meminfo: filepath.Join(dir, "nope")}, 0, 0, "reading system memory"},
		{"no MemTotal", procRAM{meminfo: noTotal}, 0, 0, "no MemTotal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			total, avail, err := tt.p.RAM()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || total != tt.wantTotal || avail != tt.avail {
				t.Errorf("got %d/%d MB, %v; want %d/%d MB", total, avail, err, tt.wantTotal, tt.avail)
			}
		})
	}
}

func TestSizeOf(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.onnx"), filepath.Join(dir, "b.bin")
	if err := os.WriteFile(a, make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, make([]byte, 2000), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		paths []string
		want  int64
	}{
		{"none", nil, 0},
		{"one", []string{a}, 1300},
		{"two and a missing one", []string{a, b, filepath.Join(dir, "missing")}, 3900},
		{"directory counts 0", []string{dir}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SizeOf(tt.paths...); got != tt.want {
				t.Errorf("SizeOf = %d, want %d", got, tt.want)
			}
		})
	}
}
