// Package swap holds the face swappers. A swapper works in aligned face
// space: it gets the target face cropped and aligned to a Size×Size BGR
// image (see engine/align) and writes the face to paste back plus a mask
// saying where it applies; engine/merge pastes it into the frame.
package swap

import (
	"fmt"

	"facelive/engine/face"
)

// Swapper replaces one aligned face.
type Swapper interface {
	// Size is the side of the square aligned face this swapper works on.
	Size() int
	// Swap reads target (Size*Size*3 BGR8) and writes out (the same layout)
	// and mask (Size*Size, 0..1; 1 = use out). It must not allocate in
	// steady state.
	Swap(target, out []byte, mask []float32) error
	// Close frees the swapper's resources (model sessions).
	Close() error
}

// LandmarkSwapper is a Swapper that follows the target's expression: the
// swap stage calls SwapTo instead of Swap when it has the target's 68
// landmarks. lm holds them in face space (the live landmarks mapped
// through the crop's transform), so out and mask can be drawn onto the
// target's jaw, mouth, brows and eyes as they are in this frame.
type LandmarkSwapper interface {
	Swapper
	// SwapTo is Swap with the target's face-space landmarks. out need
	// only be right within reach pixels (along x and y) of the box of
	// mask's nonzero values, which is all a paste reads (merge.Reach); a
	// negative reach asks for all of it. Like Swap it must not allocate in
	// steady state.
	SwapTo(target []byte, lm *face.Landmarks, reach int, out []byte, mask []float32) error
}

// checkBuffers validates the caller's buffers against the swapper's size.
func checkBuffers(size int, target, out []byte, mask []float32) error {
	n := size * size
	if len(target) < 3*n || len(out) < 3*n || len(mask) < n {
		return fmt.Errorf("swap: buffers too small for a %dx%d face: target %d, out %d, mask %d", size, size, len(target), len(out), len(mask))
	}
	return nil
}

// ellipseMask writes a soft-edged ellipse covering the face part of an
// aligned crop: with DeepFaceLive's whole-face coverage the face fills the
// middle of the crop, a little above centre.
func ellipseMask(size int, mask []float32) {
	cx, cy := float64(size)/2, float64(size)*0.48
	rx, ry := float64(size)*0.34, float64(size)*0.42
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			dx, dy := (float64(x)+0.5-cx)/rx, (float64(y)+0.5-cy)/ry
			d := dx*dx + dy*dy
			switch {
			case d <= 0.81:
				mask[y*size+x] = 1
			case d >= 1:
				mask[y*size+x] = 0
			default: // a short ramp; merge blurs the rest
				mask[y*size+x] = float32((1 - d) / 0.19)
			}
		}
	}
}
