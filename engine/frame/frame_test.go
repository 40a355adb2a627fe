package frame

import (
	"errors"
	"fmt"
	"testing"
)

// fill makes a frame of the given geometry with padded strides (pad bytes
// per row, filled with a sentinel) and a deterministic pixel pattern.
func fill(f Format, w, h, pad int, seed byte) *Frame {
	fr := &Frame{Format: f, Width: w, Height: h, PTS: int64(seed) * 1000}
	for i := 0; i < f.Planes(); i++ {
		stride := f.RowBytes(i, w) + pad
		buf := make([]byte, stride*f.Rows(i, h))
		for j := range buf {
			buf[j] = 0xEE // padding sentinel
		}
		for y := 0; y < f.Rows(i, h); y++ {
			for x := 0; x < f.RowBytes(i, w); x++ {
				buf[y*stride+x] = byte(x*7+y*13+i*31) + seed
			}
		}
		fr.Planes[i], fr.Stride[i] = buf, stride
	}
	return fr
}

// oddSize returns 641x359 where the format allows it, else the nearest legal size.
func oddSize(f Format) (int, int) {
	switch f {
	case NV12, I420:
		return 640, 358
	case YUY2:
		return 640, 359
	}
	return 641, 359
}

func equalRows(a, b *Frame) error {
	for i := 0; i < a.Format.Planes(); i++ {
		row := a.Format.RowBytes(i, a.Width)
		for y := 0; y < a.Format.Rows(i, a.Height); y++ {
			ra := a.Planes[i][y*a.Stride[i] : y*a.Stride[i]+row]
			rb := b.Planes[i][y*b.Stride[i] : y*b.Stride[i]+row]
			if string(ra) != string(rb) {
				return fmt.Errorf("plane %d row %d differs", i, y)
			}
		}
	}
	return nil
}

// checkPadding fails when a byte between a row's end and the next row's
// start no longer holds fill's sentinel.
func checkPadding(t *testing.T, f *Frame) {
	t.Helper()
	for i := 0; i < f.Format.Planes(); i++ {
		row := f.Format.RowBytes(i, f.Width)
		for y := 0; y < f.Format.Rows(i, f.Height); y++ {
			for x := row; x < f.Stride[i]; x++ {
				if f.Planes[i][y*f.Stride[i]+x] != 0xEE {
					t.Fatalf("plane %d row %d: padding byte %d overwritten", i, y, x)
				}
			}
		}
	}
}

func TestCopyEveryFormatPaddedStrides(t *testing.T) {
	for _, f := range Formats {
		w, h := oddSize(f)
		for _, pads := range [][2]int{{0, 0}, {13, 0}, {0, 64}, {7, 29}} {
			t.Run(fmt.Sprintf("%s/%dx%d/pad%d-%d", f, w, h, pads[0], pads[1]), func(t *testing.T) {
				src := fill(f, w, h, pads[0], 3)
				dst := fill(f, w, h, pads[1], 99)
				if err := src.Validate(); err != nil {
					t.Fatal(err)
				}
				Copy(dst, src)
				if err := equalRows(dst, src); err != nil {
					t.Fatal(err)
				}
				if dst.PTS != src.PTS {
					t.Fatalf("pts %d, want %d", dst.PTS, src.PTS)
				}
				checkPadding(t, dst) // padding is never written
			})
		}
	}
}

func TestValidate(t *testing.T) {
	good := func(f Format, w, h int) *Frame { return fill(f, w, h, 0, 1) }
	tests := []struct {
		name  string
		frame func() *Frame
		want  error
	}{
		{"ok BGRA", func() *Frame { return good(BGRA, 3, 3) }, nil},
		{"unknown format", func() *Frame { f := good(BGRA, 4, 4); f.Format = 0; return f }, ErrFormat},
		{"format 99", func() *Frame { f := good(BGRA, 4, 4); f.Format = 99; return f }, ErrFormat},
		{"zero width", func() *Frame { f := good(BGRA, 4, 4); f.Width = 0; return f }, ErrFrame},
		{"huge height", func() *Frame { f := good(BGRA, 4, 4); f.Height = MaxDimension + 1; return f }, ErrFrame},
		{"odd NV12 width", func() *Frame { f := good(NV12, 4, 4); f.Width = 3; return f }, ErrFrame},
		{"odd I420 height", func() *Frame { f := good(I420, 4, 4); f.Height = 3; return f }, ErrFrame},
		{"odd YUY2 width", func() *Frame { f := good(YUY2, 4, 4); f.Width = 5; return f }, ErrFrame},
		{"nil plane 1", func() *Frame { f := good(NV12, 4, 4); f.Planes[1] = nil; return f }, ErrFrame},
		{"short stride", func() *Frame { f := good(RGB24, 4, 4); f.Stride[0] = 11; return f }, ErrFrame},
		{"short plane", func() *Frame { f := good(I420, 4, 4); f.Planes[2] = f.Planes[2][:3]; return f }, ErrFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.frame().Validate()
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Validate() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestPoolReusesBuffers(t *testing.T) {
	p := NewPool(4)
	a := p.Get(NV12, 64, 48)
	a.Release()
	b := p.Get(NV12, 64, 48)
	if b != a {
		t.Fatal("same-size Get after Release did not reuse the buffer")
	}
	if got := len(b.Planes[1]); got != 64*24 {
		t.Fatalf("UV plane %d bytes, want %d", got, 64*24)
	}
	c := p.Get(BGRA, 1920, 1080) // much larger: must not reuse the small one
	if cap(c.mem) < 1920*1080*4 {
		t.Fatal("buffer too small for 1080p BGRA")
	}
	st := p.Stats()
	if st.Gets != 3 || st.Hits != 1 || st.Outstanding != 2 {
		t.Fatalf("stats %+v, want 3 gets, 1 hit, 2 outstanding", st)
	}
	if allocs := testing.AllocsPerRun(100, func() { p.Get(NV12, 64, 48).Release() }); allocs != 0 {
		t.Fatalf("steady-state Get/Release allocates %.1f times", allocs)
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range Formats {
		got, err := ParseFormat(f.String())
		if err != nil || got != f {
			t.Fatalf("ParseFormat(%q) = %v, %v", f.String(), got, err)
		}
	}
	if _, err := ParseFormat("nv21"); err == nil {
		t.Fatal("nv21 accepted")
	}
}
