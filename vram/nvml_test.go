package vram

import (
	"slices"
	"strings"
	"testing"
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

// fakeNVML is an nvmlLib with devices of the given memory (bytes); device 1
// has no readable name.
type fakeNVML struct {
	initRet   nvmlReturn
	countRet  nvmlReturn
	mems      []nvmlMemory
	shutdowns int
}

func (f *fakeNVML) Init() nvmlReturn     { return f.initRet }
func (f *fakeNVML) Shutdown() nvmlReturn { f.shutdowns++; return nvmlSuccess }
func (f *fakeNVML) DeviceCount() (int, nvmlReturn) {
	return len(f.mems), f.countRet
}
func (f *fakeNVML) Device(i int) (string, nvmlReturn, nvmlMemory, nvmlReturn) {
	if i == 1 {
		return "", 3, f.mems[i], nvmlSuccess
	}
	return "NVIDIA H100 80GB HBM3", nvmlSuccess, f.mems[i], nvmlSuccess
}

// TestOpenNVMLMock runs the GPU path of OpenNVML against a fake NVML, so
// it is covered on machines without a GPU too.
func TestOpenNVMLMock(t *testing.T) {
	h100mem := nvmlMemory{Total: 81559 << 20, Free: 80000 << 20, Used: 1559 << 20}
	t.Run("two GPUs", func(t *testing.T) {
		lib := &fakeNVML{mems: []nvmlMemory{h100mem, {Total: 1 << 30, Free: 512 << 20, Used: 512 << 20}}}
		src, shutdown, err := openNVML(func() nvmlLib { return lib })
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
		if lib.shutdowns != 1 {
			t.Errorf("nvmlShutdown called %d times", lib.shutdowns)
		}
		if _, err := src.GPUs(); err == nil || !strings.Contains(err.Error(), "shut down") {
			t.Errorf("GPUs after shutdown: %v", err)
		}
	})
	tests := []struct {
		name      string
		lib       *fakeNVML
		panics    bool
		want      string
		shutdowns int
	}{
		{"library missing", &fakeNVML{initRet: nvmlLibraryNotFound},
			false, "no NVIDIA driver (libnvidia-ml.so.1 not found): using the system RAM budget", 0},
		{"driver not loaded", &fakeNVML{initRet: nvmlDriverNotLoaded}, false, "NVIDIA driver installed but not loaded", 0},
		{"other init failure", &fakeNVML{initRet: nvmlNoPermission}, false, "NVML did not start (nvmlInit: ERROR_NO_PERMISSION)", 0},
		{"functions missing", &fakeNVML{initRet: nvmlFunctionMissing}, false, "ERROR_FUNCTION_NOT_FOUND", 0},
		{"no devices", &fakeNVML{}, false, "NVML found no NVIDIA GPU: using the system RAM budget", 1},
		{"panic", nil, true, "NVML failed to start (panic: dlopen exploded): using the system RAM budget", 0},
		{"count fails", &fakeNVML{countRet: nvmlGPUIsLost, mems: []nvmlMemory{h100mem}},
			false, "NVML could not count GPUs (ERROR_GPU_IS_LOST)", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, shutdown, err := openNVML(func() nvmlLib {
				if tt.panics {
					panic("dlopen exploded")
				}
				return tt.lib
			})
			if src != nil || shutdown == nil || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, %v; want error with %q", src, err, tt.want)
			}
			if !strings.HasSuffix(err.Error(), ": using the system RAM budget") {
				t.Errorf("error %q does not say what happens next", err)
			}
			shutdown()
			if tt.lib != nil && tt.lib.shutdowns != tt.shutdowns {
				t.Errorf("Shutdown called %d times, want %d", tt.lib.shutdowns, tt.shutdowns)
			}
		})
	}
}
