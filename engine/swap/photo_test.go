package swap

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"facelive/engine/align"
	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
	"facelive/engine/landmark"
	"facelive/engine/merge"
)

func TestPhotoFromAstronaut(t *testing.T) {
	locate := testLocate(t)
	path := asset(t, "faces/astronaut.png")
	src, err := LoadPhoto(path, locate)
	if err != nil {
		t.Fatal(err)
	}
	if src.Image.Format != frame.BGR24 || src.Image.Width != 512 || src.Image.Height != 512 {
		t.Fatalf("astronaut.png loaded as %v %dx%d, want BGR24 512x512", src.Image.Format, src.Image.Width, src.Image.Height)
	}
	o := align.DefaultOptions(&landmark.MeanFace)
	p, err := NewPhoto(src, o)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const s = align.DefaultSize
	if p.Size() != s {
		t.Fatalf("Size() = %d, want %d", p.Size(), s)
	}
	faceImg, faceMask := p.Face()
	dir := dumpDir(t)
	writePNG(t, filepath.Join(dir, "photo_face.png"), faceImg, nil, s)
	writePNG(t, filepath.Join(dir, "photo_mask.png"), nil, faceMask, s)
	t.Logf("aligned source face and mask written to %s", dir)

	// Geometry: the source landmarks land where the whole-face crop puts
	// the canonical face: brows-to-mouth box centred, eye line level.
	tr := p.Transform()
	var fl face.Landmarks
	for i, q := range src.Landmarks {
		fl[i] = tr.Apply(q)
	}
	box := fl.Bounds()
	inner := fl[17:]
	x0, y0, x1, y1 := inner[0].X, inner[0].Y, inner[0].X, inner[0].Y
	for _, q := range inner {
		x0, y0, x1, y1 = min(x0, q.X), min(y0, q.Y), max(x1, q.X), max(y1, q.Y)
	}
	cx, cy := (x0+x1)/2, (y0+y1)/2
	wantX, wantY := float64(s-1)/2, float64(s-1)/2+align.DefaultShiftUp*s
	if math.Abs(cx-wantX) > 4 || math.Abs(cy-wantY) > 4 {
		t.Errorf("face (points 17-67) centred at (%.1f, %.1f) of the %d crop, want (%.1f, %.1f)", cx, cy, s, wantX, wantY)
	}
	eyeL, eyeR := FivePoints(&fl)[0], FivePoints(&fl)[1]
	if a := math.Atan2(eyeR.Y-eyeL.Y, eyeR.X-eyeL.X) * 180 / math.Pi; math.Abs(a) > 3 {
		t.Errorf("eye line tilted %.1f° in the aligned face", a)
	}
	if box.X0 < 0 || box.Y0 < 0 || box.X1 > s || box.Y1 > s {
		t.Errorf("landmarks %+v leave the crop", box)
	}

	// Content, independently of the transform: the detector finds one
	// face in the crop, in its middle.
	dets, err := locDet.Detect(frametest.FromBGR(faceImg, s, s, frame.BGR24, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(dets) == 0 {
		t.Fatal("no face detected in the aligned source face")
	}
	c := dets[0].Box.Center()
	if math.Abs(c.X-float64(s)/2) > 0.08*s || math.Abs(c.Y-float64(s)/2) > 0.12*s {
		t.Errorf("face detected in the aligned crop at %+v (centre %.0f,%.0f), want near the centre of %d", dets[0].Box, c.X, c.Y, s)
	}
	if w := dets[0].Box.W(); w < 0.25*s || w > 0.7*s {
		t.Errorf("face in the aligned crop is %.0f px wide of %d, want the whole-face scale (about 0.45)", w, s)
	}

	// Mask: the landmark hull — the face's middle, not the corners.
	at := func(x, y int) float32 { return faceMask[y*s+x] }
	if at(s/2, s/2) != 1 || at(int(cx), int(cy)) != 1 {
		t.Errorf("mask at the centre %v, at the face centre %v, want 1", at(s/2, s/2), at(int(cx), int(cy)))
	}
	for _, q := range [][2]int{{0, 0}, {s - 1, 0}, {0, s - 1}, {s - 1, s - 1}, {5, s / 2}, {s - 6, s / 2}} {
		if v := at(q[0], q[1]); v != 0 {
			t.Errorf("mask at (%d,%d) = %v, want 0", q[0], q[1], v)
		}
	}
	var area float64
	for _, v := range faceMask {
		area += float64(v)
	}
	if frac := area / (s * s); frac < 0.12 || frac > 0.45 {
		t.Errorf("mask covers %.2f of the crop, want a face (0.12..0.45)", frac)
	}

	// Swap: exactly the aligned source face and its mask, whatever the target.
	target := pattern(s)
	out := make([]byte, 3*s*s)
	mask := make([]float32, s*s)
	if err := p.Swap(target, out, mask); err != nil {
		t.Fatal(err)
	}
	if string(out) != string(faceImg) {
		t.Error("Swap's face differs from the aligned source face")
	}
	for i := range mask {
		if mask[i] != faceMask[i] {
			t.Fatalf("Swap's mask differs at %d", i)
		}
	}
	if n := testing.AllocsPerRun(20, func() { p.Swap(target, out, mask) }); n != 0 {
		t.Errorf("Swap allocates %.1f times per face", n)
	}
	if err := p.Swap(target[:10], out, mask); err == nil {
		t.Error("short target accepted")
	}
}

func TestPhotoSizeAndErrors(t *testing.T) {
	src := syntheticSource(300, 300, 120, func(x, y int) [3]byte { return [3]byte{byte(x), byte(y), 90} })
	o := align.DefaultOptions(&landmark.MeanFace)
	o.Size = 0 // means the default
	p, err := NewPhoto(src, o)
	if err != nil {
		t.Fatal(err)
	}
	if p.Size() != align.DefaultSize {
		t.Errorf("Size() = %d for Options.Size 0, want %d", p.Size(), align.DefaultSize)
	}
	o.Size = 128
	if p, err = NewPhoto(src, o); err != nil || p.Size() != 128 {
		t.Fatalf("Size 128: %v, %v", p, err)
	}
	o.Canonical = nil
	if _, err := NewPhoto(src, o); err == nil {
		t.Error("nil canonical face accepted")
	}
	if _, err := NewPhoto(nil, align.DefaultOptions(&landmark.MeanFace)); err == nil {
		t.Error("nil source accepted")
	}
	flat := *src
	flat.Landmarks = face.Landmarks{} // all points equal: no alignment
	if _, err := NewPhoto(&flat, align.DefaultOptions(&landmark.MeanFace)); !errors.Is(err, align.ErrDegenerate) {
		t.Errorf("degenerate landmarks: %v, want align.ErrDegenerate", err)
	}
}

func TestLoadPhotoErrors(t *testing.T) {
	locate := testLocate(t)
	dir := t.TempDir()

	missing := filepath.Join(dir, "nobody.png")
	_, err := LoadPhoto(missing, locate)
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing file: %v", err)
	}

	text := filepath.Join(dir, "notes.png")
	if err := os.WriteFile(text, []byte("this is not a picture\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadPhoto(text, locate)
	if err == nil || !strings.Contains(err.Error(), text) || !strings.Contains(err.Error(), "not an image") {
		t.Errorf("text file named .png: %v", err)
	}

	_, err = LoadPhoto(dir, locate)
	if err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("directory: %v", err)
	}

	grey := filepath.Join(dir, "grey.png")
	writeGreyPNG(t, grey, 320, 240)
	_, err = LoadPhoto(grey, locate)
	if !errors.Is(err, ErrNoFace) || !strings.Contains(err.Error(), "no face found in \""+grey+"\"") {
		t.Errorf("photo without a face: %v, want ErrNoFace naming the file", err)
	}

	boom := errors.New("fitter exploded")
	_, err = LoadPhoto(grey, func(*frame.Frame) (face.Landmarks, error) { return face.Landmarks{}, boom })
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), grey) {
		t.Errorf("failing locate: %v", err)
	}
	nan := func(*frame.Frame) (face.Landmarks, error) { return face.Landmarks{{X: math.NaN()}}, nil }
	if _, err = LoadPhoto(grey, nan); err == nil {
		t.Error("NaN landmarks accepted")
	}
	if _, err = LoadPhoto(grey, nil); err == nil {
		t.Error("nil locate accepted")
	}
	if _, err = LoadPhoto("", locate); err == nil {
		t.Error("empty path accepted")
	}
}

