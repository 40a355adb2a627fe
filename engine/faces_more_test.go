package engine

import (
	"errors"
	"fmt"
	"image"
	"path/filepath"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
)

// photoScene reads a test photo resized to w x h as packed BGR.
func photoScene(t testing.TB, name string, w, h int) []byte {
	tp := thirdParty(t)
	img := gocv.IMRead(filepath.Join(tp, "faces", name), gocv.IMReadColor)
	if img.Empty() {
		t.Fatalf("cannot read %s: run make deps", name)
	}
	defer img.Close()
	out := gocv.NewMat()
	defer out.Close()
	gocv.Resize(img, &out, image.Pt(w, h), 0, 0, gocv.InterpolationArea)
	pix, _ := out.DataPtrUint8()
	return append([]byte(nil), pix...)
}

func TestEveryFaceUpToMaxFaces(t *testing.T) {
	// sample6 holds four frontal faces, all found by BlazeFace at 0.5.
	scene := photoScene(t, "sample6.jpg", 1280, 1024)
	for _, tc := range []struct{ maxFaces, want int }{{16, 4}, {2, 2}, {1, 1}} {
		t.Run(fmt.Sprint(tc.maxFaces), func(t *testing.T) {
			p := newPipeline(t, fmt.Sprintf(`{"mode":"quality","workers":1,"swapper":{"kind":"pixelate"},"detector":{"max_faces":%d}}`, tc.maxFaces))
			waitFaceReady(t, p)
			src := frametest.FromBGR(scene, 1280, 1024, frame.NV12, 0)
			dst := frametest.Blank(src)
			for range confirmFrames { // a new face is swapped from its confirmFrames-th frame
				p.Submit(src)
				if err := p.Get(dst, 10*time.Second); err != nil {
					t.Fatal(err)
				}
			}
			if m := p.Metrics(); m.Faces != tc.want {
				t.Fatalf("faces = %d with max_faces %d, want %d", m.Faces, tc.maxFaces, tc.want)
			}
		})
	}
}

// headScene places the astronaut's head (600x600) with its top-left corner
// at x0 on a grey 1280x720 frame; parts outside the frame are cut off.
func headScene(t *testing.T, x0 int) []byte {
	full := astronautScene(t) // head at x 340..940
	scene := make([]byte, len(full))
	for i := range scene {
		scene[i] = 128
	}
	for y := 60; y < 660; y++ {
		for x := 0; x < 600; x++ {
			if fx := x0 + x; fx >= 0 && fx < 1280 {
				copy(scene[3*(y*1280+fx):3*(y*1280+fx)+3], full[3*(y*1280+340+x):])
			}
		}
	}
	return scene
}

func TestFaceAtTheBorderAndLeavingTheFrame(t *testing.T) {
	p := newPipeline(t, `{"mode":"quality","workers":1,"swapper":{"kind":"photo"}}`)
	waitFaceReady(t, p)
	// The head walks out of the frame to the right, 60 px a frame.
	for i, x0 := 0, 340; x0 <= 1400; i, x0 = i+1, x0+60 {
		src := frametest.FromBGR(headScene(t, x0), 1280, 720, frame.I420, 8)
		src.PTS = int64(i) * 33_333_333
		orig, dst := frametest.Clone(src), frametest.Blank(src)
		if err := p.Submit(src); err != nil {
			t.Fatalf("x0 %d: %v", x0, err)
		}
		if err := p.Get(dst, 10*time.Second); err != nil {
			t.Fatalf("x0 %d: %v", x0, err)
		}
		faces := p.Metrics().Faces
		box := changedPixels(t, orig, dst)
		t.Logf("head at x %4d: %d face(s), changed %v", x0, faces, box)
		if x0 >= 1280 { // gone: the frame must come back untouched
			if faces != 0 || !box.Empty() {
				t.Fatalf("no face in view, yet %d face(s) and pixels changed in %v", faces, box)
			}
		}
		if !box.Empty() && box.Min.X < x0-200 { // changes stay with the head
			t.Fatalf("head at x %d, but pixels changed at %v", x0, box)
		}
	}
	checkInvariant(t, p.Metrics())
}

