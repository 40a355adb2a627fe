package engine

// Composed scenes for the acceptance of "find every face — small ones too —
// never paste a face where there is none": real faces cut from the test
// photos, pasted onto real face-free photos (third_party/backgrounds/, from
// make deps) at known places, sizes, angles and brightness, so that the
// ground truth is exact. scenes_test.go runs them through the pipeline.

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"gocv.io/x/gocv"

	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
)

const (
	sceneW, sceneH = 1280, 720
	// sceneSeed fixes every composed scene: same faces, places, angles
	// and lighting on every run.
	sceneSeed = 20261207
	// sceneMinFace, sceneMaxFace bound the face box side in composed
	// scenes (px of the 1280×720 frame).
	sceneMinFace, sceneMaxFace = 50, 400
	// sceneCounted is the smallest face the acceptance counts (px).
	sceneCounted = 64
	// sceneReach is how far from a true face a change may be, in face
	// sizes: the aligned crop (coverage 2.2, centre 8 % up) reaches about
	// one face size beyond the box; 1.3 leaves room for a fit that is a
	// little large.
	sceneReach = 1.3
	// sceneFoundShare is the share of a face box's pixels that must change
	// for the face to count as found. A pasted face changes most of them; a neighbour's feathered edge or a stray block cannot reach
	// this much (faces are placed apart, see composeScenes).
	sceneFoundShare = 0.2
)

// sceneSource is a face in a test photo (third_party/faces/). box is
// BlazeFace's box for it, found once (threshold 0.5) on a crop of the head
// upscaled to 512 px wide and checked by eye; all scored 0.79-0.93. Only
// faces seen frontal-ish with both eyes open to the camera are used.
type sceneSource struct {
	file string
	box  image.Rectangle
	note string
}

var sceneSources = []sceneSource{
	// The head crop (110,12)+(232,232): the paste ellipse stays inside it.
	{"astronaut.png", image.Rect(173, 74, 276, 176), "astronaut"},
	{"sample1.jpg", image.Rect(418, 398, 614, 594), "sample1 left, clown make-up"},
	{"sample1.jpg", image.Rect(1487, 263, 1643, 418), "sample1 right, head tilted"},
	{"sample3.jpg", image.Rect(580, 367, 811, 599), "sample3 left"},
	{"sample3.jpg", image.Rect(1057, 258, 1297, 497), "sample3 middle"},
	{"sample3.jpg", image.Rect(1477, 342, 1702, 567), "sample3 right"},
	{"sample4.jpg", image.Rect(986, 215, 1185, 414), "sample4 third, looking down"},
	{"sample4.jpg", image.Rect(1278, 198, 1460, 380), "sample4 right, laughing"},
	{"sample5.jpg", image.Rect(766, 154, 948, 336), "sample5 top middle"},
	{"sample5.jpg", image.Rect(1110, 260, 1290, 440), "sample5 top right"},
	{"sample5.jpg", image.Rect(356, 931, 588, 1162), "sample5 bottom left"},
	{"sample5.jpg", image.Rect(1402, 425, 1633, 656), "sample5 right"},
	{"sample6.jpg", image.Rect(241, 532, 471, 763), "sample6 left"},
	{"sample6.jpg", image.Rect(664, 378, 907, 621), "sample6 second"},
	{"sample6.jpg", image.Rect(1142, 349, 1380, 587), "sample6 third"},
	{"sample6.jpg", image.Rect(1467, 313, 1710, 555), "sample6 right"},
}

// sceneBackgrounds are the face-free photos make deps fetches (a cat, a
// coffee cup, textures, a motorcycle, a rocket launch, stars, coins).
var sceneBackgrounds = []string{"coffee.png", "chelsea.png", "brick.png", "grass.png", "gravel.png",
	"motorcycle_left.png", "hubble_deep_field.jpg", "coins.png", "rocket.jpg"}

// The paste mask: an ellipse around the face centre, in face sizes, moved
// up to take the forehead, feathered at its rim. It holds the face and
// some hair but never a neighbour from the source photo.
const (
	maskHalfW, maskHalfH, maskUp, maskFeather = 0.75, 0.95, 0.1, 0.12
)

// placedFace is one face pasted into a scene.
type placedFace struct {
	src    int     // index into sceneSources
	cx, cy float64 // face centre in the frame
	size   float64 // face box side in the frame, px
	angle  float64 // rotation, degrees
	mirror bool
	gain   float64 // lighting: the face's pixels times this
}

// box is the face's ground-truth box: a size×size square around its
// centre (upright: the detector's box of a rotated face is about this).
func (f placedFace) box() image.Rectangle { return f.grown(0) }

