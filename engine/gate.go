package engine

import (
	"fmt"
	"math"

	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/landmark"
)

// The plausibility gate stands between finding a face and swapping it. A
// false detection (BlazeFace on a torso, say) still gets 68 landmarks from
// dlib, which fits a face into whatever box it is given; swapping that
// pasted a huge face over a body. The gate refuses fits that disagree with
// their detection or do not have a face's shape, and a new face is swapped
// only once it has passed on confirmFrames frames in a row.
//
// The limits come from the test photos (astronaut.png, sample1-6.jpg at
// 640, 960, 1280 and 1920 px: 68 BlazeFace detections at 0.5, 53 Haar ones,
// 363 tracking refits; TestRealFacesPassTheGate prints the figures). The
// box's size is its larger side. Real faces, min-max (BlazeFace / Haar),
// and the limits, each at least 1.34 times beyond the most extreme real
// figure:
//
//	landmark bounds' width / box size     0.66-1.13 / 0.68-1.06  want 0.45-1.60
//	landmark bounds' height / box size    0.59-1.14 / 0.65-1.07  want 0.40-1.60
//	bounds centre to box centre / size    0.01-0.21 / 0.09-0.31  want <= 0.45
//	eye centres' distance / box size      0.27-0.55 / 0.24-0.45  want 0.15-0.80
//	farthest keypoint from dlib's / size  0.05-0.50 (*)          want <= 0.70
//	eye distance / landmark width         0.33-0.50 (keypoints 0.31-0.56)  want 0.20-0.75
//	nose tip below the eyes / eye dist.   0.12-1.01 (keypoints 0.46-0.83)  want 0.05-1.60
//	mouth below the nose tip / eye dist.  0.20-1.13 (keypoints 0.30-1.00)  want 0.05-1.80
//
// (*) 0.23 at most, but for sample4's left face (turned away, hair over
// it), whose dlib fit slides onto her shoulder: 0.34-0.50. A real face
// refused shows the person's own face, so the limits let her through.
//
// The test photos are hard (party shots: heads turned and tilted), hence
// the wide real ranges. What the gate cannot tell: BlazeFace's false
// boxes over two heads or a shoulder in those photos shrunk to 40-90 px
// faces (9 at score >= 0.5), or on a cat's face, got dlib fits whose
// figures fall inside the real ranges: dlib and BlazeFace's keypoints both
// fall back on a mean face in the box. Those are caught only when they do
// not last confirmFrames frames.
var gateLimits = struct {
	width, height, eyes, eyeSpan, nose, mouth [2]float64
	offset, keypoints                         float64
}{
	width: [2]float64{0.45, 1.60}, height: [2]float64{0.40, 1.60}, eyes: [2]float64{0.15, 0.80},
	eyeSpan: [2]float64{0.20, 0.75}, nose: [2]float64{0.05, 1.60}, mouth: [2]float64{0.05, 1.80},
	offset: 0.45, keypoints: 0.70,
}

const (
	// confirmFrames: a new face is swapped from its 3rd frame in a row
	// that passed the gate; a false detection rarely lasts that long.
	confirmFrames = 3
	// dropFails: a confirmed face whose fit fails this many frames in a
	// row must confirm again. One failed frame is only skipped, so a
	// confirmed face's glitch costs one frame, not three.
	dropFails = 2
)

// The yaw fade: a face turned by more than about 34° fades out, gone by
// about 42°, rather than having a frontal face pasted on a profile. The yaw
// figure (see yaw) is about 1.05·tan(yaw) by an anthropometric 3D head
// (the nose tip 7.65 units in front of the jaw sides, which are 7.31 from
// the middle) until the far jaw side hides behind the cheek near 45° and
// the figure saturates at 1.
// Real faces in the test photos: astronaut 0.00, the four in sample6
// 0.01-0.61, all 68 at most 0.91 (p95 0.78, the most turned and worst
// fitted); a 30° turn is about 0.6.
const yawFull, yawGone = 0.70, 0.95

// gateState is one track's standing with the gate; it travels with the
// track (the zero value is a new face).
type gateState struct {
	passes int  // frames in a row that passed, up to confirmFrames
	fails  int  // frames in a row that failed
	told   bool // the refusal was logged: once per track
}

// step records one frame's verdict and says whether the face is swapped.
func (g *gateState) step(pass bool) bool {
	if pass {
		g.fails = 0
		g.passes = min(g.passes+1, confirmFrames)
		return g.passes == confirmFrames
	}
	if g.fails++; g.passes < confirmFrames || g.fails >= dropFails {
		g.passes = 0 // confirming starts over
	}
	return false // a fit that failed is never swapped
}

// admit runs the gate on tr's new fit, before smoothing: det is the box it
// was fitted in, fresh when that is this frame's detection. It counts and
// logs refusals and says whether to swap the face.
func (t *tracker) admit(m *faceModels, tr *track, det *face.Detection, fresh bool) bool {
	if !fresh {
		det = nil
	}
	v := judge(&tr.lm, det)
	if tr.gate.step(v.ok()) {
		return true
	}
	if v.ok() {
		return false // still confirming: not a refusal
	}
	if !fresh {
		t.redetect = true // a tracked fit that slid off the face: the detector puts it back
	}
	if t.stats != nil {
		t.stats.rejectedFace()
	}
	if !tr.gate.told {
		tr.gate.told = true
		m.log(LevelInfo, v.message(tr.id)) // once per track: the only allocation, off the steady state
	}
	return false
}

