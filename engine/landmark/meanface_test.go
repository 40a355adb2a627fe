package landmark

import (
	"math"
	"testing"

	"facelive/engine/face"
)

// TestMeanFace checks the generated canonical face: normalised as
// documented, upright, left/right symmetric and shaped like a frontal face.
func TestMeanFace(t *testing.T) {
	m := MeanFace
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range m[17:] {
		x0, x1 = min(x0, p.X), max(x1, p.X)
		y0, y1 = min(y0, p.Y), max(y1, p.Y)
	}
	const eps = 1e-5
	if math.Abs(x0) > eps || math.Abs(x1-1) > eps {
		t.Errorf("points 17-67 span x %.6f..%.6f, want 0..1", x0, x1)
	}
	if !(y0 >= -eps && y1 <= 1+eps) || math.Abs((y0+y1)/2-0.5) > eps || y1-y0 < 0.8 {
		t.Errorf("points 17-67 span y %.6f..%.6f, want a centred span within 0..1", y0, y1)
	}
	// Symmetric about x = 0.5 by the iBUG mirror map.
	pairs := map[int]int{}
	for i := 0; i <= 16; i++ {
		pairs[i] = 16 - i
	}
	for i := 17; i <= 26; i++ {
		pairs[i] = 43 - i
	}
	for _, p := range [][2]int{{31, 35}, {32, 34}, {36, 45}, {37, 44}, {38, 43}, {39, 42}, {40, 47}, {41, 46},
		{48, 54}, {49, 53}, {50, 52}, {55, 59}, {56, 58}, {60, 64}, {61, 63}, {65, 67}} {
		pairs[p[0]], pairs[p[1]] = p[1], p[0]
	}
	for _, i := range []int{27, 28, 29, 30, 33, 51, 57, 62, 66} {
		pairs[i] = i
	}
	if len(pairs) != 68 {
		t.Fatalf("symmetry map has %d points", len(pairs))
	}
	for i, j := range pairs {
		if math.Abs(m[i].X+m[j].X-1) > eps || math.Abs(m[i].Y-m[j].Y) > eps {
			t.Errorf("point %d %v and its mirror %d %v are not symmetric about x = 0.5", i, m[i], j, m[j])
		}
	}
	// A frontal face, top to bottom: brows, eyes, nose tip, mouth, chin.
	box := face.Rect{X0: -0.15, Y0: -0.45, X1: 1.15, Y1: 1.2} // roughly where a detector box would be
	if probs := anatomyProblems(box, &m); len(probs) > 0 {
		t.Errorf("the mean face is not a plausible face: %v", probs)
	}
	brow, eye := centroid(&m, 17, 26).Y, centroid(&m, 36, 47).Y
	if !(brow < eye && eye < m[30].Y && m[30].Y < m[51].Y && m[57].Y < m[8].Y) {
		t.Errorf("vertical order brows %.3f < eyes %.3f < nose tip %.3f < upper lip %.3f, lower lip %.3f < chin %.3f broken",
			brow, eye, m[30].Y, m[51].Y, m[57].Y, m[8].Y)
	}
	if iod := m.InterOcular(); !(iod > 0.6 && iod < 0.85) {
		t.Errorf("outer eye corners %.3f apart; a frontal face has them at about 3/4 of the brow width", iod)
	}
}
