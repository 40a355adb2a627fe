package align

import (
	"math"
	"math/rand"

	"facelive/engine/face"
)

// testCanonical builds a plausible frontal 68-point face whose points 17–67
// span exactly [0,1]² (jaw outside), like a normalised mean face.
func testCanonical() *face.Landmarks {
	var l face.Landmarks
	// Jaw 0–16: a U from the temples down to the chin.
	for i := 0; i <= 16; i++ {
		a := math.Pi * float64(i) / 16 // 0..π
		l[i] = face.Point{X: 0.5 - 0.62*math.Cos(a), Y: 0.2 + 1.05*math.Sin(a)}
	}
	// Brows 17–21 and 22–26: arcs.
	for i := 0; i < 5; i++ {
		t := float64(i) / 4
		l[17+i] = face.Point{X: 0.0 + 0.4*t, Y: 0.08 - 0.08*math.Sin(math.Pi*(0.3+0.7*t))}
		l[22+i] = face.Point{X: 0.6 + 0.4*t, Y: 0.08 - 0.08*math.Sin(math.Pi*(1-0.7*t))}
	}
	// Nose bridge 27–30, nostrils 31–35.
	for i := 0; i < 4; i++ {
		l[27+i] = face.Point{X: 0.5, Y: 0.22 + 0.12*float64(i)}
	}
	for i := 0; i < 5; i++ {
		l[31+i] = face.Point{X: 0.4 + 0.05*float64(i), Y: 0.64 + 0.03*math.Sin(math.Pi*float64(i)/4)}
	}
	// Eyes 36–41 (image left) and 42–47: hexagons.
	eye := func(base int, cx float64) {
		for i := 0; i < 6; i++ {
			a := math.Pi * float64(i) / 3
			l[base+i] = face.Point{X: cx - 0.12*math.Cos(a), Y: 0.3 - 0.05*math.Sin(a)}
		}
	}
	eye(36, 0.24)
	eye(42, 0.76)
	// Mouth outer 48–59, inner 60–67.
	for i := 0; i < 12; i++ {
		a := 2 * math.Pi * float64(i) / 12
		l[48+i] = face.Point{X: 0.5 - 0.26*math.Cos(a), Y: 0.86 - 0.1*math.Sin(a)}
	}
	for i := 0; i < 8; i++ {
		a := 2 * math.Pi * float64(i) / 8
		l[60+i] = face.Point{X: 0.5 - 0.16*math.Cos(a), Y: 0.86 - 0.03*math.Sin(a)}
	}
	// Normalise 17–67 to [0,1]².
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range l[17:] {
		x0, y0, x1, y1 = math.Min(x0, p.X), math.Min(y0, p.Y), math.Max(x1, p.X), math.Max(y1, p.Y)
	}
	for i := range l {
		l[i] = face.Point{X: (l[i].X - x0) / (x1 - x0), Y: (l[i].Y - y0) / (y1 - y0)}
	}
	return &l
}

// similarity is p → scale·R(angle)·p + (tx, ty).
type similarity struct{ angleDeg, scale, tx, ty float64 }

func (s similarity) apply(p face.Point) face.Point {
	a := s.angleDeg * math.Pi / 180
	c, n := math.Cos(a)*s.scale, math.Sin(a)*s.scale
	return face.Point{X: c*p.X - n*p.Y + s.tx, Y: n*p.X + c*p.Y + s.ty}
}

func (s similarity) landmarks(c *face.Landmarks, noise float64, rng *rand.Rand) *face.Landmarks {
	var l face.Landmarks
	for i, p := range c {
		q := s.apply(p)
		if noise > 0 {
			q.X += rng.NormFloat64() * noise
			q.Y += rng.NormFloat64() * noise
		}
		l[i] = q
	}
	return &l
}

// bgrImage is a tightly packed BGR8 image; frametest.FromBGR turns it
// into frames of every format.
type bgrImage struct {
	w, h int
	pix  []byte
}

func (b *bgrImage) at(x, y int) (byte, byte, byte) {
	o := (y*b.w + x) * 3
	return b.pix[o], b.pix[o+1], b.pix[o+2]
}

func round8(v float64) byte { return byte(math.Max(0, math.Min(255, math.Round(v)))) }

// pattern draws a smooth colourful test image with some mid-frequency
// structure (chroma varies slowly so 4:2:0 loses little).
func pattern(w, h int) *bgrImage {
	img := &bgrImage{w: w, h: h, pix: make([]byte, w*h*3)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x), float64(y)
			lum := 128 + 60*math.Sin(fx/9)*math.Cos(fy/11) + 30*math.Sin((fx+fy)/23)
			b := lum + 50*math.Sin(fx/70)
			g := lum + 40*math.Cos(fy/60)
			r := lum + 45*math.Sin((fx-fy)/80)
			o := (y*w + x) * 3
			img.pix[o], img.pix[o+1], img.pix[o+2] = round8(b), round8(g), round8(r)
		}
	}
	return img
}
