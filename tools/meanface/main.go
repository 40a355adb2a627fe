// Command meanface generates engine/landmark/meanface_gen.go: the canonical
// frontal 68-point face the aligner fits landmarks to.
//
// It detects faces (OpenCV Haar) in the test photos, fits dlib's 68
// landmarks on each, keeps plausible near-frontal faces, aligns the shapes
// with generalised Procrustes analysis (similarity: translation, rotation,
// uniform scale; iterated to the mean), mirror-averages the mean with the
// iBUG 68 symmetry map, turns it upright and normalises it so that points
// 17-67 (brows to mouth) fill [0,1]×[0,1] (see normalise).
//
//	go run ./tools/meanface [-third-party DIR] [-model FILE] [-out FILE] [-png FILE] [-debug DIR]
//
// Run from the repository root, or through `go generate ./engine/landmark`.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gocv.io/x/gocv"

	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/landmark"
)

const haarPath = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"

// photos are the test photos make deps fetches into third_party/faces.
var photos = []string{"astronaut.png", "sample1.jpg", "sample2.jpg", "sample3.jpg", "sample4.jpg", "sample5.jpg", "sample6.jpg"}

// Selection thresholds.
const (
	minBox       = 80   // px: Haar boxes smaller than this give noisy fits
	maxFollow    = 0.35 // landmarks following a moved box more than this: not a face (see sample.follow)
	maxNoseOff   = 0.20 // nose tip within ±20% of the eye distance of the eyes' midpoint (yaw ≲ 20°)
	maxJawRatio  = 2.0  // nose-to-jaw-side distances (points 0, 16) within this ratio (yaw)
	maxTiltDeg   = 10   // eye line within ±10° of the mean's after alignment
	maxResidual  = 2.5  // Procrustes residual at most this many times the median (fit failures)
	gpaTolerance = 1e-12
)

// mirror is the iBUG 300-W left/right symmetry: point i's mirror partner.
var mirror = func() [68]int {
	var m [68]int
	for i := range m {
		m[i] = i
	}
	pair := func(a, b int) { m[a], m[b] = b, a }
	for i := 0; i <= 7; i++ {
		pair(i, 16-i) // jaw
	}
	for i := 17; i <= 21; i++ {
		pair(i, 43-i) // brows 17-21 ↔ 26-22
	}
	pair(31, 35) // nostrils
	pair(32, 34)
	for _, p := range [][2]int{{36, 45}, {37, 44}, {38, 43}, {39, 42}, {40, 47}, {41, 46}} {
		pair(p[0], p[1]) // eyes
	}
	for _, p := range [][2]int{{48, 54}, {49, 53}, {50, 52}, {55, 59}, {56, 58}, {60, 64}, {61, 63}, {65, 67}} {
		pair(p[0], p[1]) // mouth
	}
	return m
}()

type shape [68]face.Point

type sample struct {
	photo string
	box   face.Rect
	pts   shape
	why   string // rejection reason, "" if kept
	// follow is how far the landmarks follow the box when the box moves by
	// 10% of its size (mean over four shifts, as a fraction of the shift):
	// near 0 on a real face, near 1 on a face-like pattern.
	follow float64
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "meanface:", err)
		os.Exit(1)
	}
}