func BenchmarkPhotoSwap(b *testing.B) {
	src := syntheticSource(400, 400, 160, func(x, y int) [3]byte { return [3]byte{byte(x), byte(y), byte(x ^ y)} })
	p, err := NewPhoto(src, align.DefaultOptions(&landmark.MeanFace))
	if err != nil {
		b.Fatal(err)
	}
	s := p.Size()
	target, out, mask := pattern(s), make([]byte, 3*s*s), make([]float32, s*s)
	refOut, refMask := make([]byte, len(out)), make([]float32, len(mask))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p.Swap(target, out, mask)
	}
	b.StopTimer()
	perFace := b.Elapsed().Seconds() / float64(b.N)
	// Compare with a memmove of the same bytes, timed in this run.
	const n = 2000
	t0 := time.Now()
	for range n {
		copy(refOut, out)
		copy(refMask, mask)
	}
	memmove := time.Since(t0).Seconds() / n
	b.ReportMetric(perFace*1e3, "ms/face")
	b.ReportMetric(perFace/memmove, "x-memmove")
}

func TestPhotoSwapToFollowsTheTargetsLandmarks(t *testing.T) {
	// The source's B and G are its photo x and y: a face-space pixel says
	// where in the photo it came from.
	src := syntheticSource(300, 300, 120, func(x, y int) [3]byte { return [3]byte{byte(x), byte(y), 90} })
	p, err := NewPhoto(src, align.DefaultOptions(&landmark.MeanFace))
	if err != nil {
		t.Fatal(err)
	}
	s := p.Size()
	own := face.Landmarks(p.pts[:68])
	jawDown := own // the mouth opens: lower lip and chin move down 10 px
	for _, i := range []int{5, 6, 7, 8, 9, 10, 11, 55, 56, 57, 58, 59, 65, 66, 67} {
		jawDown[i].Y += 10
	}
	browsUp := own
	for i := 17; i <= 26; i++ {
		browsUp[i].Y -= 6
	}
	at := func(img []byte, q face.Point) [2]int {
		o := 3 * (int(math.Round(q.Y))*s + int(math.Round(q.X)))
		return [2]int{int(img[o]), int(img[o+1])}
	}
	faceImg, _ := p.Face()
	target, out, mask := pattern(s), make([]byte, 3*s*s), make([]float32, s*s)
	for _, tc := range []struct {
		name  string
		lm    face.Landmarks
		moved []int // landmarks that must carry their source pixel along
	}{
		{"own landmarks", own, []int{8, 30, 36, 48, 57}},
		{"jaw down", jawDown, []int{7, 8, 9, 57, 66}},
		{"brows up", browsUp, []int{17, 19, 21, 24}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := p.SwapTo(target, &tc.lm, -1, out, mask); err != nil {
				t.Fatal(err)
			}
			for _, k := range tc.moved {
				got, want := at(out, tc.lm[k]), at(faceImg, own[k])
				if absDiff(byte(got[0]), byte(want[0])) > 2 || absDiff(byte(got[1]), byte(want[1])) > 2 {
					t.Errorf("landmark %d at %v shows photo pixel %v, want %v (the source's at %v)", k, tc.lm[k], got, want, own[k])
				}
			}
			var hull [68]face.Point
			copy(hull[:], tc.lm[:])
			wantMask := make([]float32, s*s)
			if err := merge.HullMask(hull[:], s, wantMask); err != nil {
				t.Fatal(err)
			}
			for i := range mask {
				if mask[i] != wantMask[i] {
					t.Fatalf("mask at %d is %v, want the target hull's %v", i, mask[i], wantMask[i])
				}
			}
		})
	}
	lm := jawDown
	reach := merge.Reach(merge.DefaultOptions(), s)
	if n := testing.AllocsPerRun(20, func() { p.SwapTo(target, &lm, reach, out, mask) }); n != 0 {
		t.Errorf("SwapTo allocates %.1f times per face", n)
	}
	if err := p.SwapTo(target, &lm, reach, out[:10], mask); err == nil {
		t.Error("short out accepted")
	}
}

