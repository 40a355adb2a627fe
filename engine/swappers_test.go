package engine

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
)

// testModels generates the tiny models of tools/testmodels (known outputs).
func testModels(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Dir(thirdParty(t))
	out, err := exec.Command("/usr/bin/python3", filepath.Join(root, "tools/testmodels/gen.py"), dir).CombinedOutput()
	if err != nil {
		t.Fatalf("gen.py: %v\n%s(python3-onnx comes with make deps)", err, out)
	}
	return dir
}

// swapOnce runs the astronaut scene through a pipeline with cfg and returns
// the input and output frames (the frame is submitted until its face is
// confirmed; the last output is returned).
func swapOnce(t *testing.T, cfg string, f frame.Format) (*frame.Frame, *frame.Frame, Metrics) {
	t.Helper()
	p := newPipeline(t, cfg)
	waitFaceReady(t, p)
	src := frametest.FromBGR(astronautScene(t), 1280, 720, f, 16)
	src.PTS = 77
	orig, dst := frametest.Clone(src), frametest.Blank(src)
	for range confirmFrames { // a new face is swapped from its confirmFrames-th frame
		if err := p.Submit(src); err != nil {
			t.Fatal(err)
		}
		if err := p.Get(dst, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	m := p.Metrics()
	checkInvariant(t, m)
	if dst.PTS != 77 {
		t.Fatalf("pts %d, want 77", dst.PTS)
	}
	return orig, dst, m
}

func TestDFMOutputAppearsExactlyInsideTheFace(t *testing.T) {
	models := testModels(t)
	// The test DFM returns the face with blue and red swapped, masked by a
	// disc; without erosion, blur or colour transfer that is what we must see.
	cfg := fmt.Sprintf(`{"mode":"quality","workers":1,"swapper":{"kind":"dfm","model":%q},
		"merge":{"erode":0,"blur":0,"color_transfer":"none"}}`, filepath.Join(models, "dfm.onnx"))
	for _, tc := range []struct {
		f   frame.Format
		tol float64 // mean levels: two bilinear resamplings, plus chroma subsampling for YUV
	}{{frame.BGR24, 6}, {frame.BGRA, 6}, {frame.NV12, 14}, {frame.YUY2, 14}} {
		t.Run(tc.f.String(), func(t *testing.T) {
			orig, dst, m := swapOnce(t, cfg, tc.f)
			if m.Faces != 1 {
				t.Fatalf("faces = %d", m.Faces)
			}
			if box := changedPixels(t, orig, dst); !box.In(faceReach) {
				t.Fatalf("pixels changed in %v, outside the face's reach %v", box, faceReach)
			}
			c := sceneFace.Min.Add(sceneFace.Size().Div(2))
			var dB, dR, moved float64
			n := 0
			for y := c.Y - 30; y < c.Y+30; y++ {
				for x := c.X - 30; x < c.X+30; x++ {
					a, b := frametest.ReadBGR(orig, x, y), frametest.ReadBGR(dst, x, y)
					dB += abs64(float64(b[0]) - float64(a[2])) // out blue = in red
					dR += abs64(float64(b[2]) - float64(a[0])) // out red = in blue
					moved += abs64(float64(a[2]) - float64(a[0]))
					n++
				}
			}
			dB, dR, moved = dB/float64(n), dR/float64(n), moved/float64(n)
			t.Logf("face centre: |out.B-in.R| %.1f, |out.R-in.B| %.1f (the swap moves channels by %.1f)", dB, dR, moved)
			if moved < 30 {
				t.Fatalf("test scene too grey to see a B/R swap (%.1f)", moved)
			}
			if dB > tc.tol || dR > tc.tol {
				t.Fatalf("inside the face the output is not the model's (B<->R) face: %.1f, %.1f > %.0f", dB, dR, tc.tol)
			}
		})
	}
}

func TestPhotoSwapReplacesTheFace(t *testing.T) {
	face := filepath.Join(thirdParty(t), "faces", "sample2.jpg")
	orig, dst, m := swapOnce(t, fmt.Sprintf(`{"mode":"quality","workers":1,"swapper":{"kind":"photo","face":%q}}`, face), frame.NV12)
	if m.Faces != 1 {
		t.Fatalf("faces = %d", m.Faces)
	}
	if box := changedPixels(t, orig, dst); !box.In(faceReach) {
		t.Fatalf("pixels changed in %v, outside %v", box, faceReach)
	}
	if mean := faceChange(orig, dst); mean < 8 {
		t.Fatalf("the face changed by only %.1f levels: not swapped", mean)
	}
	if dir := os.Getenv("FACELIVE_TEST_DUMP"); dir != "" { // to look at it
		writeBGRPNG(t, filepath.Join(dir, "photo_swap_before.png"), orig)
		writeBGRPNG(t, filepath.Join(dir, "photo_swap_after.png"), dst)
	}
}

func TestBadSwapperInputsFailVisiblyAndPassFramesThrough(t *testing.T) {
	models := testModels(t)
	grey := filepath.Join(t.TempDir(), "grey.png")
	blankImg := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(128, 128, 128, 0), 200, 200, gocv.MatTypeCV8UC3)
	gocv.IMWrite(grey, blankImg)
	blankImg.Close()
	notImage := filepath.Join(t.TempDir(), "face.png")
	os.WriteFile(notImage, []byte("this is not a picture"), 0o644)
	for _, tc := range []struct{ name, cfg, want string }{
		{"wrong model", fmt.Sprintf(`{"swapper":{"kind":"dfm","model":%q}}`, filepath.Join(models, "wrong.onnx")), "is not a DeepFaceLive DFM model"},
		{"photo without a face", fmt.Sprintf(`{"swapper":{"kind":"photo","face":%q}}`, grey), "no face found"},
		{"photo that is not an image", fmt.Sprintf(`{"swapper":{"kind":"photo","face":%q}}`, notImage), "not an image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := strings.Replace(tc.cfg, "{", `{"mode":"quality","workers":1,`, 1)
			p := newPipeline(t, cfg)
			deadline := time.Now().Add(30 * time.Second)
			for p.Metrics().FacePipeline == faceLoading && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			m := p.Metrics()
			if m.FacePipeline != faceFailed || !strings.Contains(m.LastError, tc.want) {
				t.Fatalf("face_pipeline %q, last_error %q; want failed and %q", m.FacePipeline, m.LastError, tc.want)
			}
			t.Log(m.LastError)
			src := frametest.FromBGR(astronautScene(t), 1280, 720, frame.BGRA, 0)
			dst := frametest.Blank(src)
			p.Submit(src)
			if err := p.Get(dst, 5*time.Second); err != nil || !sameRows(src, dst) {
				t.Fatalf("frame not passed through unmodified: %v", err)
			}
		})
	}
}

func abs64(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

func writeBGRPNG(t *testing.T, path string, f *frame.Frame) {
	img := gocv.NewMatWithSize(f.Height, f.Width, gocv.MatTypeCV8UC3)
	defer img.Close()
	for y := 0; y < f.Height; y++ {
		for x := 0; x < f.Width; x++ {
			c := frametest.ReadBGR(f, x, y)
			img.SetUCharAt(y, 3*x, c[0])
			img.SetUCharAt(y, 3*x+1, c[1])
			img.SetUCharAt(y, 3*x+2, c[2])
		}
	}
	if !gocv.IMWrite(path, img) {
		t.Errorf("cannot write %s", path)
	}
}

func TestInSwapperOutputAppearsInsideTheFace(t *testing.T) {
	models := testModels(t)
	// The test InSwapper adds 8 * source[0] to every channel of its
	// 128x128 ArcFace-aligned crop: inside the face every channel must move
	// by the same positive amount.
	cfg := fmt.Sprintf(`{"mode":"quality","workers":1,"swapper":{"kind":"inswapper","model":%q,"arcface_model":%q},
		"merge":{"erode":0,"blur":0,"color_transfer":"none"}}`,
		filepath.Join(models, "inswapper.onnx"), filepath.Join(models, "arcface.onnx"))
	orig, dst, m := swapOnce(t, cfg, frame.BGR24)
	if m.Faces != 1 {
		t.Fatalf("faces = %d", m.Faces)
	}
	if box := changedPixels(t, orig, dst); !box.In(faceReach) {
		t.Fatalf("pixels changed in %v, outside %v", box, faceReach)
	}
	c := sceneFace.Min.Add(sceneFace.Size().Div(2))
	var shift [3]float64
	n := 0
	for y := c.Y - 25; y < c.Y+25; y++ {
		for x := c.X - 25; x < c.X+25; x++ {
			a, b := frametest.ReadBGR(orig, x, y), frametest.ReadBGR(dst, x, y)
			if max(a[0], a[1], a[2]) > 200 { // near white the shift clips
				continue
			}
			for ch := range shift {
				shift[ch] += float64(b[ch]) - float64(a[ch])
			}
			n++
		}
	}
	for ch := range shift {
		shift[ch] /= float64(n)
	}
	t.Logf("mean shift at the face centre (B, G, R): %.1f %.1f %.1f over %d pixels", shift[0], shift[1], shift[2], n)
	if abs64(shift[0]) < 5 || abs64(shift[0]-shift[1]) > 1 || abs64(shift[0]-shift[2]) > 1 { // the sign follows the embedding
		t.Fatalf("inside the face the output is not the model's uniform shift: %v", shift)
	}
}

func TestFailedReloadStopsTheOldSwapper(t *testing.T) {
	// Swapping works, then the user picks a photo without a face: the load
	// fails, and frames must pass through unmodified as the metrics say, not
	// keep being swapped by the previous models.
	p := newPipeline(t, `{"mode":"quality","workers":1,"swapper":{"kind":"pixelate"}}`)
	waitFaceReady(t, p)
	src := frametest.FromBGR(astronautScene(t), 1280, 720, frame.BGRA, 0)
	dst := frametest.Blank(src)
	var err error
	for range confirmFrames { // a new face is swapped from its confirmFrames-th frame
		p.Submit(src)
		err = p.Get(dst, 10*time.Second)
	}
	if err != nil || sameRows(src, dst) {
		t.Fatalf("pixelate did not change the face: %v", err)
	}
	grey := filepath.Join(t.TempDir(), "grey.png")
	img := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(128, 128, 128, 0), 200, 200, gocv.MatTypeCV8UC3)
	gocv.IMWrite(grey, img)
	img.Close()
	if err := p.SetConfig([]byte(fmt.Sprintf(`{"swapper":{"kind":"photo","face":%q}}`, grey))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for p.Metrics().FacePipeline != faceFailed && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	p.Submit(src)
	if err := p.Get(dst, 10*time.Second); err != nil || !sameRows(src, dst) {
		t.Fatalf("face_pipeline %q, but the frame was still modified (%v)", p.Metrics().FacePipeline, err)
	}
}
