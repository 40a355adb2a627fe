package warp

import (
	"bytes"
	"fmt"
	"image"
	"math"
	"testing"
	"time"

	"facelive/engine/face"
	"facelive/engine/landmark"
)

// faceAndBorder is the mean face scaled into a 224 square plus its
// corners and edge midpoints: the point set the photo swapper warps.
func faceAndBorder() []face.Point {
	var pts []face.Point
	for _, p := range landmark.MeanFace {
		pts = append(pts, face.Point{X: 60 + 100*p.X, Y: 70 + 100*p.Y})
	}
	for _, b := range [][2]float64{{0, 0}, {0.5, 0}, {1, 0}, {1, 0.5}, {1, 1}, {0.5, 1}, {0, 1}, {0, 0.5}} {
		pts = append(pts, face.Point{X: -0.5 + 224*b[0], Y: -0.5 + 224*b[1]})
	}
	return pts
}

func TestDelaunayTilesTheHullWithoutOverlap(t *testing.T) {
	for _, tc := range []struct {
		name string
		pts  []face.Point
		hull float64 // area of the convex hull
	}{
		{"square and centre", []face.Point{{X: 0, Y: 0}, {X: 10, Y: 0}, {X: 10, Y: 10}, {X: 0, Y: 10}, {X: 5, Y: 5}}, 100},
		{"cocircular square", []face.Point{{X: 0, Y: 0}, {X: 10, Y: 0}, {X: 10, Y: 10}, {X: 0, Y: 10}}, 100},
		{"mean face and border", faceAndBorder(), 224 * 224},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tris, err := Delaunay(tc.pts)
			if err != nil {
				t.Fatal(err)
			}
			sum := 0.0
			for _, tr := range tris {
				a := cross(tc.pts[tr[0]], tc.pts[tr[1]], tc.pts[tr[2]])
				if a <= 0 {
					t.Fatalf("triangle %v has area %v: windings differ", tr, a)
				}
				sum += a / 2
			}
			// Same winding and areas adding up to the hull's: no overlap, no gap.
			if math.Abs(sum-tc.hull) > 1e-6*tc.hull {
				t.Fatalf("%d triangles cover %.3f, hull %.3f", len(tris), sum, tc.hull)
			}
		})
	}
}

// testImage is a w×h 3-channel gradient with some texture.
func testImage(w, h int) Image {
	m := Image{Pix: make([]byte, w*h*3), Stride: 3 * w, W: w, H: h, BPP: 3}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := y*m.Stride + 3*x
			m.Pix[o], m.Pix[o+1], m.Pix[o+2] = byte(x+1), byte(y+1), byte((x*7+y*3)%250+1) // never 0
		}
	}
	return m
}

func TestTrianglesMovesPixelsWithTheirTriangles(t *testing.T) {
	pts := faceAndBorder()
	tris, err := Delaunay(pts)
	if err != nil {
		t.Fatal(err)
	}
	src := testImage(224, 224)
	shift := func(dx, dy float64) []face.Point { // every landmark moves, the border stays
		out := append([]face.Point(nil), pts...)
		for i := range 68 {
			out[i].X += dx
			out[i].Y += dy
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		to     []face.Point
		dx, dy int // inside the face a pixel moved by this much
	}{
		{"identity", pts, 0, 0},
		{"face moves right and down", shift(3, 2), 3, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := Image{Pix: make([]byte, len(src.Pix)), Stride: src.Stride, W: 224, H: 224, BPP: 3}
			if err := Triangles(dst, src, tris, pts, tc.to); err != nil {
				t.Fatal(err)
			}
			worst := 0
			for y := 110; y < 160; y++ { // nose and mouth: inside the landmarks' triangles
				for x := 90; x < 140; x++ {
					for c := range 3 {
						got := int(dst.Pix[y*dst.Stride+3*x+c])
						want := int(src.Pix[(y-tc.dy)*src.Stride+3*(x-tc.dx)+c])
						worst = max(worst, abs(got-want))
					}
				}
			}
			if worst > 1 {
				t.Fatalf("a face pixel is %d levels off the source moved by (%d,%d)", worst, tc.dx, tc.dy)
			}
			for i, v := range dst.Pix { // the border points cover the whole square
				if v == 0 {
					t.Fatalf("pixel (%d,%d) was not written", (i%dst.Stride)/3, i/dst.Stride)
				}
			}
		})
	}
}

func TestTrianglesAllocatesNothing(t *testing.T) {
	pts := faceAndBorder()
	tris, _ := Delaunay(pts)
	src := testImage(224, 224)
	dst := Image{Pix: make([]byte, len(src.Pix)), Stride: src.Stride, W: 224, H: 224, BPP: 3}
	to := append([]face.Point(nil), pts...)
	to[57].Y += 10
	if n := testing.AllocsPerRun(20, func() { _ = Triangles(dst, src, tris, pts, to) }); n != 0 {
		t.Fatalf("%v allocations per warp", n)
	}
}