// With a reach, SwapTo warps every pixel within it of the mask, as a
// whole warp does, and leaves the rest of out as it was; the mask is the
// same.
func TestPhotoSwapToDrawsOnlyWhatThePasteReads(t *testing.T) {
	src := syntheticSource(300, 300, 120, func(x, y int) [3]byte { return [3]byte{byte(x), byte(y), byte(x ^ y)} })
	p, err := NewPhoto(src, align.DefaultOptions(&landmark.MeanFace))
	if err != nil {
		t.Fatal(err)
	}
	s := p.Size()
	lm := face.Landmarks(p.pts[:68])
	for i := range lm { // the face moved, its mouth lower
		lm[i].X += 9.3
		lm[i].Y -= 6.1
		if i >= 48 {
			lm[i].Y += 5
		}
	}
	target := pattern(s)
	whole, wholeMask := make([]byte, 3*s*s), make([]float32, s*s)
	if err := p.SwapTo(target, &lm, -1, whole, wholeMask); err != nil {
		t.Fatal(err)
	}
	for _, reach := range []int{0, merge.Reach(merge.DefaultOptions(), s), 3 * s} {
		out, mask := make([]byte, 3*s*s), make([]float32, s*s)
		for i := range out {
			out[i] = 7 // left as it was past the reach
		}
		if err := p.SwapTo(target, &lm, reach, out, mask); err != nil {
			t.Fatal(err)
		}
		lo, hi := make([]int, s), make([]int, s) // each mask row's nonzero span
		for v := range s {
			lo[v], hi[v] = s, -1
			for u := range s {
				if mask[v*s+u] != wholeMask[v*s+u] {
					t.Fatalf("reach %d: mask differs at (%d,%d)", reach, u, v)
				}
				if mask[v*s+u] > 0 {
					lo[v], hi[v] = min(lo[v], u), max(hi[v], u)
				}
			}
		}
		near := func(u, v int) bool {
			for k := max(v-reach, 0); k <= min(v+reach, s-1); k++ {
				if u >= lo[k]-reach && u <= hi[k]+reach {
					return true
				}
			}
			return false
		}
		warped := 0
		for v := range s {
			for u := range s {
				o := 3 * (v*s + u)
				got := out[o : o+3]
				switch {
				case !near(u, v):
					if !bytes.Equal(got, []byte{7, 7, 7}) {
						t.Fatalf("reach %d: (%d,%d) past the reach was written", reach, u, v)
					}
				case !bytes.Equal(got, whole[o:o+3]):
					t.Fatalf("reach %d: (%d,%d) within the reach is %v, the whole warp's %v", reach, u, v, got, whole[o:o+3])
				default:
					warped++
				}
			}
		}
		t.Logf("reach %d: %d of %d pixels warped", reach, warped, s*s)
	}
}