// grown is the box grown by k face sizes on every side.
func (f placedFace) grown(k float64) image.Rectangle {
	h := f.size/2 + k*f.size
	return image.Rect(int(math.Round(f.cx-h)), int(math.Round(f.cy-h)), int(math.Round(f.cx+h)), int(math.Round(f.cy+h)))
}

func (f placedFace) String() string {
	m := ""
	if f.mirror {
		m = " mirrored"
	}
	return fmt.Sprintf("%s %3.0f px at (%4.0f,%3.0f) %+3.0f°%s light ×%.2f", sceneSources[f.src].note, f.size, f.cx, f.cy, f.angle, m, f.gain)
}

// composedScene is a background and the faces on it.
type composedScene struct {
	id    int
	bg    string
	faces []placedFace
}

func (s composedScene) String() string {
	return fmt.Sprintf("scene %d (%s, %d faces)", s.id, s.bg, len(s.faces))
}

// composeScenes draws n scenes from seed: one to five faces each, sizes
// log-uniform in [sceneMinFace, sceneMaxFace], rotated ±30°, mirrored half
// the time, lighting ×0.5-1.5, each box inside the frame. Faces are kept
// apart: the boxes grown by 0.75 face sizes (each by its own) do not
// meet, so no pasted head covers another face and a swap (about one face
// size beyond its box) hardly reaches a neighbour's box. A face that does
// not fit is drawn smaller; one that does not fit at sceneMinFace ends the
// scene.
func composeScenes(n int, seed uint64) []composedScene {
	rng := rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))
	scenes := make([]composedScene, n)
	for i := range scenes {
		sc := composedScene{id: i, bg: sceneBackgrounds[i%len(sceneBackgrounds)]}
		want := 1 + rng.IntN(5)
	faces:
		for len(sc.faces) < want {
			f := placedFace{
				src:    rng.IntN(len(sceneSources)),
				size:   sceneMinFace * math.Pow(sceneMaxFace/sceneMinFace, rng.Float64()),
				angle:  -30 + 60*rng.Float64(),
				mirror: rng.IntN(2) == 1,
				gain:   0.5 + rng.Float64(),
			}
			for {
				for range 200 {
					f.cx = f.size/2 + 2 + rng.Float64()*(sceneW-f.size-4)
					f.cy = f.size/2 + 2 + rng.Float64()*(sceneH-f.size-4)
					if fits(f, sc.faces) {
						sc.faces = append(sc.faces, f)
						continue faces
					}
				}
				if f.size*0.85 < sceneMinFace {
					break faces
				}
				f.size *= 0.85
			}
		}
		scenes[i] = sc
	}
	return scenes
}

func fits(f placedFace, others []placedFace) bool {
	if f.size > sceneH-4 {
		return false
	}
	for _, o := range others {
		if f.grown(0.75).Overlaps(o.grown(0.75)) {
			return false
		}
	}
	return true
}

// sceneImages loads and caches the photos scenes are made of, as packed
// BGR: sources at their own size, backgrounds covering sceneW×sceneH
// (scaled to cover, centre cropped). Safe for concurrent use.
type sceneImages struct {
	mu  sync.Mutex
	pix map[string]bgrPicture
}

type bgrPicture struct {
	w, h int
	pix  []byte
}

var sceneImg = &sceneImages{pix: map[string]bgrPicture{}}

func (si *sceneImages) get(t testing.TB, rel string, cover bool) bgrPicture {
	t.Helper()
	si.mu.Lock()
	defer si.mu.Unlock()
	key := fmt.Sprint(rel, cover)
	if p, ok := si.pix[key]; ok {
		return p
	}
	path := filepath.Join(thirdParty(t), rel)
	m := gocv.IMRead(path, gocv.IMReadColor) // grey PNGs come as BGR
	if m.Empty() {
		t.Fatalf("cannot read %s: run make deps", path)
	}
	defer m.Close()
	out := m
	if cover {
		k := max(float64(sceneW)/float64(m.Cols()), float64(sceneH)/float64(m.Rows()))
		w, h := int(math.Ceil(float64(m.Cols())*k)), int(math.Ceil(float64(m.Rows())*k))
		big := gocv.NewMat()
		defer big.Close()
		gocv.Resize(m, &big, image.Pt(w, h), 0, 0, gocv.InterpolationLinear)
		r := big.Region(image.Rect((w-sceneW)/2, (h-sceneH)/2, (w-sceneW)/2+sceneW, (h-sceneH)/2+sceneH))
		defer r.Close()
		out = r.Clone() // a region is not continuous
		defer out.Close()
	}
	pix, err := out.DataPtrUint8()
	if err != nil {
		t.Fatal(err)
	}
	p := bgrPicture{w: out.Cols(), h: out.Rows(), pix: append([]byte(nil), pix...)}
	si.pix[key] = p
	return p
}

