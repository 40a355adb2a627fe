package landmark

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/internal/logging"
)

// drawDir, when set, receives pictures of the fitted landmarks to look at.
var drawDir = os.Getenv("FACELIVE_TEST_DRAW")

func drawLandmarks(t *testing.T, bgr gocv.Mat, box face.Rect, l *face.Landmarks, name string) {
	if drawDir == "" {
		return
	}
	// A 4x enlargement of the box and some margin, points as small dots.
	const zoom = 4
	r := image.Rect(int(box.X0-box.W()/2), int(box.Y0-box.H()/2), int(box.X1+box.W()/2), int(box.Y1+box.H()/2)).
		Intersect(image.Rect(0, 0, bgr.Cols(), bgr.Rows()))
	sub := bgr.Region(r)
	m := gocv.NewMat()
	gocv.Resize(sub, &m, image.Pt(zoom*r.Dx(), zoom*r.Dy()), 0, 0, gocv.InterpolationCubic)
	sub.Close()
	defer m.Close()
	// pixel centre (x, y) of the photo is at zoom*(x+0.5)-0.5 in m
	at := func(x, y float64) image.Point {
		return image.Pt(int(math.Round(zoom*(x-float64(r.Min.X)+0.5)-0.5)), int(math.Round(zoom*(y-float64(r.Min.Y)+0.5)-0.5)))
	}
	gocv.Rectangle(&m, image.Rectangle{at(box.X0, box.Y0), at(box.X1, box.Y1)}, color.RGBA{0, 255, 0, 0}, 1)
	for i, p := range l {
		c := color.RGBA{255, 255, 0, 0}
		switch {
		case i >= 36 && i <= 41:
			c = color.RGBA{255, 0, 0, 0}
		case i >= 42 && i <= 47:
			c = color.RGBA{0, 0, 255, 0}
		case i == 30:
			c = color.RGBA{255, 0, 255, 0}
		}
		gocv.Circle(&m, at(p.X, p.Y), 3, c, -1)
	}
	out := filepath.Join(drawDir, name)
	if !gocv.IMWrite(out, m) {
		t.Errorf("cannot write %s", out)
	}
	t.Logf("wrote %s", out)
}

// checkAnatomy checks that l is a plausible upright frontal face in box.
func checkAnatomy(t *testing.T, box face.Rect, l *face.Landmarks) {
	t.Helper()
	for _, p := range anatomyProblems(box, l) {
		t.Error(p)
	}
}

// anatomyProblems lists what is implausible about l as a face in box.
func anatomyProblems(box face.Rect, l *face.Landmarks) []string {
	var probs []string
	errorf := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	re, le := centroid(l, 36, 41), centroid(l, 42, 47) // image left, image right
	nose := l[30]
	mouth := centroid(l, 48, 67)
	midY := (box.Y0 + box.Y1) / 2
	for _, e := range []struct {
		name string
		p    face.Point
	}{{"eye 36-41", re}, {"eye 42-47", le}} {
		if !(e.p.X > box.X0 && e.p.X < box.X1 && e.p.Y > box.Y0 && e.p.Y < midY) {
			errorf("%s centre %v is not in the upper half of the box %v", e.name, e.p, box)
		}
	}
	if !(re.X < le.X) {
		errorf("eye 36-41 at x=%.1f is not left of eye 42-47 at x=%.1f", re.X, le.X)
	}
	if !(nose.X > re.X && nose.X < le.X) {
		errorf("nose tip x=%.1f is not between the eyes (%.1f, %.1f)", nose.X, re.X, le.X)
	}
	if !(nose.Y > max(re.Y, le.Y)) {
		errorf("nose tip y=%.1f is not below the eyes (%.1f, %.1f)", nose.Y, re.Y, le.Y)
	}
	for i := 48; i <= 67; i++ {
		if !(l[i].Y > nose.Y) {
			errorf("mouth point %d at y=%.1f is not below the nose tip y=%.1f", i, l[i].Y, nose.Y)
		}
	}
	// Jaw ends at the face's sides: outside the eyes, near the box's edges,
	// at eye height or a little below.
	iod := le.X - re.X
	if !(l[0].X < re.X-0.3*iod && math.Abs(l[0].X-box.X0) < 0.2*box.W()) {
		errorf("jaw point 0 at %v is not at the face's left side (box %v, eye %v)", l[0], box, re)
	}
	if !(l[16].X > le.X+0.3*iod && math.Abs(l[16].X-box.X1) < 0.2*box.W()) {
		errorf("jaw point 16 at %v is not at the face's right side (box %v, eye %v)", l[16], box, le)
	}
	for _, i := range []int{0, 16} {
		if !(l[i].Y > min(re.Y, le.Y)-0.1*iod && l[i].Y < nose.Y) {
			errorf("jaw point %d at y=%.1f is not between the eyes' height and the nose tip's", i, l[i].Y)
		}
	}
	if l[8].Y < mouth.Y {
		errorf("chin point 8 at y=%.1f is above the mouth y=%.1f", l[8].Y, mouth.Y)
	}
	return probs
}

