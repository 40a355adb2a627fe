package vram

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestChooseProvider(t *testing.T) {
	full := t.TempDir() // a fake ONNX Runtime directory with every provider
	for _, name := range []string{"libonnxruntime.so.1", cudaProviderLib, tensorrtProviderLib, sharedProviderLib} {
		if err := os.WriteFile(filepath.Join(full, name), []byte("fake"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cpuOnly := t.TempDir()
	noShared := t.TempDir()
	if err := os.WriteFile(filepath.Join(noShared, cudaProviderLib), []byte("fake"), 0o644); err != nil {
		t.Fatal(err)
	}
	gpus := []GPU{h100}

	tests := []struct {
		name       string
		requested  string
		gpus       []GPU
		nvmlErr    error
		dir        string
		want       string
		wantReason []string
	}{
		{"auto, no GPU", "auto", nil, errNoDriver, full, "cpu",
			[]string{"cpu: no NVIDIA GPU (NVML: no NVIDIA driver (libnvidia-ml.so.1 not found))"}},
		{"auto, NVML lists none", "", nil, nil, full, "cpu", []string{"cpu: no NVIDIA GPU (NVML lists none)"}},
		{"auto, GPU but no provider", "auto", gpus, nil, cpuOnly, "cpu",
			[]string{"cpu: GPU found but libonnxruntime_providers_cuda.so and libonnxruntime_providers_shared.so are not next to the ONNX Runtime library in " + cpuOnly}},
		{"auto, provider but no shared bridge", "auto", gpus, nil, noShared, "cpu",
			[]string{"libonnxruntime_providers_shared.so is not next to"}},
		{"auto, directory unknown", "auto", gpus, nil, "", "cpu", []string{"directory is unknown"}},
		{"auto, GPU and provider", "AUTO", gpus, nil, full, "cuda",
			[]string{"cuda: GPU 0 NVIDIA H100 and the CUDA provider library are present"}},
		{"auto, library file given", "auto", gpus, nil, filepath.Join(full, "libonnxruntime.so.1"), "cuda", []string{"cuda: GPU 0"}},
		{"cpu", "cpu", gpus, nil, full, "cpu", []string{"cpu: execution_provider = cpu"}},
		{"cuda present", "cuda", gpus, nil, full, "cuda", []string{"cuda: execution_provider = cuda; GPU 0 NVIDIA H100"}},
		{"cuda without GPU warns", "cuda", nil, errNoDriver, full, "cuda",
			[]string{"no NVIDIA GPU", "will fall back to CPU"}},
		{"cuda without provider warns", "cuda", gpus, nil, cpuOnly, "cuda",
			[]string{cudaProviderLib + " and", "will fall back to CPU"}},
		{"tensorrt present", "tensorrt", gpus, nil, full, "tensorrt", []string{"tensorrt: execution_provider = tensorrt", tensorrtProviderLib + " are present"}},
		{"tensorrt missing both", "tensorrt", nil, nil, cpuOnly, "tensorrt",
			[]string{"no NVIDIA GPU", tensorrtProviderLib, "will fall back to CPU"}},
		{"unknown", "rocm", gpus, nil, full, "cpu", []string{`unknown execution_provider "rocm"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ChooseProvider(tt.requested, tt.gpus, tt.nvmlErr, tt.dir)
			if got.Provider != tt.want {
				t.Errorf("provider %q, want %q (%s)", got.Provider, tt.want, got.Reason)
			}
			for _, w := range tt.wantReason {
				if !strings.Contains(got.Reason, w) {
					t.Errorf("reason %q lacks %q", got.Reason, w)
				}
			}
			if strings.Contains(got.Reason, "\n") || !strings.HasPrefix(got.Reason, got.Provider+":") {
				t.Errorf("reason %q is not one sentence led by the provider", got.Reason)
			}
		})
	}
}

// Available lists what can run: the CPU always, a GPU provider only with a
// GPU and its libraries next to ONNX Runtime (NVML is faked: no GPU here).
func TestAvailableProviders(t *testing.T) {
	full, cudaOnly, none := t.TempDir(), t.TempDir(), t.TempDir()
	for dir, names := range map[string][]string{
		full:     {"libonnxruntime.so.1", cudaProviderLib, tensorrtProviderLib, sharedProviderLib},
		cudaOnly: {"libonnxruntime.so.1", cudaProviderLib, sharedProviderLib},
	} {
		for _, name := range names {
			if err := os.WriteFile(filepath.Join(dir, name), []byte("fake"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name string
		gpus []GPU
		dir  string
		want string
	}{
		{"no GPU, every library", nil, full, "cpu"},
		{"GPU, every library", []GPU{h100}, full, "cpu,cuda,tensorrt"},
		{"GPU, CUDA only (the library file named)", []GPU{h100}, filepath.Join(cudaOnly, "libonnxruntime.so.1"), "cpu,cuda"},
		{"GPU, the npm build (CPU only)", []GPU{h100}, none, "cpu"},
	} {
		if got := strings.Join(Available(tc.gpus, tc.dir), ","); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