// What SwapTo leaves unwarped past the reach never shows: pasting its
// output with merge options o writes the same bytes as pasting the whole
// warp, for the default options and wider and narrower ones.
func TestPhotoSwapToWithinReachPastesAsTheWholeWarp(t *testing.T) {
	src := syntheticSource(300, 300, 120, func(x, y int) [3]byte { return [3]byte{byte(x), byte(y), byte(x ^ y)} })
	p, err := NewPhoto(src, align.DefaultOptions(&landmark.MeanFace))
	if err != nil {
		t.Fatal(err)
	}
	s := p.Size()
	lm := face.Landmarks(p.pts[:68])
	for i := range lm { // the face moved and turned a little, its mouth open
		lm[i].X += 7.3 + 0.05*(lm[i].Y-112)
		lm[i].Y -= 4.1
		if i >= 55 && i <= 59 || i >= 65 {
			lm[i].Y += 6
		}
	}
	target := pattern(s)
	whole, wholeMask := make([]byte, 3*s*s), make([]float32, s*s)
	if err := p.SwapTo(target, &lm, -1, whole, wholeMask); err != nil {
		t.Fatal(err)
	}
	scene := make([]byte, 640*480*3)
	for i := range scene {
		scene[i] = byte(40 + (i*13)%170)
	}
	tr, err := align.NewTransform([6]float64{0.45, 0.08, -60, -0.08, 0.45, 20}, s) // a 500 px face at an angle
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []merge.Options{merge.DefaultOptions(), {Erode: 0, Blur: 60, ColorTransfer: "rct", Opacity: 1}, {Erode: 15, Blur: 4, ColorTransfer: "none", Opacity: 1}} {
		reach := merge.Reach(o, s)
		out, mask := make([]byte, 3*s*s), make([]float32, s*s)
		if err := p.SwapTo(target, &lm, reach, out, mask); err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(out, whole) {
			t.Fatalf("erode %d blur %d: SwapTo within reach %d warped everything: the test shows nothing", o.Erode, o.Blur, reach)
		}
		for _, f := range []frame.Format{frame.NV12, frame.BGRA} {
			want := frametest.FromBGR(scene, 640, 480, f, 0)
			got := frametest.Clone(want)
			if err := merge.New().Paste(want, tr, whole, wholeMask, o); err != nil {
				t.Fatal(err)
			}
			if err := merge.New().Paste(got, tr, out, mask, o); err != nil {
				t.Fatal(err)
			}
			for k := range want.Planes {
				if !bytes.Equal(want.Planes[k], got.Planes[k]) {
					t.Fatalf("erode %d blur %d, %s: plane %d differs from pasting the whole warp", o.Erode, o.Blur, f, k)
				}
			}
		}
	}
}