// astronaut returns the photo, its BGR24 frame and the Haar face box.
func astronaut(t *testing.T) (gocv.Mat, face.Rect) {
	t.Helper()
	m := readBGR(t, asset(t, "faces/astronaut.png"))
	boxes := haarFaces(t, m, 60)
	if len(boxes) == 0 {
		m.Close()
		t.Fatal("Haar found no face in astronaut.png")
	}
	return m, boxes[0]
}

func TestFitAstronaut(t *testing.T) {
	d := testDlib(t)
	m, box := astronaut(t)
	defer m.Close()
	fr := toFrame(t, m, frame.BGR24, 0)
	var l face.Landmarks
	if err := d.Fit(fr, box, &l); err != nil {
		t.Fatal(err)
	}
	t.Logf("box %v, inter-ocular %.1f px", box, l.InterOcular())
	drawLandmarks(t, m, box, &l, "astronaut_landmarks.png")
	checkAnatomy(t, box, &l)

	// The anatomy check must be able to fail: a mirrored face (points
	// flipped about the box's centre line) breaks it.
	var mirrored face.Landmarks
	cx := (box.X0 + box.X1) / 2
	for i, p := range l {
		mirrored[i] = face.Point{X: 2*cx - p.X, Y: p.Y}
	}
	if probs := anatomyProblems(box, &mirrored); len(probs) == 0 {
		t.Error("the anatomy check accepted a mirrored face")
	} else {
		t.Logf("a mirrored face fails the anatomy check: %s", probs[0])
	}
}

func TestFitEveryFormat(t *testing.T) {
	d := testDlib(t)
	m, box := astronaut(t)
	defer m.Close()
	var ref face.Landmarks
	if err := d.Fit(toFrame(t, m, frame.BGR24, 0), box, &ref); err != nil {
		t.Fatal(err)
	}
	for _, f := range frame.Formats {
		t.Run(f.String(), func(t *testing.T) {
			fr := toFrame(t, m, f, 37) // odd padding: no row is aligned
			var l face.Landmarks
			if err := d.Fit(fr, box, &l); err != nil {
				t.Fatal(err)
			}
			md := meanDist(&ref, &l)
			t.Logf("%s vs BGR24: mean %.3f px", f, md)
			if md > 1.5 {
				t.Errorf("%s: landmarks differ from BGR24's by %.2f px on average, want <= 1.5", f, md)
			}
			checkAnatomy(t, box, &l)
		})
	}
	// Cameras usually deliver limited-range Y (16..235); Fit uses Y as it
	// is. The predictor compares pixel differences with thresholds, so the
	// 219/255 contrast costs a little accuracy, not correctness.
	t.Run("NV12 limited range", func(t *testing.T) {
		fr := toFrame(t, m, frame.NV12, 11)
		for y := 0; y < fr.Height; y++ {
			row := fr.Planes[0][y*fr.Stride[0] : y*fr.Stride[0]+fr.Width]
			for x, v := range row {
				row[x] = byte(16 + (219*int(v)+127)/255)
			}
		}
		var l face.Landmarks
		if err := d.Fit(fr, box, &l); err != nil {
			t.Fatal(err)
		}
		md := meanDist(&ref, &l)
		t.Logf("limited-range NV12 vs BGR24: mean %.3f px (%.1f%% of the inter-ocular distance)", md, 100*md/ref.InterOcular())
		if md > 1.5 {
			t.Errorf("limited-range Y moves the landmarks by %.2f px on average, want <= 1.5", md)
		}
	})
}

