package merge

import (
	"fmt"
	"image"
	"math"

	"facelive/engine/face"
)

// Live features: the regions of the person's own face a paste keeps, so
// blinks and speech show through a swapped face. Margins and feathers are
// fractions of the inter-ocular distance (landmarks 36–45), so they look the
// same at every face size: the eyes with their lids' edge, the inner mouth
// with the lips' inner edge; the feather is the soft ramp outside the kept
// core.
const (
	eyeMargin    = 0.10
	eyeFeather   = 0.08
	mouthMargin  = 0.12
	mouthFeather = 0.07
)

// FeatureMask writes into keep (size×size, row-major) where a paste should
// keep the frame's own pixels: 1 in the eye regions (landmarks 36–41 and
// 42–47, when eyes) and the inner mouth (60–67, when mouth), each grown by a
// small margin, feathered to 0 just outside it, and 0 elsewhere. lm are
// the live landmarks in the same face space as the paste (the frame's
// landmarks through the crop's transform). It returns the box outside
// which keep is 0 (empty when nothing is kept). Pass keep to Paste as
// Options.Keep and the box as Options.KeepBox. It allocates nothing.
func FeatureMask(lm *face.Landmarks, size int, eyes, mouth bool, keep []float32) (image.Rectangle, error) {
	if size < 1 || len(keep) < size*size {
		return image.Rectangle{}, fmt.Errorf("%w: feature mask of size %d into %d values", ErrInput, size, len(keep))
	}
	clear(keep[:size*size])
	return featureMask(lm, size, eyes, mouth, keep)
}

// Features makes the live features' mask (FeatureMask) frame after frame
// into a buffer of its own, clearing only what the last mask raised
// instead of the whole face. The zero value is ready; it is not safe for
// concurrent use.
type Features struct {
	keep []float32
	size int
	box  image.Rectangle // where keep may be nonzero
}

// Mask is FeatureMask into f's buffer, which it returns; the buffer is
// overwritten by the next call.
func (f *Features) Mask(lm *face.Landmarks, size int, eyes, mouth bool) ([]float32, image.Rectangle, error) {
	if size < 1 {
		return nil, image.Rectangle{}, fmt.Errorf("%w: feature mask of size %d", ErrInput, size)
	}
	if f.size != size {
		f.keep, f.size, f.box = make([]float32, size*size), size, image.Rectangle{}
	}
	for y := f.box.Min.Y; y < f.box.Max.Y; y++ {
		clear(f.keep[y*size+f.box.Min.X : y*size+f.box.Max.X])
	}
	box, err := featureMask(lm, size, eyes, mouth, f.keep)
	f.box = box // on an error nothing was raised
	return f.keep, box, err
}

// featureMask raises keep (0 where it will raise it) and returns the box.
func featureMask(lm *face.Landmarks, size int, eyes, mouth bool, keep []float32) (image.Rectangle, error) {
	io := lm.InterOcular()
	if !(io > 0) || math.IsInf(io, 0) {
		return image.Rectangle{}, fmt.Errorf("%w: landmarks without an eye distance", ErrInput)
	}
	var box image.Rectangle
	if eyes {
		box = box.Union(keepPolygon(lm[36:42], size, eyeMargin*io, eyeFeather*io, keep))
		box = box.Union(keepPolygon(lm[42:48], size, eyeMargin*io, eyeFeather*io, keep))
	}
	if mouth {
		box = box.Union(keepPolygon(lm[60:68], size, mouthMargin*io, mouthFeather*io, keep))
	}
	return box, nil
}

// maxPolygon bounds keepPolygon's polygons (an eye has 6 points, the inner
// mouth 8).
const maxPolygon = 8

// keepPolygon raises keep to 1 inside the closed polygon poly (at most
// maxPolygon points) grown by margin, ramping smoothly to 0 over the outer
// feather of that margin, and returns the box it may have raised. A
// polygon squashed to a line (a closed mouth, a shut eye) keeps a band
// around the line.
//
// Row by row: the polygon's crossings of the row decide inside (even-odd,
// as polygonDistance), where keep is 1 with no distance to compute;
// outside, the squared distance to the nearest edge decides, and a square
// root is taken only within the margin.
func keepPolygon(poly []face.Point, size int, margin, feather float64, keep []float32) image.Rectangle {
	n := min(len(poly), maxPolygon)
	poly = poly[:n]
	b := face.Rect{X0: poly[0].X, Y0: poly[0].Y, X1: poly[0].X, Y1: poly[0].Y}
	for _, p := range poly[1:] {
		b.X0, b.Y0 = min(b.X0, p.X), min(b.Y0, p.Y)
		b.X1, b.Y1 = max(b.X1, p.X), max(b.Y1, p.Y)
	}
	if !(b.X0 > -1e6 && b.Y0 > -1e6 && b.X1 < 1e6 && b.Y1 < 1e6) { // also NaN
		return image.Rectangle{}
	}
	x0, x1 := max(int(math.Floor(b.X0-margin)), 0), min(int(math.Ceil(b.X1+margin)), size-1)
	y0, y1 := max(int(math.Floor(b.Y0-margin)), 0), min(int(math.Ceil(b.Y1+margin)), size-1)
	if x0 > x1 || y0 > y1 {
		return image.Rectangle{}
	}
	core := max(margin-feather, 0)
	m2 := margin * margin
	// Each edge a→b as a, b−a and 1/|b−a|² (0 for a point).
	var ax, ay, dx, dy, inv [maxPolygon]float64
	for i := range n {
		a, c := poly[i], poly[(i+1)%n]
		ax[i], ay[i], dx[i], dy[i] = a.X, a.Y, c.X-a.X, c.Y-a.Y
		if l := dx[i]*dx[i] + dy[i]*dy[i]; l > 0 {
			inv[i] = 1 / l
		}
	}
	var cross [maxPolygon]float64
	for y := y0; y <= y1; y++ {
		fy := float64(y)
		// The x where edges cross this row, sorted: inside is between
		// the 1st and 2nd, the 3rd and 4th, ...
		nc := 0
		for i := range n {
			a, c := poly[i], poly[(i+1)%n]
			if (a.Y > fy) != (c.Y > fy) {
				x := a.X + (fy-a.Y)*(c.X-a.X)/(c.Y-a.Y)
				k := nc
				for ; k > 0 && cross[k-1] > x; k-- {
					cross[k] = cross[k-1]
				}
				cross[k] = x
				nc++
			}
		}
		row := keep[y*size : y*size+size]
		next := 0 // the first crossing right of x
		for x := x0; x <= x1; x++ {
			fx := float64(x)
			for next < nc && cross[next] <= fx {
				next++
			}
			if (nc-next)&1 == 1 { // inside: an odd number of crossings to the right
				row[x] = 1
				continue
			}
			d2 := m2
			for i := range n {
				px, py := fx-ax[i], fy-ay[i]
				t := (px*dx[i] + py*dy[i]) * inv[i]
				if t < 0 { // plain comparisons: min and max order NaNs and zeros, a cost here
					t = 0
				} else if t > 1 {
					t = 1
				}
				ex, ey := px-t*dx[i], py-t*dy[i]
				if e := ex*ex + ey*ey; e < d2 {
					d2 = e
				}
			}
			if d2 >= m2 {
				continue
			}
			v := float32(1)
			if d := math.Sqrt(d2); d > core {
				r := (margin - d) / (margin - core) // 1 at the core, 0 at the margin
				v = float32(r * r * (3 - 2*r))      // smoothstep: no visible edge either side
			}
			row[x] = max(row[x], v)
		}
	}
	return image.Rect(x0, y0, x1+1, y1+1)
}
