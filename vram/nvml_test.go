package vram

import (
	"slices"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
)

// TestOpenNVML runs the real NVML path: without a driver (CI, this dev box)
// it must explain the RAM fallback without panicking; on a GPU machine it
// must list a GPU with memory, and shutting down twice must be harmless.
func TestOpenNVML(t *testing.T) {
	src, shutdown, err := OpenNVML()
	if shutdown == nil {
		t.Fatal("nil shutdown func")
	}
	defer shutdown()
	if err != nil {
		t.Logf("no NVML here: %v", err)
		if src != nil {
			t.Error("source returned together with an error")
		}
		if !strings.Contains(err.Error(), "using the system RAM budget") {
			t.Errorf("error %q does not mention the RAM budget", err)
		}
		b := Probe(src, err, SystemRAM(), 0)
		if b.Source != "ram" || b.LimitMB < minRAMMB {
			t.Errorf("budget %+v", b)
		}
		t.Logf("budget: %s", b.Reason)
		return
	}
	gpus, err := src.GPUs()
	if err != nil {
		t.Fatal(err)
	}
	if len(gpus) == 0 || gpus[0].TotalMB == 0 || gpus[0].Name == "" || gpus[0].FreeMB > gpus[0].TotalMB {
		t.Fatalf("GPUs %+v", gpus)
	}
	for _, g := range gpus {
		t.Logf("GPU %d %s: %d MB total, %d MB free, %d MB used", g.Index, g.Name, g.TotalMB, g.FreeMB, g.UsedMB)
	}
	b := Probe(src, nil, SystemRAM(), 0)
	if b.Source != "gpu" || b.LimitMB == 0 {
		t.Errorf("budget %+v", b)
	}
	t.Logf("budget: %s", b.Reason)
	c := ChooseProvider("auto", gpus, nil, "")
	t.Logf("provider: %s", c.Reason)

	shutdown()
	if _, err := src.GPUs(); err == nil {
		t.Error("GPUs after shutdown must fail, not call into an unloaded library")
	}
	shutdown() // twice: no-op
}

// fakeNVML is go-nvml's mock with devices of the given memory (bytes).
func fakeNVML(initRet nvml.Return, mems ...nvml.Memory) (*mock.Interface, *int) {
	shutdowns := 0
	lib := &mock.Interface{
		InitFunc:           func() nvml.Return { return initRet },
		ShutdownFunc:       func() nvml.Return { shutdowns++; return nvml.SUCCESS },
		DeviceGetCountFunc: func() (int, nvml.Return) { return len(mems), nvml.SUCCESS },
		DeviceGetHandleByIndexFunc: func(i int) (nvml.Device, nvml.Return) {
			if i == 1 {
				return &mock.Device{ // a device whose name cannot be read
					GetNameFunc:       func() (string, nvml.Return) { return "", nvml.ERROR_NOT_SUPPORTED },
					GetMemoryInfoFunc: func() (nvml.Memory, nvml.Return) { return mems[i], nvml.SUCCESS },
				}, nvml.SUCCESS
			}
			return &mock.Device{
				GetNameFunc:       func() (string, nvml.Return) { return "NVIDIA H100 80GB HBM3", nvml.SUCCESS },
				GetMemoryInfoFunc: func() (nvml.Memory, nvml.Return) { return mems[i], nvml.SUCCESS },
			}, nvml.SUCCESS
		},
	}
	return lib, &shutdowns
}

// TestOpenNVMLMock runs the GPU path of OpenNVML against go-nvml's mock, so
// it is covered on machines without a GPU too.
func TestOpenNVMLMock(t *testing.T) {
	h100mem := nvml.Memory{Total: 81559 << 20, Free: 80000 << 20, Used: 1559 << 20}
	t.Run("two GPUs", func(t *testing.T) {
		lib, shutdowns := fakeNVML(nvml.SUCCESS, h100mem, nvml.Memory{Total: 1 << 30, Free: 512 << 20, Used: 512 << 20})
		src, shutdown, err := openNVML(func() nvml.Interface { return lib })
		if err != nil {
			t.Fatal(err)
		}
		gpus, err := src.GPUs()
		want := []GPU{
			{Index: 0, Name: "NVIDIA H100 80GB HBM3", TotalMB: 81559, FreeMB: 80000, UsedMB: 1559},
			{Index: 1, Name: "NVIDIA GPU", TotalMB: 1024, FreeMB: 512, UsedMB: 512},
		}
		if err != nil || !slices.Equal(gpus, want) {
			t.Fatalf("GPUs() = %+v, %v", gpus, err)
		}
		if b := Probe(src, nil, &fakeRAM{total: 1000, avail: 500}, 0); b.Source != "gpu" || b.LimitMB != 64000 {
			t.Errorf("budget %+v", b)
		}
		shutdown()
		shutdown()
		if *shutdowns != 1 {
			t.Errorf("nvml.Shutdown called %d times", *shutdowns)
		}
		if _, err := src.GPUs(); err == nil || !strings.Contains(err.Error(), "shut down") {
			t.Errorf("GPUs after shutdown: %v", err)
		}
	})
	tests := []struct {
		name      string
		newLib    func() nvml.Interface
		want      string
		shutdowns int
	}{
		{"library missing", func() nvml.Interface { l, _ := fakeNVML(nvml.ERROR_LIBRARY_NOT_FOUND); return l },
			"no NVIDIA driver (libnvidia-ml.so.1 not found): using the system RAM budget", 0},
		{"driver not loaded", func() nvml.Interface { l, _ := fakeNVML(nvml.ERROR_DRIVER_NOT_LOADED); return l },
			"NVIDIA driver installed but not loaded", 0},
		{"other init failure", func() nvml.Interface { l, _ := fakeNVML(nvml.ERROR_NO_PERMISSION); return l },
			"NVML did not start (nvml.Init: ERROR_NO_PERMISSION)", 0},
		{"no devices", func() nvml.Interface { l, _ := fakeNVML(nvml.SUCCESS); return l },
			"NVML found no NVIDIA GPU: using the system RAM budget", 1},
		{"panic", func() nvml.Interface { panic("dlopen exploded") },
			"NVML failed to start (panic: dlopen exploded): using the system RAM budget", 0},
		{"count fails", func() nvml.Interface {
			l, _ := fakeNVML(nvml.SUCCESS, h100mem)
			l.DeviceGetCountFunc = func() (int, nvml.Return) { return 0, nvml.ERROR_GPU_IS_LOST }
			return l
		}, "NVML could not count GPUs (ERROR_GPU_IS_LOST)", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lib nvml.Interface
			src, shutdown, err := openNVML(func() nvml.Interface { lib = tt.newLib(); return lib })
			if src != nil || shutdown == nil || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, %v; want error with %q", src, err, tt.want)
			}
			if !strings.HasSuffix(err.Error(), ": using the system RAM budget") {
				t.Errorf("error %q does not say what happens next", err)
			}
			shutdown()
			if m, ok := lib.(*mock.Interface); ok && len(m.ShutdownCalls()) != tt.shutdowns {
				t.Errorf("Shutdown called %d times, want %d", len(m.ShutdownCalls()), tt.shutdowns)
			}
		})
	}
}