func TestFitBoxPartlyOutside(t *testing.T) {
	d := testDlib(t)
	m, box := astronaut(t)
	defer m.Close()
	// Crop the photo so the face's box hangs over the left and top edges.
	cut := image.Rect(int(box.X0+0.3*box.W()), int(box.Y0+0.2*box.H()), m.Cols(), m.Rows())
	sub := m.Region(cut)
	crop := sub.Clone()
	sub.Close()
	defer crop.Close()
	shifted := face.Rect{X0: box.X0 - float64(cut.Min.X), Y0: box.Y0 - float64(cut.Min.Y),
		X1: box.X1 - float64(cut.Min.X), Y1: box.Y1 - float64(cut.Min.Y)}
	if shifted.X0 >= 0 || shifted.Y0 >= 0 {
		t.Fatalf("box %v is not partly outside", shifted)
	}
	for _, f := range []frame.Format{frame.BGR24, frame.NV12, frame.YUY2} {
		fr := toFrame(t, crop, f, 5)
		var l face.Landmarks
		if err := d.Fit(fr, shifted, &l); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for i, p := range l {
			if !finite(p.X) || !finite(p.Y) {
				t.Fatalf("%s: point %d is %v", f, i, p)
			}
		}
		// The visible right eye and mouth corner stay where they are.
		t.Logf("%s: box %v in a %dx%d frame: point 45 at %v", f, shifted, fr.Width, fr.Height, l[45])
	}
	// Boxes hanging over every edge, and the whole frame: no error, no crash.
	fr := toFrame(t, crop, frame.BGR24, 0)
	W, H := float64(fr.Width), float64(fr.Height)
	for _, b := range []face.Rect{
		{X0: -50, Y0: -50, X1: 60, Y1: 60},
		{X0: W - 40, Y0: H - 40, X1: W + 100, Y1: H + 100},
		{X0: -10, Y0: -10, X1: W + 10, Y1: H + 10},
		{X0: W - 1, Y0: 0, X1: W + 500, Y1: 30},
	} {
		var l face.Landmarks
		if err := d.Fit(fr, b, &l); err != nil {
			t.Errorf("box %v: %v", b, err)
		}
	}
	// Boxes that cannot be fitted are errors, not crashes.
	for _, b := range []face.Rect{
		{X0: W + 10, Y0: 0, X1: W + 100, Y1: 100},
		{X0: -300, Y0: -300, X1: -100, Y1: -100},
		{X0: 10, Y0: 10, X1: 10, Y1: 50},
		{X0: math.NaN(), Y0: 0, X1: 10, Y1: 10},
		{X0: 0, Y0: 0, X1: math.Inf(1), Y1: 10},
	} {
		var l face.Landmarks
		if err := d.Fit(fr, b, &l); err == nil {
			t.Errorf("box %v: no error", b)
		} else {
			t.Logf("box %v: %v", b, err)
		}
	}
	if err := d.Fit(&frame.Frame{Format: frame.NV12, Width: 64, Height: 64}, face.Rect{X1: 10, Y1: 10}, new(face.Landmarks)); err == nil {
		t.Error("a frame without planes: no error")
	}
}

// TestFitReadsOnlyROI fits on a frame whose pixels outside the ROI are
// garbage: the result must not change.
func TestFitReadsOnlyROI(t *testing.T) {
	d := testDlib(t)
	m, box := astronaut(t)
	defer m.Close()
	for _, f := range []frame.Format{frame.BGRA, frame.NV12, frame.I420, frame.YUY2} {
		fr := toFrame(t, m, f, 9)
		var ref, l face.Landmarks
		if err := d.Fit(fr, box, &ref); err != nil {
			t.Fatal(err)
		}
		mx, my := ROIMargin*box.W(), ROIMargin*box.H()
		x0, y0 := int(math.Floor(box.X0-mx)), int(math.Floor(box.Y0-my))
		x1, y1 := int(math.Ceil(box.X1+mx)), int(math.Ceil(box.Y1+my))
		// Scribble over every plane byte outside the ROI's rows and columns.
		bpp := max(1, f.BytesPerPixel())
		for y := 0; y < fr.Height; y++ {
			row := fr.Planes[0][y*fr.Stride[0] : (y+1)*fr.Stride[0]]
			for i := range row {
				if y < max(0, y0) || y >= min(fr.Height, y1) || i < bpp*max(0, x0) || i >= bpp*min(fr.Width, x1) {
					row[i] ^= 0x5A
				}
			}
		}
		for p := 1; p < f.Planes(); p++ {
			for i := range fr.Planes[p] {
				fr.Planes[p][i] ^= 0x5A // chroma is never read at all
			}
		}
		if err := d.Fit(fr, box, &l); err != nil {
			t.Fatal(err)
		}
		if l != ref {
			t.Errorf("%s: pixels outside the ROI changed the landmarks by %.3f px", f, meanDist(&ref, &l))
		}
	}
}

