package swap

import (
	"fmt"
	"image"
	"math"

	"facelive/engine/align"
	"facelive/engine/face"
	"facelive/engine/merge"
	"facelive/engine/warp"
)

// Photo puts the face of one photo on every target face, without a model
// (the default swapper). The source face is aligned once, at construction,
// with the same align.Options the pipeline aligns target faces with: both
// then sit on the same canonical face in face space, so pasting the aligned
// source back through the target's transform warps it onto the target
// face. engine/merge does the colour transfer and blending.
//
// SwapTo (LandmarkSwapper) makes the face follow the target: it warps the
// aligned source piecewise-affinely, over a fixed triangulation of the
// canonical face's 68 points plus the crop's corners and edge midpoints,
// from the source's face-space landmarks onto the target's, so jaw, mouth,
// brows and cheeks move with the person; its mask is the hull of the
// target's landmarks; it draws only what the paste reads (the reach
// around the mask). Swap, without landmarks, pastes the still source and
// the source's hull. Both only read p: they are safe to call from several
// goroutines at once.
type Photo struct {
	size int
	face []byte       // the aligned source face, size×size BGR8
	src  *warp.Source // face, prepared for SwapTo's warp
	mask []float32    // its landmark hull, size×size
	xf   align.Transform
	// pts: the source's 68 landmarks in face space, then the border
	// points; tris: the triangulation SwapTo warps.
	pts  [warpPoints]face.Point
	tris []warp.Tri
}

// warpPoints: the 68 landmarks and 8 border points (corners and edge
// midpoints of the crop), which pin the warp to the crop's edge so every
// pixel of out is defined and the face's surroundings stretch smoothly.
const warpPoints = 68 + 8

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
	if p.src, err = warp.NewSource(faceImage(p.face, o.Size)); err != nil {
		return nil, fmt.Errorf("swap: preparing the source face: %w", err)
	}
	var hull [len(src.Landmarks)]face.Point
	for i, q := range src.Landmarks {
		hull[i] = t.Apply(q)
	}
	if err := merge.HullMask(hull[:], o.Size, p.mask); err != nil {
		return nil, fmt.Errorf("swap: source face mask: %w", err)
	}
	copy(p.pts[:], hull[:])
	setBorder(&p.pts, o.Size)
	if p.tris, err = canonicalTriangles(o); err != nil {
		return nil, fmt.Errorf("swap: triangulating the face: %w", err)
	}
	return p, nil
}

// setBorder puts the crop's corners and edge midpoints after the landmarks.
func setBorder(pts *[warpPoints]face.Point, size int) {
	e := float64(size) - 0.5
	m := (float64(size) - 1) / 2
	copy(pts[68:], []face.Point{{X: -0.5, Y: -0.5}, {X: m, Y: -0.5}, {X: e, Y: -0.5}, {X: e, Y: m},
		{X: e, Y: e}, {X: m, Y: e}, {X: -0.5, Y: e}, {X: -0.5, Y: m}})
}

// canonicalTriangles triangulates the canonical face where o puts it in
// face space, with the border points: one fixed triangle list for every
// source and target, so that a triangle means the same part of the face on
// both.
func canonicalTriangles(o align.Options) ([]warp.Tri, error) {
	t, err := align.Fit(o.Canonical, o)
	if err != nil {
		return nil, err
	}
	var pts [warpPoints]face.Point
	for i, q := range o.Canonical {
		pts[i] = t.Apply(q)
	}
	setBorder(&pts, o.Size)
	return warp.Delaunay(pts[:])
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

func faceImage(pix []byte, size int) warp.Image {
	return warp.Image{Pix: pix, Stride: 3 * size, W: size, H: size, BPP: 3}
}

// SwapTo implements LandmarkSwapper: out is the source face warped onto
// lm (the target's face-space landmarks), mask lm's hull. With a reach ≥ 0
// only the pixels within reach of the hull (Chebyshev distance) are
// written, and the rest of out is left as it was: a paste never reads it
// (merge.Reach). The target is not read (only its size is checked).
func (p *Photo) SwapTo(target []byte, lm *face.Landmarks, reach int, out []byte, mask []float32) error {
	if err := checkBuffers(p.size, target, out, mask); err != nil {
		return err
	}
	if lm == nil {
		return p.Swap(target, out, mask)
	}
	if err := merge.HullMask(lm[:], p.size, mask); err != nil {
		return err
	}
	to := p.pts // the border stays where it is
	copy(to[:68], lm[:])
	img := faceImage(out, p.size)
	if reach < 0 || p.size > maxSpanRows {
		copy(out, p.face) // what a triangle squashed flat skips
		return p.src.Warp(img, p.tris, p.pts[:], to[:], image.Rect(0, 0, p.size, p.size))
	}
	var spans [maxSpanRows]warp.Span
	n := hullSpans(mask, p.size, lm, min(reach, p.size), &spans)
	for y, sp := range spans[:n] { // what a triangle squashed flat skips
		if sp.X0 < sp.X1 {
			o := 3 * p.size * y
			copy(out[o+3*int(sp.X0):o+3*int(sp.X1)], p.face[o+3*int(sp.X0):o+3*int(sp.X1)])
		}
	}
	return p.src.WarpSpans(img, p.tris, p.pts[:], to[:], spans[:n])
}

// maxSpanRows bounds the face size whose warp SwapTo cuts to the reach row
// by row (larger faces warp whole).
const maxSpanRows = 1024

// hullSpans writes into spans, for each row of a size×size face, the
// pixels within reach of the hull mask's nonzero values, and returns how
// many rows it wrote (the rows below them have none). The mask is convex
// (HullMask), so each of its rows is one span; lm bounds where it is.
func hullSpans(mask []float32, size int, lm *face.Landmarks, reach int, spans *[maxSpanRows]warp.Span) int {
	b := lm.Bounds() // finite: HullMask checked
	in := func(v float64) int { return int(min(max(v, 0), float64(size-1))) }
	// The hull mask's nonzero pixels lie within half a pixel of the hull.
	x0, x1 := in(math.Floor(b.X0)-1), in(math.Ceil(b.X1)+1)
	y0, y1 := in(math.Floor(b.Y0)-1), in(math.Ceil(b.Y1)+1)
	var rows [maxSpanRows]warp.Span // each mask row's nonzero span
	for y := y0; y <= y1; y++ {
		row := mask[y*size : y*size+size]
		a, c := x0, x1
		for a <= x1 && row[a] == 0 {
			a++
		}
		for c >= a && row[c] == 0 {
			c--
		}
		rows[y] = warp.Span{X0: int32(a), X1: int32(c + 1)}
	}
	n := min(y1+reach+1, size)
	for y := max(y0-reach, 0); y < n; y++ {
		s := warp.Span{X0: int32(size), X1: 0}
		for k := max(y-reach, y0); k <= min(y+reach, y1); k++ {
			if r := rows[k]; r.X0 < r.X1 {
				s.X0, s.X1 = min(s.X0, r.X0), max(s.X1, r.X1)
			}
		}
		if s.X0 < s.X1 {
			s.X0, s.X1 = max(s.X0-int32(reach), 0), min(s.X1+int32(reach), int32(size))
		}
		spans[y] = s
	}
	for y := range max(y0-reach, 0) {
		spans[y] = warp.Span{}
	}
	return n
}

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
