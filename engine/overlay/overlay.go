// Package overlay draws labels into frames: the "AI-modified" disclosure
// that tells viewers a stream is altered (bottom-left), and the stats line
// (top-left). It writes only the label's rectangle, in every frame format,
// and allocates only when the frame height or the text changes (the label
// is rendered once per height and text).
package overlay

import (
	"image"

	"facelive/internal/cv"

	"facelive/engine/frame"
)

// DisclosureText is what the disclosure label says.
const DisclosureText = "AI-modified"

// Label is a text rendered once into a coverage mask and drawn into the
// bottom-left corner of frames over a darkened box.
type Label struct {
	text      string
	forHeight int     // the frame height the mask was rendered for
	w, h      int     // box size in pixels
	cover     []uint8 // text coverage, w*h, 0..255
	margin    int
	top       bool // top-left corner instead of bottom-left
}

// NewLabel returns a label for text, drawn in the bottom-left corner.
func NewLabel(text string) *Label { return &Label{text: text} }

// NewTopLabel returns a label drawn in the top-left corner.
func NewTopLabel(text string) *Label { return &Label{text: text, top: true} }

// SetText changes the text; the label renders again on the next draw.
// Callers that update it per frame should throttle: each change renders.
func (l *Label) SetText(text string) {
	if text != l.text {
		l.text, l.forHeight = text, 0
	}
}

// render draws the text for frames of the given height: about 3.5 % of
// the height, at least 14 px, so it is readable in a 360p call and small
// in 4K.
func (l *Label) render(height int) {
	textH := max(14, height*35/1000)
	scale := float64(textH) / 22 // Hershey simplex is ~22 px tall at scale 1
	thick := max(1, textH/10)
	tw, _, err := cv.TextSize(l.text, scale, thick)
	if err != nil {
		tw = len(l.text) * textH * 3 / 4 // OpenCV cannot fail here; a box of about the text's size if it did
	}
	pad := max(3, textH/4)
	l.w, l.h = tw+2*pad, textH+2*pad
	l.margin = max(4, height/60)
	if n := l.w * l.h; cap(l.cover) >= n {
		l.cover = l.cover[:n]
		clear(l.cover)
	} else {
		l.cover = make([]byte, n)
	}
	_ = cv.PutText(l.cover, l.w, l.h, l.w, l.text, image.Pt(pad, pad+textH*4/5), scale, thick) // a blank label if not
	l.forHeight = height
}

// Rect returns where Draw writes in a frame of that size (empty when the
// frame is too small for the label).
func (l *Label) Rect(width, height int) image.Rectangle {
	if l.forHeight != height {
		l.render(height)
	}
	r := image.Rect(l.margin, height-l.margin-l.h, l.margin+l.w, height-l.margin)
	if l.top {
		r = image.Rect(l.margin, l.margin, l.margin+l.w, l.margin+l.h)
	}
	r.Min.X &^= 1 // whole chroma blocks
	r.Min.Y &^= 1
	if r.Max.X > width || r.Min.Y < 0 {
		return image.Rectangle{}
	}
	return r
}

// Draw darkens the label's box and writes the text in white.
func (l *Label) Draw(f *frame.Frame) {
	r := l.Rect(f.Width, f.Height)
	if r.Empty() {
		return
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			t := uint32(0)
			if cx, cy := x-r.Min.X, y-r.Min.Y; cx < l.w && cy < l.h {
				t = uint32(l.cover[cy*l.w+cx])
			}
			l.pixel(f, x, y, t)
		}
	}
	if f.Format == frame.NV12 || f.Format == frame.I420 {
		for y := r.Min.Y / 2; y < (r.Max.Y+1)/2; y++ {
			for x := r.Min.X / 2; x < (r.Max.X+1)/2; x++ {
				if f.Format == frame.NV12 {
					o := y*f.Stride[1] + 2*x
					f.Planes[1][o], f.Planes[1][o+1] = grey(f.Planes[1][o]), grey(f.Planes[1][o+1])
				} else {
					f.Planes[1][y*f.Stride[1]+x] = grey(f.Planes[1][y*f.Stride[1]+x])
					f.Planes[2][y*f.Stride[2]+x] = grey(f.Planes[2][y*f.Stride[2]+x])
				}
			}
		}
	}
}

// The box keeps 35 % of what is behind it; text is white.
func dark(v uint8) uint32 { return uint32(v) * 35 / 100 }

func blend(base uint32, white uint32, t uint32) uint8 {
	return uint8((base*(255-t) + white*t) / 255)
}

// grey pulls a chroma sample toward neutral, as the darkened box does.
func grey(c uint8) uint8 { return uint8(128 + (int(c)-128)*35/100) }

func (l *Label) pixel(f *frame.Frame, x, y int, t uint32) {
	p, s := f.Planes[0], f.Stride[0]
	switch f.Format {
	case frame.NV12, frame.I420:
		o := y*s + x
		p[o] = blend(16+dark(p[o]-min(p[o], 16)), 235, t)
	case frame.YUY2:
		o := y*s + 2*x
		p[o] = blend(16+dark(p[o]-min(p[o], 16)), 235, t)
		p[o+1] = grey(p[o+1]) // U or V of this pixel's pair
	default:
		o := y*s + x*f.Format.BytesPerPixel()
		for c := 0; c < 3; c++ { // B, G, R in any order; alpha/X untouched
			p[o+c] = blend(dark(p[o+c]), 255, t)
		}
	}
}
