package frame

import (
	"fmt"
	"image"
	"testing"
)

// touch changes every byte that holds part of pixel (x, y), by the format's
// own layout (written out here, not derived from CopyDamaged's arithmetic).
func touch(f *Frame, x, y int) {
	bump := func(plane, off, n int) {
		for i := off; i < off+n; i++ {
			f.Planes[plane][i] ^= 0x5A
		}
	}
	s := f.Stride
	switch f.Format {
	case NV12:
		bump(0, y*s[0]+x, 1)
		bump(1, y/2*s[1]+x/2*2, 2)
	case I420:
		bump(0, y*s[0]+x, 1)
		bump(1, y/2*s[1]+x/2, 1)
		bump(2, y/2*s[2]+x/2, 1)
	case YUY2:
		bump(0, y*s[0]+x*2, 1)        // this pixel's Y
		bump(0, y*s[0]+(x&^1)*2+1, 1) // the pair's U
		bump(0, y*s[0]+(x&^1)*2+3, 1) // the pair's V
	default:
		bpp := f.Format.BytesPerPixel()
		bump(0, y*s[0]+x*bpp, bpp)
	}
}

func cloneFrame(f *Frame, pad int) *Frame {
	c := fill(f.Format, f.Width, f.Height, pad, 0)
	Copy(c, f)
	return c
}

func TestCopyDamagedCopiesExactlyTheChangedPixels(t *testing.T) {
	// Odd edges on purpose: chroma blocks straddle them.
	rects := []image.Rectangle{image.Rect(3, 5, 40, 33), image.Rect(101, 7, 102, 8), image.Rect(600, 340, 700, 400)}
	for _, f := range Formats {
		w, h := oddSize(f)
		t.Run(fmt.Sprintf("%s/%dx%d", f, w, h), func(t *testing.T) {
			orig := fill(f, w, h, 5, 3)
			src := cloneFrame(orig, 0) // the pipeline's buffer, tightly packed
			var d Damage
			for _, r := range rects {
				r = r.Intersect(image.Rect(0, 0, w, h))
				for y := r.Min.Y; y < r.Max.Y; y++ {
					for x := r.Min.X; x < r.Max.X; x++ {
						touch(src, x, y)
					}
				}
				d.Add(r)
			}
			src.PTS = 77
			dst := cloneFrame(orig, 9) // the host's frame: still the input
			// A byte far from every rectangle, changed in dst only: CopyDamaged must not write it.
			far := 200*dst.Stride[0] + 300*f.BytesPerPixel()
			if f.IsYUV() {
				far = 200*dst.Stride[0] + 300
			}
			dst.Planes[0][far] ^= 0xFF
			CopyDamaged(dst, src, &d)
			if dst.Planes[0][far] == src.Planes[0][far] {
				t.Fatalf("byte %d outside the damage was written", far)
			}
			dst.Planes[0][far] ^= 0xFF
			if err := equalRows(dst, src); err != nil {
				t.Fatalf("after CopyDamaged: %v", err)
			}
			if dst.PTS != 77 {
				t.Fatalf("PTS %d, want 77", dst.PTS)
			}
			checkPadding(t, dst)
		})
	}
}

func TestDamageMergesPastTheLimitAndAll(t *testing.T) {
	var d Damage
	for i := 0; i < MaxDamage+3; i++ {
		d.Add(image.Rect(10*i, 0, 10*i+5, 5))
	}
	d.Add(image.Rectangle{}) // empty: ignored
	rs := d.Rects()
	if len(rs) != MaxDamage {
		t.Fatalf("%d rects, want %d", len(rs), MaxDamage)
	}
	if want := image.Rect(10*(MaxDamage-1), 0, 10*(MaxDamage+2)+5, 5); rs[MaxDamage-1] != want {
		t.Fatalf("last rect %v, want the union %v", rs[MaxDamage-1], want)
	}
	src, dst := fill(BGRA, 64, 8, 0, 1), fill(BGRA, 64, 8, 0, 2)
	d.AddAll()
	CopyDamaged(dst, src, &d)
	if err := equalRows(dst, src); err != nil {
		t.Fatalf("AddAll: whole frame not copied: %v", err)
	}
	d.Reset()
	if d.All() || len(d.Rects()) != 0 {
		t.Fatal("Reset left damage behind")
	}
}

func TestCopyDamagedAllocatesNothing(t *testing.T) {
	src, dst := fill(NV12, 1280, 720, 0, 1), fill(NV12, 1280, 720, 0, 2)
	var d Damage
	d.Add(image.Rect(400, 100, 800, 500))
	if n := testing.AllocsPerRun(20, func() { CopyDamaged(dst, src, &d) }); n != 0 {
		t.Fatalf("%v allocations per call, want 0", n)
	}
}
