package engine

import (
	"fmt"
	"image"
	"path/filepath"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
	"facelive/internal/assets/assetstest"
)

// The astronaut scene: the photo's head region (100,20)-(400,320) scaled 2x
// onto a grey 1280x720 frame at (340,60), a webcam-sized face. Her face box
// in the photo is about (178,81)-(272,175), so in the scene it is:
var sceneFace = image.Rect(340+2*78, 60+2*61, 340+2*172, 60+2*155)

// faceReach is where a swap of the scene's face may write: the aligned
// crop (coverage 2.2) reaches about one face size beyond the face box.
var faceReach = image.Rect(sceneFace.Min.X-sceneFace.Dx(), sceneFace.Min.Y-sceneFace.Dy(),
	sceneFace.Max.X+sceneFace.Dx(), sceneFace.Max.Y+sceneFace.Dy())

// faceChange is the mean absolute BGR difference between a and b inside
// the scene's face, 40 px in from its box: how visibly the face changed.
func faceChange(a, b *frame.Frame) float64 {
	inner := image.Rect(sceneFace.Min.X+40, sceneFace.Min.Y+40, sceneFace.Max.X-40, sceneFace.Max.Y-40)
	diff, n := 0, 0
	for y := inner.Min.Y; y < inner.Max.Y; y++ {
		for x := inner.Min.X; x < inner.Max.X; x++ {
			pa, pb := frametest.ReadBGR(a, x, y), frametest.ReadBGR(b, x, y)
			for c := 0; c < 3; c++ {
				diff += abs(int(pa[c]) - int(pb[c]))
			}
			n += 3
		}
	}
	return float64(diff) / float64(n)
}

var thirdParty = assetstest.Dir // the assets make deps fetches

func astronautScene(t testing.TB) []byte {
	path := filepath.Join(thirdParty(t), "faces", "astronaut.png")
	img := gocv.IMRead(path, gocv.IMReadColor)
	if img.Empty() {
		t.Fatalf("cannot read %s: run make deps", path)
	}
	defer img.Close()
	head := img.Region(image.Rect(100, 20, 400, 320))
	defer head.Close()
	big := gocv.NewMat()
	defer big.Close()
	gocv.Resize(head, &big, image.Pt(600, 600), 0, 0, gocv.InterpolationLinear)
	scene := make([]byte, 1280*720*3)
	for i := range scene {
		scene[i] = 128
	}
	pix, _ := big.DataPtrUint8()
	for y := 0; y < 600; y++ {
		copy(scene[3*((60+y)*1280+340):], pix[y*600*3:(y+1)*600*3])
	}
	return scene
}

func waitFaceReady(t *testing.T, p *Pipeline) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		switch m := p.Metrics(); m.FacePipeline {
		case faceReady:
			return
		case faceFailed:
			t.Fatalf("face pipeline failed to load: %s", m.LastError)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("face pipeline not ready after 30 s")
}

// changedPixels returns the bounding box of the pixels whose bytes differ
// between a and b, and fails on any changed padding byte.
func changedPixels(t *testing.T, a, b *frame.Frame) image.Rectangle {
	t.Helper()
	var box image.Rectangle
	f := a.Format
	for pl := 0; pl < f.Planes(); pl++ {
		st, row := a.Stride[pl], f.RowBytes(pl, a.Width)
		for i := range a.Planes[pl] {
			if a.Planes[pl][i] == b.Planes[pl][i] {
				continue
			}
			y, xb := i/st, i%st
			if xb >= row {
				t.Fatalf("plane %d: padding byte at row %d col %d changed", pl, y, xb)
			}
			var x int
			switch {
			case f == frame.NV12 && pl == 1:
				x, y = xb&^1, 2*y
			case f == frame.I420 && pl > 0:
				x, y = 2*xb, 2*y
			case f.IsYUV():
				x = xb / 2 // YUY2
				if f != frame.YUY2 {
					x = xb
				}
			default:
				x = xb / f.BytesPerPixel()
			}
			box = box.Union(image.Rect(x, y, x+2, y+2))
		}
	}
	return box
}

func TestFaceStageChangesOnlyTheFace(t *testing.T) {
	scene := astronautScene(t)
	for _, kind := range []string{"pixelate", "blur"} {
		p := newPipeline(t, fmt.Sprintf(`{"mode":"quality","workers":1,"swapper":{"kind":%q}}`, kind))
		waitFaceReady(t, p)
		for _, f := range frame.Formats {
			t.Run(kind+"/"+f.String(), func(t *testing.T) {
				src := frametest.FromBGR(scene, 1280, 720, f, 16)
				src.PTS = 4242
				orig := frametest.Clone(src)
				dst := frametest.Blank(src)
				for range confirmFrames { // a new face is swapped from its confirmFrames-th frame
					if err := p.Submit(src); err != nil {
						t.Fatal(err)
					}
					if err := p.Get(dst, 10*time.Second); err != nil {
						t.Fatal(err)
					}
				}
				if m := p.Metrics(); m.Faces != 1 {
					t.Fatalf("faces = %d, want 1", m.Faces)
				}
				if dst.PTS != 4242 {
					t.Fatalf("pts %d, want 4242", dst.PTS)
				}
				box := changedPixels(t, orig, dst)
				if !box.In(faceReach) {
					t.Fatalf("pixels changed in %v, outside the face's reach %v", box, faceReach)
				}
				if mean := faceChange(orig, dst); mean < 4 { // the face itself changed visibly
					t.Fatalf("face changed by only %.1f levels on average", mean)
				}
			})
		}
		checkInvariant(t, p.Metrics())
	}
}

func TestFaceStageWithoutFacesPassesThrough(t *testing.T) {
	p := newPipeline(t, `{"mode":"quality","workers":1,"swapper":{"kind":"blur"}}`)
	waitFaceReady(t, p)
	src := newTestFrame(frame.NV12, 640, 360, 0, 7)
	dst := blank(frame.NV12, 640, 360, 0)
	p.Submit(src)
	if err := p.Get(dst, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if !sameRows(src, dst) || p.Metrics().Faces != 0 {
		t.Fatal("a frame with no face was modified")
	}
}

func TestSwapperSwitchesLiveWithoutDroppingTheStream(t *testing.T) {
	p := newPipeline(t, `{"mode":"quality","workers":1}`)
	if m := p.Metrics(); m.FacePipeline != faceOff {
		t.Fatalf("face_pipeline %q with swapper none, want off", m.FacePipeline)
	}
	src := newTestFrame(frame.BGRA, 320, 240, 0, 1)
	dst := blank(frame.BGRA, 320, 240, 0)
	for i, kind := range []string{"blur", "pixelate", "none", "blur"} {
		if err := p.SetConfig([]byte(fmt.Sprintf(`{"swapper":{"kind":%q}}`, kind))); err != nil {
			t.Fatal(err)
		}
		for j := range 5 { // frames keep flowing while models load
			src.PTS = int64(10*i + j)
			if err := p.Submit(src); err != nil {
				t.Fatal(err)
			}
			if err := p.Get(dst, 5*time.Second); err != nil || dst.PTS != src.PTS {
				t.Fatalf("frame %d after switching to %s: %v", src.PTS, kind, err)
			}
		}
	}
	waitFaceReady(t, p)
	checkInvariant(t, p.Metrics())
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
