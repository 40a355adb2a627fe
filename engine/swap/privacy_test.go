package swap

import (
	"math"
	"testing"
)

// checker is a high-contrast face-sized pattern: blur must flatten it,
// pixelate must make it blocky.
func checker(size int) []byte {
	b := make([]byte, size*size*3)
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			v := byte(0)
			if (x/3+y/3)%2 == 0 {
				v = 255
			}
			i := 3 * (y*size + x)
			b[i], b[i+1], b[i+2] = v, v/2, 255-v
		}
	}
	return b
}

// detail is the mean absolute difference between horizontal neighbours
// inside the face: what identifies a face, and what privacy must remove.
func detail(img []byte, size int) float64 {
	sum, n := 0.0, 0
	for y := size / 3; y < 2*size/3; y++ {
		for x := size / 3; x < 2*size/3; x++ {
			i := 3 * (y*size + x)
			sum += math.Abs(float64(img[i]) - float64(img[i+3]))
			n++
		}
	}
	return sum / float64(n)
}

func TestPrivacyRemovesDetail(t *testing.T) {
	const size = 224
	for _, kind := range []string{"blur", "pixelate"} {
		t.Run(kind, func(t *testing.T) {
			p, err := NewPrivacy(kind, size)
			if err != nil {
				t.Fatal(err)
			}
			in := checker(size)
			out := make([]byte, len(in))
			mask := make([]float32, size*size)
			if err := p.Swap(in, out, mask); err != nil {
				t.Fatal(err)
			}
			before, after := detail(in, size), detail(out, size)
			if after > before/10 {
				t.Fatalf("detail %.1f -> %.1f: the face is still recognisable", before, after)
			}
			if mask[(size/2)*size+size/2] != 1 || mask[0] != 0 {
				t.Fatalf("mask centre %v corner %v, want 1 and 0", mask[(size/2)*size+size/2], mask[0])
			}
			if n := testing.AllocsPerRun(20, func() { p.Swap(in, out, mask) }); n != 0 {
				t.Fatalf("Swap allocates %.1f times", n)
			}
		})
	}
}

func TestPrivacyErrors(t *testing.T) {
	if _, err := NewPrivacy("smudge", 224); err == nil {
		t.Fatal("unknown kind accepted")
	}
	p, _ := NewPrivacy("blur", 64)
	if err := p.Swap(make([]byte, 10), make([]byte, 64*64*3), make([]float32, 64*64)); err == nil {
		t.Fatal("short target accepted")
	}
}
