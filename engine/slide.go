package engine

import (
	"math"

	"facelive/engine/face"
	"facelive/engine/frame"
)

// The tracker's check that a tracked fit still sits on its face
// (tracker.track): the picture under the fit's box, sampled coarsely, is
// compared from one frame to the next and measured for texture.

// underN: the frame under a track's box is sampled on an n×n grid.
const underN = 12

// A tracked fit has slid off its face when the picture under its box
// changed by more than underChange levels on average since the last frame
// while the fit's centre moved less than slidMotion of the face's width:
// a head crossing the frame 60 px a frame left its fit on the hair, and
// its paste landed behind the face. A still picture changes by ~0 (the
// group photos, whose small faces' fits jitter by several pixels); a
// followed face moves its fit with the picture, though a turning, growing
// head at 15 fps changed the picture by 26 levels while its fit's centre
// moved 3.6 % (the demo clip): hence the wide margins.
const (
	underChange = 30
	slidMotion  = 0.02
)

// sampleUnder samples the grey (Y, or G of RGB formats) of f under the
// part of box inside the frame into dst; false when too little of it is.
func sampleUnder(dst []byte, f *frame.Frame, box face.Rect) bool {
	x0, y0 := max(int(box.X0), 0), max(int(box.Y0), 0)
	x1, y1 := min(int(box.X1), f.Width), min(int(box.Y1), f.Height)
	if x1-x0 < underN || y1-y0 < underN {
		return false
	}
	bpp, off := 1, 0
	switch f.Format {
	case frame.YUY2:
		bpp = 2
	case frame.BGRA, frame.BGRX, frame.RGBA:
		bpp, off = 4, 1
	case frame.BGR24, frame.RGB24:
		bpp, off = 3, 1
	}
	k := 0
	for gy := range underN {
		y := y0 + (2*gy+1)*(y1-y0)/(2*underN)
		row := f.Planes[0][y*f.Stride[0]:]
		for gx := range underN {
			x := x0 + (2*gx+1)*(x1-x0)/(2*underN)
			dst[k] = row[x*bpp+off]
			k++
		}
	}
	return true
}

// flatSpread: a patch whose grey values spread less than this (standard
// deviation, levels) holds no face: a face's eyes, brows and mouth spread
// tens of levels. The head that walked out of the frame left its track on
// the grey background.
const flatSpread = 3

// greySpread is the standard deviation of the samples.
func greySpread(v []byte) float64 {
	var sum, sq float64
	for _, x := range v {
		sum += float64(x)
		sq += float64(x) * float64(x)
	}
	n := float64(len(v))
	return math.Sqrt(max(sq/n-(sum/n)*(sum/n), 0))
}

// greyDiff is the mean absolute difference of two samples, in levels.
func greyDiff(a, b []byte) float64 {
	sum := 0
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d < 0 {
			d = -d
		}
		sum += d
	}
	return float64(sum) / float64(len(a))
}
