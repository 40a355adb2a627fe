package swap

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// checkDFMOut compares out with the target's B and R swapped, times scale.
func checkDFMOut(t *testing.T, target, out []byte, scale float64) {
	t.Helper()
	bad := 0
	for p := 0; p < len(target)/3; p++ {
		want := [3]byte{target[3*p+2], target[3*p+1], target[3*p]}
		for c := range want {
			w := byte(math.Round(float64(want[c]) * scale))
			if absDiff(out[3*p+c], w) > 1 {
				if bad++; bad <= 5 {
					t.Errorf("pixel %d channel %d = %d, want %d (target %v)", p, c, out[3*p+c], w, target[3*p:3*p+3])
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d values off by more than 1", bad)
	}
}

func TestDFMExactOutput(t *testing.T) {
	path := testModel(t, "dfm.onnx")
	d, err := NewDFM(path, DefaultMorph)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const s = 224
	if d.Size() != s || d.HasMorph() {
		t.Fatalf("Size %d HasMorph %v, want 224 false", d.Size(), d.HasMorph())
	}
	target := pattern(s)
	out := make([]byte, 3*s*s)
	mask := make([]float32, s*s)
	for i := range mask {
		mask[i] = -1
	}
	if err := d.Swap(target, out, mask); err != nil {
		t.Fatal(err)
	}
	checkDFMOut(t, target, out, 1)
	// mask = face mask × celeb mask = the disc of radius 0.35·s.
	for y := 0; y < s; y++ {
		for x := 0; x < s; x++ {
			dx, dy := float64(x)+0.5-s/2, float64(y)+0.5-s/2
			want := float32(0)
			if dx*dx+dy*dy <= 0.35*s*0.35*s {
				want = 1
			}
			if mask[y*s+x] != want {
				t.Fatalf("mask(%d,%d) = %v, want %v", x, y, mask[y*s+x], want)
			}
		}
	}
	if mask[(s/2)*s+s/2] != 1 || mask[0] != 0 {
		t.Fatalf("mask centre %v corner %v", mask[(s/2)*s+s/2], mask[0])
	}
	if n := testing.AllocsPerRun(10, func() { d.Swap(target, out, mask) }); n != 0 {
		t.Errorf("Swap allocates %.1f times per face", n)
	}
	// A larger buffer is fine; a short one is an error.
	if err := d.Swap(append(target, 1, 2, 3), append(out, 0, 0, 0), append(mask, 0)); err != nil {
		t.Errorf("longer buffers: %v", err)
	}
	if err := d.Swap(target, out[:100], mask); err == nil {
		t.Error("short out accepted")
	}
	d.Close()
	if err := d.Swap(target, out, mask); !errors.Is(err, ErrClosed) {
		t.Errorf("Swap after Close: %v, want ErrClosed", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestDFMMorph(t *testing.T) {
	path := testModel(t, "dfm_morph.onnx")
	d, err := NewDFM(path, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !d.HasMorph() || d.Morph() != 0.5 {
		t.Fatalf("HasMorph %v Morph %v, want true 0.5", d.HasMorph(), d.Morph())
	}
	s := d.Size()
	target := pattern(s)
	out := make([]byte, 3*s*s)
	mask := make([]float32, s*s)
	if err := d.Swap(target, out, mask); err != nil {
		t.Fatal(err)
	}
	checkDFMOut(t, target, out, 0.5)

	d.SetMorph(1)
	if err := d.Swap(target, out, mask); err != nil {
		t.Fatal(err)
	}
	checkDFMOut(t, target, out, 1)

	for _, c := range []struct{ in, want float64 }{{-3, 0}, {7, 1}, {0.25, 0.25}, {math.NaN(), 0.25}} {
		d.SetMorph(c.in)
		if d.Morph() != c.want {
			t.Errorf("SetMorph(%v): Morph() = %v, want %v", c.in, d.Morph(), c.want)
		}
	}
	if n := testing.AllocsPerRun(10, func() { d.Swap(target, out, mask) }); n != 0 {
		t.Errorf("Swap allocates %.1f times per face", n)
	}

	// SetMorph from another goroutine while frames run (go test -race).
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
				d.SetMorph(float64(i%5) / 4)
			}
		}
	})
	for range 5 {
		if err := d.Swap(target, out, mask); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
}

func TestDFMErrors(t *testing.T) {
	wrong := testModel(t, "wrong.onnx")
	_, err := NewDFM(wrong, DefaultMorph)
	wantModelErr(t, err,
		`swapper.model "`+wrong+`" is not a DeepFaceLive DFM model: found inputs [x [1 3] float32] outputs [y [1 3] float32], `+
			`want input in_face:0 N×H×W×3 float32 (+ optional morph_value:0) and 3 outputs (face mask, celeb face, celeb mask)`)

	// The InSwapper test model: two inputs, one output.
	ins := testModel(t, "inswapper.onnx")
	_, err = NewDFM(ins, DefaultMorph)
	wantModelErr(t, err, `"`+ins+`" is not a DeepFaceLive DFM model`, "found inputs [target [1 3 128 128] float32, source [1 512] float32]")

	dir := t.TempDir()
	garbage := filepath.Join(dir, "celeb.dfm")
	if err := os.WriteFile(garbage, []byte("PK\x03\x04 definitely not a protobuf \xff\xff\xff"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = NewDFM(garbage, DefaultMorph)
	wantModelErr(t, err, `swapper.model "`+garbage+`" is not a loadable ONNX model`)

	// A truncated real model is corrupt too.
	trunc := filepath.Join(dir, "trunc.dfm")
	data := readFile(t, testModel(t, "dfm.onnx"))
	if err := os.WriteFile(trunc, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = NewDFM(trunc, DefaultMorph)
	wantModelErr(t, err, `swapper.model "`+trunc+`"`)

	missing := filepath.Join(dir, "nobody.dfm")
	_, err = NewDFM(missing, DefaultMorph)
	wantModelErr(t, err, `swapper.model "`+missing+`" does not exist`)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing model: %v does not wrap os.ErrNotExist", err)
	}
	_, err = NewDFM(dir, DefaultMorph)
	wantModelErr(t, err, "is a directory")
	_, err = NewDFM("", DefaultMorph)
	wantModelErr(t, err, "swapper.model is empty")

	for _, m := range []float64{-0.1, 1.5, math.NaN()} {
		if _, err := NewDFM(testModel(t, "dfm.onnx"), m); err == nil || !strings.Contains(err.Error(), "swapper.morph") {
			t.Errorf("morph %v: %v", m, err)
		}
	}
}

// BenchmarkDFMSwap reports milliseconds per face and the share of that the
// model's own run takes (the rest is converting to and from the tensors).
// The test model is trivial, so the share is low; with a real DFM the run
// is nearly all of it.
func BenchmarkDFMSwap(b *testing.B) {
	for _, name := range []string{"dfm.onnx", "dfm_morph.onnx"} {
		b.Run(name, func(b *testing.B) {
			d, err := NewDFM(testModel(b, name), DefaultMorph)
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			s := d.Size()
			target, out, mask := pattern(s), make([]byte, 3*s*s), make([]float32, s*s)
			benchSwap(b, d, target, out, mask, d.run)
		})
	}
}

// benchSwap times Swap and, in the same run, the model alone.
func benchSwap(b *testing.B, sw Swapper, target, out []byte, mask []float32, run func() error) {
	b.ReportAllocs()
	var swapT, runT time.Duration
	for b.Loop() {
		t0 := time.Now()
		if err := sw.Swap(target, out, mask); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := run(); err != nil {
			b.Fatal(err)
		}
		swapT += t1.Sub(t0)
		runT += time.Since(t1)
	}
	b.ReportMetric(swapT.Seconds()*1e3/float64(b.N), "ms/face")
	b.ReportMetric(runT.Seconds()/swapT.Seconds(), "run-share")
}

// The test models give identical masks and in-range faces; the conversion
// of what a real model may give is checked on the output tensors directly.
func TestDFMReadOutputs(t *testing.T) {
	d, err := NewDFM(testModel(t, "dfm.onnx"), DefaultMorph)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s := d.Size()
	fm, celeb, cm := d.outs[0].GetData(), d.outs[1].GetData(), d.outs[2].GetData()
	for i := range fm {
		fm[i], cm[i] = 0.5, 0.4
	}
	fm[1], cm[2], fm[3], cm[4] = float32(math.NaN()), -1, 3, 0.25
	for i := range celeb {
		celeb[i] = float32(i%3) * 0.5 // B 0, G 0.5, R 1
	}
	celeb[0], celeb[1], celeb[2] = 1.7, float32(math.NaN()), -0.2
	out := make([]byte, 3*s*s)
	mask := make([]float32, s*s)
	d.readOutputs(out, mask)
	if got := mask[0]; math.Abs(float64(got)-0.2) > 1e-6 {
		t.Errorf("mask = %v, want face 0.5 × celeb 0.4", got)
	}
	if mask[1] != 0 || mask[2] != 0 || mask[3] != 0.4 || mask[4] != 0.125 {
		t.Errorf("mask of NaN, negative, >1 and 0.25 inputs: %v, want 0 0 0.4 0.125", mask[1:5])
	}
	if out[3] != 0 || out[4] != 128 || out[5] != 255 {
		t.Errorf("celeb BGR (0, 0.5, 1) → %v, want [0 128 255] (BGR kept)", out[3:6])
	}
	if out[0] != 255 || out[1] != 0 || out[2] != 0 {
		t.Errorf("celeb 1.7, NaN, -0.2 → %v, want clamped [255 0 0]", out[:3])
	}
}
