package swap

import "fmt"

// Privacy hides a face instead of replacing it: "blur" smooths it beyond
// recognition, "pixelate" replaces it with coarse blocks. Both cover the
// face ellipse of the aligned crop.
type Privacy struct {
	kind  string
	size  int
	block int      // pixelate: block side in face pixels
	tmp   []uint32 // blur: running sums of one row or column
	buf   []byte   // blur: the horizontal pass
	mask  []float32
}

// NewPrivacy returns a blur or pixelate swapper for faces of size×size.
func NewPrivacy(kind string, size int) (*Privacy, error) {
	if kind != "blur" && kind != "pixelate" {
		return nil, fmt.Errorf("swap: privacy kind %q; allowed: blur, pixelate", kind)
	}
	if size < 16 {
		return nil, fmt.Errorf("swap: face size %d too small; need at least 16", size)
	}
	p := &Privacy{kind: kind, size: size, block: max(4, size/14),
		tmp: make([]uint32, size+1), buf: make([]byte, size*size*3), mask: make([]float32, size*size)}
	ellipseMask(size, p.mask)
	return p, nil
}

// Size implements Swapper.
func (p *Privacy) Size() int { return p.size }

// Close implements Swapper.
func (p *Privacy) Close() error { return nil }

// Swap implements Swapper.
func (p *Privacy) Swap(target, out []byte, mask []float32) error {
	if err := checkBuffers(p.size, target, out, mask); err != nil {
		return err
	}
	if p.kind == "pixelate" {
		p.pixelate(target, out)
	} else {
		// Three box passes approximate a Gaussian; a radius of a sixth of the
		// face removes every identifying detail.
		r := p.size / 6
		p.boxBlur(target, out, r)
		p.boxBlur(out, out, r)
		p.boxBlur(out, out, r)
	}
	copy(mask, p.mask)
	return nil
}

func (p *Privacy) pixelate(src, dst []byte) {
	s, b := p.size, p.block
	for by := 0; by < s; by += b {
		for bx := 0; bx < s; bx += b {
			var sum [3]int
			n := 0
			for y := by; y < min(by+b, s); y++ {
				for x := bx; x < min(bx+b, s); x++ {
					i := 3 * (y*s + x)
					sum[0] += int(src[i])
					sum[1] += int(src[i+1])
					sum[2] += int(src[i+2])
					n++
				}
			}
			for y := by; y < min(by+b, s); y++ {
				for x := bx; x < min(bx+b, s); x++ {
					i := 3 * (y*s + x)
					dst[i], dst[i+1], dst[i+2] = byte(sum[0]/n), byte(sum[1]/n), byte(sum[2]/n)
				}
			}
		}
	}
}

// boxBlur blurs src into dst (which may be src) with a box of radius r,
// edges clamped: a horizontal pass into p.buf, then a vertical one.
func (p *Privacy) boxBlur(src, dst []byte, r int) {
	s := p.size
	for c := 0; c < 3; c++ {
		for y := 0; y < s; y++ {
			p.pass(src[3*y*s+c:], 3, p.buf[3*y*s+c:], 3, r)
		}
		for x := 0; x < s; x++ {
			p.pass(p.buf[3*x+c:], 3*s, dst[3*x+c:], 3*s, r)
		}
	}
}

// pass blurs one line of p.size samples, step bytes apart, with a prefix sum.
func (p *Privacy) pass(src []byte, sstep int, dst []byte, dstep int, r int) {
	s := p.size
	p.tmp[0] = 0
	for i := 0; i < s; i++ {
		p.tmp[i+1] = p.tmp[i] + uint32(src[i*sstep])
	}
	for i := 0; i < s; i++ {
		lo, hi := max(0, i-r), min(s, i+r+1)
		dst[i*dstep] = byte((p.tmp[hi] - p.tmp[lo]) / uint32(hi-lo))
	}
}
