// Package align fits a face to a canonical 68-point shape and describes the
// resulting "whole face" crop (DeepFaceLive's convention) as an affine map
// between frame pixels and face-space pixels.
//
// Conventions:
//
//   - Coordinates are pixels with pixel centres at integers (OpenCV's
//     convention, as in package face), x right, y down, in the frame and in
//     face space alike. Face-space pixel (u, v) of an S×S crop is the frame
//     sampled at Transform.Inverse((u, v)); the crop square spans
//     [-0.5, S-0.5]² in face space.
//   - The fit is a least-squares similarity (rotation, uniform scale,
//     translation; no reflection) of frame landmarks onto the canonical
//     shape: Umeyama's method, which in 2-D has the closed form used here.
//     With 68 landmarks the fitted points are 17–35 (brows, nose) and the eye
//     corners and mouth corners 36, 39, 42, 45, 48, 54. With detector
//     keypoints the fitted points are the eye centres (canonical mean of
//     36–41 and of 42–47), the nose tip (canonical 30) and the mouth centre
//     (canonical mean of 48–67); the ears are not used.
//   - The canonical shape's extent is the bounding box of its points 17–67
//     (the unit square for a normalised mean face). The crop is a square of
//     side Coverage × that extent (the larger side), centred on the box's
//     centre moved towards the top of the face by ShiftUp × the crop side, so
//     the canonical centre lands at ((S-1)/2, (S-1)/2 + ShiftUp·S) in face
//     space.
package align

import (
	"errors"
	"fmt"
	"image"
	"math"

	"facelive/engine/face"
)

// Defaults of DeepFaceLive's "whole face" crop.
const (
	DefaultSize     = 224
	DefaultCoverage = 2.2
	DefaultShiftUp  = 0.08
	// MaxSize bounds Options.Size: a face crop larger than this is a bug.
	MaxSize = 4096
)

// ErrDegenerate is returned (wrapped) when the points cannot determine a
// similarity: all equal, not finite, or a canonical shape without extent.
var ErrDegenerate = errors.New("align: degenerate points")

// Options describe the crop. Fields are used as given; start from
// DefaultOptions.
type Options struct {
	// Size is the side of the square face-space image in pixels (224 for
	// DFM models' usual crop, 128 for InSwapper).
	Size int
	// Coverage is the crop side as a multiple of the canonical extent.
	Coverage float64
	// ShiftUp moves the crop centre towards the top of the face, as a
	// fraction of the crop side (negative moves it down).
	ShiftUp float64
	// Canonical is the mean face the landmarks are fitted to (for example
	// landmark.MeanFace). Only the points named in the package comment are
	// read. It must not change while Fit runs.
	Canonical *face.Landmarks
}

// DefaultOptions returns the 224-pixel whole-face crop on the given
// canonical shape.
func DefaultOptions(canonical *face.Landmarks) Options {
	return Options{Size: DefaultSize, Coverage: DefaultCoverage, ShiftUp: DefaultShiftUp, Canonical: canonical}
}

func (o *Options) check() error {
	if o.Canonical == nil {
		return errors.New("align: Options.Canonical is nil")
	}
	if o.Size < 1 || o.Size > MaxSize {
		return fmt.Errorf("align: Options.Size %d out of range 1..%d", o.Size, MaxSize)
	}
	if !(o.Coverage > 0) || math.IsInf(o.Coverage, 0) {
		return fmt.Errorf("align: Options.Coverage %v must be positive", o.Coverage)
	}
	if !(o.ShiftUp > -1 && o.ShiftUp < 1) {
		return fmt.Errorf("align: Options.ShiftUp %v out of range (-1, 1)", o.ShiftUp)
	}
	return nil
}

// Transform maps frame pixels to the pixels of an S×S face-space image and
// back. M and Inv are row-major 2×3 affine matrices:
//
//	u = M[0]*x + M[1]*y + M[2]
//	v = M[3]*x + M[4]*y + M[5]
//
// and likewise Inv from (u, v) to (x, y). The zero Transform is invalid.
type Transform struct {
	M    [6]float64 // frame → face space
	Inv  [6]float64 // face space → frame
	Size int        // S, the side of the face-space image
}

// NewTransform builds a Transform from a frame→face-space matrix. It fails
// when m is singular or not finite, or size is out of range.
func NewTransform(m [6]float64, size int) (Transform, error) {
	if size < 1 || size > MaxSize {
		return Transform{}, fmt.Errorf("align: size %d out of range 1..%d", size, MaxSize)
	}
	for _, v := range m {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Transform{}, fmt.Errorf("%w: matrix %v is not finite", ErrDegenerate, m)
		}
	}
	det := m[0]*m[4] - m[1]*m[3]
	if math.Abs(det) < 1e-12 {
		return Transform{}, fmt.Errorf("%w: matrix %v is singular", ErrDegenerate, m)
	}
	a, b, c, d := m[4]/det, -m[1]/det, -m[3]/det, m[0]/det
	inv := [6]float64{a, b, -(a*m[2] + b*m[5]), c, d, -(c*m[2] + d*m[5])}
	return Transform{M: m, Inv: inv, Size: size}, nil
}