// verdict is why the gate refused a fit; the zero value passed.
type verdict struct {
	why, what, unit string // constants: judging allocates nothing
	v, lo, hi       float64
}

func (v verdict) ok() bool { return v.why == "" }

func (v verdict) message(id uint64) string {
	return fmt.Sprintf("face %d not swapped: %s (%s %.2f %s, want %.2f–%.2f)", id, v.why, v.what, v.v, v.unit, v.lo, v.hi)
}

const (
	whyDetector = "landmarks disagree with the detector"
	whyShape    = "landmarks do not have a face's shape"
)

// judge checks a fit: against its detection when det is not nil (a fresh
// box, 68 points), and always its own shape.
func judge(r *landmark.Result, det *face.Detection) verdict {
	if r.N != 68 {
		det = nil // the detector's own keypoints: nothing to compare
	}
	f := measure(r, det)
	L := &gateLimits
	out := func(v float64, lim [2]float64) bool { return !(v >= lim[0] && v <= lim[1]) } // NaN fails
	switch {
	case det == nil:
	case out(f.width, L.width):
		return verdict{whyDetector, "landmark width", "of the box", f.width, L.width[0], L.width[1]}
	case out(f.height, L.height):
		return verdict{whyDetector, "landmark height", "of the box", f.height, L.height[0], L.height[1]}
	case !(f.offset <= L.offset):
		return verdict{whyDetector, "landmark centre off the box centre by", "of the box", f.offset, 0, L.offset}
	case out(f.eyes, L.eyes):
		return verdict{whyDetector, "eye distance", "of the box", f.eyes, L.eyes[0], L.eyes[1]}
	case !(f.keypoints <= L.keypoints):
		return verdict{whyDetector, "detector's keypoints off dlib's by", "of the box", f.keypoints, 0, L.keypoints}
	}
	switch {
	case out(f.eyeSpan, L.eyeSpan):
		return verdict{whyShape, "eye distance", "of the landmark width", f.eyeSpan, L.eyeSpan[0], L.eyeSpan[1]}
	case out(f.nose, L.nose):
		return verdict{whyShape, "nose tip below the eyes by", "eye distances", f.nose, L.nose[0], L.nose[1]}
	case out(f.mouth, L.mouth):
		return verdict{whyShape, "mouth below the nose tip by", "eye distances", f.mouth, L.mouth[0], L.mouth[1]}
	}
	return verdict{}
}

// fitFigures are what the gate judges a fit by, normalised by the
// detection box's size or by the fit's own eye distance so that they do
// not depend on the face's size.
type fitFigures struct {
	// Against the detection (a fresh box only).
	width, height float64 // landmark bounds / box size
	offset        float64 // bounds centre to box centre / box size
	eyes          float64 // eye centres' distance / box size
	keypoints     float64 // farthest detector keypoint from dlib's point / box size; 0 without keypoints

	// The fit's own shape, in its upright frame (x along the eye line).
	eyeSpan float64 // eye distance / landmark bounds width
	nose    float64 // nose tip below the eye line / eye distance
	mouth   float64 // mouth centre below the nose tip / eye distance
}

// facePoints are the points the gate compares: eye centres, nose tip and
// mouth centre, from a 68-point fit or the detector's keypoints.
type facePoints struct{ rEye, lEye, nose, mouth face.Point }

// pointsOf: the subject's right eye (36-41) is on the image's left, as
// BlazeFace's RightEye keypoint is (checked on the test photos).
func pointsOf(r *landmark.Result) facePoints {
	p := &r.Points
	if r.N != 68 { // the detector's keypoints, in face.RightEye... order
		return facePoints{p[face.RightEye], p[face.LeftEye], p[face.NoseTip], p[face.Mouth]}
	}
	return facePoints{mean(p[36:42]), mean(p[42:48]), p[30], mean(p[48:68])}
}

func mean(ps []face.Point) face.Point {
	var c face.Point
	for _, p := range ps {
		c.X += p.X
		c.Y += p.Y
	}
	return face.Point{X: c.X / float64(len(ps)), Y: c.Y / float64(len(ps))}
}

func dist(a, b face.Point) float64 { return math.Hypot(a.X-b.X, a.Y-b.Y) }

