package detect

import (
	"math"
	"testing"

	"facelive/engine/frame"
)

// TestSamplerColoursAndLetterbox checks the input tensor itself: a frame of
// one colour gives that colour (RGB order, [-1, 1]) in every format, inside
// the letterbox, and 0 in the bars.
func TestSamplerColoursAndLetterbox(t *testing.T) {
	colours := []struct {
		name    string
		r, g, b int
	}{{"red", 220, 30, 40}, {"green", 20, 200, 60}, {"blue", 30, 50, 210}, {"grey", 128, 128, 128}, {"white", 255, 255, 255}}
	for _, f := range frame.Formats {
		for _, c := range colours {
			img := &bgrImage{w: 1280, h: 720, pix: make([]byte, 1280*720*3)}
			for i := 0; i < len(img.pix); i += 3 {
				img.pix[i], img.pix[i+1], img.pix[i+2] = byte(c.b), byte(c.g), byte(c.r)
			}
			sm := sampler{outW: inputSize, outH: inputSize}
			dst := make([]float32, inputSize*inputSize*3)
			for i := range dst {
				dst[i] = 7 // must all be overwritten
			}
			sm.rgbTensor(toFrame(img, f, 12), dst)
			// 1280×720 at 0.1: 72 content rows centred, 28 bar rows above and below.
			if sm.v0 != 28 || sm.v1 != 100 || sm.u0 != 0 || sm.u1 != 128 {
				t.Fatalf("content rows %d..%d cols %d..%d, want 28..100, 0..128", sm.v0, sm.v1, sm.u0, sm.u1)
			}
			want := [3]float64{float64(c.r)/127.5 - 1, float64(c.g)/127.5 - 1, float64(c.b)/127.5 - 1}
			tol := 0.005
			if f.IsYUV() {
				tol = 0.04 // 8-bit limited-range YUV round trip
			}
			for v := 0; v < inputSize; v++ {
				for u := 0; u < inputSize; u++ {
					px := dst[(v*inputSize+u)*3:]
					for ch := 0; ch < 3; ch++ {
						w := want[ch]
						if v < 28 || v >= 100 {
							w = 0
						}
						if math.Abs(float64(px[ch])-w) > tol {
							t.Fatalf("%v %s: pixel (%d,%d) channel %d = %.3f, want %.3f", f, c.name, u, v, ch, px[ch], w)
						}
					}
				}
			}
		}
	}
}

// TestSamplerGeometry checks where output pixels sample the frame.
func TestSamplerGeometry(t *testing.T) {
	for _, c := range []struct {
		w, h           int
		u0, u1, v0, v1 int
		k              int
	}{
		{128, 128, 0, 128, 0, 128, 1},
		{512, 512, 0, 128, 0, 128, 4},
		{1920, 1080, 0, 128, 28, 100, 4}, // 1080/15 = 72 rows, centred
		{720, 1280, 28, 100, 0, 128, 4},
		{64, 32, 0, 128, 32, 96, 1}, // upscaled: nearest pixel
	} {
		sm := sampler{outW: inputSize, outH: inputSize}
		sm.setup(&frame.Frame{Format: frame.BGRA, Width: c.w, Height: c.h}, true)
		if sm.u0 != c.u0 || sm.u1 != c.u1 || sm.v0 != c.v0 || sm.v1 != c.v1 || sm.k != c.k {
			t.Errorf("%dx%d: cols %d..%d rows %d..%d k %d; want %d..%d %d..%d %d",
				c.w, c.h, sm.u0, sm.u1, sm.v0, sm.v1, sm.k, c.u0, c.u1, c.v0, c.v1, c.k)
		}
		for _, x := range sm.xa {
			if x < 0 || int(x) >= c.w*4 {
				t.Fatalf("%dx%d: sample offset %d outside the row", c.w, c.h, x)
			}
		}
		for _, y := range sm.ys {
			if y < 0 || int(y) >= c.h {
				t.Fatalf("%dx%d: sample row %d outside the frame", c.w, c.h, y)
			}
		}
	}
	// Samples spread evenly over each output pixel's footprint: for
	// 512 -> 128 output pixel u averages frame pixels 4u .. 4u+3.
	sm := sampler{outW: inputSize, outH: inputSize}
	sm.setup(&frame.Frame{Format: frame.RGB24, Width: 512, Height: 512}, true)
	for u := 0; u < 128; u++ {
		for j := 0; j < 4; j++ {
			if got, want := sm.xa[u*4+j], int32((4*u+j)*3); got != want {
				t.Fatalf("u=%d sample %d at byte %d, want %d", u, j, got, want)
			}
		}
	}
}

func TestLuma(t *testing.T) {
	for _, f := range frame.Formats {
		fr := flatFrame(640, 360, f, 200)
		sm := sampler{outW: 320, outH: 180}
		dst := make([]byte, 320*180)
		sm.luma(fr, dst)
		want := 200 // YUV: limited-range Y 188 stretched back to full range
		for i, v := range dst {
			if d := int(v) - want; d < -1 || d > 1 {
				t.Fatalf("%v: luma[%d] = %d, want %d", f, i, v, want)
			}
		}
	}
}
