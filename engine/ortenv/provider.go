package ortenv

import (
	"fmt"

	ort "github.com/yalue/onnxruntime_go"
)

// Execution providers a session can run on. "auto" is resolved before it
// gets here (vram.ChooseProvider): these are concrete.
const (
	CPU      = "cpu"
	CUDA     = "cuda"
	TensorRT = "tensorrt"
)

// NewSession creates a session through create with options for provider
// and threads intra-op threads (0 = ONNX Runtime's default, one per core).
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
	if threads > 0 {
		if err := opts.SetIntraOpNumThreads(threads); err != nil {
			return fmt.Errorf("session options: %w", err)
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