// BenchmarkFacePipeline runs the whole face pipeline (photo swapper, one
// face) on NV12 frames and reports frames per second and the per-stage
// split; frames alternate between two positions so tracking has work.
func BenchmarkFacePipeline(b *testing.B) {
	for _, size := range [][2]int{{1280, 720}, {1920, 1080}} {
		b.Run(fmt.Sprintf("NV12/%dp", size[1]), func(b *testing.B) {
			p, src, dst := benchSetup(b, `{"mode":"quality","workers":1,"swapper":{"kind":"photo"}}`, size)
			for range 5 {
				p.Submit(src)
				p.Get(dst, 10*time.Second)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				src.PTS = int64(i) * 33_333_333
				if err := p.Submit(src); err != nil {
					b.Fatal(err)
				}
				if err := p.Get(dst, 10*time.Second); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			m := p.Metrics()
			if m.Faces != 1 {
				b.Fatalf("faces = %d", m.Faces)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fps")
			for _, s := range faceStepNames {
				b.ReportMetric(m.StageMs[s], s+"-ms")
			}
		})
	}
}

// benchSetup returns a pipeline with its face models loaded (closed when
// the benchmark ends) and an NV12 frame of the astronaut scene at size.
func benchSetup(b *testing.B, cfg string, size [2]int) (*Pipeline, *frame.Frame, *frame.Frame) {
	scene := astronautScene(b)
	if size[0] != 1280 {
		scene = scaleBGR(scene, 1280, 720, size[0], size[1])
	}
	p, err := New(testConfig(b, cfg))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	if err := p.WaitFaces(time.Minute); err != nil {
		b.Fatal(err)
	}
	src := frametest.FromBGR(scene, size[0], size[1], frame.NV12, 0)
	return p, src, frametest.Blank(src)
}

func scaleBGR(pix []byte, w, h, W, H int) []byte {
	src, _ := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8UC3, pix)
	defer src.Close()
	dst := gocv.NewMat()
	defer dst.Close()
	gocv.Resize(src, &dst, image.Pt(W, H), 0, 0, gocv.InterpolationLinear)
	out, _ := dst.DataPtrUint8()
	return append([]byte(nil), out...)
}

func TestDisclosureLabelIsDrawnWhenAsked(t *testing.T) {
	p := newPipeline(t, `{"mode":"quality","workers":1,"overlay":{"disclosure":true}}`)
	src := newTestFrame(frame.BGRA, 640, 360, 0, 3)
	dst := blank(frame.BGRA, 640, 360, 0)
	p.Submit(src)
	if err := p.Get(dst, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if sameRows(src, dst) {
		t.Fatal("overlay.disclosure is on, but the frame came out unchanged")
	}
	if err := p.SetConfig([]byte(`{"overlay":{"disclosure":false}}`)); err != nil {
		t.Fatal(err)
	}
	p.Submit(src)
	if err := p.Get(dst, 5*time.Second); err != nil || !sameRows(src, dst) {
		t.Fatalf("overlay.disclosure turned off live, but the frame changed: %v", err)
	}
}

func TestStatsOverlayIsDrawnTopLeftWhenAsked(t *testing.T) {
	p := newPipeline(t, `{"mode":"quality","workers":1,"overlay":{"stats":true}}`)
	src := newTestFrame(frame.BGRA, 640, 360, 0, 3)
	for i := 0; i < 3; i++ { // a few frames so the line has numbers
		dst := blank(frame.BGRA, 640, 360, 0)
		p.Submit(src)
		if err := p.Get(dst, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		box := changedPixels(t, src, dst)
		if box.Empty() {
			t.Fatal("overlay.stats is on, but the frame came out unchanged")
		}
		if box.Min.Y > 20 || box.Max.Y > 60 || box.Min.X > 20 {
			t.Fatalf("the stats line changed pixels in %v; want a strip in the top-left corner", box)
		}
	}
	if err := p.SetConfig([]byte(`{"overlay":{"stats":false}}`)); err != nil {
		t.Fatal(err)
	}
	dst := blank(frame.BGRA, 640, 360, 0)
	p.Submit(src)
	if err := p.Get(dst, 5*time.Second); err != nil || !sameRows(src, dst) {
		t.Fatalf("overlay.stats turned off live, but the frame changed: %v", err)
	}
}

func TestDetectorRunsEveryIntervalAndTracksBetween(t *testing.T) {
	scene := astronautScene(t)
	for _, tc := range []struct {
		interval       string
		frames         int
		wantDetections uint64
	}{
		{`"interval":5`, 20, 4}, // frames 0, 5, 10, 15
		{`"interval":1`, 6, 6},  // every frame
		{`"interval":0`, 20, 2}, // adaptive, still face: frame 0, then after 15 frames
	} {
		t.Run(tc.interval, func(t *testing.T) {
			p := newPipeline(t, `{"mode":"quality","workers":1,"swapper":{"kind":"pixelate"},"detector":{`+tc.interval+`}}`)
			waitFaceReady(t, p)
			src := frametest.FromBGR(scene, 1280, 720, frame.NV12, 0)
			dst := frametest.Blank(src)
			for i := 0; i < tc.frames; i++ {
				src.PTS = int64(i) * 10_000_000 // 100 fps: 0.5 s never passes
				p.Submit(src)
				if err := p.Get(dst, 10*time.Second); err != nil {
					t.Fatal(err)
				}
				want := 1 // pixelate hides a face from its first frame: no gate for privacy
				if m := p.Metrics(); m.Faces != want {
					t.Fatalf("frame %d: %d faces, want %d (tracking lost the face)", i, m.Faces, want)
				}
			}
			if got := p.Metrics().Detections; got != tc.wantDetections {
				t.Fatalf("%d detector runs over %d frames, want %d", got, tc.frames, tc.wantDetections)
			}
		})
	}
}

// BenchmarkFacePipelineBatch measures throughput in batch mode with one
// worker per core: frames stay in flight, so one worker tracks and aligns
// frame N+1 while another merges frame N.
func BenchmarkFacePipelineBatch(b *testing.B) {
	for _, size := range [][2]int{{1280, 720}, {1920, 1080}} {
		b.Run(fmt.Sprintf("NV12/%dp", size[1]), func(b *testing.B) {
			p, src, dst := benchSetup(b, `{"mode":"batch","workers":0,"swapper":{"kind":"photo"}}`, size)
			b.ReportAllocs()
			b.ResetTimer()
			out := 0
			for i := 0; out < b.N; {
				if i < b.N {
					src.PTS = int64(i) * 33_333_333
					if err := p.Submit(src); err == nil {
						i++
						continue
					} else if !errors.Is(err, ErrBusy) {
						b.Fatal(err)
					}
				}
				if err := p.Get(dst, 10*time.Second); err != nil {
					b.Fatal(err)
				}
				out++
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fps")
			b.ReportMetric(float64(p.Metrics().Workers), "workers")
		})
	}
}
