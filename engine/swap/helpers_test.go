package swap

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"facelive/internal/assets/assetstest"

	"gocv.io/x/gocv"

	"facelive/engine/detect"
	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
	"facelive/engine/landmark"
	"facelive/engine/ortenv"
)

// The assets make deps fetches (see internal/assets/assetstest).
var (
	repoRoot   = assetstest.RepoRoot
	thirdParty = assetstest.Dir
	asset      = assetstest.Path
)

// modelsDir holds the generated test models of this test binary.
var (
	modelsOnce sync.Once
	modelsDir  string
	modelsErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if modelsDir != "" {
		os.RemoveAll(modelsDir)
	}
	os.Exit(code)
}

// initORT loads ONNX Runtime from FACELIVE_ONNXRUNTIME_LIB or third_party,
// as the engine does before it builds a swapper.
func initORT(t testing.TB) {
	t.Helper()
	lib := os.Getenv(ortenv.EnvLibrary)
	if lib == "" {
		lib = asset(t, "onnxruntime/lib/"+ortenv.LibraryName)
	} else if _, err := os.Stat(lib); err != nil {
		t.Fatalf("%s=%s is missing: run make deps", ortenv.EnvLibrary, lib)
	}
	if err := ortenv.Init(lib); err != nil {
		t.Fatal(err)
	}
}

// testModel returns the path of a model tools/testmodels/gen.py writes
// (generated once per test binary) and initialises ONNX Runtime.
func testModel(t testing.TB, name string) string {
	t.Helper()
	initORT(t)
	root := repoRoot(t)
	modelsOnce.Do(func() {
		modelsDir, modelsErr = os.MkdirTemp("", "facelive-swap-models-")
		if modelsErr != nil {
			return
		}
		cmd := exec.Command("/usr/bin/python3", filepath.Join(root, "tools/testmodels/gen.py"), modelsDir)
		if b, err := cmd.CombinedOutput(); err != nil {
			modelsErr = fmt.Errorf("tools/testmodels/gen.py: %v\n%s(Debian python3-onnx: run make deps)", err, b)
		}
	})
	if modelsErr != nil {
		t.Fatal(modelsErr)
	}
	return filepath.Join(modelsDir, name)
}

// readFile reads a file or fails the test.
func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	locOnce sync.Once
	locDet  *detect.BlazeFace
	locDlib *landmark.Dlib
	locErr  error
)

// testLocate is the Locate the engine would supply: BlazeFace finds the
// largest face, dlib fits its 68 landmarks. Loaded once per test binary.
func testLocate(t testing.TB) Locate {
	t.Helper()
	initORT(t)
	model := asset(t, "models/"+detect.ModelFile)
	dlibModel := landmark.DefaultModelPath
	if p := os.Getenv("FACELIVE_DLIB_MODEL"); p != "" {
		dlibModel = p
	}
	if _, err := os.Stat(dlibModel); err != nil {
		t.Fatalf("dlib model %s is missing (Debian libdlib-data): run make deps", dlibModel)
	}
	locOnce.Do(func() {
		locDet, locErr = detect.NewBlazeFace(detect.Options{Model: model, ORTLibrary: ortenv.Loaded(), MaxFaces: 1})
		if locErr == nil {
			locDlib, locErr = landmark.NewDlib(dlibModel)
		}
	})
	if locErr != nil {
		t.Fatal(locErr)
	}
	var mu sync.Mutex // a Detector is not safe for concurrent use
	return func(img *frame.Frame) (face.Landmarks, error) {
		mu.Lock()
		defer mu.Unlock()
		dets, err := locDet.Detect(img, nil)
		if err != nil {
			return face.Landmarks{}, err
		}
		if len(dets) == 0 {
			return face.Landmarks{}, ErrNoFace
		}
		var lm face.Landmarks
		err = locDlib.Fit(img, dets[0].Box, &lm)
		return lm, err
	}
}

// canonicalFace returns 68 landmarks of landmark.MeanFace scaled to side
// pixels and moved to (x0, y0).
func canonicalFace(side, x0, y0 float64) face.Landmarks {
	var lm face.Landmarks
	for i, p := range landmark.MeanFace {
		lm[i] = face.Point{X: x0 + side*p.X, Y: y0 + side*p.Y}
	}
	return lm
}

// syntheticSource is a w×h BGR24 image filled by fill(x, y) with a mean
// face of side pixels placed in its middle.
func syntheticSource(w, h int, side float64, fill func(x, y int) [3]byte) *SourceFace {
	pix := make([]byte, w*h*3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := fill(x, y)
			copy(pix[3*(y*w+x):], c[:])
		}
	}
	src := &SourceFace{Image: *frametest.FromBGR(pix, w, h, frame.BGR24, 0)}
	src.Landmarks = canonicalFace(side, (float64(w)-side)/2, (float64(h)-side)/2)
	return src
}

// pattern is a face-sized BGR8 image whose every byte differs from its
// neighbours' and covers 0..255.
func pattern(size int) []byte {
	b := make([]byte, size*size*3)
	for i := range b {
		b[i] = byte((i*37 + i/(3*size)*11) % 256)
	}
	return b
}

// writePNG writes a BGR8 size×size image (or a mask, as grey) for a person
// to look at.
func writePNG(t testing.TB, path string, bgr []byte, mask []float32, size int) {
	t.Helper()
	if mask != nil {
		bgr = make([]byte, 3*size*size)
		for i, v := range mask[:size*size] {
			g := uint8(math.Round(float64(min(max(v, 0), 1)) * 255))
			bgr[3*i], bgr[3*i+1], bgr[3*i+2] = g, g, g
		}
	}
	m, err := gocv.NewMatFromBytes(size, size, gocv.MatTypeCV8UC3, bgr[:3*size*size])
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !gocv.IMWrite(path, m) {
		t.Fatalf("cannot write %s", path)
	}
}

// writeGreyPNG writes a flat grey w×h PNG.
func writeGreyPNG(t testing.TB, path string, w, h int) {
	t.Helper()
	m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(128, 128, 128, 0), h, w, gocv.MatTypeCV8UC3)
	defer m.Close()
	gocv.Circle(&m, image.Pt(w/2, h/2), w/8, color.RGBA{90, 90, 90, 0}, -1) // not quite flat, still no face
	if !gocv.IMWrite(path, m) {
		t.Fatalf("cannot write %s", path)
	}
}

// dumpDir is where tests write images for a person to look at:
// $FACELIVE_SWAP_DUMP when set, else a temp dir.
func dumpDir(t testing.TB) string {
	if d := os.Getenv("FACELIVE_SWAP_DUMP"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func absDiff(a, b byte) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func wantModelErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	if !errors.Is(err, ErrModel) {
		t.Errorf("error %q does not wrap ErrModel", err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}
