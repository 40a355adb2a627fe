package overlay

import (
	"fmt"
	"image"
	"testing"

	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
)

func TestDisclosureLabelEveryFormat(t *testing.T) {
	for _, f := range frame.Formats {
		t.Run(f.String(), func(t *testing.T) {
			w, h := 640, 360
			bgr := make([]byte, w*h*3)
			for i := range bgr {
				bgr[i] = byte(100 + i%7) // mid grey, slightly textured
			}
			src := frametest.FromBGR(bgr, w, h, f, 8)
			orig := frametest.Clone(src)
			l := NewLabel(DisclosureText)
			l.Draw(src)
			r := l.Rect(w, h)
			if r.Empty() || r.Dy() < 14 || r.Min.X > 20 || r.Max.Y < h-20 {
				t.Fatalf("label at %v: not a readable box in the bottom-left corner", r)
			}
			bright, darkened := 0, 0
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					a, b := frametest.ReadBGR(orig, x, y), frametest.ReadBGR(src, x, y)
					inBox := x >= r.Min.X && x < r.Max.X && y >= r.Min.Y && y < r.Max.Y
					switch {
					case !inBox && a != b && !f.IsYUV():
						t.Fatalf("pixel (%d,%d) outside the label changed", x, y)
					case inBox && b[1] > 200:
						bright++
					case inBox && int(b[1]) < int(a[1])-30:
						darkened++
					}
				}
			}
			if bright < 30 || darkened < r.Dx()*r.Dy()/3 {
				t.Fatalf("label not drawn: %d text pixels, %d darkened of %d", bright, darkened, r.Dx()*r.Dy())
			}
			if f.IsYUV() { // pixel colours mix chroma blocks: compare luma bytes
				for y := 0; y < r.Min.Y-2; y++ {
					row := f.RowBytes(0, w)
					if string(orig.Planes[0][y*orig.Stride[0]:y*orig.Stride[0]+row]) != string(src.Planes[0][y*src.Stride[0]:y*src.Stride[0]+row]) {
						t.Fatalf("luma row %d above the label changed", y)
					}
				}
			}
			if n := testing.AllocsPerRun(10, func() { l.Draw(src) }); n != 0 {
				t.Fatalf("Draw allocates %.0f times per frame", n)
			}
		})
	}
}

func TestLabelScalesWithTheFrame(t *testing.T) {
	l := NewLabel(DisclosureText)
	prev := 0
	for _, h := range []int{360, 720, 1080, 2160} {
		r := l.Rect(16*h/9, h)
		if r.Dy() <= prev {
			t.Fatalf("label %v at %dp is not taller than at the smaller size", r, h)
		}
		prev = r.Dy()
		t.Log(fmt.Sprintf("%dp: label %dx%d", h, r.Dx(), r.Dy()))
	}
	if r := l.Rect(40, 30); !r.Empty() {
		t.Fatalf("a 40x30 frame cannot hold the label, got %v", r)
	}
}

func TestTopLabelChangesOnlyItsBoxAndFollowsTheText(t *testing.T) {
	f := frametest.FromBGR(make([]byte, 640*360*3), 640, 360, frame.BGRA, 0)
	l := NewTopLabel("fps 30.0")
	r1 := l.Rect(640, 360)
	if r1.Empty() || r1.Min.Y > 20 {
		t.Fatalf("top label at %v, want near the top", r1)
	}
	l.SetText("fps 30.0 · latency 12.5 ms · dropped 3")
	r2 := l.Rect(640, 360)
	if r2.Dx() <= r1.Dx() {
		t.Fatalf("a longer text kept the box %v (was %v)", r2, r1)
	}
	before := frametest.Clone(f)
	l.Draw(f)
	changed := 0
	for y := 0; y < 360; y++ {
		for x := 0; x < 640; x++ {
			if frametest.ReadBGR(f, x, y) != frametest.ReadBGR(before, x, y) {
				changed++
				if !image.Pt(x, y).In(r2) {
					t.Fatalf("pixel %d,%d outside the label box %v changed", x, y, r2)
				}
			}
		}
	}
	if changed == 0 {
		t.Fatal("the label drew nothing")
	}
}
