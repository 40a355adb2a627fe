package main

import (
	"fmt"
	"image"
	"math"
	"os"

	"gocv.io/x/gocv"

	"facelive/engine"
	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/landmark"
	"facelive/engine/warp"
)

// expressions makes a still photo talk and blink: its own 68 landmarks
// (dlib's fit) are moved — the lower lip and the jaw drop, the upper lids
// come down — and the photo is warped piecewise (engine/warp, triangles
// over the landmarks and a fixed ring around the face) onto them. The
// clip's true landmarks are then known exactly, and a swap that follows the
// face must follow them.
type expressions struct {
	base face.Landmarks // the photo's landmarks, in the base image's pixels
	pts  []face.Point   // base landmarks, then the ring
	to   []face.Point   // scratch: one frame's
	tris []warp.Tri
	io   float64 // inter-ocular distance (px)
}

// The cycles, in seconds from the start: the mouth opens and closes twice,
// the eyes blink three times.
const (
	mouthOpenIO = 0.35 // the mouth opens by this much of the inter-ocular distance
	mouthPeriod = 1.6  // s per open-and-close
	mouthOpenS  = 0.8  // of which open
	blinkPeriod = 1.3
	blinkS      = 0.25
)

// expressionAt returns the mouth's opening and the eyes' closing (0..1) at
// time t (s).
func expressionAt(t float64) (mouth, blink float64) {
	bump := func(t, period, length, start float64) float64 {
		p := math.Mod(t-start, period)
		if t < start || p >= length {
			return 0
		}
		s := math.Sin(math.Pi * p / length)
		return s * s
	}
	return bump(t, mouthPeriod, mouthOpenS, 0.3), bump(t, blinkPeriod, blinkS, 1.4)
}

// newExpressions fits the base image's face (the largest the Haar cascade
// finds, then dlib's 68 points in its box).
func newExpressions(base *gocv.Mat) (*expressions, error) {
	cascade := gocv.NewCascadeClassifier()
	defer cascade.Close()
	const haar = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"
	if !cascade.Load(haar) {
		return nil, fmt.Errorf("--expressions needs OpenCV's face cascade %s: run make deps (Debian's opencv-data)", haar)
	}
	faces := cascade.DetectMultiScale(*base)
	if len(faces) == 0 {
		return nil, fmt.Errorf("--expressions: no face found in the photo to animate")
	}
	best := faces[0]
	for _, r := range faces[1:] {
		if r.Dx()*r.Dy() > best.Dx()*best.Dy() {
			best = r
		}
	}
	model := os.Getenv(engine.EnvDlibModel)
	if model == "" {
		model = landmark.DefaultModelPath
	}
	dlib, err := landmark.NewDlib(model)
	if err != nil {
		return nil, fmt.Errorf("--expressions needs dlib's 68-point model: %v", err)
	}
	defer dlib.Close()
	var f frame.Frame
	if err := bgrView(&f, base); err != nil {
		return nil, err
	}
	e := &expressions{}
	box := face.Rect{X0: float64(best.Min.X), Y0: float64(best.Min.Y), X1: float64(best.Max.X), Y1: float64(best.Max.Y)}
	if err := dlib.Fit(&f, box, &e.base); err != nil {
		return nil, fmt.Errorf("--expressions: fitting the photo's face: %v", err)
	}
	e.io = e.base.InterOcular()
	// The ring pins the warp half a face's width around the landmarks (or
	// the image's border): the rest of the photo stays as it is.
	b := e.base.Bounds()
	g := 0.5 * b.W()
	w, h := float64(base.Cols()-1), float64(base.Rows()-1)
	x0, y0, x1, y1 := max(b.X0-g, 0), max(b.Y0-g, 0), min(b.X1+g, w), min(b.Y1+g, h)
	e.pts = append(e.pts, e.base[:]...)
	for _, q := range [][2]float64{{0, 0}, {0.5, 0}, {1, 0}, {1, 0.5}, {1, 1}, {0.5, 1}, {0, 1}, {0, 0.5}} {
		e.pts = append(e.pts, face.Point{X: x0 + q[0]*(x1-x0), Y: y0 + q[1]*(y1-y0)})
	}
	e.to = make([]face.Point, len(e.pts))
	if e.tris, err = warp.Delaunay(e.pts); err != nil {
		return nil, err
	}
	return e, nil
}

// landmarks returns the landmarks with the mouth open by mouth and the
// eyes closed by blink (0..1).
func (e *expressions) landmarks(mouth, blink float64) face.Landmarks {
	return e.base.Expression(mouth, blink, mouthOpenIO*e.io)
}

// apply writes src warped onto the expression (mouth, blink) into dst
// (both the base image's size, BGR), the open mouth's inside darkened as a
// mouth's is, and returns the landmarks.
func (e *expressions) apply(dst, src *gocv.Mat, mouth, blink float64) (face.Landmarks, error) {
	lm := e.landmarks(mouth, blink)
	copy(e.to, e.pts)
	copy(e.to, lm[:])
	sp, err := src.DataPtrUint8()
	if err != nil {
		return lm, err
	}
	dp, err := dst.DataPtrUint8()
	if err != nil {
		return lm, err
	}
	copy(dp, sp)
	img := func(p []byte, m *gocv.Mat) warp.Image {
		return warp.Image{Pix: p, Stride: m.Step(), W: m.Cols(), H: m.Rows(), BPP: 3}
	}
	if err := warp.Triangles(img(dp, dst), img(sp, src), e.tris, e.pts, e.to); err != nil {
		return lm, err
	}
	if mouth > 0 {
		inner := make([]image.Point, 8)
		for i := range inner {
			inner[i] = image.Pt(int(math.Round(lm[60+i].X)), int(math.Round(lm[60+i].Y)))
		}
		mask := gocv.NewMatWithSize(dst.Rows(), dst.Cols(), gocv.MatTypeCV8U)
		defer mask.Close()
		pv := gocv.NewPointsVectorFromPoints([][]image.Point{inner})
		defer pv.Close()
		gocv.FillPoly(&mask, pv, labelText)
		a := min(1, 3*mouth)
		for y := range dst.Rows() {
			for x := range dst.Cols() {
				if mask.GetUCharAt(y, x) == 0 {
					continue
				}
				p := dp[y*dst.Step()+3*x:]
				for ch, dark := range [3]float64{25, 20, 60} { // BGR: a dark red
					p[ch] = byte(float64(p[ch]) + a*(dark-float64(p[ch])))
				}
			}
		}
	}
	return lm, nil
}