// BenchmarkPhotoSwapTo: following the face (SwapTo: the piecewise warp
// and the target's hull) against the still paste (Swap, a copy of the
// face and its mask), timed in the same run, one 224 face; whole (reach
// -1) and within the reach the default merge options read.
func BenchmarkPhotoSwapTo(b *testing.B) {
	src := syntheticSource(400, 400, 160, func(x, y int) [3]byte { return [3]byte{byte(x), byte(y), byte(x ^ y)} })
	p, err := NewPhoto(src, align.DefaultOptions(&landmark.MeanFace))
	if err != nil {
		b.Fatal(err)
	}
	s := p.Size()
	lm := face.Landmarks(p.pts[:68])
	for i := 55; i <= 67; i++ { // a mouth opening
		lm[i].Y += 6
	}
	target, out, mask := pattern(s), make([]byte, 3*s*s), make([]float32, s*s)
	for _, tc := range []struct {
		name  string
		reach int
	}{{"whole", -1}, {"reach", merge.Reach(merge.DefaultOptions(), s)}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = p.SwapTo(target, &lm, tc.reach, out, mask)
			}
			b.StopTimer()
			perFace := b.Elapsed().Seconds() / float64(b.N)
			const n = 200
			t0 := time.Now()
			for range n {
				_ = p.Swap(target, out, mask)
			}
			still := time.Since(t0).Seconds() / n
			b.ReportMetric(perFace*1e3, "ms/face")
			b.ReportMetric(perFace/still, "x-still")
		})
	}
}