// Apply maps a frame point into face space.
func (t Transform) Apply(p face.Point) face.Point {
	return face.Point{X: t.M[0]*p.X + t.M[1]*p.Y + t.M[2], Y: t.M[3]*p.X + t.M[4]*p.Y + t.M[5]}
}

// Inverse maps a face-space point back into the frame.
func (t Transform) Inverse(p face.Point) face.Point {
	return face.Point{X: t.Inv[0]*p.X + t.Inv[1]*p.Y + t.Inv[2], Y: t.Inv[3]*p.X + t.Inv[4]*p.Y + t.Inv[5]}
}

// Scale returns frame pixels per face-space pixel.
func (t Transform) Scale() float64 {
	return math.Sqrt(math.Abs(t.Inv[0]*t.Inv[4] - t.Inv[1]*t.Inv[3]))
}

// FrameROI returns the frame pixels whose centres lie inside the crop square
// [-0.5, S-0.5]² mapped back into the frame, as their bounding box rounded
// outwards to even coordinates (so that it covers whole 2×2 chroma blocks of
// NV12/I420 and whole YUY2 pixel pairs) and clipped to the frame. It is the
// only region a merge may modify; it is empty when the crop misses the frame.
func (t Transform) FrameROI(frameW, frameH int) image.Rectangle {
	s := float64(t.Size) - 0.5
	x0, y0 := math.Inf(1), math.Inf(1)
	x1, y1 := math.Inf(-1), math.Inf(-1)
	for _, c := range [4]face.Point{{X: -0.5, Y: -0.5}, {X: s, Y: -0.5}, {X: -0.5, Y: s}, {X: s, Y: s}} {
		p := t.Inverse(c)
		x0, y0 = math.Min(x0, p.X), math.Min(y0, p.Y)
		x1, y1 = math.Max(x1, p.X), math.Max(y1, p.Y)
	}
	if !(x0 <= x1 && y0 <= y1) { // NaN
		return image.Rectangle{}
	}
	// Clip in float first so huge values cannot overflow int.
	fw, fh := float64(frameW), float64(frameH)
	x0, y0 = math.Max(math.Ceil(x0), 0), math.Max(math.Ceil(y0), 0)
	x1, y1 = math.Min(math.Floor(x1)+1, fw), math.Min(math.Floor(y1)+1, fh)
	if x0 >= x1 || y0 >= y1 {
		return image.Rectangle{}
	}
	r := image.Rect(int(x0)&^1, int(y0)&^1, (int(x1)+1)&^1, (int(y1)+1)&^1)
	return r.Intersect(image.Rect(0, 0, frameW, frameH))
}

// Landmarks fitted by Fit, in the order src and dst points are paired.
var fitIndices = [...]int{17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45, 48, 54}

// Fit fits 68 frame landmarks to o.Canonical and returns the crop transform.
func Fit(lm *face.Landmarks, o Options) (Transform, error) {
	if err := o.check(); err != nil {
		return Transform{}, err
	}
	if lm == nil {
		return Transform{}, errors.New("align: nil landmarks")
	}
	var src, dst [len(fitIndices)]face.Point
	for i, k := range fitIndices {
		src[i], dst[i] = lm[k], o.Canonical[k]
	}
	return fit(src[:], dst[:], &o)
}

// FitKeypoints fits a detection's eye, nose-tip and mouth keypoints to the
// matching points of o.Canonical (see the package comment) and returns the
// crop transform. Keypoints are less precise than 68 landmarks: expect the
// crop to wobble by a few pixels more.
func FitKeypoints(d *face.Detection, o Options) (Transform, error) {
	if err := o.check(); err != nil {
		return Transform{}, err
	}
	if d == nil || !d.HasKeypoints {
		return Transform{}, errors.New("align: detection has no keypoints")
	}
	c := o.Canonical
	src := [4]face.Point{d.Keypoints[face.RightEye], d.Keypoints[face.LeftEye], d.Keypoints[face.NoseTip], d.Keypoints[face.Mouth]}
	dst := [4]face.Point{mean(c[36:42]), mean(c[42:48]), c[30], mean(c[48:68])}
	return fit(src[:], dst[:], &o)
}

