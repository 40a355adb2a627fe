package vram

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
)

// GPU is one NVIDIA device as NVML reports it.
type GPU struct {
	Index                   int
	Name                    string
	TotalMB, FreeMB, UsedMB uint64
}

// GPUSource lists GPUs; the real one is NVML, tests use a fake.
type GPUSource interface {
	GPUs() ([]GPU, error)
}

// ramFallback ends every "no GPU" error so a user reading a log line knows
// what happens next, not only what went wrong.
const ramFallback = "using the system RAM budget"

// nvmlError says why NVML gave us no GPU. Cause is the short reason without
// the fallback sentence, so Probe and ChooseProvider can embed it in their
// own one-sentence reasons.
type nvmlError struct {
	cause string
	err   error // what NVML or the panic said, if anything
}

func (e *nvmlError) Error() string { return e.cause + ": " + ramFallback }
func (e *nvmlError) Unwrap() error { return e.err }

// noGPUCause is the short reason inside err: the cause of an OpenNVML error,
// or err's own text for any other error.
func noGPUCause(err error) string {
	var ne *nvmlError
	if errors.As(err, &ne) {
		return ne.cause
	}
	if err == nil {
		return "NVML not opened"
	}
	return err.Error()
}

// nvmlReturn is an nvmlReturn_t; the values are NVML's.
type nvmlReturn int

const (
	nvmlSuccess         nvmlReturn = 0
	nvmlNoPermission    nvmlReturn = 4
	nvmlDriverNotLoaded nvmlReturn = 9
	nvmlLibraryNotFound nvmlReturn = 12
	nvmlFunctionMissing nvmlReturn = 13
	nvmlGPUIsLost       nvmlReturn = 15
)

var nvmlNames = map[nvmlReturn]string{1: "ERROR_UNINITIALIZED", 2: "ERROR_INVALID_ARGUMENT", 3: "ERROR_NOT_SUPPORTED",
	4: "ERROR_NO_PERMISSION", 6: "ERROR_NOT_FOUND", 9: "ERROR_DRIVER_NOT_LOADED", 12: "ERROR_LIBRARY_NOT_FOUND",
	13: "ERROR_FUNCTION_NOT_FOUND", 15: "ERROR_GPU_IS_LOST", 18: "ERROR_LIB_RM_VERSION_MISMATCH", 999: "ERROR_UNKNOWN"}

func (r nvmlReturn) Error() string {
	if n, ok := nvmlNames[r]; ok {
		return n
	}
	return "NVML error " + strconv.Itoa(int(r))
}

// nvmlMemory is nvmlMemory_t (bytes).
type nvmlMemory struct{ Total, Free, Used uint64 }

// nvmlLib is the part of NVML the budget calls: dlNVML is the real one,
// tests fake it to run the GPU path without a GPU.
type nvmlLib interface {
	Init() nvmlReturn
	Shutdown() nvmlReturn
	DeviceCount() (int, nvmlReturn)
	// Device returns GPU i's name (with its own status: a missing name
	// is no reason to give the device up) and memory.
	Device(i int) (name string, nameRet nvmlReturn, mem nvmlMemory, ret nvmlReturn)
}

// OpenNVML opens libnvidia-ml.so.1 (dlopen) and initialises it. The
// returned func shuts NVML down; call it once you no longer need the source
// (extra calls do nothing). Without a driver or GPU it returns a nil source,
// a no-op func and an error that says so plainly and ends with "using the
// system RAM budget". It never panics.
func OpenNVML() (GPUSource, func(), error) {
	return openNVML(func() nvmlLib { return dlNVML{} })
}

// openNVML is OpenNVML on any nvmlLib. newLib runs under the same recover.
func openNVML(newLib func() nvmlLib) (src GPUSource, shutdown func(), err error) {
	noop := func() {}
	defer func() {
		if r := recover(); r != nil {
			src, shutdown = nil, noop
			err = &nvmlError{cause: fmt.Sprintf("NVML failed to start (panic: %v)", r)}
		}
	}()
	lib := newLib()
	switch ret := lib.Init(); ret {
	case nvmlSuccess:
	case nvmlLibraryNotFound:
		return nil, noop, &nvmlError{cause: "no NVIDIA driver (libnvidia-ml.so.1 not found)", err: ret}
	case nvmlDriverNotLoaded:
		return nil, noop, &nvmlError{cause: "NVIDIA driver installed but not loaded (nvmlInit: " + ret.Error() + ")", err: ret}
	default:
		return nil, noop, &nvmlError{cause: "NVML did not start (nvmlInit: " + ret.Error() + ")", err: ret}
	}
	s := &nvmlSource{lib: lib}
	gpus, gerr := s.GPUs()
	if gerr == nil && len(gpus) == 0 {
		gerr = &nvmlError{cause: "NVML found no NVIDIA GPU"}
	}
	if gerr != nil {
		s.shutdown()
		return nil, noop, gerr
	}
	return s, s.shutdown, nil
}

// nvmlSource is the real GPUSource. Its mutex matters: once Shutdown has
// unloaded the library, calling into NVML jumps to an unmapped symbol and
// kills the process (no recover catches a SIGSEGV), so GPUs must never run
// concurrently with or after shutdown.
type nvmlSource struct {
	lib    nvmlLib
	mu     sync.Mutex
	closed bool
}

func (s *nvmlSource) shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	func() {
		defer func() { _ = recover() }() // shutting down must not take the host with it
		s.lib.Shutdown()
	}()
}

// GPUs lists every device with its memory in MB.
func (s *nvmlSource) GPUs() (gpus []GPU, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, &nvmlError{cause: "NVML was shut down"}
	}
	defer func() {
		if r := recover(); r != nil {
			gpus, err = nil, &nvmlError{cause: fmt.Sprintf("NVML query failed (panic: %v)", r)}
		}
	}()
	n, ret := s.lib.DeviceCount()
	if ret != nvmlSuccess {
		return nil, &nvmlError{cause: "NVML could not count GPUs (" + ret.Error() + ")", err: ret}
	}
	gpus = make([]GPU, 0, n)
	for i := 0; i < n; i++ {
		name, nameRet, mem, ret := s.lib.Device(i)
		if ret != nvmlSuccess {
			return nil, &nvmlError{cause: fmt.Sprintf("NVML could not read GPU %d (%s)", i, ret.Error()), err: ret}
		}
		if nameRet != nvmlSuccess || name == "" {
			name = "NVIDIA GPU" // a missing name is no reason to give up the device
		}
		gpus = append(gpus, GPU{
			Index:   i,
			Name:    name,
			TotalMB: mem.Total >> 20,
			FreeMB:  mem.Free >> 20,
			UsedMB:  mem.Used >> 20,
		})
	}
	return gpus, nil
}