// A prepared Source warps as Triangles does, within a level (its
// horizontal pass rounds), only inside the clip rectangle and there as
// without one, and without allocating; for 1, 3 and 4 bytes per pixel.
func TestSourceWarpMatchesTriangles(t *testing.T) {
	pts := faceAndBorder()
	tris, err := Delaunay(pts)
	if err != nil {
		t.Fatal(err)
	}
	to := append([]face.Point(nil), pts...)
	for _, i := range []int{5, 6, 7, 8, 9, 10, 11, 55, 56, 57, 58, 59, 65, 66, 67} {
		to[i].Y += 6.3
	}
	for i := 17; i <= 26; i++ {
		to[i].X += 1.7
	}
	for _, bpp := range []int{1, 3, 4} {
		t.Run(fmt.Sprintf("%d bytes", bpp), func(t *testing.T) {
			rgb := testImage(224, 224)
			src := Image{Pix: make([]byte, 224*224*bpp), Stride: 224 * bpp, W: 224, H: 224, BPP: bpp}
			for i := range 224 * 224 {
				for c := range bpp {
					src.Pix[i*bpp+c] = rgb.Pix[3*i+c%3] ^ byte(c*40)
				}
			}
			want := Image{Pix: make([]byte, len(src.Pix)), Stride: src.Stride, W: 224, H: 224, BPP: bpp}
			if err := Triangles(want, src, tris, pts, to); err != nil {
				t.Fatal(err)
			}
			s, err := NewSource(src)
			if err != nil {
				t.Fatal(err)
			}
			whole := Image{Pix: make([]byte, len(src.Pix)), Stride: src.Stride, W: 224, H: 224, BPP: bpp}
			if err := s.Warp(whole, tris, pts, to, image.Rect(-5, -5, 300, 300)); err != nil {
				t.Fatal(err)
			}
			got := Image{Pix: make([]byte, len(src.Pix)), Stride: src.Stride, W: 224, H: 224, BPP: bpp}
			clip := image.Rect(40, 50, 190, 200)
			if err := s.Warp(got, tris, pts, to, clip); err != nil {
				t.Fatal(err)
			}
			worst, sum, n := 0, 0, 0
			for y := range 224 {
				for x := range 224 {
					in := image.Pt(x, y).In(clip)
					for c := range bpp {
						o := y*got.Stride + x*bpp + c
						g, w := int(got.Pix[o]), int(want.Pix[o])
						if !in {
							if g != 0 {
								t.Fatalf("(%d,%d) outside the clip %v was written", x, y, clip)
							}
							continue
						}
						if got.Pix[o] != whole.Pix[o] {
							t.Fatalf("(%d,%d) is %d clipped, %d warped whole", x, y, got.Pix[o], whole.Pix[o])
						}
						worst = max(worst, abs(g-w))
						sum += g - w
						n++
					}
				}
			}
			if worst > 1 || math.Abs(float64(sum)/float64(n)) > 0.05 {
				t.Fatalf("Source.Warp differs from Triangles by %d levels at worst, %.3f on average", worst, float64(sum)/float64(n))
			}
			if allocs := testing.AllocsPerRun(10, func() { _ = s.Warp(got, tris, pts, to, clip) }); allocs != 0 {
				t.Fatalf("%v allocations per warp", allocs)
			}
			if err := s.Warp(Image{Pix: got.Pix, Stride: got.Stride, W: 224, H: 224, BPP: bpp%4 + 1}, tris, pts, to, clip); err == nil {
				t.Fatal("a destination with other bytes per pixel accepted")
			}
		})
	}
}

