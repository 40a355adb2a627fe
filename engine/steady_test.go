package engine

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
	"facelive/engine/landmark"
	"facelive/engine/merge"
)

// noisyClip returns n frames of bgr with sensor-like noise, deterministic
// pseudo-random and new in every frame: each frame's level moves by
// -2..+2 (a webcam's gain and exposure flicker) and every byte by another
// -2..+2 (pixel noise). Pixel noise alone averages out over the face's
// thousands of pixels (about 0.1 levels frame to frame, smoothed or not);
// the frame's level is what a per-frame colour transfer passes on.
func noisyClip(bgr []byte, n int) [][]byte {
	rng := rand.New(rand.NewPCG(15, 3))
	clip := make([][]byte, n)
	for i := range clip {
		f := make([]byte, len(bgr))
		level := rng.IntN(5) - 2
		for k, v := range bgr {
			f[k] = byte(min(max(int(v)+level+rng.IntN(5)-2, 0), 255))
		}
		clip[i] = f
	}
	return clip
}

// pastedRegion returns the pixels of bgr's face that a photo swap covers
// whole: inside the hull of its 68 landmarks by more than the merge
// mask's erosion and feather (35 px here), and away from the eyes and the
// mouth (which live-feature masks keep from the frame).
func pastedRegion(t *testing.T, bgr []byte) []image.Point {
	t.Helper()
	dl, err := landmark.NewDlib(dlibModel())
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	var lm face.Landmarks
	box := face.Rect{X0: float64(sceneFace.Min.X), Y0: float64(sceneFace.Min.Y), X1: float64(sceneFace.Max.X), Y1: float64(sceneFace.Max.Y)}
	if err := dl.Fit(frametest.FromBGR(bgr, 1280, 720, frame.BGR24, 0), box, &lm); err != nil {
		t.Fatal(err)
	}
	const w, in = 1280, 35
	hull := make([]float32, w*w)
	if err := merge.HullMask(lm[:], w, hull); err != nil {
		t.Fatal(err)
	}
	inside := func(x, y int) bool { return x >= 0 && y >= 0 && x < w && y < w && hull[y*w+x] >= 1 }
	near := func(x, y int, pts []face.Point) bool {
		for _, p := range pts {
			if math.Abs(p.X-float64(x)) < 20 && math.Abs(p.Y-float64(y)) < 20 {
				return true
			}
		}
		return false
	}
	var region []image.Point
	for y := sceneFace.Min.Y; y < sceneFace.Max.Y; y++ {
		for x := sceneFace.Min.X; x < sceneFace.Max.X; x++ {
			if inside(x, y) && inside(x-in, y) && inside(x+in, y) && inside(x, y-in) && inside(x, y+in) &&
				!near(x, y, lm[36:48]) && !near(x, y, lm[48:68]) {
				region = append(region, image.Pt(x, y))
			}
		}
	}
	if len(region) < 1000 {
		t.Fatalf("only %d pixels of pasted face to measure", len(region))
	}
	t.Logf("measured over %d pixels of pasted face", len(region))
	return region
}

// faceMeanSteps runs clip (30 fps) through a photo-swap pipeline with the
// colour time constant tau and returns, per B, G, R channel, the standard
// deviation of the frame-to-frame change of the pasted face's mean colour
// over region, over the frames in which the face was swapped.
func faceMeanSteps(t *testing.T, clip [][]byte, region []image.Point, steady bool) [3]float64 {
	t.Helper()
	face := filepath.Join(thirdParty(t), "faces", "sample2.jpg")
	p := newPipeline(t, fmt.Sprintf(`{"mode":"quality","workers":1,"level":"custom","swapper":{"kind":"photo","face":%q}}`, face))
	if !steady {
		p.face.steady.SetTime(0)
	}
	waitFaceReady(t, p)
	var means [][3]float64
	for i, bgr := range clip {
		src := frametest.FromBGR(bgr, 1280, 720, frame.BGRA, 0)
		src.PTS = int64(i) * 33_333_333 // 30 fps: the smoothing steps by the timestamps
		dst := frametest.Blank(src)
		if err := p.Submit(src); err != nil {
			t.Fatal(err)
		}
		if err := p.Get(dst, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if i >= confirmFrames-1 && p.Metrics().Faces == 1 { // a new face is swapped from its confirmFrames-th frame
			var sum [3]float64
			for _, pt := range region {
				px := frametest.ReadBGR(dst, pt.X, pt.Y)
				for c := range 3 {
					sum[c] += float64(px[c])
				}
			}
			for c := range sum {
				sum[c] /= float64(len(region))
			}
			means = append(means, sum)
		}
	}
	if len(means) < len(clip)-confirmFrames-2 {
		t.Fatalf("the face was swapped in %d of %d frames", len(means), len(clip))
	}
	var sd [3]float64
	for c := range 3 {
		var s, q float64
		n := float64(len(means) - 1)
		for k := 1; k < len(means); k++ {
			d := means[k][c] - means[k-1][c]
			s += d
			q += d * d
		}
		sd[c] = math.Sqrt(max(q/n-(s/n)*(s/n), 0))
	}
	return sd
}

// TestSteadyColourOnAStaticClip: a static 3 s clip (90 frames at 30 fps)
// of a real face with ±2 levels of sensor noise, swapped with the photo
// swapper: the frame-to-frame change of the pasted face's mean colour has
// a standard deviation ≤ 0.5 levels in each of B, G and R. Without the
// smoothing the same clip flickers more than that, so the test can fail.
func TestSteadyColourOnAStaticClip(t *testing.T) {
	scene := astronautScene(t)
	clip, region := noisyClip(scene, 90), pastedRegion(t, scene)
	for _, tc := range []struct {
		name   string
		steady bool
	}{{"smoothed", true}, {"per-frame", false}} {
		t.Run(tc.name, func(t *testing.T) {
			sd := faceMeanSteps(t, clip, region, tc.steady)
			worst := max(sd[0], sd[1], sd[2])
			t.Logf("std of the frame-to-frame change of the pasted face's mean: B %.3f G %.3f R %.3f levels", sd[0], sd[1], sd[2])
			if tc.steady && worst > 0.5 {
				t.Errorf("the pasted face's colour flickers: std %.3f levels > 0.5", worst)
			}
			if !tc.steady && worst <= 0.5 {
				t.Errorf("without smoothing the std is only %.3f levels: the clip cannot tell smoothing from none", worst)
			}
		})
	}
}

// TestPhotoSwapAllocatesNothing: a frame through the photo swap, colour
// smoothing included, allocates nothing once the face is followed.
func TestPhotoSwapAllocatesNothing(t *testing.T) {
	p := newPipeline(t, `{"mode":"quality","workers":1,"level":"custom","swapper":{"kind":"photo"}}`)
	waitFaceReady(t, p)
	src := frametest.FromBGR(astronautScene(t), 1280, 720, frame.NV12, 0)
	dst := frametest.Blank(src)
	step := func() {
		src.PTS += 33_333_333
		if err := p.Submit(src); err != nil {
			t.Fatal(err)
		}
		if err := p.Get(dst, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for range confirmFrames + 5 {
		step()
	}
	WaitLoads(time.Minute) // earlier tests' background loads allocate too
	if m := p.Metrics(); m.Faces != 1 {
		t.Fatalf("faces %d, want the scene's face swapped", m.Faces)
	}
	if allocs := testing.AllocsPerRun(50, step); allocs != 0 {
		t.Fatalf("a swapped frame allocates %.2f times, want 0", allocs)
	}
}
