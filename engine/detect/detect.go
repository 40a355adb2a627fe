// Package detect finds faces in video frames.
//
// Two detectors implement Detector:
//
//   - BlazeFace (MediaPipe's short-range "front" model, 128×128, through ONNX
//     Runtime): boxes, scores and six keypoints; about a millisecond or two per
//     frame on one CPU core; made for faces that fill a good part of the frame
//     (a webcam subject within about two metres).
//   - Haar (OpenCV's frontal-face cascade): boxes only, the fallback when ONNX
//     Runtime or the BlazeFace model is unavailable.
//
// New picks BlazeFace and falls back to Haar with a warning. Both read the
// frame's planes directly in whatever format the host delivered (see
// frame.Format), sampling only the pixels they need; neither converts nor
// copies the whole frame. YUV frames (NV12, I420, YUY2) are read as BT.601
// limited range, which is what webcams send. A Detector is not safe for
// concurrent use: give each goroutine its own.
//
// BlazeFace front sees the whole frame letterboxed into 128×128 pixels, so a
// face must be roughly 15 px of that (about 1/8 of the frame's longer side)
// to score well; smaller faces score lower or are missed (see the group
// photo test).
package detect

import (
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"

	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/ortenv"
	"facelive/internal/assets"
	"facelive/internal/logging"
)

// Detector finds faces in a frame.
type Detector interface {
	// Detect appends the faces found in f to dst[:0] and returns the
	// result: largest box first, at most Options.MaxFaces, each with
	// Score >= Options.Threshold, in frame pixel coordinates. Pass the
	// previous result back as dst so that the steady state allocates
	// nothing.
	Detect(f *frame.Frame, dst []face.Detection) ([]face.Detection, error)
	// Close releases the detector's native resources. It is idempotent;
	// Detect after Close returns ErrClosed.
	Close() error
}

// Defaults used for zero Options fields.
const (
	DefaultThreshold = 0.5
	DefaultMaxFaces  = 4
	// MaxMaxFaces bounds Options.MaxFaces (the config allows 1 to 16).
	MaxMaxFaces = 16
)

// ModelFile is the BlazeFace model's file name, as `make deps` stores it
// under third_party/models.
const ModelFile = "face_detection_front_128x128_barracuda.onnx"

// HaarFile is the OpenCV cascade the Haar detector loads by default.
const HaarFile = "haarcascade_frontalface_default.xml"

// Options configure a detector. The zero value is usable: every empty field
// takes the default documented on it.
type Options struct {
	// Threshold is the lowest score (0..1) a detection may have; 0 means
	// DefaultThreshold. Haar detections always score 1.
	Threshold float64
	// MaxFaces is the most detections Detect returns (the largest win);
	// 0 means DefaultMaxFaces; values above MaxMaxFaces are clamped.
	MaxFaces int
	// ORTLibrary is the ONNX Runtime shared library; "" means
	// ortenv.DefaultLibrary(""). The first library loaded in a process
	// stays loaded (see package ortenv).
	ORTLibrary string
	// Model is the BlazeFace front 128×128 ONNX file; "" means DefaultModel().
	Model string
	// HaarCascade is the OpenCV cascade XML; "" means DefaultHaarCascade().
	HaarCascade string
	// Log receives notable events (logging.Warn: BlazeFace unavailable,
	// Haar used instead). nil discards them. It is called from the
	// goroutine calling New.
	Log logging.Func
}

// Errors callers may test for with errors.Is.
var (
	// ErrModel wraps every failure to use a model file: missing, corrupt,
	// or with inputs/outputs other than the detector needs. The pipeline
	// reports it as FACELIVE_EMODEL.
	ErrModel = errors.New("unusable detector model")
	// ErrRuntime wraps failures to load the ONNX Runtime library.
	ErrRuntime = errors.New("ONNX Runtime unavailable")
	// ErrClosed is returned by Detect after Close.
	ErrClosed = errors.New("detector is closed")
)

// causedError is an error with its own message that still matches its
// causes with errors.Is and errors.As.
type causedError struct {
	msg    string
	causes []error
}

func (e *causedError) Error() string   { return e.msg }
func (e *causedError) Unwrap() []error { return e.causes }

func (o Options) withDefaults() Options {
	if !(o.Threshold > 0) { // also catches NaN
		o.Threshold = DefaultThreshold
	}
	if o.Threshold > 1 {
		o.Threshold = 1
	}
	if o.MaxFaces <= 0 {
		o.MaxFaces = DefaultMaxFaces
	}
	if o.MaxFaces > MaxMaxFaces {
		o.MaxFaces = MaxMaxFaces
	}
	if o.Model == "" {
		o.Model = DefaultModel()
	}
	if o.HaarCascade == "" {
		o.HaarCascade = DefaultHaarCascade()
	}
	return o
}

func (o Options) logf(level logging.Level, format string, args ...any) {
	if o.Log != nil {
		o.Log(level, fmt.Sprintf(format, args...))
	}
}

