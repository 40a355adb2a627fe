package face

// Expression returns l with the mouth opened by mouth (0..1: the lower lip
// and the jaw drop by up to mouth·drop, drop in pixels) and the eyes closed
// by blink (0..1: the upper lids come down onto the lower ones, 90 % at 1).
// It makes a still face talk and blink for test clips and the demo: a
// photo warped from its own landmarks onto these has a known expression.
func (l Landmarks) Expression(mouth, blink, drop float64) Landmarks {
	out := l
	o := mouth * drop
	for _, m := range jawDrop {
		out[m.i].Y += m.w * o
	}
	for i := 61; i <= 63; i++ { // the upper inner lip rises a little
		out[i].Y -= 0.1 * o
	}
	b := 0.9 * blink
	for _, p := range lids {
		out[p.up].X += b * (l[p.low].X - l[p.up].X)
		out[p.up].Y += b * (l[p.low].Y - l[p.up].Y)
	}
	return out
}

// jawDrop: how much of the mouth's opening each point of the lower lip and
// the jaw takes.
var jawDrop = [...]struct {
	i int
	w float64
}{
	{65, 1}, {66, 1}, {67, 1}, {56, 1}, {57, 1}, {58, 1}, {55, 0.7}, {59, 0.7},
	{7, 0.8}, {8, 0.8}, {9, 0.8}, {6, 0.6}, {10, 0.6}, {5, 0.4}, {11, 0.4}, {4, 0.2}, {12, 0.2},
}

// lids pairs each upper eyelid point with the lower one it closes onto.
var lids = [...]struct{ up, low int }{{37, 41}, {38, 40}, {43, 47}, {44, 46}}