// WarpSpans draws each row's span, as a whole warp does there, and
// nothing else.
func TestSourceWarpSpansDrawsOnlyTheSpans(t *testing.T) {
	pts := faceAndBorder()
	tris, err := Delaunay(pts)
	if err != nil {
		t.Fatal(err)
	}
	to := append([]face.Point(nil), pts...)
	for i := range 68 {
		to[i].X += 3.7
		to[i].Y -= 2.2
	}
	src := testImage(224, 224)
	s, err := NewSource(src)
	if err != nil {
		t.Fatal(err)
	}
	whole := Image{Pix: make([]byte, len(src.Pix)), Stride: src.Stride, W: 224, H: 224, BPP: 3}
	if err := s.Warp(whole, tris, pts, to, image.Rect(0, 0, 224, 224)); err != nil {
		t.Fatal(err)
	}
	spans := make([]Span, 200) // rows 200.. are not drawn
	for y := range spans {
		c := 112 + 60*math.Sin(float64(y)/30)
		spans[y] = Span{X0: int32(c - 40), X1: int32(c + float64(y%50))}
	}
	spans[17] = Span{X0: 100, X1: 100} // empty
	got := Image{Pix: make([]byte, len(src.Pix)), Stride: src.Stride, W: 224, H: 224, BPP: 3}
	if err := s.WarpSpans(got, tris, pts, to, spans); err != nil {
		t.Fatal(err)
	}
	for y := range 224 {
		for x := range 224 {
			in := y < len(spans) && int32(x) >= spans[y].X0 && int32(x) < spans[y].X1
			o := y*got.Stride + 3*x
			switch {
			case in && !bytes.Equal(got.Pix[o:o+3], whole.Pix[o:o+3]):
				t.Fatalf("(%d,%d) in its row's span is %v, the whole warp's %v", x, y, got.Pix[o:o+3], whole.Pix[o:o+3])
			case !in && !bytes.Equal(got.Pix[o:o+3], []byte{0, 0, 0}):
				t.Fatalf("(%d,%d) outside its row's span was drawn", x, y)
			}
		}
	}
	if allocs := testing.AllocsPerRun(10, func() { _ = s.WarpSpans(got, tris, pts, to, spans) }); allocs != 0 {
		t.Fatalf("%v allocations per warp", allocs)
	}
}

func TestTrianglesRejectsBadInput(t *testing.T) {
	pts := faceAndBorder()
	tris, _ := Delaunay(pts)
	img := testImage(224, 224)
	for _, tc := range []struct {
		name     string
		dst, src Image
		from, to []face.Point
	}{
		{"short destination", Image{Pix: make([]byte, 10), Stride: 672, W: 224, H: 224, BPP: 3}, img, pts, pts},
		{"bytes per pixel differ", Image{Pix: make([]byte, 224*224*4), Stride: 896, W: 224, H: 224, BPP: 4}, img, pts, pts},
		{"point counts differ", img, testImage(224, 224), pts, pts[:68]},
		{"triangle past the points", img, testImage(224, 224), pts[:60], pts[:60]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Triangles(tc.dst, tc.src, tris, tc.from, tc.to); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// BenchmarkTriangles warps a 224 face (the mean face and its border, the
// mouth opened and the jaw dropped), whole, from an Image (Triangles) and
// from a prepared Source (Source.Warp, as the photo swapper does). The
// cold runs take each warp's source and destination from 32 sets in turn,
// so they come from the farther caches, as in the engine, where the other
// stages run between two warps. x-memcpy is the time relative to copying
// the same image's bytes the same way, timed in the same run.
func BenchmarkTriangles(b *testing.B) {
	for _, prepared := range []bool{false, true} {
		for _, sets := range []int{1, 32} {
			name := map[bool]string{false: "image", true: "source"}[prepared] + map[bool]string{false: "", true: "-cold"}[sets > 1]
			b.Run(name, func(b *testing.B) { benchTriangles(b, prepared, sets) })
		}
	}
}

func benchTriangles(b *testing.B, prepared bool, sets int) {
	pts := faceAndBorder()
	tris, err := Delaunay(pts)
	if err != nil {
		b.Fatal(err)
	}

	to := append([]face.Point(nil), pts...)
	for _, i := range []int{5, 6, 7, 8, 9, 10, 11, 55, 56, 57, 58, 59, 65, 66, 67} {
		to[i].Y += 6
	}
	srcs, dsts, prep := make([]Image, sets), make([]Image, sets), make([]*Source, sets)
	for k := range sets {
		srcs[k] = testImage(224, 224)
		dsts[k] = Image{Pix: make([]byte, len(srcs[k].Pix)), Stride: srcs[k].Stride, W: 224, H: 224, BPP: 3}
		if prep[k], err = NewSource(srcs[k]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	k := 0
	for b.Loop() {
		k = (k + 1) % sets
		if prepared {
			_ = prep[k].Warp(dsts[k], tris, pts, to, image.Rect(0, 0, 224, 224))
		} else {
			_ = Triangles(dsts[k], srcs[k], tris, pts, to)
		}
	}
	b.StopTimer()
	per := b.Elapsed().Seconds() / float64(b.N)
	const n = 2000
	t0 := time.Now()
	for i := range n {
		copy(dsts[i%sets].Pix, srcs[i%sets].Pix)
	}
	memcpy := time.Since(t0).Seconds() / n
	b.ReportMetric(per*1e3, "ms/face")
	b.ReportMetric(per/memcpy, "x-memcpy")
}