// renderScene paints sc as packed BGR, sceneW×sceneH.
func renderScene(t testing.TB, sc composedScene) []byte {
	t.Helper()
	out := append([]byte(nil), sceneImg.get(t, filepath.Join("backgrounds", sc.bg), true).pix...)
	for _, f := range sc.faces {
		pasteFace(t, out, f)
	}
	return out
}

// pasteFace warps the source photo so that its face box lands on f's
// (scaled, mirrored, rotated about the face centre) and blends it in
// through the feathered ellipse, with f's lighting.
func pasteFace(t testing.TB, dst []byte, f placedFace) {
	t.Helper()
	s := sceneSources[f.src]
	src := sceneImg.get(t, filepath.Join("faces", s.file), false)
	srcMat, err := gocv.NewMatFromBytes(src.h, src.w, gocv.MatTypeCV8UC3, src.pix)
	if err != nil {
		t.Fatal(err)
	}
	defer srcMat.Close()
	// dst = c + k·R·F·(p - c_src): F mirrors x, R rotates by angle.
	k := f.size / float64(s.box.Dx())
	th := f.angle * math.Pi / 180
	cos, sin := math.Cos(th), math.Sin(th)
	fx := 1.0
	if f.mirror {
		fx = -1
	}
	a := [4]float64{k * cos * fx, -k * sin, k * sin * fx, k * cos}
	csx, csy := float64(s.box.Min.X+s.box.Max.X)/2, float64(s.box.Min.Y+s.box.Max.Y)/2
	m := gocv.NewMatWithSize(2, 3, gocv.MatTypeCV64F)
	defer m.Close()
	m.SetDoubleAt(0, 0, a[0])
	m.SetDoubleAt(0, 1, a[1])
	m.SetDoubleAt(0, 2, f.cx-(a[0]*csx+a[1]*csy))
	m.SetDoubleAt(1, 0, a[2])
	m.SetDoubleAt(1, 1, a[3])
	m.SetDoubleAt(1, 2, f.cy-(a[2]*csx+a[3]*csy))
	warped := gocv.NewMat()
	defer warped.Close()
	gocv.WarpAffineWithParams(srcMat, &warped, m, image.Pt(sceneW, sceneH), gocv.InterpolationLinear, gocv.BorderConstant, color.RGBA{})
	wp, err := warped.DataPtrUint8()
	if err != nil {
		t.Fatal(err)
	}
	reach := f.size * (maskHalfH + maskUp) // the ellipse's farthest point from the centre
	r := image.Rect(int(f.cx-reach), int(f.cy-reach), int(f.cx+reach)+1, int(f.cy+reach)+1).Intersect(image.Rect(0, 0, sceneW, sceneH))
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			// Back into the upright face, in face sizes (the ellipse is
			// symmetric, so mirroring does not matter).
			px, py := float64(x)-f.cx, float64(y)-f.cy
			u := (cos*px + sin*py) / f.size / maskHalfW
			v := ((-sin*px+cos*py)/f.size + maskUp) / maskHalfH
			alpha := min(1, (1-math.Hypot(u, v))/maskFeather)
			if alpha <= 0 {
				continue
			}
			o := 3 * (y*sceneW + x)
			for c := range 3 {
				face := min(255, float64(wp[o+c])*f.gain)
				dst[o+c] = byte(math.Round(float64(dst[o+c])*(1-alpha) + face*alpha))
			}
		}
	}
}