func run() error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	defTP := os.Getenv("FACELIVE_THIRD_PARTY")
	if defTP == "" {
		defTP = filepath.Join(root, "third_party")
	}
	tp := flag.String("third-party", defTP, "folder holding faces/ (make deps fetches it)")
	model := flag.String("model", landmark.DefaultModelPath, "dlib 68-point shape predictor")
	out := flag.String("out", filepath.Join(root, "engine", "landmark", "meanface_gen.go"), "Go file to write")
	pngOut := flag.String("png", "", "also draw the mean face on a 512×512 white PNG here")
	debug := flag.String("debug", "", "draw every fitted face into this folder")
	flag.Parse()

	d, err := landmark.NewDlib(*model)
	if err != nil {
		return err
	}
	defer d.Close()
	cc := gocv.NewCascadeClassifier()
	defer cc.Close()
	if !cc.Load(haarPath) {
		return fmt.Errorf("cannot load the Haar cascade %s (Debian package opencv-data)", haarPath)
	}

	var all []*sample
	perPhoto := map[string]int{}
	for _, name := range photos {
		path := filepath.Join(*tp, "faces", name)
		ss, err := fitPhoto(d, &cc, path, *debug)
		if err != nil {
			return err
		}
		for _, s := range ss {
			s.photo = name
		}
		all = append(all, ss...)
	}

	// Frontal and plausible first, then Procrustes outliers, until stable.
	var kept []*sample
	for _, s := range all {
		if s.follow > maxFollow {
			s.why = fmt.Sprintf("landmarks follow a moved box (%.2f > %.2f): a face-like pattern, not a face", s.follow, maxFollow)
			continue
		}
		if s.why = checkFrontal(&s.pts); s.why == "" {
			kept = append(kept, s)
		}
	}
	var mean shape
	var iters int
	for round := 0; ; round++ {
		if len(kept) < 3 {
			return fmt.Errorf("only %d usable faces; need at least 3", len(kept))
		}
		shapes := make([]shape, len(kept))
		for i, s := range kept {
			shapes[i] = s.pts
		}
		var aligned []shape
		mean, aligned, iters = gpa(shapes)
		res := make([]float64, len(kept))
		for i := range aligned {
			res[i] = residual(&aligned[i], &mean)
		}
		med := median(res)
		var next []*sample
		for i, s := range kept {
			tilt := eyeAngle(&aligned[i]) - eyeAngle(&mean)
			switch {
			case math.Abs(tilt) > maxTiltDeg:
				s.why = fmt.Sprintf("eye line %.1f° off the mean's after alignment", tilt)
			case res[i] > maxResidual*med:
				s.why = fmt.Sprintf("Procrustes residual %.4f > %.1f × median %.4f", res[i], maxResidual, med)
			default:
				next = append(next, s)
			}
		}
		if len(next) == len(kept) {
			break
		}
		kept = next
	}
	for _, s := range kept {
		perPhoto[s.photo]++
	}

	final := normalise(symmetrise(upright(mean)))

	for _, s := range all {
		status := "kept"
		if s.why != "" {
			status = "dropped: " + s.why
		}
		fmt.Printf("%-14s box %4.0f,%4.0f %3.0fx%-3.0f follow %.2f %s\n", s.photo, s.box.X0, s.box.Y0, s.box.W(), s.box.H(), s.follow, status)
	}
	fmt.Printf("%d faces fitted, %d kept; GPA converged in %d iterations\n", len(all), len(kept), iters)

	src, err := render(final, all, kept, perPhoto, iters)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		return err
	}
	fmt.Println("wrote", *out)
	if *pngOut != "" {
		if err := drawPNG(final, *pngOut); err != nil {
			return err
		}
		fmt.Println("wrote", *pngOut)
	}
	return nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the repository root (go.mod) above the working directory")
		}
		dir = parent
	}
}

// fitPhoto finds the faces in one photo and fits their landmarks.
func fitPhoto(d *landmark.Dlib, cc *gocv.CascadeClassifier, path, debug string) ([]*sample, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("test photo %s is missing: run make deps", path)
	}
	img := gocv.IMRead(path, gocv.IMReadColor)
	defer img.Close()
	if img.Empty() {
		return nil, fmt.Errorf("cannot decode %s", path)
	}
	grey := gocv.NewMat()
	defer grey.Close()
	gocv.CvtColor(img, &grey, gocv.ColorBGRToGray)
	rects := cc.DetectMultiScaleWithParams(grey, 1.1, 6, 0, image.Pt(minBox, minBox), image.Pt(0, 0))
	sort.Slice(rects, func(i, j int) bool {
		if rects[i].Min.Y != rects[j].Min.Y {
			return rects[i].Min.Y < rects[j].Min.Y
		}
		return rects[i].Min.X < rects[j].Min.X
	})

	// The grey Mat is a BGR-free frame: wrap it as the Y plane of an NV12
	// frame with a dummy chroma plane (Fit reads only Y).
	data, err := grey.DataPtrUint8()
	if err != nil {
		return nil, err
	}
	w, h := grey.Cols()&^1, grey.Rows()&^1
	fr := &frame.Frame{Format: frame.NV12, Width: w, Height: h, Stride: [4]int{grey.Step(), w}}
	fr.Planes[0] = data
	fr.Planes[1] = make([]byte, w*h/2)

	var out []*sample
	for _, r := range rects {
		s := &sample{box: face.Rect{X0: float64(r.Min.X), Y0: float64(r.Min.Y), X1: float64(r.Max.X), Y1: float64(r.Max.Y)}}
		var l face.Landmarks
		if err := d.Fit(fr, s.box, &l); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		s.pts = shape(l)
		for _, sh := range [][2]float64{{0.1, 0}, {-0.1, 0}, {0, 0.1}, {0, -0.1}} {
			dx, dy := sh[0]*s.box.W(), sh[1]*s.box.H()
			b := face.Rect{X0: s.box.X0 + dx, Y0: s.box.Y0 + dy, X1: s.box.X1 + dx, Y1: s.box.Y1 + dy}
			var l2 face.Landmarks
			if err := d.Fit(fr, b, &l2); err != nil {
				return nil, fmt.Errorf("%s: %v", path, err)
			}
			var mx, my float64 // mean displacement along the shift
			for i := range l2 {
				mx += l2[i].X - l[i].X
				my += l2[i].Y - l[i].Y
			}
			s.follow += ((mx*dx + my*dy) / float64(len(l2)) / (dx*dx + dy*dy)) / 4
		}
		out = append(out, s)
	}
	if debug != "" {
		dbg := img.Clone()
		for _, s := range out {
			gocv.Rectangle(&dbg, image.Rect(int(s.box.X0), int(s.box.Y0), int(s.box.X1), int(s.box.Y1)), color.RGBA{0, 255, 0, 0}, 2)
			for _, p := range s.pts {
				gocv.Circle(&dbg, image.Pt(int(p.X), int(p.Y)), 3, color.RGBA{255, 255, 0, 0}, -1)
			}
		}
		name := filepath.Join(debug, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))+"_fit.png")
		gocv.IMWrite(name, dbg)
		dbg.Close()
	}
	return out, nil
}

