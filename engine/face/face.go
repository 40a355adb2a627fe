// Package face holds the types the face stages pass to each other: where a
// face is (a detection) and its 68 landmarks. All coordinates are frame
// pixels, x right, y down, pixel centres at integers (OpenCV's convention).
package face

import "math"

// Point is a position in frame pixels.
type Point struct{ X, Y float64 }

// Rect is an axis-aligned box: X0,Y0 inclusive top-left, X1,Y1 exclusive.
type Rect struct{ X0, Y0, X1, Y1 float64 }

// W is the width of r.
func (r Rect) W() float64 { return r.X1 - r.X0 }

// H is the height of r.
func (r Rect) H() float64 { return r.Y1 - r.Y0 }

// Center is the middle of r.
func (r Rect) Center() Point { return Point{(r.X0 + r.X1) / 2, (r.Y0 + r.Y1) / 2} }

// Keypoint indices of a Detection, in BlazeFace's output order. "Right" is
// the subject's right (the left side of the image for a frontal face).
const (
	RightEye = iota
	LeftEye
	NoseTip
	Mouth
	RightEar
	LeftEar
	NumKeypoints
)

// Detection is one face found by a detector.
type Detection struct {
	Box       Rect
	Score     float64 // 0..1
	Keypoints [NumKeypoints]Point
	// HasKeypoints is false for detectors that give only a box (Haar).
	HasKeypoints bool
}

// Landmarks are the 68 points of the iBUG 300-W convention (dlib's
// shape_predictor_68_face_landmarks): 0-16 jaw, 17-26 brows, 27-35 nose,
// 36-47 eyes, 48-67 mouth.
type Landmarks [68]Point

// InterOcular returns the distance between the outer eye corners (36, 45),
// the scale errors are measured against.
func (l *Landmarks) InterOcular() float64 {
	dx, dy := l[45].X-l[36].X, l[45].Y-l[36].Y
	return math.Hypot(dx, dy)
}

// Bounds returns the smallest Rect containing all landmarks.
func (l *Landmarks) Bounds() Rect {
	r := Rect{l[0].X, l[0].Y, l[0].X, l[0].Y}
	for _, p := range l[1:] {
		r.X0, r.Y0 = min(r.X0, p.X), min(r.Y0, p.Y)
		r.X1, r.Y1 = max(r.X1, p.X), max(r.Y1, p.Y)
	}
	return r
}
