package vram

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ONNX Runtime loads an execution provider from shared libraries that must
// sit next to libonnxruntime.so: the provider itself and the small bridge
// every provider library needs.
const (
	cudaProviderLib     = "libonnxruntime_providers_cuda.so"
	tensorrtProviderLib = "libonnxruntime_providers_tensorrt.so"
	sharedProviderLib   = "libonnxruntime_providers_shared.so"
)

// Choice is the execution provider ONNX Runtime sessions should use, and why.
type Choice struct {
	Provider string // "cpu" | "cuda" | "tensorrt"
	Reason   string // one sentence, starting with the provider
}

// ChooseProvider resolves execution_provider (auto|cpu|cuda|tensorrt; ""
// means auto). auto picks "cuda" when gpus is non-empty and the CUDA provider
// library is in ortLibDir (the directory of libonnxruntime.so, or that file
// itself), else "cpu". auto never picks "tensorrt": building its engines
// takes minutes on first use, which only a user who asked should wait for.
// An explicit cuda or tensorrt is honoured even without a GPU or provider
// library, but the Reason warns that ONNX Runtime will fall back to CPU.
func ChooseProvider(requested string, gpus []GPU, nvmlErr error, ortLibDir string) Choice {
	req := strings.ToLower(strings.TrimSpace(requested))
	dir := libDir(ortLibDir)

	gpuWhy := ""
	if len(gpus) == 0 {
		gpuWhy = "no NVIDIA GPU (NVML lists none)"
		if nvmlErr != nil {
			gpuWhy = "no NVIDIA GPU (NVML: " + noGPUCause(nvmlErr) + ")"
		}
	}

	switch req {
	case "", "auto":
		if gpuWhy != "" {
			return Choice{"cpu", "cpu: " + gpuWhy}
		}
		if missing := missingLibs(dir, cudaProviderLib); missing != "" {
			return Choice{"cpu", "cpu: GPU found but " + missing}
		}
		return Choice{"cuda", fmt.Sprintf("cuda: %s and the CUDA provider library are present", gpuName(gpus[0]))}
	case "cpu":
		return Choice{"cpu", "cpu: execution_provider = cpu"}
	case "cuda", "tensorrt":
		lib := cudaProviderLib
		if req == "tensorrt" {
			lib = tensorrtProviderLib
		}
		var problems []string
		if gpuWhy != "" {
			problems = append(problems, gpuWhy)
		}
		if missing := missingLibs(dir, lib); missing != "" {
			problems = append(problems, missing)
		}
		if len(problems) > 0 {
			return Choice{req, fmt.Sprintf("%s: execution_provider = %s, but %s; ONNX Runtime will fall back to CPU",
				req, req, strings.Join(problems, " and "))}
		}
		return Choice{req, fmt.Sprintf("%s: execution_provider = %s; %s and %s are present", req, req, gpuName(gpus[0]), lib)}
	default:
		return Choice{"cpu", fmt.Sprintf("cpu: unknown execution_provider %q (want auto, cpu, cuda or tensorrt)", requested)}
	}
}

// Available lists the execution providers that can run here: "cpu"
// always, "cuda" and "tensorrt" when a GPU is there and their provider
// libraries are next to ONNX Runtime in ortLibDir. Hosts offer these (the
// OBS filter's list), not ones the runtime does not have.
func Available(gpus []GPU, ortLibDir string) []string {
	out := []string{"cpu"}
	if len(gpus) == 0 {
		return out
	}
	dir := libDir(ortLibDir)
	if missingLibs(dir, cudaProviderLib) == "" {
		out = append(out, "cuda")
	}
	if missingLibs(dir, tensorrtProviderLib) == "" {
		out = append(out, "tensorrt")
	}
	return out
}

func gpuName(g GPU) string { return fmt.Sprintf("GPU %d %s", g.Index, g.Name) }

// libDir accepts the ONNX Runtime directory or the library file in it (the
// onnxruntime_library setting names the file).
func libDir(p string) string {
	if p == "" {
		return ""
	}
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
		return filepath.Dir(p)
	}
	return p
}

// missingLibs says which of provider and the shared bridge are absent from
// dir, as the tail of a sentence; "" when both are there.
func missingLibs(dir, provider string) string {
	if dir == "" {
		return provider + " cannot be looked for: the ONNX Runtime library directory is unknown"
	}
	var missing []string
	for _, name := range []string{provider, sharedProviderLib} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() {
			missing = append(missing, name)
		}
	}
	switch len(missing) {
	case 0:
		return ""
	case 1:
		return missing[0] + " is not next to the ONNX Runtime library in " + dir
	default:
		return strings.Join(missing, " and ") + " are not next to the ONNX Runtime library in " + dir
	}
}
