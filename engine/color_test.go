package engine

import (
	"fmt"
	"image"
	"math"
	"testing"

	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
)

// The same picture as BGRA and as BT.709 full-range NV12 (an OBS camera
// set to Rec. 709, full range) comes out with the pasted face in the same
// colours, within 2 levels per channel on average: the engine reads and
// writes YUV with the frame's matrix and range. Read as BT.601 limited
// (what a host that does not say gets), the same NV12 frame's face is off
// by more: the test would notice the colour being ignored.
func TestPastedFaceColoursFollowTheFramesColorSpace(t *testing.T) {
	scene := astronautScene(t)
	inner := image.Rect(sceneFace.Min.X+40, sceneFace.Min.Y+40, sceneFace.Max.X-40, sceneFace.Max.Y-40)
	// faceMean swaps src's face and returns the pasted face's mean colour,
	// the output read as readAs says its bytes are.
	faceMean := func(src *frame.Frame, readAs frame.Color) [3]float64 {
		t.Helper()
		p := newPipeline(t, `{"mode":"quality","workers":1,"level":"custom","swapper":{"kind":"photo"},"detector":{"interval":1}}`)
		waitFaceReady(t, p)
		var dst *frame.Frame
		stillFrames(t, p, src, confirmFrames+2, func(_ int, out *frame.Frame) { dst = out })
		if c := faceChange(src, dst); c < 4 {
			t.Fatalf("%v %v: the face was not swapped (changed by %.1f levels)", src.Format, src.Color, c)
		}
		dst.Color = readAs
		var sum [3]float64
		n := 0
		for y := inner.Min.Y; y < inner.Max.Y; y++ {
			for x := inner.Min.X; x < inner.Max.X; x++ {
				px := frametest.ReadBGR(dst, x, y)
				for c := range 3 {
					sum[c] += float64(px[c])
				}
				n++
			}
		}
		for c := range sum {
			sum[c] /= float64(n)
		}
		return sum
	}
	maxDiff := func(a, b [3]float64) float64 {
		return max(math.Abs(a[0]-b[0]), math.Abs(a[1]-b[1]), math.Abs(a[2]-b[2]))
	}
	hd := frame.Color{Matrix: frame.BT709, Full: true}
	bgra := faceMean(frametest.FromBGR(scene, 1280, 720, frame.BGRA, 0), frame.Color{})
	nv12 := faceMean(frametest.FromBGRColor(scene, 1280, 720, frame.NV12, 0, hd), hd)
	t.Logf("pasted face, mean B G R: BGRA %.1f, NV12 %v %.1f", bgra, hd, nv12)
	if d := maxDiff(bgra, nv12); d > 2 {
		t.Errorf("NV12 %v: the pasted face's colour is %.1f levels off the BGRA frame's (%s vs %s)", hd, d, fmtBGR(nv12), fmtBGR(bgra))
	}
	// The same bytes, the engine told nothing (it takes them for BT.601
	// limited), read back as what they are.
	blind := frametest.FromBGRColor(scene, 1280, 720, frame.NV12, 0, hd)
	blind.Color = frame.Color{}
	mis := faceMean(blind, hd)
	t.Logf("the same NV12 frame taken as BT.601 limited: face %.1f", mis)
	if d := maxDiff(bgra, mis); d <= 1 {
		t.Errorf("taken as BT.601 limited, the face is only %.1f levels off: the test cannot tell", d)
	}
}

func fmtBGR(c [3]float64) string { return fmt.Sprintf("B %.1f G %.1f R %.1f", c[0], c[1], c[2]) }