// texturedScene is a face-free synthetic frame full of edges and texture:
// colour gratings at several scales and angles, checkerboards, discs and
// noise, from seed.
func texturedScene(seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([]byte, sceneW*sceneH*3)
	type grating struct{ fx, fy, ph, amp [3]float64 }
	var gs [4]grating
	for i := range gs {
		for c := range 3 {
			per := 6 + 120*rng.Float64()
			th := rng.Float64() * math.Pi
			gs[i].fx[c], gs[i].fy[c] = math.Cos(th)/per, math.Sin(th)/per
			gs[i].ph[c], gs[i].amp[c] = rng.Float64()*2*math.Pi, 15+25*rng.Float64()
		}
	}
	for y := range sceneH {
		for x := range sceneW {
			o := 3 * (y*sceneW + x)
			for c := range 3 {
				v := 128.0
				for _, g := range gs {
					v += g.amp[c] * math.Sin(2*math.Pi*(g.fx[c]*float64(x)+g.fy[c]*float64(y))+g.ph[c])
				}
				if (x/40+y/40)%2 == 0 && x > 640 && y < 360 {
					v = 255 - v // a checkerboard quadrant
				}
				out[o+c] = byte(min(255, max(0, v+rng.NormFloat64()*8)))
			}
		}
	}
	for range 12 { // dark and bright discs: eyes and heads for a careless detector
		cx, cy, r := rng.Float64()*sceneW, rng.Float64()*sceneH, 10+60*rng.Float64()
		col := [3]byte{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}
		for y := max(0, int(cy-r)); y < min(sceneH, int(cy+r)+1); y++ {
			for x := max(0, int(cx-r)); x < min(sceneW, int(cx+r)+1); x++ {
				if math.Hypot(float64(x)-cx, float64(y)-cy) <= r {
					copy(out[3*(y*sceneW+x):], col[:])
				}
			}
		}
	}
	return out
}

// sceneFrame converts packed BGR (w×h) to a frame of format f: BGRA and
// NV12 through OpenCV (BT.601 limited range for NV12, like a webcam; the
// alpha byte 255), other formats through frametest.FromBGR. Under -race
// OpenCV's conversion costs a few milliseconds where the Go one costs a
// hundred, and every scene needs one per format.
func sceneFrame(t testing.TB, bgr []byte, w, h int, f frame.Format) *frame.Frame {
	t.Helper()
	if f != frame.BGRA && f != frame.NV12 {
		return frametest.FromBGR(bgr, w, h, f, 0)
	}
	m, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8UC3, bgr)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	out := gocv.NewMat()
	defer out.Close()
	fr := &frame.Frame{Format: f, Width: w, Height: h}
	if f == frame.BGRA {
		gocv.CvtColor(m, &out, gocv.ColorBGRToBGRA)
		pix, err := out.DataPtrUint8()
		if err != nil {
			t.Fatal(err)
		}
		fr.Planes[0], fr.Stride[0] = append([]byte(nil), pix...), 4*w
		return fr
	}
	gocv.CvtColor(m, &out, gocv.ColorBGRToYUVI420) // Y, then U and V planes
	pix, err := out.DataPtrUint8()
	if err != nil {
		t.Fatal(err)
	}
	n := w * h
	fr.Planes[0], fr.Stride[0] = append([]byte(nil), pix[:n]...), w
	uv := make([]byte, n/2)
	u, v := pix[n:n+n/4], pix[n+n/4:n+n/2]
	for i := range u {
		uv[2*i], uv[2*i+1] = u[i], v[i]
	}
	fr.Planes[1], fr.Stride[1] = uv, w
	return fr
}

// frameDiff compares two frames of one format and size pixel by pixel: a
// pixel changed when any byte that holds it changed (for NV12 its Y byte
// or its 2×2 block's chroma pair; for packed formats alpha included).
type frameDiff struct{ a, b *frame.Frame }

func (d frameDiff) changed(x, y int) bool {
	a, b := d.a, d.b
	switch a.Format {
	case frame.NV12:
		o := y*a.Stride[0] + x
		c := y/2*a.Stride[1] + x&^1
		return a.Planes[0][o] != b.Planes[0][o] || a.Planes[1][c] != b.Planes[1][c] || a.Planes[1][c+1] != b.Planes[1][c+1]
	default:
		bpp := a.Format.BytesPerPixel()
		o := y*a.Stride[0] + x*bpp
		return !bytes.Equal(a.Planes[0][o:o+bpp], b.Planes[0][o:o+bpp])
	}
}

// spanChanged is a quick look: whether any byte of the pixels [x0, x1)
// of row y changed.
func (d frameDiff) spanChanged(y, x0, x1 int) bool {
	a, b := d.a, d.b
	switch a.Format {
	case frame.NV12:
		o := y * a.Stride[0]
		if !bytes.Equal(a.Planes[0][o+x0:o+x1], b.Planes[0][o+x0:o+x1]) {
			return true
		}
		c := y / 2 * a.Stride[1]
		c0, c1 := c+x0&^1, c+(x1+1)&^1
		return !bytes.Equal(a.Planes[1][c0:c1], b.Planes[1][c0:c1])
	default:
		bpp := a.Format.BytesPerPixel()
		o := y * a.Stride[0]
		return !bytes.Equal(a.Planes[0][o+x0*bpp:o+x1*bpp], b.Planes[0][o+x0*bpp:o+x1*bpp])
	}
}

