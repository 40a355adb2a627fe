package detect

import (
	"fmt"
	"image"
	"math"

	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/internal/cv"
)

// Haar tuning. The grey image is about haarWidth pixels wide: big enough
// for a webcam subject (a face of 1/8 of the frame width is 40 px), small
// enough for a few milliseconds per frame.
const (
	haarWidth        = 320
	haarScale        = 1.1 // pyramid step
	haarMinNeighbors = 5   // OpenCV's tutorials use 3..6; 5 keeps textures from firing
	haarMinSize      = 24  // the cascade's own window: nothing smaller can be found
)

// Haar detects frontal faces with an OpenCV Haar cascade. It is the fallback
// for BlazeFace: boxes only (HasKeypoints false, Score 1), and it misses
// turned or tilted faces. It works on a grey image of about 320 px width
// sampled straight from the frame (the Y plane of YUV formats stretched from
// limited to full range, BT.601 luma otherwise); the Mat is reused across
// frames. (Histogram equalisation made it worse on our test photos: false
// positives in the astronaut, a miss at 1280×720.)
type Haar struct {
	opts        Options
	cascadePath string
	cascade     *cv.Cascade // nil once closed
	grey        []byte      // the sampled grey image, reused
	rects       []image.Rectangle
	sm          sampler
}

// NewHaar loads the cascade (Options.HaarCascade, default
// DefaultHaarCascade()). The error names the file and the Debian package
// that ships it.
func NewHaar(o Options) (*Haar, error) {
	o = o.withDefaults()
	if !isFile(o.HaarCascade) {
		return nil, fmt.Errorf("detect: Haar cascade %q does not exist; install Debian's opencv-data "+
			"(make deps does) or set the cascade path", o.HaarCascade)
	}
	c, err := cv.LoadCascade(o.HaarCascade)
	if err != nil {
		return nil, fmt.Errorf("detect: cannot load the Haar cascade %q (%v); reinstall Debian's opencv-data "+
			"or set the cascade path", o.HaarCascade, err)
	}
	return &Haar{opts: o, cascadePath: o.HaarCascade, cascade: c}, nil
}

// Detect implements Detector.
func (h *Haar) Detect(f *frame.Frame, dst []face.Detection) ([]face.Detection, error) {
	dst = dst[:0]
	if h.cascade == nil {
		return dst, ErrClosed
	}
	if err := f.Validate(); err != nil {
		return dst, fmt.Errorf("detect: %w", err)
	}
	w := min(haarWidth, f.Width)
	hh := max(1, int(math.Round(float64(f.Height)*float64(w)/float64(f.Width))))
	if len(h.grey) != w*hh || h.sm.outW != w || h.sm.outH != hh {
		h.grey = make([]byte, w*hh)
		h.sm = sampler{outW: w, outH: hh}
	}
	h.sm.luma(f, h.grey)
	var err error
	if h.rects, err = h.cascade.Detect(h.grey, w, hh, w, haarScale, haarMinNeighbors, haarMinSize, h.rects[:0]); err != nil {
		return dst, fmt.Errorf("detect: Haar: %w", err)
	}
	s := h.sm.s
	for _, r := range h.rects {
		box := clipRect(face.Rect{
			X0: float64(r.Min.X) / s, Y0: float64(r.Min.Y) / s,
			X1: float64(r.Max.X) / s, Y1: float64(r.Max.Y) / s,
		}, f.Width, f.Height)
		dst = append(dst, face.Detection{Box: box, Score: 1})
	}
	sortBySize(dst)
	if len(dst) > h.opts.MaxFaces {
		dst = dst[:h.opts.MaxFaces]
	}
	return dst, nil
}

// Close releases the cascade. It is idempotent.
func (h *Haar) Close() error {
	h.cascade.Close()
	h.cascade = nil
	return nil
}