func centroid(s *shape, from, to int) face.Point {
	var c face.Point
	for i := from; i <= to; i++ {
		c.X += s[i].X
		c.Y += s[i].Y
	}
	n := float64(to - from + 1)
	return face.Point{X: c.X / n, Y: c.Y / n}
}

// eyeAngle is the angle of the line from eye 36-41 to eye 42-47, degrees.
func eyeAngle(s *shape) float64 {
	a, b := centroid(s, 36, 41), centroid(s, 42, 47)
	return math.Atan2(b.Y-a.Y, b.X-a.X) * 180 / math.Pi
}

// checkFrontal returns why s is not a plausible upright near-frontal face,
// or "".
func checkFrontal(s *shape) string {
	re, le := centroid(s, 36, 41), centroid(s, 42, 47)
	iod := math.Hypot(le.X-re.X, le.Y-re.Y)
	if !(le.X > re.X) || math.Abs(eyeAngle(s)) > 45 {
		return "eyes not side by side (not an upright face)"
	}
	// In the eye-line frame: u along the eyes from their midpoint, v down.
	ux, uy := (le.X-re.X)/iod, (le.Y-re.Y)/iod
	mid := face.Point{X: (re.X + le.X) / 2, Y: (re.Y + le.Y) / 2}
	uv := func(p face.Point) (float64, float64) {
		dx, dy := p.X-mid.X, p.Y-mid.Y
		return (dx*ux + dy*uy) / iod, (-dx*uy + dy*ux) / iod
	}
	nu, nv := uv(s[30])
	if math.Abs(nu) > maxNoseOff {
		return fmt.Sprintf("nose tip %.0f%% of the eye distance off the eyes' midpoint (turned head)", 100*nu)
	}
	_, mv := uv(centroid(s, 48, 67))
	if !(nv > 0.3 && mv > nv) {
		return "nose and mouth not below the eyes"
	}
	d0 := math.Hypot(s[0].X-s[30].X, s[0].Y-s[30].Y)
	d16 := math.Hypot(s[16].X-s[30].X, s[16].Y-s[30].Y)
	if r := max(d0, d16) / min(d0, d16); r > maxJawRatio {
		return fmt.Sprintf("jaw sides %.2f× unequal from the nose (turned head)", r)
	}
	return ""
}

// normalisedCopy centres s at the origin and scales it to unit norm.
func normalisedCopy(s *shape) shape {
	c := centroid(s, 0, 67)
	var o shape
	var n2 float64
	for i, p := range s {
		o[i] = face.Point{X: p.X - c.X, Y: p.Y - c.Y}
		n2 += o[i].X*o[i].X + o[i].Y*o[i].Y
	}
	k := 1 / math.Sqrt(n2)
	for i := range o {
		o[i].X *= k
		o[i].Y *= k
	}
	return o
}

