package swap

import (
	"fmt"

	"facelive/engine/align"
	"facelive/engine/face"
	"facelive/engine/merge"
)

// Photo puts the face of one photo on every target face, without a model
// (the default swapper). The source face is aligned once, at construction,
// with the same align.Options the pipeline aligns target faces with: both
// then sit on the same canonical face in face space, so pasting the aligned
// source back through the target's transform warps it onto the target
// face. engine/merge does the colour transfer and blending.
//
// The mask is the convex hull of the source's 68 landmarks in face space.
// Swap only copies; it is safe to call from several goroutines at once.
type Photo struct {
	size int
	face []byte    // the aligned source face, size×size BGR8
	mask []float32 // its landmark hull, size×size
	xf   align.Transform
}

// NewPhoto aligns src with o (align.Fit; o.Canonical is required, for
// example &landmark.MeanFace; a zero o.Size means align.DefaultSize and a
// zero o.Coverage align.DefaultCoverage). o must equal the options the
// pipeline aligns target faces with, and Size() is o.Size.
func NewPhoto(src *SourceFace, o align.Options) (*Photo, error) {
	if src == nil {
		return nil, fmt.Errorf("swap: photo swapper needs a source face")
	}
	if o.Size == 0 {
		o.Size = align.DefaultSize
	}
	if o.Coverage == 0 {
		o.Coverage = align.DefaultCoverage
	}
	if o.Size < 16 {
		return nil, fmt.Errorf("swap: face size %d too small; need at least 16", o.Size)
	}
	t, err := align.Fit(&src.Landmarks, o)
	if err != nil {
		return nil, fmt.Errorf("swap: aligning the source face: %w", err)
	}
	p := &Photo{size: o.Size, face: make([]byte, o.Size*o.Size*3), mask: make([]float32, o.Size*o.Size), xf: t}
	if err := align.Crop(&src.Image, t, p.face); err != nil {
		return nil, fmt.Errorf("swap: cropping the source face: %w", err)
	}
	var hull [len(src.Landmarks)]face.Point
	for i, q := range src.Landmarks {
		hull[i] = t.Apply(q)
	}
	if err := merge.HullMask(hull[:], o.Size, p.mask); err != nil {
		return nil, fmt.Errorf("swap: source face mask: %w", err)
	}
	return p, nil
}

// Size implements Swapper.
func (p *Photo) Size() int { return p.size }

// Close implements Swapper.
func (p *Photo) Close() error { return nil }

// Face returns the aligned source face (Size×Size BGR8) and its mask. They
// belong to p: do not modify them.
func (p *Photo) Face() ([]byte, []float32) { return p.face, p.mask }

// Transform returns the source photo's alignment (photo pixels to face
// space).
func (p *Photo) Transform() align.Transform { return p.xf }

// Swap implements Swapper: out is the aligned source face, mask its hull.
// The target is not read (only its size is checked).
func (p *Photo) Swap(target, out []byte, mask []float32) error {
	if err := checkBuffers(p.size, target, out, mask); err != nil {
		return err
	}
	copy(out, p.face)
	copy(mask, p.mask)
	return nil
}
