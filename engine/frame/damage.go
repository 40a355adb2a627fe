package frame

import "image"

// MaxDamage is how many rectangles a Damage holds before it merges them: a
// frame is changed in a few places (one per face, the overlay labels).
const MaxDamage = 8

// Damage records where the pipeline wrote into a frame, in pixel
// coordinates. Output to a host that still holds the frame it submitted
// then copies only those rectangles (CopyDamaged) instead of every byte.
// The zero value is "nothing changed".
type Damage struct {
	rects [MaxDamage]image.Rectangle
	n     int
	all   bool
}

// Reset forgets every change.
func (d *Damage) Reset() { d.n, d.all = 0, false }

// Add records that r was written. Past MaxDamage rectangles the last one
// grows to cover r: more bytes copied, never fewer.
func (d *Damage) Add(r image.Rectangle) {
	switch {
	case d.all || r.Empty():
	case d.n < MaxDamage:
		d.rects[d.n] = r
		d.n++
	default:
		d.rects[MaxDamage-1] = d.rects[MaxDamage-1].Union(r)
	}
}

// AddAll records that the whole frame may have changed (a stage that does
// not say where it writes).
func (d *Damage) AddAll() { d.all = true }

// All reports whether the whole frame counts as changed.
func (d *Damage) All() bool { return d.all }

// Rects returns the changed rectangles (not valid when All is true).
func (d *Damage) Rects() []image.Rectangle { return d.rects[:d.n] }

// CopyDamaged copies into dst only the pixels d marks as changed in src,
// plus src's PTS: dst must already hold the frame src was before the
// changes. Both must be valid and of the same geometry. Rectangles grow to
// whole chroma blocks (2×2 in NV12 and I420, 2×1 in YUY2) and are clipped
// to the frame.
func CopyDamaged(dst, src *Frame, d *Damage) {
	if d.all {
		Copy(dst, src)
		return
	}
	bounds := image.Rect(0, 0, src.Width, src.Height)
	for _, r := range d.rects[:d.n] {
		r = chromaAligned(src.Format, r).Intersect(bounds)
		if r.Empty() {
			continue
		}
		for i := 0; i < src.Format.Planes(); i++ {
			x0, x1 := src.Format.RowBytes(i, r.Min.X), src.Format.RowBytes(i, r.Max.X)
			y0, y1 := src.Format.Rows(i, r.Min.Y), src.Format.Rows(i, r.Max.Y)
			ds, ss := dst.Stride[i], src.Stride[i]
			for y := y0; y < y1; y++ {
				copy(dst.Planes[i][y*ds+x0:y*ds+x1], src.Planes[i][y*ss+x0:y*ss+x1])
			}
		}
	}
	dst.PTS, dst.Color = src.PTS, src.Color
}

// chromaAligned grows r to even edges where the format shares chroma
// between neighbouring pixels, so a changed pixel's chroma is copied too.
func chromaAligned(f Format, r image.Rectangle) image.Rectangle {
	switch f {
	case NV12, I420:
		r.Min.X, r.Min.Y = r.Min.X&^1, r.Min.Y&^1
		r.Max.X, r.Max.Y = (r.Max.X+1)&^1, (r.Max.Y+1)&^1
	case YUY2:
		r.Min.X, r.Max.X = r.Min.X&^1, (r.Max.X+1)&^1
	}
	return r
}