// alignTo returns the similarity transform (rotation, uniform scale; both
// shapes centred) of s that best matches ref in least squares: ordinary
// Procrustes in the complex plane.
func alignTo(s, ref *shape) shape {
	var a, b, ss float64 // Σ conj(s)·ref = a + ib, Σ|s|²
	for i := range s {
		a += s[i].X*ref[i].X + s[i].Y*ref[i].Y
		b += s[i].X*ref[i].Y - s[i].Y*ref[i].X
		ss += s[i].X*s[i].X + s[i].Y*s[i].Y
	}
	ca, cb := a/ss, b/ss // the complex factor scale·e^{iθ}
	var o shape
	for i, p := range s {
		o[i] = face.Point{X: ca*p.X - cb*p.Y, Y: cb*p.X + ca*p.Y}
	}
	return o
}

// gpa is generalised Procrustes analysis: it aligns every shape to the
// running mean until the mean stops changing. The mean keeps the first
// shape's orientation and has unit norm.
func gpa(in []shape) (mean shape, aligned []shape, iters int) {
	aligned = make([]shape, len(in))
	for i := range in {
		aligned[i] = normalisedCopy(&in[i])
	}
	mean = aligned[0]
	for iters = 1; iters <= 1000; iters++ {
		for i := range aligned {
			aligned[i] = alignTo(&aligned[i], &mean)
		}
		var next shape
		for i := range next {
			for _, s := range aligned {
				next[i].X += s[i].X
				next[i].Y += s[i].Y
			}
			next[i].X /= float64(len(aligned))
			next[i].Y /= float64(len(aligned))
		}
		next = normalisedCopy(&next)
		next = alignTo(&next, &mean) // no drift in rotation
		next = normalisedCopy(&next)
		var change float64
		for i := range next {
			change += (next[i].X-mean[i].X)*(next[i].X-mean[i].X) + (next[i].Y-mean[i].Y)*(next[i].Y-mean[i].Y)
		}
		mean = next
		if change < gpaTolerance {
			break
		}
	}
	for i := range aligned {
		aligned[i] = alignTo(&aligned[i], &mean)
	}
	return mean, aligned, iters
}

// residual is the RMS distance between aligned points (unit-norm shapes).
func residual(a, b *shape) float64 {
	var s float64
	for i := range a {
		s += (a[i].X-b[i].X)*(a[i].X-b[i].X) + (a[i].Y-b[i].Y)*(a[i].Y-b[i].Y)
	}
	return math.Sqrt(s / float64(len(a)))
}

