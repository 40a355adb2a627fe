package swap

import (
	"fmt"

	"facelive/engine/align"
	"facelive/engine/face"
)

// Aligner is implemented by swappers whose model was trained on a crop other
// than the pipeline's whole-face one (align.Fit). For such a swapper the
// pipeline crops the target face with Align's transform, at Size(), and
// pastes the result back through the same transform.
type Aligner interface {
	Align(lm *face.Landmarks) (align.Transform, error)
}

// ArcFaceTemplate is insightface's arcface_dst: where the five keypoints
// (see FivePoints) lie in a 112×112 ArcFace crop, in pixels (pixel centres
// at integers, as cv2.warpAffine samples).
var ArcFaceTemplate = [5]face.Point{
	{X: 38.2946, Y: 51.6963}, // eye on the image's left (the subject's right)
	{X: 73.5318, Y: 51.5014}, // eye on the image's right
	{X: 56.0252, Y: 71.7366}, // nose tip
	{X: 41.5493, Y: 92.3655}, // mouth corner on the image's left
	{X: 70.7299, Y: 92.2041}, // mouth corner on the image's right
}

// FivePoints derives insightface's five keypoints, in ArcFaceTemplate's
// order, from 68 landmarks: the eye centres (mean of 36–41 and of 42–47),
// the nose tip (30) and the mouth corners (48, 54).
func FivePoints(lm *face.Landmarks) [5]face.Point {
	eye := func(from int) face.Point {
		var c face.Point
		for _, p := range lm[from : from+6] {
			c.X += p.X / 6
			c.Y += p.Y / 6
		}
		return c
	}
	return [5]face.Point{eye(36), eye(42), lm[30], lm[48], lm[54]}
}

// ArcFaceTransform returns insightface's norm_crop alignment of a face for
// a size×size crop (face_align.estimate_norm): the similarity (Umeyama)
// that maps the face's five keypoints onto ArcFaceTemplate scaled by
// size/112 when size is a multiple of 112, else scaled by size/128 and
// shifted right by 8·size/128 (so 128 is the 112 template moved 8 px right:
// InSwapper's target crop).
func ArcFaceTransform(lm *face.Landmarks, size int) (align.Transform, error) {
	if lm == nil {
		return align.Transform{}, fmt.Errorf("swap: ArcFace alignment needs landmarks")
	}
	if size < 1 || size > align.MaxSize {
		return align.Transform{}, fmt.Errorf("swap: ArcFace crop size %d out of range 1..%d", size, align.MaxSize)
	}
	ratio, dx := float64(size)/112, 0.0
	if size%112 != 0 {
		ratio = float64(size) / 128
		dx = 8 * ratio
	}
	var dst [5]face.Point
	for i, p := range ArcFaceTemplate {
		dst[i] = face.Point{X: p.X*ratio + dx, Y: p.Y * ratio}
	}
	src := FivePoints(lm)
	m, err := align.Umeyama(src[:], dst[:])
	if err != nil {
		return align.Transform{}, fmt.Errorf("swap: ArcFace alignment: %w", err)
	}
	return align.NewTransform(m, size)
}
