package swap

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"facelive/engine/align"
	"facelive/engine/face"
)

// solidSource is a photo of one colour with a mean face in it: its ArcFace
// crop is that colour whatever the alignment, so the test ArcFace model's
// embedding (channel means, then 509 ones) is known exactly.
func solidSource(bgr [3]byte) *SourceFace {
	return syntheticSource(320, 320, 130, func(x, y int) [3]byte { return bgr })
}

// expectedEmbedding is what arcface.onnx gives for a solid colour, after
// insightface's (x − 127.5) / 127.5 and L2 normalisation.
func expectedEmbedding(bgr [3]byte) [embeddingLen]float64 {
	var e [embeddingLen]float64
	e[0] = (float64(bgr[2]) - 127.5) / 127.5 // R
	e[1] = (float64(bgr[1]) - 127.5) / 127.5 // G
	e[2] = (float64(bgr[0]) - 127.5) / 127.5 // B
	var n float64
	for i := range e {
		if i > 2 {
			e[i] = 1
		}
		n += e[i] * e[i]
	}
	for i := range e {
		e[i] /= math.Sqrt(n)
	}
	return e
}

func TestInSwapperEmapIsReadFromTheFile(t *testing.T) {
	path := testModel(t, "inswapper.onnx")
	emap, err := readEmap(keyModel, path, readFile(t, path))
	if err != nil {
		t.Fatal(err)
	}
	if len(emap) != embeddingLen*embeddingLen {
		t.Fatalf("emap has %d values, want 512×512", len(emap))
	}
	for _, c := range []struct {
		i, j int
		want float32
	}{{0, 0, 1}, {0, 1, 0}, {1, 0, 0}, {1, 1, 1}, {3, 7, 0}, {200, 200, 1}, {511, 510, 0}, {511, 511, 1}} {
		if v := emap[c.i*embeddingLen+c.j]; v != c.want {
			t.Errorf("emap[%d][%d] = %v, want %v (identity)", c.i, c.j, v, c.want)
		}
	}
	var sum float64
	for _, v := range emap {
		sum += float64(v)
	}
	if sum != embeddingLen {
		t.Errorf("emap sums to %v, want 512 (identity)", sum)
	}

	// The ArcFace test model's last initializer is 1×509: not an emap.
	arc := testModel(t, "arcface.onnx")
	_, err = readEmap(keyModel, arc, readFile(t, arc))
	wantModelErr(t, err, `swapper.model "`+arc+`": its last initializer "rest" is [1 509]`, "512×512")
	wrong := testModel(t, "wrong.onnx")
	_, err = readEmap(keyModel, wrong, readFile(t, wrong))
	wantModelErr(t, err, `swapper.model "`+wrong+`"`, "no initializers")
}

