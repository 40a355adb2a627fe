package frame_test

import (
	"fmt"
	"image"
	"testing"

	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
)

// TestSub: a view reads the same pixels as the frame at the view's offset,
// validates, and keeps whole chroma samples.
func TestSub(t *testing.T) {
	const w, h = 64, 48
	bgr := make([]byte, 3*w*h)
	for i := range bgr {
		bgr[i] = byte(i*7 + i/3)
	}
	for _, f := range frame.Formats {
		for _, r := range []image.Rectangle{image.Rect(10, 6, 40, 30), image.Rect(11, 7, 41, 31), image.Rect(-5, -5, 20, 20), image.Rect(50, 40, 90, 90)} {
			t.Run(fmt.Sprintf("%s/%v", f, r), func(t *testing.T) {
				fr := frametest.FromBGR(bgr, w, h, f, 3)
				v, got := fr.Sub(r)
				if err := v.Validate(); err != nil {
					t.Fatalf("view of %v (%v) does not validate: %v", r, got, err)
				}
				if !got.In(r.Intersect(image.Rect(0, 0, w, h)).Inset(-1)) || got.Dx() != v.Width || got.Dy() != v.Height {
					t.Fatalf("view %v (%dx%d) for %v", got, v.Width, v.Height, r)
				}
				if f.IsYUV() && (got.Min.X%2 != 0 || v.Width%2 != 0) {
					t.Fatalf("%s view %v cuts a chroma sample", f, got)
				}
				for y := 0; y < v.Height; y++ {
					for x := 0; x < v.Width; x++ {
						if a, b := frametest.ReadBGR(&v, x, y), frametest.ReadBGR(fr, x+got.Min.X, y+got.Min.Y); a != b {
							t.Fatalf("view (%d,%d) = %v, frame (%d,%d) = %v", x, y, a, x+got.Min.X, y+got.Min.Y, b)
						}
					}
				}
			})
		}
	}
	fr := frametest.FromBGR(bgr, w, h, frame.NV12, 0)
	if v, got := fr.Sub(image.Rect(100, 100, 120, 120)); !got.Empty() || v.Width != 0 {
		t.Errorf("a rectangle outside the frame gave %v (%dx%d)", got, v.Width, v.Height)
	}
}
