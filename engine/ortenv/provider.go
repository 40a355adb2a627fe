package ortenv

import (
	"fmt"
	"runtime"

	ort "github.com/yalue/onnxruntime_go"
)

// Execution providers a session can run on. "auto" is resolved before it
// gets here (vram.ChooseProvider): these are concrete.
const (
	CPU      = "cpu"
	CUDA     = "cuda"
	TensorRT = "tensorrt"
)

// BesideLivePath is the intra-op thread count for a model that runs beside
// the live path (track, align, paste every frame): every core but one, at
// least one, so that the live path keeps a core.
func BesideLivePath() int { return besideLivePath(runtime.NumCPU()) }

func besideLivePath(cores int) int { return max(1, cores-1) }

// sessionSettings is what withOptions sets for a thread count: the intra-op
// threads (0 leaves ONNX Runtime's default) and session config entries.
type sessionSettings struct {
	threads int
	entries [][2]string
}

// settingsFor turns spinning off whenever threads are counted: spinning
// threads busy-wait for work instead of sleeping, so they hold cores the
// live path beside them needs even when they have nothing to do.
func settingsFor(threads int) sessionSettings {
	if threads <= 0 {
		return sessionSettings{}
	}
	return sessionSettings{threads: threads, entries: [][2]string{
		{"session.intra_op.allow_spinning", "0"},
		{"session.inter_op.allow_spinning", "0"},
	}}
}

// NewSession creates a session through create with options for provider
// and threads intra-op threads without spinning (0 = ONNX Runtime's
// default: one spinning thread per core, which no session beside the live
// path may take; see BesideLivePath).
// A GPU provider that ONNX Runtime cannot append, or a session that fails to
// start on it, falls back to the CPU: the stream must not die because a
// driver is missing. used is the provider the session runs on; note says
// why it is not the one asked for ("" when it is).
func NewSession(provider string, threads int, create func(*ort.SessionOptions) error) (used, note string, err error) {
	if provider != CUDA && provider != TensorRT {
		return CPU, "", withOptions(CPU, threads, create)
	}
	gpuErr := withOptions(provider, threads, create)
	if gpuErr == nil {
		return provider, "", nil
	}
	note = fmt.Sprintf("execution provider %s failed (%v); running on the CPU instead", provider, gpuErr)
	if err := withOptions(CPU, threads, create); err != nil {
		return CPU, note, err
	}
	return CPU, note, nil
}

func withOptions(provider string, threads int, create func(*ort.SessionOptions) error) error {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return fmt.Errorf("session options: %w", err)
	}
	defer opts.Destroy()
	set := settingsFor(threads)
	if set.threads > 0 {
		if err := opts.SetIntraOpNumThreads(set.threads); err != nil {
			return fmt.Errorf("session options: %w", err)
		}
	}
	for _, e := range set.entries {
		if err := opts.AddSessionConfigEntry(e[0], e[1]); err != nil {
			return fmt.Errorf("session options %s=%s: %w", e[0], e[1], err)
		}
	}
	switch provider {
	case CUDA:
		c, err := ort.NewCUDAProviderOptions()
		if err != nil {
			return fmt.Errorf("CUDA provider options: %w", err)
		}
		defer c.Destroy()
		if err := opts.AppendExecutionProviderCUDA(c); err != nil {
			return fmt.Errorf("append CUDA provider: %w", err)
		}
	case TensorRT:
		t, err := ort.NewTensorRTProviderOptions()
		if err != nil {
			return fmt.Errorf("TensorRT provider options: %w", err)
		}
		defer t.Destroy()
		if err := opts.AppendExecutionProviderTensorRT(t); err != nil {
			return fmt.Errorf("append TensorRT provider: %w", err)
		}
	}
	return create(opts)
}