func TestInSwapperEmbeddingAndOutput(t *testing.T) {
	model, arc := testModel(t, "inswapper.onnx"), testModel(t, "arcface.onnx")
	colour := [3]byte{200, 100, 30} // B, G, R: R is dark, so source[0] < 0
	s, err := NewInSwapper(model, arc, solidSource(colour))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Size() != 128 {
		t.Fatalf("Size() = %d, want 128", s.Size())
	}
	want := expectedEmbedding(colour)
	var n1, n2 float64
	for i := range s.embed {
		if math.Abs(float64(s.embed[i])-want[i]) > 1e-5 {
			t.Fatalf("embedding[%d] = %v, want %v", i, s.embed[i], want[i])
		}
		n1 += float64(s.embed[i]) * float64(s.embed[i])
		n2 += float64(s.latent[i]) * float64(s.latent[i])
		// identity emap: the projected source is the embedding
		if math.Abs(float64(s.latent[i])-want[i]) > 1e-5 {
			t.Fatalf("source[%d] = %v, want %v", i, s.latent[i], want[i])
		}
	}
	if math.Abs(n1-1) > 1e-5 || math.Abs(n2-1) > 1e-5 {
		t.Errorf("|embedding|² = %v, |source|² = %v, want 1", n1, n2)
	}
	if got := s.source.GetData(); got[0] != s.latent[0] || got[511] != s.latent[511] {
		t.Errorf("source tensor %v…%v does not hold the source embedding", got[0], got[511])
	}

	// Output = clip(target + 8·source[0]) in RGB, back to BGR8.
	const sz = 128
	target := pattern(sz)
	out := make([]byte, 3*sz*sz)
	mask := make([]float32, sz*sz)
	if err := s.Swap(target, out, mask); err != nil {
		t.Fatal(err)
	}
	shift := 8 * float64(s.latent[0])
	bad := 0
	for i, v := range target {
		w := byte(math.Round(math.Min(math.Max(float64(v)/255+shift, 0), 1) * 255))
		if absDiff(out[i], w) > 1 {
			if bad++; bad <= 5 {
				t.Errorf("value %d = %d, want %d (target %d, shift %.4f)", i, out[i], w, v, shift)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d values off by more than 1", bad)
	}
	// The target tensor is planar RGB: R plane from byte 2 of each pixel.
	in := s.target.GetData()
	for _, p := range []int{0, 1, 777, sz*sz - 1} {
		if in[p] != float32(target[3*p+2])/255 || in[sz*sz+p] != float32(target[3*p+1])/255 || in[2*sz*sz+p] != float32(target[3*p])/255 {
			t.Fatalf("target tensor at pixel %d: R %v G %v B %v, from BGR %v", p, in[p], in[sz*sz+p], in[2*sz*sz+p], target[3*p:3*p+3])
		}
	}
	// Mask: the soft face ellipse.
	if mask[(sz/2)*sz+sz/2] != 1 || mask[0] != 0 || mask[sz*sz-1] != 0 {
		t.Errorf("mask centre %v corners %v %v, want 1 0 0", mask[(sz/2)*sz+sz/2], mask[0], mask[sz*sz-1])
	}
	if n := testing.AllocsPerRun(10, func() { s.Swap(target, out, mask) }); n != 0 {
		t.Errorf("Swap allocates %.1f times per face", n)
	}
	if err := s.Swap(target[:5], out, mask); err == nil {
		t.Error("short target accepted")
	}
	s.Close()
	if err := s.Swap(target, out, mask); !errors.Is(err, ErrClosed) {
		t.Errorf("Swap after Close: %v, want ErrClosed", err)
	}
	s.Close()
}

// A real face (the astronaut) gives a normalised embedding too.
func TestInSwapperAstronaut(t *testing.T) {
	src, err := LoadPhoto(asset(t, "faces/astronaut.png"), testLocate(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewInSwapper(testModel(t, "inswapper.onnx"), testModel(t, "arcface.onnx"), src)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n float64
	for _, v := range s.latent {
		n += float64(v) * float64(v)
	}
	if math.Abs(n-1) > 1e-5 {
		t.Errorf("|source|² = %v, want 1", n)
	}
	crop, err := arcFaceCrop(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := dumpDir(t)
	writePNG(t, filepath.Join(dir, "arcface_crop.png"), crop, nil, arcFaceSize)
	t.Logf("ArcFace crop written to %s", dir)
	// The embedding's first three values are the crop's channel means.
	var sum [3]float64
	for p := 0; p < arcFaceSize*arcFaceSize; p++ {
		for c := 0; c < 3; c++ {
			sum[c] += (float64(crop[3*p+2-c]) - 127.5) / 127.5
		}
	}
	if a, b := s.embed[0]/s.embed[2], sum[0]/sum[2]; math.Abs(float64(a)-b) > 1e-3*math.Abs(b) {
		t.Errorf("embedding R/B = %v, crop's = %v: channel order or crop differ", a, b)
	}
}

func TestArcFaceTransform(t *testing.T) {
	// Five keypoints that are an exact similarity of the template map
	// exactly onto it.
	var lm face.Landmarks
	sim := func(p face.Point) face.Point { // 17° rotation, scale 2.3, shift
		c, sn := 2.3*math.Cos(0.3), 2.3*math.Sin(0.3)
		return face.Point{X: c*p.X - sn*p.Y + 140, Y: sn*p.X + c*p.Y + 60}
	}
	kp := ArcFaceTemplate
	for i := 36; i < 42; i++ {
		lm[i] = sim(kp[0])
	}
	for i := 42; i < 48; i++ {
		lm[i] = sim(kp[1])
	}
	lm[30], lm[48], lm[54] = sim(kp[2]), sim(kp[3]), sim(kp[4])
	for _, c := range []struct {
		size      int
		ratio, dx float64
	}{{112, 1, 0}, {224, 2, 0}, {128, 1, 8}, {256, 2, 16}} {
		tr, err := ArcFaceTransform(&lm, c.size)
		if err != nil {
			t.Fatal(err)
		}
		if tr.Size != c.size {
			t.Errorf("size %d: transform size %d", c.size, tr.Size)
		}
		five := FivePoints(&lm)
		for i, p := range five {
			got, want := tr.Apply(p), face.Point{X: kp[i].X*c.ratio + c.dx, Y: kp[i].Y * c.ratio}
			if math.Hypot(got.X-want.X, got.Y-want.Y) > 1e-6 {
				t.Errorf("size %d: keypoint %d lands at %+v, want %+v", c.size, i, got, want)
			}
		}
	}
	s := &InSwapper{}
	tr, err := s.Align(&lm)
	if err != nil || tr.Size != 128 {
		t.Fatalf("Align: %v size %d", err, tr.Size)
	}
	var _ Aligner = s
	if _, err := ArcFaceTransform(&face.Landmarks{}, 112); !errors.Is(err, align.ErrDegenerate) {
		t.Errorf("degenerate landmarks: %v", err)
	}
	if _, err := ArcFaceTransform(&lm, 0); err == nil {
		t.Error("size 0 accepted")
	}
}

func TestInSwapperErrors(t *testing.T) {
	model, arc, wrong := testModel(t, "inswapper.onnx"), testModel(t, "arcface.onnx"), testModel(t, "wrong.onnx")
	src := solidSource([3]byte{1, 2, 3})

	_, err := NewInSwapper(wrong, arc, src)
	wantModelErr(t, err, `swapper.model "`+wrong+`" is not an InSwapper model: found inputs [x [1 3] float32] outputs [y [1 3] float32]`,
		"want inputs target 1×3×128×128 float32 and source 1×512 float32, output 1×3×128×128 float32")

	_, err = NewInSwapper(model, wrong, src)
	wantModelErr(t, err, `swapper.arcface_model "`+wrong+`" is not an ArcFace embedding model: found inputs [x [1 3] float32]`,
		"want input 1×3×112×112 float32 and output 1×512 float32")

	// Swapped files: each is the other's wrong model.
	_, err = NewInSwapper(arc, model, src)
	wantModelErr(t, err, `swapper.model "`+arc+`" is not an InSwapper model`, "input.1 [1 3 112 112] float32")
	_, err = NewInSwapper(model, testModel(t, "dfm.onnx"), src)
	wantModelErr(t, err, `swapper.arcface_model "`)

	dir := t.TempDir()
	garbage := filepath.Join(dir, "w600k_r50.onnx")
	if err := os.WriteFile(garbage, []byte{0x08, 0xff, 0xff, 0xff}, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = NewInSwapper(model, garbage, src)
	wantModelErr(t, err, `swapper.arcface_model "`+garbage+`" is not a loadable ONNX model`)
	_, err = NewInSwapper(garbage, arc, src)
	wantModelErr(t, err, `swapper.model "`+garbage+`" is not a loadable ONNX model`)
	missing := filepath.Join(dir, "inswapper_128.onnx")
	_, err = NewInSwapper(missing, arc, src)
	wantModelErr(t, err, `swapper.model "`+missing+`" does not exist`)
	_, err = NewInSwapper(model, "", src)
	wantModelErr(t, err, "swapper.arcface_model is empty")

	if _, err := NewInSwapper(model, arc, nil); err == nil {
		t.Error("nil source accepted")
	}
	bad := *src
	bad.Landmarks = face.Landmarks{}
	if _, err := NewInSwapper(model, arc, &bad); !errors.Is(err, align.ErrDegenerate) {
		t.Errorf("degenerate source landmarks: %v", err)
	}
	// An embedding that is zero (or not finite) cannot be normalised.
	if err := normalise(make([]float32, 4), 0); err == nil {
		t.Error("zero vector normalised")
	}
}

func TestInSwapperReadsOutputAsBGR(t *testing.T) {
	s, err := NewInSwapper(testModel(t, "inswapper.onnx"), testModel(t, "arcface.onnx"), solidSource([3]byte{90, 90, 90}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Zero source: output = clip(target); with the target all one colour,
	// planar RGB (r, g, b) must come out as BGR bytes (b, g, r).
	for i := range s.latent {
		s.source.GetData()[i] = 0
	}
	const sz = 128
	target := make([]byte, 3*sz*sz)
	for p := 0; p < sz*sz; p++ {
		target[3*p], target[3*p+1], target[3*p+2] = 10, 128, 250
	}
	out := make([]byte, len(target))
	if err := s.Swap(target, out, make([]float32, sz*sz)); err != nil {
		t.Fatal(err)
	}
	for p := 0; p < sz*sz; p += 997 {
		if out[3*p] != 10 || out[3*p+1] != 128 || out[3*p+2] != 250 {
			t.Fatalf("pixel %d = %v, want [10 128 250]", p, out[3*p:3*p+3])
		}
	}
}

func BenchmarkInSwapperSwap(b *testing.B) {
	s, err := NewInSwapper(testModel(b, "inswapper.onnx"), testModel(b, "arcface.onnx"), solidSource([3]byte{200, 100, 30}))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	target, out, mask := pattern(128), make([]byte, 3*128*128), make([]float32, 128*128)
	benchSwap(b, s, target, out, mask, s.session.Run)
}

// project is embedding · emap (a row vector times the matrix), normalised:
// with a non-symmetric emap the order matters.
func TestProject(t *testing.T) {
	embed := []float32{1, 0}
	emap := []float32{ // row 0 = (3, 4): embed·emap = (3, 4)
		3, 4,
		0, 1,
	}
	dst := make([]float32, 2)
	if err := project(dst, embed, emap); err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(dst[0])-0.6) > 1e-6 || math.Abs(float64(dst[1])-0.8) > 1e-6 {
		t.Errorf("project = %v, want [0.6 0.8] (row vector × emap, normalised)", dst)
	}
	if err := project(dst, []float32{0, 0}, emap); err == nil {
		t.Error("zero projection normalised")
	}
}

func TestInSwapperConversions(t *testing.T) {
	s, err := NewInSwapper(testModel(t, "inswapper.onnx"), testModel(t, "arcface.onnx"), solidSource([3]byte{90, 90, 90}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 128 * 128
	o := s.output.GetData()
	for p := 0; p < n; p++ {
		o[p], o[n+p], o[2*n+p] = 1, 0.5, 0 // R, G, B planes
	}
	o[0], o[n], o[2*n] = 1.5, float32(math.NaN()), -3
	out := make([]byte, 3*n)
	s.readOutput(out)
	if out[3] != 0 || out[4] != 128 || out[5] != 255 {
		t.Errorf("planar RGB (1, 0.5, 0) → BGR %v, want [0 128 255]", out[3:6])
	}
	if out[0] != 0 || out[1] != 0 || out[2] != 255 {
		t.Errorf("R 1.5, G NaN, B -3 → BGR %v, want clamped [0 0 255]", out[:3])
	}
}