func TestFitNoAlloc(t *testing.T) {
	d := testDlib(t)
	m, box := astronaut(t)
	defer m.Close()
	for _, f := range []frame.Format{frame.NV12, frame.BGRA, frame.YUY2} {
		fr := toFrame(t, m, f, 0)
		var l face.Landmarks
		if err := d.Fit(fr, box, &l); err != nil {
			t.Fatal(err)
		}
		if a := testing.AllocsPerRun(20, func() { _ = d.Fit(fr, box, &l) }); a != 0 {
			t.Errorf("%s: Fit allocates %g times per call", f, a)
		}
	}
	fi := DlibFitter{d}
	det := &face.Detection{Box: box}
	var r Result
	fr := toFrame(t, m, frame.NV12, 0)
	if a := testing.AllocsPerRun(20, func() { _ = fi.Fit(fr, det, &r) }); a != 0 {
		t.Errorf("DlibFitter.Fit allocates %g times per call", a)
	}
}

// TestFitConcurrent runs Fit on one predictor from several goroutines (run
// under -race): every result must equal the sequential one.
func TestFitConcurrent(t *testing.T) {
	d := testDlib(t)
	m, box := astronaut(t)
	defer m.Close()
	frames := []*frame.Frame{toFrame(t, m, frame.NV12, 3), toFrame(t, m, frame.BGRA, 0), toFrame(t, m, frame.YUY2, 1)}
	want := make([]face.Landmarks, len(frames))
	for i, fr := range frames {
		if err := d.Fit(fr, box, &want[i]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 20; k++ {
				i := (g + k) % len(frames)
				var l face.Landmarks
				if err := d.Fit(frames[i], box, &l); err != nil {
					errs <- err
					return
				}
				if l != want[i] {
					errs <- fmt.Errorf("goroutine %d: result differs from the sequential one by %.3f px", g, meanDist(&l, &want[i]))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestLoadInBackground loads a second predictor on another goroutine (as
// the pipeline does) while the first one keeps fitting.
func TestLoadInBackground(t *testing.T) {
	d := testDlib(t)
	m, box := astronaut(t)
	defer m.Close()
	fr := toFrame(t, m, frame.I420, 2)
	var want face.Landmarks
	if err := d.Fit(fr, box, &want); err != nil {
		t.Fatal(err)
	}
	type loaded struct {
		d   *Dlib
		err error
	}
	ch := make(chan loaded, 1)
	path := modelPath(t)
	go func() {
		d2, err := NewDlib(path)
		ch <- loaded{d2, err}
	}()
	fits := 0
	for {
		select {
		case r := <-ch:
			if r.err != nil {
				t.Fatal(r.err)
			}
			defer r.d.Close()
			var l face.Landmarks
			if err := r.d.Fit(fr, box, &l); err != nil {
				t.Fatal(err)
			}
			if l != want {
				t.Errorf("the predictor loaded in the background fits differently (%.3f px)", meanDist(&l, &want))
			}
			t.Logf("%d fits ran while the model loaded", fits)
			return
		default:
			var l face.Landmarks
			if err := d.Fit(fr, box, &l); err != nil || l != want {
				t.Fatalf("fit during a background load: %v", err)
			}
			fits++
		}
	}
}

func TestCloseWhileFitting(t *testing.T) {
	d, err := NewDlib(modelPath(t))
	if err != nil {
		t.Fatal(err)
	}
	m, box := astronaut(t)
	defer m.Close()
	fr := toFrame(t, m, frame.NV12, 0)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var l face.Landmarks
			for {
				if err := d.Fit(fr, box, &l); err != nil {
					if err != ErrClosed {
						t.Errorf("Fit: %v", err)
					}
					return
				}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	real := modelPath(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.dat")
	g := make([]byte, 1<<16)
	x := uint32(12345)
	for i := range g { // xorshift: seeded garbage
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		g[i] = byte(x)
	}
	if err := os.WriteFile(garbage, g, 0o644); err != nil {
		t.Fatal(err)
	}
	// A truncated copy of the real model: its first 5 MB.
	truncated := filepath.Join(dir, "truncated.dat")
	src, err := os.Open(real)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 5<<20)
	_, err = src.Read(head)
	src.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(truncated, head, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.dat")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "no-such-model.dat")
	for _, c := range []struct {
		name, path, want string
	}{
		{"missing", missing, "no such file"},
		{"directory", dir, "is a directory"},
		{"empty", empty, "cannot load"},
		{"garbage", garbage, "cannot load"},
		{"truncated", truncated, "cannot load"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := NewDlib(c.path)
			if err == nil {
				d.Close()
				t.Fatalf("NewDlib(%s): no error", c.path)
			}
			msg := err.Error()
			t.Logf("%s", msg)
			for _, w := range []string{c.path, c.want, "shape_predictor_68_face_landmarks.dat"} {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			var lines []string
			fi := New(c.path, func(level logging.Level, m string) {
				if level != logging.Warn {
					t.Errorf("log level %d, want logging.Warn", level)
				}
				lines = append(lines, m)
			})
			if _, ok := fi.(KeypointFitter); !ok {
				t.Fatalf("New(%s) returned %T, want the KeypointFitter fallback", c.path, fi)
			}
			if len(lines) != 1 || !strings.Contains(lines[0], c.path) || !strings.Contains(lines[0], "keypoints") {
				t.Errorf("New logged %q, want one line naming %s and the keypoints fallback", lines, c.path)
			}
		})
	}
}

// dlibEnc writes dlib's serialization format (dlib/serialize.h): integers
// as a control byte (byte count, 0x80 if negative) and little-endian bytes,
// floats as an integer mantissa and exponent, vectors as a size and items,
// matrices as -rows, -cols and items.
type dlibEnc struct{ b []byte }

func (e *dlibEnc) int(v int64) *dlibEnc {
	neg := byte(0)
	if v < 0 {
		neg, v = 0x80, -v
	}
	var buf []byte
	for {
		buf = append(buf, byte(v))
		v >>= 8
		if v == 0 {
			break
		}
	}
	e.b = append(append(e.b, byte(len(buf))|neg), buf...)
	return e
}

func (e *dlibEnc) zeroFloat() *dlibEnc { return e.int(0).int(0) }

func (e *dlibEnc) zeroColumn(n int) *dlibEnc {
	e.int(int64(-n)).int(-1)
	for i := 0; i < n; i++ {
		e.zeroFloat()
	}
	return e
}

// TestLoadWrongModel loads files dlib parses but that are not a usable
// 68-point predictor: the shim must refuse them at load time rather than
// index out of bounds at fit time.
func TestLoadWrongModel(t *testing.T) {
	dir := t.TempDir()
	fivePoints := new(dlibEnc).int(1).zeroColumn(10).int(0).int(0).int(0).b
	// 68 points, one cascade with one tree whose split reads feature pixel
	// 5 of a cascade that has none.
	badSplit := new(dlibEnc).int(1).zeroColumn(136).
		int(1).int(1).                          // forests: 1 cascade of 1 tree
		int(1).int(5).int(6).zeroFloat().       // splits: {idx1 5, idx2 6, thresh 0}
		int(2).zeroColumn(136).zeroColumn(136). // 2 leaves
		int(1).int(0).                          // anchor_idx: 1 cascade, no pixels
		int(1).int(0).b                         // deltas: 1 cascade, no pixels
	wrongVersion := new(dlibEnc).int(2).b
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"five points", fivePoints, "predicts 5 points, not 68"},
		{"bad split", badSplit, "splits on a pixel that does not exist"},
		{"version 2", wrongVersion, "format version 2"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".dat")
		if err := os.WriteFile(path, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := NewDlib(path)
		if err == nil {
			d.Close()
			t.Errorf("%s: loaded", c.name)
			continue
		}
		t.Logf("%s: %v", c.name, err)
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q does not name the file and say %q", c.name, err, c.want)
		}
	}
}

func TestNew(t *testing.T) {
	var lines []string
	logf := func(_ logging.Level, m string) { lines = append(lines, m) }
	t0 := time.Now()
	fi := New(modelPath(t), logf)
	load := time.Since(t0)
	t.Logf("New loaded %s in %v", modelPath(t), load)
	dl, ok := fi.(DlibFitter)
	if !ok {
		t.Fatalf("New returned %T, want DlibFitter (log: %q)", fi, lines)
	}
	defer dl.Close()
	if len(lines) != 0 {
		t.Errorf("New logged %q on success", lines)
	}
	m, box := astronaut(t)
	defer m.Close()
	fr := toFrame(t, m, frame.NV12, 0)
	det := face.Detection{Box: box, Score: 1}
	var r Result
	if err := fi.Fit(fr, &det, &r); err != nil {
		t.Fatal(err)
	}
	if r.N != 68 || len(r.Valid()) != 68 {
		t.Fatalf("DlibFitter: N = %d", r.N)
	}
	checkAnatomy(t, box, &r.Points)

	// Keypoints: the fallback copies the detector's 6 points.
	kp := New("", logf)
	if _, ok := kp.(KeypointFitter); !ok || len(lines) != 1 {
		t.Fatalf("New(\"\") = %T, log %q", kp, lines)
	}
	det.HasKeypoints = true
	for i := range det.Keypoints {
		det.Keypoints[i] = face.Point{X: float64(10 * (i + 1)), Y: float64(i)}
	}
	r.Points[60] = face.Point{X: 1, Y: 1}
	if err := kp.Fit(fr, &det, &r); err != nil {
		t.Fatal(err)
	}
	if r.N != 6 || [6]face.Point(r.Points[:6]) != det.Keypoints || r.Points[60] != (face.Point{}) {
		t.Errorf("KeypointFitter: N=%d, points %v", r.N, r.Points[:7])
	}
	det.HasKeypoints = false
	if err := kp.Fit(fr, &det, &r); err != ErrNoKeypoints {
		t.Errorf("KeypointFitter without keypoints: %v, want ErrNoKeypoints", err)
	}
	if a := testing.AllocsPerRun(20, func() { det.HasKeypoints = true; _ = kp.Fit(fr, &det, &r) }); a != 0 {
		t.Errorf("KeypointFitter.Fit allocates %g times", a)
	}
}

// BenchmarkFit1080p fits one face on a 1080p frame: the astronaut photo
// pasted at its own size (face box ≈ 100 px) and scaled ×3 (≈ 300 px, a
// webcam close-up), in NV12 (Y read as it is) and BGRA (luma computed for
// each sample), with the caches warm (fits back to back) and cold.
func BenchmarkFit1080p(b *testing.B) {
	d := testDlib(b)
	photo := readBGR(b, asset(b, "faces/astronaut.png"))
	defer photo.Close()
	for _, scale := range []int{1, 3} {
		big := gocv.NewMatWithSize(1080, 1920, gocv.MatTypeCV8UC3)
		big.SetTo(gocv.NewScalar(90, 90, 90, 0))
		scaled := gocv.NewMat()
		gocv.Resize(photo, &scaled, image.Pt(0, 0), float64(scale), float64(scale), gocv.InterpolationCubic)
		w, h := min(scaled.Cols(), 1920-500), min(scaled.Rows(), 1080)
		src := scaled.Region(image.Rect(0, 0, w, h))
		dst := big.Region(image.Rect(500, 0, 500+w, h))
		src.CopyTo(&dst)
		src.Close()
		dst.Close()
		scaled.Close()
		boxes := haarFaces(b, big, 60)
		if len(boxes) == 0 {
			big.Close()
			b.Fatal("no face found")
		}
		box := boxes[0]
		// cold: between fits (untimed) 64 MiB are written, as a pipeline's
		// frames, crops and other models push the predictor out of the
		// caches; warm: fits back to back.
		thrash := make([]byte, 64<<20)
		b.Run(fmt.Sprintf("NV12/face%.0fpx/cold", box.W()), func(b *testing.B) {
			fr := toFrame(b, big, frame.NV12, 64)
			var l face.Landmarks
			var fit time.Duration
			for b.Loop() {
				b.StopTimer()
				clear(thrash)
				b.StartTimer()
				t0 := time.Now()
				if err := d.Fit(fr, box, &l); err != nil {
					b.Fatal(err)
				}
				fit += time.Since(t0)
			}
			b.ReportMetric(float64(fit.Nanoseconds())/float64(b.N)/1e6, "ms/face")
		})
		for _, f := range []frame.Format{frame.NV12, frame.BGRA} {
			fr := toFrame(b, big, f, 64)
			b.Run(fmt.Sprintf("%s/face%.0fpx", f, box.W()), func(b *testing.B) {
				var l face.Landmarks
				b.ReportAllocs()
				for b.Loop() {
					if err := d.Fit(fr, box, &l); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/face")
			})
		}
		big.Close()
	}
}

// BenchmarkLoad measures NewDlib on the real model.
func BenchmarkLoad(b *testing.B) {
	p := modelPath(b)
	for b.Loop() {
		d, err := NewDlib(p)
		if err != nil {
			b.Fatal(err)
		}
		d.Close()
	}
}
