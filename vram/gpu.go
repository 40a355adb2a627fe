package vram

import (
	"errors"
	"fmt"
	"sync"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
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

// OpenNVML loads libnvidia-ml through go-nvml and initialises it. The returned
// func shuts NVML down; call it once you no longer need the source (extra
// calls do nothing). Without a driver or GPU it returns a nil source, a no-op
// func and an error that says so plainly and ends with "using the system RAM
// budget". It never panics: a panic inside go-nvml becomes the error.
func OpenNVML() (GPUSource, func(), error) {
	return openNVML(func() nvml.Interface { return nvml.New() })
}

// openNVML is OpenNVML on any nvml.Interface; tests pass go-nvml's mock to
// run the GPU path without a GPU. newLib runs under the same recover.
func openNVML(newLib func() nvml.Interface) (src GPUSource, shutdown func(), err error) {
	noop := func() {}
	defer func() {
		if r := recover(); r != nil {
			src, shutdown = nil, noop
			err = &nvmlError{cause: fmt.Sprintf("NVML failed to start (panic: %v)", r)}
		}
	}()
	lib := newLib()
	switch ret := lib.Init(); ret {
	case nvml.SUCCESS:
	case nvml.ERROR_LIBRARY_NOT_FOUND:
		return nil, noop, &nvmlError{cause: "no NVIDIA driver (libnvidia-ml.so.1 not found)", err: ret}
	case nvml.ERROR_DRIVER_NOT_LOADED:
		return nil, noop, &nvmlError{cause: "NVIDIA driver installed but not loaded (nvml.Init: " + ret.Error() + ")", err: ret}
	default:
		return nil, noop, &nvmlError{cause: "NVML did not start (nvml.Init: " + ret.Error() + ")", err: ret}
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
	lib    nvml.Interface
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
	n, ret := s.lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, &nvmlError{cause: "NVML could not count GPUs (" + ret.Error() + ")", err: ret}
	}
	gpus = make([]GPU, 0, n)
	for i := 0; i < n; i++ {
		dev, ret := s.lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			return nil, &nvmlError{cause: fmt.Sprintf("NVML could not open GPU %d (%s)", i, ret.Error()), err: ret}
		}
		name, ret := dev.GetName()
		if ret != nvml.SUCCESS {
			name = "NVIDIA GPU" // a missing name is no reason to give up the device
		}
		mem, ret := dev.GetMemoryInfo()
		if ret != nvml.SUCCESS {
			return nil, &nvmlError{cause: fmt.Sprintf("NVML could not read memory of GPU %d (%s)", i, ret.Error()), err: ret}
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