// KeypointsOf returns the detector keypoints the canonical-point convention
// of FitKeypoints assigns to 68 landmarks (ears: jaw points 0 and 16), for
// tests and for feeding a keypoint-only path from landmarks.
func KeypointsOf(lm *face.Landmarks) [face.NumKeypoints]face.Point {
	var k [face.NumKeypoints]face.Point
	k[face.RightEye] = mean(lm[36:42])
	k[face.LeftEye] = mean(lm[42:48])
	k[face.NoseTip] = lm[30]
	k[face.Mouth] = mean(lm[48:68])
	k[face.RightEar] = lm[0]
	k[face.LeftEar] = lm[16]
	return k
}

func mean(ps []face.Point) face.Point {
	var m face.Point
	for _, p := range ps {
		m.X += p.X
		m.Y += p.Y
	}
	n := float64(len(ps))
	return face.Point{X: m.X / n, Y: m.Y / n}
}

// fit composes the similarity src→canonical with canonical→face space.
func fit(src, dst []face.Point, o *Options) (Transform, error) {
	sim, err := Umeyama(src, dst)
	if err != nil {
		return Transform{}, err
	}
	// Canonical extent: bounding box of points 17–67.
	c := o.Canonical
	bx0, by0, bx1, by1 := c[17].X, c[17].Y, c[17].X, c[17].Y
	for _, p := range c[18:] {
		bx0, by0 = math.Min(bx0, p.X), math.Min(by0, p.Y)
		bx1, by1 = math.Max(bx1, p.X), math.Max(by1, p.Y)
	}
	ext := math.Max(bx1-bx0, by1-by0)
	if !(ext > 0) || math.IsInf(ext, 0) {
		return Transform{}, fmt.Errorf("%w: canonical points 17-67 have no extent", ErrDegenerate)
	}
	side := o.Coverage * ext // crop side in canonical units
	cx, cy := (bx0+bx1)/2, (by0+by1)/2-o.ShiftUp*side
	k := float64(o.Size) / side
	h := (float64(o.Size) - 1) / 2
	// face = k*(sim(frame) - centre) + h
	m := [6]float64{
		k * sim[0], k * sim[1], k*(sim[2]-cx) + h,
		k * sim[3], k * sim[4], k*(sim[5]-cy) + h,
	}
	return NewTransform(m, o.Size)
}

// Umeyama returns the least-squares similarity (rotation, uniform scale,
// translation; no reflection) mapping src onto dst as a row-major 2×3
// matrix. In 2-D Umeyama's SVD solution reduces to
// [a -b; b a] with a = Σ x̄·ȳ / Σ|x̄|², b = Σ x̄×ȳ / Σ|x̄|² on centred points.
// It fails when src has no spread, dst collapses to a point, or a value is
// not finite.
func Umeyama(src, dst []face.Point) ([6]float64, error) {
	n := len(src)
	if n < 2 || len(dst) != n {
		return [6]float64{}, fmt.Errorf("%w: need two or more point pairs, got %d and %d", ErrDegenerate, len(src), len(dst))
	}
	var sx, sy, dx, dy float64
	for i := range src {
		sx += src[i].X
		sy += src[i].Y
		dx += dst[i].X
		dy += dst[i].Y
	}
	fn := float64(n)
	sx, sy, dx, dy = sx/fn, sy/fn, dx/fn, dy/fn
	var sxx, dxx, dot, crs float64
	for i := range src {
		ax, ay := src[i].X-sx, src[i].Y-sy
		bx, by := dst[i].X-dx, dst[i].Y-dy
		sxx += ax*ax + ay*ay
		dxx += bx*bx + by*by
		dot += ax*bx + ay*by
		crs += ax*by - ay*bx
	}
	// Spread below ~1e-4 of a pixel (source) or of the target's own scale
	// cannot define a rotation.
	if !(sxx/fn > 1e-8) || math.IsInf(sxx, 0) {
		return [6]float64{}, fmt.Errorf("%w: source points have no spread", ErrDegenerate)
	}
	if !(dxx > 0) || math.IsInf(dxx, 0) {
		return [6]float64{}, fmt.Errorf("%w: target points have no spread", ErrDegenerate)
	}
	a, b := dot/sxx, crs/sxx
	if !(a*a+b*b > 1e-12*dxx/sxx) {
		return [6]float64{}, fmt.Errorf("%w: points are uncorrelated", ErrDegenerate)
	}
	m := [6]float64{a, -b, dx - (a*sx - b*sy), b, a, dy - (b*sx + a*sy)}
	for _, v := range m {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return [6]float64{}, fmt.Errorf("%w: points are not finite", ErrDegenerate)
		}
	}
	return m, nil
}