// count is the number of changed pixels in r.
func (d frameDiff) count(r image.Rectangle) int {
	r = r.Intersect(image.Rect(0, 0, d.a.Width, d.a.Height))
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		if !d.spanChanged(y, r.Min.X, r.Max.X) {
			continue
		}
		for x := r.Min.X; x < r.Max.X; x++ {
			if d.changed(x, y) {
				n++
			}
		}
	}
	return n
}

// outside returns how many changed pixels lie outside every allowed
// rectangle, and their bounds. Each row is looked at in the spans between
// the allowed rectangles, byte ranges first.
func (d frameDiff) outside(allowed []image.Rectangle) (int, image.Rectangle) {
	w, h := d.a.Width, d.a.Height
	n, box := 0, image.Rectangle{}
	var cuts [][2]int
	for y := range h {
		cuts = cuts[:0]
		for _, r := range allowed {
			if y >= r.Min.Y && y < r.Max.Y && r.Max.X > 0 && r.Min.X < w {
				cuts = append(cuts, [2]int{max(0, r.Min.X), min(w, r.Max.X)})
			}
		}
		sort.Slice(cuts, func(i, j int) bool { return cuts[i][0] < cuts[j][0] })
		x := 0
		for i := 0; i <= len(cuts); i++ {
			end := w
			if i < len(cuts) {
				end = cuts[i][0]
			}
			if end > x && d.spanChanged(y, x, end) {
				for xx := x; xx < end; xx++ {
					if d.changed(xx, y) {
						n++
						box = box.Union(image.Rect(xx, y, xx+1, y+1))
					}
				}
			}
			if i < len(cuts) {
				x = max(x, cuts[i][1])
			}
		}
	}
	return n, box
}

// phantomCheck tells fast whether two frames differ outside the allowed
// rectangles: OpenCV compares the planes under a mask built once (under
// -race a Go comparison of two 720p frames costs about 10 ms, and every
// output frame is checked). Frames must have unpadded rows.
type phantomCheck struct {
	masks []gocv.Mat // per plane: 255 where a changed byte is outside every allowed rectangle
}

func newPhantomCheck(t testing.TB, f *frame.Frame, allowed []image.Rectangle) *phantomCheck {
	t.Helper()
	c := &phantomCheck{}
	for pl := 0; pl < f.Format.Planes(); pl++ {
		rows, cols := f.Format.Rows(pl, f.Height), f.Format.RowBytes(pl, f.Width)
		if f.Stride[pl] != cols {
			t.Fatalf("phantomCheck: plane %d has padded rows", pl)
		}
		m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(255, 0, 0, 0), rows, cols, gocv.MatTypeCV8U)
		for _, r := range allowed {
			var b image.Rectangle // r in the plane's bytes; a chroma pair partly inside counts as inside
			switch {
			case f.Format == frame.NV12 && pl == 1:
				b = image.Rect(r.Min.X&^1, r.Min.Y/2, (r.Max.X+1)&^1, (r.Max.Y+1)/2)
			case f.Format == frame.NV12:
				b = r
			default:
				bpp := f.Format.BytesPerPixel()
				b = image.Rect(r.Min.X*bpp, r.Min.Y, r.Max.X*bpp, r.Max.Y)
			}
			if b = b.Intersect(image.Rect(0, 0, cols, rows)); !b.Empty() {
				reg := m.Region(b)
				reg.SetTo(gocv.NewScalar(0, 0, 0, 0))
				reg.Close()
			}
		}
		c.masks = append(c.masks, m)
	}
	return c
}

// any reports whether b differs from a outside the allowed rectangles.
func (c *phantomCheck) any(t testing.TB, a, b *frame.Frame) bool {
	t.Helper()
	diff, out := gocv.NewMat(), gocv.NewMat()
	defer diff.Close()
	defer out.Close()
	for pl, m := range c.masks {
		ma, err := gocv.NewMatFromBytes(m.Rows(), m.Cols(), gocv.MatTypeCV8U, a.Planes[pl][:m.Rows()*m.Cols()])
		if err != nil {
			t.Fatal(err)
		}
		mb, err := gocv.NewMatFromBytes(m.Rows(), m.Cols(), gocv.MatTypeCV8U, b.Planes[pl][:m.Rows()*m.Cols()])
		if err != nil {
			t.Fatal(err)
		}
		gocv.Compare(ma, mb, &diff, gocv.CompareNE)
		gocv.BitwiseAnd(diff, m, &out)
		n := gocv.CountNonZero(out)
		ma.Close()
		mb.Close()
		if n > 0 {
			return true
		}
	}
	return false
}

func (c *phantomCheck) close() {
	for _, m := range c.masks {
		m.Close()
	}
}
