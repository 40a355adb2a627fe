package merge

import (
	"fmt"
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
// landmarks through the crop's transform). Pass keep to Paste as
// Options.Keep. It allocates nothing.
func FeatureMask(lm *face.Landmarks, size int, eyes, mouth bool, keep []float32) error {
	if size < 1 || len(keep) < size*size {
		return fmt.Errorf("%w: feature mask of size %d into %d values", ErrInput, size, len(keep))
	}
	clear(keep[:size*size])
	io := lm.InterOcular()
	if !(io > 0) || math.IsInf(io, 0) {
		return fmt.Errorf("%w: landmarks without an eye distance", ErrInput)
	}
	if eyes {
		keepPolygon(lm[36:42], size, eyeMargin*io, eyeFeather*io, keep)
		keepPolygon(lm[42:48], size, eyeMargin*io, eyeFeather*io, keep)
	}
	if mouth {
		keepPolygon(lm[60:68], size, mouthMargin*io, mouthFeather*io, keep)
	}
	return nil
}

// keepPolygon raises keep to 1 inside the closed polygon poly grown by
// margin, ramping smoothly to 0 over the outer feather of that margin. A
// polygon squashed to a line (a closed mouth, a shut eye) keeps a band
// around the line.
func keepPolygon(poly []face.Point, size int, margin, feather float64, keep []float32) {
	b := face.Rect{X0: poly[0].X, Y0: poly[0].Y, X1: poly[0].X, Y1: poly[0].Y}
	for _, p := range poly[1:] {
		b.X0, b.Y0 = min(b.X0, p.X), min(b.Y0, p.Y)
		b.X1, b.Y1 = max(b.X1, p.X), max(b.Y1, p.Y)
	}
	x0, x1 := max(int(math.Floor(b.X0-margin)), 0), min(int(math.Ceil(b.X1+margin)), size-1)
	y0, y1 := max(int(math.Floor(b.Y0-margin)), 0), min(int(math.Ceil(b.Y1+margin)), size-1)
	core := max(margin-feather, 0)
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			p := face.Point{X: float64(x), Y: float64(y)}
			d := polygonDistance(poly, p) // < 0 inside
			if d >= margin {
				continue
			}
			v := 1.0
			if d > core {
				r := (margin - d) / (margin - core) // 1 at the core, 0 at the margin
				v = r * r * (3 - 2*r)               // smoothstep: no visible edge either side
			}
			if i := y*size + x; float32(v) > keep[i] {
				keep[i] = float32(v)
			}
		}
	}
}

// polygonDistance is the signed distance from p to the closed polygon
// poly's outline: negative inside (even-odd rule), positive outside.
func polygonDistance(poly []face.Point, p face.Point) float64 {
	best := math.Inf(1)
	inside := false
	for i := range poly {
		a, b := poly[i], poly[(i+1)%len(poly)]
		if (a.Y > p.Y) != (b.Y > p.Y) && p.X < a.X+(p.Y-a.Y)*(b.X-a.X)/(b.Y-a.Y) {
			inside = !inside
		}
		best = min(best, segmentDistance(a, b, p))
	}
	if inside {
		return -best
	}
	return best
}

// segmentDistance is the distance from p to segment ab.
func segmentDistance(a, b, p face.Point) float64 {
	dx, dy := b.X-a.X, b.Y-a.Y
	t := 0.0
	if l := dx*dx + dy*dy; l > 0 {
		t = min(max(((p.X-a.X)*dx+(p.Y-a.Y)*dy)/l, 0), 1)
	}
	return math.Hypot(p.X-a.X-t*dx, p.Y-a.Y-t*dy)
}