// measure computes r's figures; with det nil (tracking: no detection to
// compare with) the box figures are zero.
func measure(r *landmark.Result, det *face.Detection) fitFigures {
	var f fitFigures
	if r.N == 0 {
		return f
	}
	fp := pointsOf(r)
	eye := dist(fp.lEye, fp.rEye)
	pts := r.Points[:r.N]
	lb := face.Rect{X0: pts[0].X, Y0: pts[0].Y, X1: pts[0].X, Y1: pts[0].Y}
	for _, p := range pts[1:] {
		lb.X0, lb.Y0 = min(lb.X0, p.X), min(lb.Y0, p.Y)
		lb.X1, lb.Y1 = max(lb.X1, p.X), max(lb.Y1, p.Y)
	}
	f.eyeSpan = eye / lb.W()
	// Upright frame: x from the subject's right eye to the left one (image
	// left to right when upright), y down the face. An upside-down fit
	// has its nose "above" the eyes and fails.
	ux, uy := (fp.lEye.X-fp.rEye.X)/eye, (fp.lEye.Y-fp.rEye.Y)/eye
	mid := face.Point{X: (fp.lEye.X + fp.rEye.X) / 2, Y: (fp.lEye.Y + fp.rEye.Y) / 2}
	f.nose = ((fp.nose.X-mid.X)*-uy + (fp.nose.Y-mid.Y)*ux) / eye
	f.mouth = ((fp.mouth.X-fp.nose.X)*-uy + (fp.mouth.Y-fp.nose.Y)*ux) / eye
	if det == nil {
		return f
	}
	// The box's size is its larger side: detector boxes are square, and one
	// clipped by the frame's edge keeps the other side.
	w := max(det.Box.W(), det.Box.H())
	if !(w > 0) {
		return f
	}
	f.width, f.height = lb.W()/w, lb.H()/w
	f.offset = dist(lb.Center(), det.Box.Center()) / w
	f.eyes = eye / w
	if det.HasKeypoints {
		k := &det.Keypoints
		f.keypoints = max(dist(k[face.RightEye], fp.rEye), dist(k[face.LeftEye], fp.lEye),
			dist(k[face.NoseTip], fp.nose), dist(k[face.Mouth], fp.mouth)) / w
	}
	return f
}

// yaw says how far a 68-point face is turned: where the nose tip (30)
// falls between the jaw's sides (0 and 16), along the line joining them,
// so that roll does not count. 0 frontal, 1 with the nose over a side; 0
// for the detector's keypoints (they have no jaw).
func yaw(r *landmark.Result) float64 {
	if r.N != 68 {
		return 0
	}
	p := &r.Points
	dx, dy := p[16].X-p[0].X, p[16].Y-p[0].Y
	d2 := dx*dx + dy*dy
	if !(d2 > 0) {
		return 1
	}
	t := ((p[30].X-p[0].X)*dx + (p[30].Y-p[0].Y)*dy) / d2
	return min(1, math.Abs(2*t-1))
}

// yawFade is the merge opacity factor for r's face: 1 up to yawFull,
// falling linearly to 0 at yawGone.
func yawFade(r *landmark.Result) float64 {
	return max(0, min(1, (yawGone-yaw(r))/(yawGone-yawFull)))
}

// verifyRetry: frames between second opinions on a face refused one.
const verifyRetry = 8

// strongScore: a face BlazeFace found with this score or more needs no
// second opinion. Haar's frontal cascade refuses real faces that are dark,
// laughing, looking down or tilted before alignment (8 of the composed
// scenes' faces, which scored 0.75-0.94 on tiles); the things BlazeFace
// took for faces scored less: on the scenes' backgrounds at most 0.81 (a
// motorcycle part, tiles of a third of 1280×720), on the face-api group
// photos 0.51-0.68 (a torso, a dress, window corners), the astronaut's
// badge 0.53-0.64.
const strongScore = 0.85

// secondOpinion runs the Haar cascade on a new face's aligned crop (size²
// BGR) and reports whether it sees an upright face there: a box whose
// centre is within a quarter of the crop of the crop's centre and whose
// width is 0.2–0.95 of the crop (the whole-face crop puts a face at about
// 0.45, ArcFace's at about 0.8). BlazeFace and dlib both find a face's
// shape in any face-like box (a cat's face, a badge, a shoulder: see the
// gate's comment); Haar's frontal-face cascade is a different kind of
// model and the crop is upright and scaled, which is what it sees best.
// A refusal is counted and logged once per track.
func (t *tracker) secondOpinion(m *faceModels, tr *track, crop []byte, size int) bool {
	t.verifyView = frame.Frame{Format: frame.BGR24, Width: size, Height: size, Stride: [4]int{3 * size}}
	t.verifyView.Planes[0] = crop[:3*size*size]
	var err error
	if t.verifyDets, err = m.verify.Detect(&t.verifyView, t.verifyDets[:0]); err != nil {
		return true // no opinion: the gate's word stands
	}
	s, c := float64(size), float64(size)/2
	for _, d := range t.verifyDets {
		dc := d.Box.Center()
		if w := d.Box.W() / s; w >= 0.2 && w <= 0.95 && math.Abs(dc.X-c) <= s/4 && math.Abs(dc.Y-c) <= s/4 {
			return true
		}
	}
	if t.stats != nil {
		t.stats.rejectedFace()
	}
	if !tr.gate.told {
		tr.gate.told = true
		m.log(LevelInfo, fmt.Sprintf("face %d not swapped: no upright face in its aligned crop (the Haar cascade's second opinion)", tr.id))
	}
	return false
}
