package testmodels

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
)

// repoRoot walks up to go.mod.
func repoRoot(t *testing.T) string {
	dir, _ := os.Getwd()
	for ; dir != "/"; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
	}
	t.Fatal("go.mod not found")
	return ""
}

// Generate writes the test models into a temp dir and starts ONNX Runtime.
func generate(t *testing.T) string {
	root := repoRoot(t)
	out := t.TempDir()
	cmd := exec.Command("/usr/bin/python3", filepath.Join(root, "tools/testmodels/gen.py"), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen.py: %v\n%s(python3-onnx comes with make deps)", err, b)
	}
	lib := filepath.Join(root, "third_party/onnxruntime/lib/libonnxruntime.so.1")
	if tp := os.Getenv("FACELIVE_THIRD_PARTY"); tp != "" {
		lib = filepath.Join(tp, "onnxruntime/lib/libonnxruntime.so.1")
	}
	if _, err := os.Stat(lib); err != nil {
		t.Fatalf("%s missing: run make deps", lib)
	}
	if !ort.IsInitialized() {
		ort.SetSharedLibraryPath(lib)
		if err := ort.InitializeEnvironment(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func run(t *testing.T, path string, in []ort.Value, outShapes []ort.Shape) [][]float32 {
	t.Helper()
	inInfo, outInfo, err := ort.GetInputOutputInfo(path)
	if err != nil {
		t.Fatal(err)
	}
	var inNames, outNames []string
	for _, i := range inInfo {
		inNames = append(inNames, i.Name)
	}
	var outs []ort.Value
	for i, o := range outInfo {
		outNames = append(outNames, o.Name)
		v, err := ort.NewEmptyTensor[float32](outShapes[i])
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, v)
	}
	s, err := ort.NewAdvancedSession(path, inNames, outNames, in, outs, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	if err := s.Run(); err != nil {
		t.Fatal(err)
	}
	var res [][]float32
	for _, o := range outs {
		res = append(res, o.(*ort.Tensor[float32]).GetData())
	}
	return res
}

func TestGeneratedModelsComputeWhatTheySay(t *testing.T) {
	dir := generate(t)
	const s = 224
	face := make([]float32, s*s*3)
	for i := range face {
		face[i] = float32(i%251) / 250
	}
	in, _ := ort.NewTensor(ort.NewShape(1, s, s, 3), face)
	outs := run(t, filepath.Join(dir, "dfm.onnx"), []ort.Value{in},
		[]ort.Shape{ort.NewShape(1, s, s, 1), ort.NewShape(1, s, s, 3), ort.NewShape(1, s, s, 1)})
	mask, celeb := outs[0], outs[1]
	for p := 0; p < s*s; p++ { // celeb = input with B and R swapped
		if celeb[3*p] != face[3*p+2] || celeb[3*p+1] != face[3*p+1] || celeb[3*p+2] != face[3*p] {
			t.Fatalf("dfm pixel %d: %v, input %v", p, celeb[3*p:3*p+3], face[3*p:3*p+3])
		}
	}
	if mask[(s/2)*s+s/2] != 1 || mask[0] != 0 {
		t.Fatalf("dfm mask centre %v corner %v, want 1 and 0", mask[(s/2)*s+s/2], mask[0])
	}

	morph, _ := ort.NewTensor(ort.NewShape(1), []float32{0.5})
	outs = run(t, filepath.Join(dir, "dfm_morph.onnx"), []ort.Value{in, morph},
		[]ort.Shape{ort.NewShape(1, s, s, 1), ort.NewShape(1, s, s, 3), ort.NewShape(1, s, s, 1)})
	if got, want := outs[1][0], face[2]*0.5; got != want {
		t.Fatalf("dfm_morph first value %v, want %v", got, want)
	}

	target := make([]float32, 3*128*128)
	for i := range target {
		target[i] = 0.5
	}
	src := make([]float32, 512)
	src[0] = 0.02
	tt, _ := ort.NewTensor(ort.NewShape(1, 3, 128, 128), target)
	st, _ := ort.NewTensor(ort.NewShape(1, 512), src)
	outs = run(t, filepath.Join(dir, "inswapper.onnx"), []ort.Value{tt, st}, []ort.Shape{ort.NewShape(1, 3, 128, 128)})
	if got := outs[0][777]; math.Abs(float64(got)-0.66) > 1e-6 {
		t.Fatalf("inswapper output %v, want 0.5 + 8*0.02 = 0.66", got)
	}

	img := make([]float32, 3*112*112)
	for c := 0; c < 3; c++ {
		for i := 0; i < 112*112; i++ {
			img[c*112*112+i] = float32(c+1) / 10
		}
	}
	it, _ := ort.NewTensor(ort.NewShape(1, 3, 112, 112), img)
	outs = run(t, filepath.Join(dir, "arcface.onnx"), []ort.Value{it}, []ort.Shape{ort.NewShape(1, 512)})
	if e := outs[0]; math.Abs(float64(e[0])-0.1) > 1e-5 || math.Abs(float64(e[2])-0.3) > 1e-5 || e[100] != 1 {
		t.Fatalf("arcface embedding starts %v, want 0.1 0.2 0.3 then 1s", e[:4])
	}
}