func median(v []float64) float64 {
	c := append([]float64(nil), v...)
	sort.Float64s(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

// upright rotates s so that the eye line is horizontal (eye 36-41 left).
func upright(s shape) shape {
	th := -eyeAngle(&s) * math.Pi / 180
	c, sn := math.Cos(th), math.Sin(th)
	for i, p := range s {
		s[i] = face.Point{X: c*p.X - sn*p.Y, Y: sn*p.X + c*p.Y}
	}
	return s
}

// symmetrise averages every point with its mirror partner reflected about
// the vertical line through the shape's centroid (a face is left/right
// symmetric; points on the midline land on it).
func symmetrise(s shape) shape {
	cx := centroid(&s, 0, 67).X
	var o shape
	for i := range s {
		j := mirror[i]
		o[i] = face.Point{X: (s[i].X + 2*cx - s[j].X) / 2, Y: (s[i].Y + s[j].Y) / 2}
	}
	return o
}

// normalise scales s uniformly and moves it so that points 17-67 fill
// [0,1]×[0,1]: their larger extent spans 0..1 exactly and the smaller one is
// centred in 0..1 (one scale for x and y keeps the face's proportions,
// which a similarity fit to it needs). Jaw points may fall outside.
func normalise(s shape) shape {
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range s[17:] {
		x0, x1 = min(x0, p.X), max(x1, p.X)
		y0, y1 = min(y0, p.Y), max(y1, p.Y)
	}
	k := 1 / max(x1-x0, y1-y0)
	ox, oy := (1-k*(x1-x0))/2, (1-k*(y1-y0))/2
	for i, p := range s {
		s[i] = face.Point{X: ox + k*(p.X-x0), Y: oy + k*(p.Y-y0)}
	}
	return s
}

func render(m shape, all, kept []*sample, perPhoto map[string]int, iters int) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by tools/meanface; DO NOT EDIT.\n\n")
	fmt.Fprintf(&b, "package landmark\n\nimport \"facelive/engine/face\"\n\n")
	fmt.Fprintf(&b, "//go:generate go run ../../tools/meanface -out meanface_gen.go\n\n")
	var used []string
	for _, p := range photos {
		if perPhoto[p] > 0 {
			used = append(used, fmt.Sprintf("%s %d", p, perPhoto[p]))
		}
	}
	fmt.Fprintf(&b, `// MeanFace is the canonical frontal face in the iBUG 300-W 68-point order,
// in normalised coordinates (x right, y down; the subject's right eye,
// points 36-41, on the left): points 17-67 (brows to mouth, the points the
// "whole face" alignment fits) span [0,1] in their larger extent (x) and are
// centred in the other, with one scale for x and y; jaw points fall outside.
//
// Generated by tools/meanface — regenerate with
//
//	go generate ./engine/landmark    (or: go run ./tools/meanface)
//
// from the test photos make deps fetches (third_party/faces/astronaut.png,
// sample1.jpg … sample6.jpg): OpenCV Haar detection (boxes >= %d px) found
// %d faces; dlib's shape_predictor_68_face_landmarks.dat fitted each; %d
// were kept as real, near-frontal faces:
//
//	%s
//
// Dropped: face-like patterns whose landmarks follow a moved box (> %.2f of
// a 10%% shift), turned heads (nose tip more than %.0f%% of the eye distance
// off the eyes' midpoint, or jaw sides more than %.1f× unequal), and shapes
// whose eye line is more than %d° off the mean's after alignment or whose
// residual exceeds %.1f× the median. The kept shapes were aligned by
// generalised Procrustes analysis (similarity: translation, rotation,
// uniform scale; converged in %d iterations), the mean averaged with its
// mirror image by the iBUG symmetry map, turned upright (eye line
// horizontal) and normalised as above.
var MeanFace = face.Landmarks{
`, minBox, len(all), len(kept), strings.Join(used, ", "), maxFollow, 100*maxNoseOff, maxJawRatio, maxTiltDeg, maxResidual, iters)
	for i, p := range m {
		fmt.Fprintf(&b, "\t{X: %s, Y: %s}, // %d\n", num(p.X), num(p.Y), i)
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}

// num formats v with 6 decimals, never as "-0.000000".
func num(v float64) string {
	s := fmt.Sprintf("%.6f", v)
	if s == "-0.000000" {
		s = "0.000000"
	}
	return s
}

// drawPNG draws m on a 512×512 white picture: [0,1] maps to 64..448.
func drawPNG(m shape, path string) error {
	img := gocv.NewMatWithSize(512, 512, gocv.MatTypeCV8UC3)
	defer img.Close()
	img.SetTo(gocv.NewScalar(255, 255, 255, 0))
	at := func(p face.Point) image.Point {
		return image.Pt(int(math.Round(64+384*p.X)), int(math.Round(64+384*p.Y)))
	}
	gocv.Rectangle(&img, image.Rectangle{at(face.Point{}), at(face.Point{X: 1, Y: 1})}, color.RGBA{200, 200, 200, 0}, 1)
	// Outline: jaw, brows, nose, eyes, lips.
	for _, r := range [][2]int{{0, 16}, {17, 21}, {22, 26}, {27, 30}, {31, 35}, {36, 41}, {42, 47}, {48, 59}, {60, 67}} {
		closed := r[0] >= 36
		for i := r[0]; i < r[1]; i++ {
			gocv.Line(&img, at(m[i]), at(m[i+1]), color.RGBA{150, 150, 220, 0}, 1)
		}
		if closed {
			gocv.Line(&img, at(m[r[1]]), at(m[r[0]]), color.RGBA{150, 150, 220, 0}, 1)
		}
	}
	for i, p := range m {
		c := color.RGBA{0, 0, 0, 0}
		if i >= 36 && i <= 41 {
			c = color.RGBA{220, 0, 0, 0}
		} else if i >= 42 && i <= 47 {
			c = color.RGBA{0, 0, 220, 0}
		}
		gocv.Circle(&img, at(p), 3, c, -1)
		gocv.PutText(&img, fmt.Sprint(i), at(p).Add(image.Pt(4, -3)), gocv.FontHersheyPlain, 0.7, color.RGBA{120, 120, 120, 0}, 1)
	}
	if !gocv.IMWrite(path, img) {
		return fmt.Errorf("cannot write %s", path)
	}
	return nil
}