// New returns a BlazeFace detector, or, when ONNX Runtime or the model is
// missing or broken, a Haar detector after logging (logging.Warn) why BlazeFace
// is unavailable. It fails only when neither works. Callers that must not
// fall back (an explicitly configured model that must be reported as
// FACELIVE_EMODEL) call NewBlazeFace themselves.
func New(o Options) (Detector, error) {
	bf, err := NewBlazeFace(o)
	if err == nil {
		return bf, nil
	}
	h, herr := NewHaar(o)
	if herr != nil {
		return nil, fmt.Errorf("detect: no detector works: BlazeFace: %w; Haar fallback: %w", err, herr)
	}
	o.logf(logging.Warn, "face detection: BlazeFace is unavailable (%v); using the OpenCV Haar cascade %s instead "+
		"(boxes only, no keypoints, less accurate)", err, h.cascadePath)
	return h, nil
}

// DefaultModel returns where `make deps` puts the BlazeFace model (see
// package internal/assets for the search).
func DefaultModel() string { return assets.Path(filepath.Join("models", ModelFile)) }

// haarDirs are where Debian's opencv-data and a source-built OpenCV install
// their cascades.
var haarDirs = []string{
	"/usr/share/opencv4/haarcascades",
	"/usr/local/share/opencv4/haarcascades",
	"/usr/share/opencv/haarcascades",
	"/usr/local/share/opencv/haarcascades",
}

// DefaultHaarCascade returns the first existing HaarFile in OpenCV's usual
// install directories (Debian: package opencv-data), or the first candidate
// when none exists, so that the error names it.
func DefaultHaarCascade() string {
	for _, d := range haarDirs {
		if p := filepath.Join(d, HaarFile); isFile(p) {
			return p
		}
	}
	return filepath.Join(haarDirs[0], HaarFile)
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// initRuntime loads ONNX Runtime for a session, wrapping failures in ErrRuntime.
func initRuntime(lib string) error {
	if lib == "" {
		lib = ortenv.DefaultLibrary("")
	}
	if err := ortenv.Init(lib); err != nil {
		return &causedError{msg: err.Error(), causes: []error{ErrRuntime, err}}
	}
	return nil
}

// sortBySize orders detections largest box first (insertion sort: at most a
// few dozen, and it allocates nothing).
func sortBySize(d []face.Detection) {
	for i := 1; i < len(d); i++ {
		for j := i; j > 0 && area(d[j].Box) > area(d[j-1].Box); j-- {
			d[j], d[j-1] = d[j-1], d[j]
		}
	}
}

func area(r face.Rect) float64 { return max(0, r.W()) * max(0, r.H()) }

// clipRect clips r to the frame.
func clipRect(r face.Rect, w, h int) face.Rect {
	r.X0 = min(max(r.X0, 0), float64(w))
	r.X1 = min(max(r.X1, 0), float64(w))
	r.Y0 = min(max(r.Y0, 0), float64(h))
	r.Y1 = min(max(r.Y1, 0), float64(h))
	return r
}

// Regions runs a detector on parts of frames (tiles, a window around a
// face): a face needs to be at least about 1/8 of the region's width for
// BlazeFace's front model, so a region a fraction of the frame finds faces
// that fraction smaller. It holds its scratch, so the steady state
// allocates nothing; not safe for concurrent use.
type Regions struct {
	view  frame.Frame
	found []face.Detection
}

// Detect runs d on the rectangle r of f (a view, no copy; see frame.Sub
// for how r is rounded) and appends the faces found to dst, in f's
// coordinates. A face whose box touches an edge of the region that is not
// an edge of the frame is left out: it is cut, and a region overlapping
// this one holds it whole.
func (g *Regions) Detect(d Detector, f *frame.Frame, r image.Rectangle, dst []face.Detection) ([]face.Detection, error) {
	var got image.Rectangle
	g.view, got = f.Sub(r)
	if got.Dx() < 16 || got.Dy() < 16 {
		return dst, nil
	}
	var err error
	if g.found, err = d.Detect(&g.view, g.found[:0]); err != nil {
		return dst, err
	}
	ox, oy := float64(got.Min.X), float64(got.Min.Y)
	const margin = 2 // px: a box this close to a cut edge is cut
	for _, det := range g.found {
		b := det.Box
		if (got.Min.X > 0 && b.X0 < margin) || (got.Min.Y > 0 && b.Y0 < margin) ||
			(got.Max.X < f.Width && b.X1 > float64(got.Dx())-margin) || (got.Max.Y < f.Height && b.Y1 > float64(got.Dy())-margin) {
			continue
		}
		det.Box = face.Rect{X0: b.X0 + ox, Y0: b.Y0 + oy, X1: b.X1 + ox, Y1: b.Y1 + oy}
		for k := range det.Keypoints {
			det.Keypoints[k].X += ox
			det.Keypoints[k].Y += oy
		}
		dst = append(dst, det)
	}
	return dst, nil
}
