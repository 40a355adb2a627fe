package engine

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"facelive/engine/config"
	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
	"facelive/engine/swap"
)

// The assignment rules alone, on tracks given by hand: which entry a new
// track takes, and that it keeps it.
func TestFacePlanAssign(t *testing.T) {
	box := func(cx, side float64) face.Rect {
		return face.Rect{X0: cx - side/2, Y0: 100, X1: cx + side/2, Y1: 100 + side}
	}
	plan := func(unlisted string, entries ...config.FaceSource) facePlan {
		s := config.Swapper{Unlisted: unlisted}
		copy(s.Faces[:], entries)
		return newFacePlan(s)
	}
	pos := func(i int) config.FaceSource { return config.FaceSource{Face: "x", Match: "position", Index: i} }
	size := func(i int) config.FaceSource { return config.FaceSource{Face: "x", Match: "size", Index: i} }
	tests := []struct {
		name   string
		plan   facePlan
		frames [][]face.Rect // each frame's tracks, by id order (track k has id k+1)
		want   []int         // the sources after the last frame
	}{
		{"no entries: default, even with pass", plan("pass"), [][]face.Rect{{box(100, 50), box(300, 50)}}, []int{srcDefault, srcDefault}},
		{"by position", plan("default", pos(1), pos(0)), [][]face.Rect{{box(500, 50), box(100, 50), box(300, 50)}}, []int{srcDefault, 1, 0}},
		{"by position, pass", plan("pass", pos(0), pos(1)), [][]face.Rect{{box(500, 50), box(100, 50), box(300, 50)}}, []int{srcPass, 0, 1}},
		{"by size", plan("pass", size(0), size(1)), [][]face.Rect{{box(100, 40), box(300, 90), box(500, 60)}}, []int{srcPass, 0, 1}},
		{"first entry wins", plan("pass", size(0), pos(0)), [][]face.Rect{{box(100, 90), box(300, 40)}}, []int{0, srcPass}},
		// Two people cross: they keep their sources.
		{"crossing keeps sources", plan("pass", pos(0), pos(1)),
			[][]face.Rect{{box(100, 50), box(500, 50)}, {box(300, 50), box(310, 50)}, {box(500, 50), box(100, 50)}}, []int{0, 1}},
		// A face that comes later takes the entry for its rank only if no
		// live track holds it.
		{"later face, entry held", plan("pass", pos(0), pos(1)),
			[][]face.Rect{{box(300, 50)}, {box(300, 50), box(100, 50)}}, []int{0, srcPass}},
		{"later face, entry free", plan("pass", pos(0), pos(1)),
			[][]face.Rect{{box(100, 50)}, {box(100, 50), box(300, 50)}}, []int{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tracks []track
			for _, boxes := range tt.frames {
				for k, b := range boxes {
					if k == len(tracks) {
						tracks = append(tracks, track{id: uint64(k + 1)})
					}
					tracks[k].box = b
				}
				tt.plan.assign(tracks, nil)
			}
			for k, want := range tt.want {
				if got := tracks[k].source; got != want {
					t.Errorf("track %d wears %d, want %d", k+1, got, want)
				}
			}
		})
	}

	// Reference entries: the embedding decides first, geometry after; the
	// plan waits for the fit (assign leaves such tracks to identify).
	ref := func() facePlan {
		p := plan("pass", config.FaceSource{Face: "x", Match: "reference", Reference: "r"}, pos(0))
		p.refs[0][0] = 1 // the reference person: unit vector e0
		return p
	}
	unit := func(k int) []float32 { v := make([]float32, swap.EmbeddingLen); v[k] = 1; return v }
	for _, tc := range []struct {
		name string
		embs [][]float32 // per track (nil: could not embed)
		want []int
	}{
		{"the person of the reference", [][]float32{unit(1), unit(0)}, []int{1, 0}},
		{"a stranger goes by position", [][]float32{unit(1), unit(2)}, []int{1, srcPass}},
		{"no embedding: by position", [][]float32{nil, nil}, []int{1, srcPass}},
		{"the reference taken already", [][]float32{unit(0), unit(0)}, []int{0, srcPass}},
	} {
		t.Run("reference/"+tc.name, func(t *testing.T) {
			p := ref()
			tracks := []track{{id: 1, box: box(100, 50)}, {id: 2, box: box(300, 50)}}
			p.assign(tracks, nil)
			if tracks[0].assigned || tracks[1].assigned {
				t.Fatal("assign gave a source before the face was seen")
			}
			for i, e := range tc.embs {
				p.take(tracks, nil, i, e)
			}
			for i, want := range tc.want {
				if tracks[i].source != want {
					t.Errorf("track %d wears %d, want %d", i+1, tracks[i].source, want)
				}
			}
		})
	}

	t.Run("a lost track holds its entry", func(t *testing.T) {
		p := plan("pass", pos(0))
		lost := []lostTrack{{tr: track{id: 1, source: 0, assigned: true}}}
		tracks := []track{{id: 2, box: box(100, 50)}}
		p.assign(tracks, lost)
		if tracks[0].source != srcPass {
			t.Fatalf("new track wears %d while the lost one may come back with entry 0", tracks[0].source)
		}
	})
	t.Run("no allocation", func(t *testing.T) {
		p := plan("pass", pos(0), pos(1))
		tracks := []track{{id: 1, box: box(100, 50)}, {id: 2, box: box(300, 50)}}
		if n := testing.AllocsPerRun(100, func() {
			tracks[0].assigned, tracks[1].assigned = false, false
			p.assign(tracks, nil)
		}); n != 0 {
			t.Fatalf("%v allocations per assign", n)
		}
	})
}

// tintedPhoto writes the astronaut photo with its channels scaled by k
// (B, G, R) as a PNG in dir: a source whose colour shows in a paste made
// without colour transfer.
func tintedPhoto(t testing.TB, dir, name string, k [3]float64) string {
	t.Helper()
	src := gocv.IMRead(filepath.Join(thirdParty(t), "faces", "astronaut.png"), gocv.IMReadColor)
	if src.Empty() {
		t.Fatal("cannot read astronaut.png: run make deps")
	}
	defer src.Close()
	pix, err := src.DataPtrUint8()
	if err != nil {
		t.Fatal(err)
	}
	for i := range pix {
		pix[i] = byte(math.Round(float64(pix[i]) * k[i%3]))
	}
	path := filepath.Join(dir, name)
	if !gocv.IMWrite(path, src) {
		t.Fatalf("cannot write %s", path)
	}
	return path
}

// The sources: the same face tinted red and blue, so that which one was
// pasted shows in the colour (merge.color_transfer none keeps it).
var (
	tintRed  = [3]float64{0.45, 0.8, 1} // B, G, R
	tintBlue = [3]float64{1, 0.8, 0.45}
)

// redShift is the mean change of R − B from in to out inside r (BGR24):
// clearly positive where the red source was pasted, clearly negative for
// the blue one, about 0 where the face was left as it was.
func redShift(in, out *frame.Frame, r image.Rectangle) float64 {
	r = r.Intersect(image.Rect(0, 0, in.Width, in.Height))
	var sum float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		a, b := in.Planes[0][y*in.Stride[0]:], out.Planes[0][y*out.Stride[0]:]
		for x := r.Min.X; x < r.Max.X; x++ {
			o := 3 * x
			sum += (float64(b[o+2]) - float64(b[o])) - (float64(a[o+2]) - float64(a[o]))
		}
	}
	return sum / float64(r.Dx()*r.Dy())
}

// meanAbsDiff is the mean absolute difference of in and out inside r.
func meanAbsDiff(in, out *frame.Frame, r image.Rectangle) float64 {
	r = r.Intersect(image.Rect(0, 0, in.Width, in.Height))
	var sum float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		a, b := in.Planes[0][y*in.Stride[0]:], out.Planes[0][y*out.Stride[0]:]
		for x := 3 * r.Min.X; x < 3*r.Max.X; x++ {
			sum += math.Abs(float64(a[x]) - float64(b[x]))
		}
	}
	return sum / float64(3*r.Dx()*r.Dy())
}

// tintSeen is how far redShift must be from 0 to say which tinted source a
// face wears. The tints move R − B by about ±100 levels on skin; a face
// left unswapped stays within a few levels.
const tintSeen = 25

// facesScene is one clip of the per-person tests: faces placed in each
// frame, and what each must show.
type facesScene struct {
	cfg    string
	frames int
	leadIn int                      // frames of motion before the clip: confirmFrames when 0
	place  func(i int) []placedFace // frame i's faces
	want   []string                 // per face: "red", "blue", "same" (untouched), "changed"
}

// runFacesScene runs sc through a fresh pipeline in quality mode (every
// frame processed, in order). The people are already moving when the
// measured clip starts: sc.leadIn frames of the same motion come first,
// while the gate confirms the faces; then every frame of the clip must
// show each face as wanted.
// Each face is rendered once (sprite) and moved by whole pixels: a warp
// per face and frame would cost more than the pipeline under -race.
func runFacesScene(t *testing.T, sc facesScene) {
	p := newPipeline(t, sc.cfg)
	waitFaceReady(t, p)
	var worst []float64
	var fails []string
	bg := sceneImg.get(t, filepath.Join("backgrounds", "brick.png"), true).pix
	var sprites []faceSprite
	for _, f := range sc.place(0) {
		sprites = append(sprites, newFaceSprite(t, f))
	}
	bgr := make([]byte, len(bg))
	src := &frame.Frame{Format: frame.BGR24, Width: sceneW, Height: sceneH}
	src.Planes[0], src.Stride[0] = bgr, 3*sceneW
	dst := frametest.Blank(src)
	lead := cmp.Or(sc.leadIn, confirmFrames)
	for i := -lead; i < sc.frames; i++ {
		faces := sc.place(i)
		copy(bgr, bg)
		for k := range faces {
			faces[k] = sprites[k].draw(bgr, faces[k])
		}
		src.PTS = int64(i+lead) * 33_333_333
		if err := p.Submit(src); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if err := p.Get(dst, 20*time.Second); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if i < 0 {
			continue
		}
		if worst == nil {
			worst = make([]float64, len(faces))
			for k, w := range sc.want {
				if w == "same" {
					worst[k] = 0
				} else {
					worst[k] = math.Inf(1)
				}
			}
		}
		for k, f := range faces {
			inner := f.grown(-0.25) // the middle of the face: inside any paste's feather
			shift, diff := redShift(src, dst, inner), meanAbsDiff(src, dst, inner)
			var ok bool
			switch sc.want[k] {
			case "red":
				ok, worst[k] = shift > tintSeen, min(worst[k], shift)
			case "blue":
				ok, worst[k] = shift < -tintSeen, min(worst[k], -shift)
			case "same":
				ok, worst[k] = diff < 0.5, max(worst[k], diff)
			case "changed":
				ok, worst[k] = diff > 5 && math.Abs(shift) < tintSeen, min(worst[k], diff)
			}
			if !ok && len(fails) < 10 {
				fails = append(fails, fmt.Sprintf("frame %d face %d (%v) wants %s: R-B shift %+.1f, mean |diff| %.1f", i, k, f, sc.want[k], shift, diff))
			}
		}
	}
	checkInvariant(t, p.Metrics())
	t.Logf("%d frames; worst per face (red/blue: |R-B shift|, same: mean |diff|, changed: mean |diff|): %.1f", sc.frames, worst)
	if len(fails) > 0 {
		t.Fatalf("faces wear the wrong source:\n%s", strings.Join(fails, "\n"))
	}
}

// faceSprite is a face pasted once by pasteFace, kept premultiplied with
// its alpha, to be drawn again moved by whole pixels.
type faceSprite struct {
	at      placedFace
	r       image.Rectangle // where it was rendered
	premul  []byte          // BGR × alpha, r's size
	alpha   []byte          // 0..255
	stride3 int
}

// newFaceSprite renders f on black and on white: the two differ by
// (1 − alpha)·255, which gives alpha exactly as pasteFace blended it.
func newFaceSprite(t *testing.T, f placedFace) faceSprite {
	black, white := make([]byte, sceneW*sceneH*3), make([]byte, sceneW*sceneH*3)
	for i := range white {
		white[i] = 255
	}
	pasteFace(t, black, f)
	pasteFace(t, white, f)
	reach := f.size * (maskHalfH + maskUp)
	r := image.Rect(int(f.cx-reach), int(f.cy-reach), int(f.cx+reach)+1, int(f.cy+reach)+1).Intersect(image.Rect(0, 0, sceneW, sceneH))
	s := faceSprite{at: f, r: r, premul: make([]byte, 3*r.Dx()*r.Dy()), alpha: make([]byte, r.Dx()*r.Dy()), stride3: 3 * r.Dx()}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			o, so := 3*(y*sceneW+x), (y-r.Min.Y)*r.Dx()+(x-r.Min.X)
			s.alpha[so] = 255 - (white[o+1] - black[o+1])
			copy(s.premul[3*so:3*so+3], black[o:o+3])
		}
	}
	return s
}

// draw blends the sprite into dst (sceneW×sceneH BGR) moved to f's centre
// rounded to whole pixels, and returns f at the centre drawn.
func (s *faceSprite) draw(dst []byte, f placedFace) placedFace {
	dx, dy := int(math.Round(f.cx-s.at.cx)), int(math.Round(f.cy-s.at.cy))
	for y := s.r.Min.Y; y < s.r.Max.Y; y++ {
		ty := y + dy
		if ty < 0 || ty >= sceneH {
			continue
		}
		for x := s.r.Min.X; x < s.r.Max.X; x++ {
			tx := x + dx
			so := (y-s.r.Min.Y)*s.r.Dx() + (x - s.r.Min.X)
			a := int(s.alpha[so])
			if tx < 0 || tx >= sceneW || a == 0 {
				continue
			}
			o := 3 * (ty*sceneW + tx)
			for c := range 3 {
				dst[o+c] = byte((int(dst[o+c])*(255-a)+127)/255 + int(s.premul[3*so+c]))
			}
		}
	}
	f.cx, f.cy = s.at.cx+float64(dx), s.at.cy+float64(dy)
	return f
}

// facesConfig is the per-person config: photo swap without colour
// transfer (so the tint shows), each source in entries.
func facesConfig(t *testing.T, extra string, entries ...config.FaceSource) string {
	type entry struct {
		Face  string `json:"face"`
		Match string `json:"match"`
		Index int    `json:"index"`
	}
	list := make([]entry, len(entries))
	for i, e := range entries {
		list[i] = entry{e.Face, e.Match, e.Index}
	}
	js, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`{"mode":"quality","workers":1,"merge":{"color_transfer":"none"},"swapper":{"kind":"photo","faces":%s%s}}`, js, extra)
}

// Two people who move for 5 s at 30 fps (drift side to side and bob,
// never crossing), two sources assigned by position: each face wears its
// own source in every frame.
func TestFaceForEachPersonByPosition(t *testing.T) {
	dir := t.TempDir()
	red, blue := tintedPhoto(t, dir, "red.png", tintRed), tintedPhoto(t, dir, "blue.png", tintBlue)
	runFacesScene(t, facesScene{
		cfg: facesConfig(t, "",
			config.FaceSource{Face: red, Match: "position", Index: 0},
			config.FaceSource{Face: blue, Match: "position", Index: 1}),
		frames: 150,
		place:  twoMovingPeople,
		want:   []string{"red", "blue"},
	})
}

// twoMovingPeople is frame i of a 30 fps clip: sample3's left face drifts
// and bobs on the left half, sample3's right face on the right half;
// their boxes stay at least 200 px apart.
func twoMovingPeople(i int) []placedFace {
	s := float64(i) / 30
	return []placedFace{
		{src: 3, cx: 330 + 90*math.Sin(2*math.Pi*s/5), cy: 360 + 40*math.Sin(2*math.Pi*s/1.25), size: 200, gain: 1},
		{src: 5, cx: 950 - 90*math.Sin(2*math.Pi*s/5+0.7), cy: 360 + 40*math.Cos(2*math.Pi*s/1.6), size: 190, gain: 1},
	}
}

// By size: the larger face (on the right) takes entry size 0, the smaller
// one size 1; in step with the frames and decoupled (the runner swaps each
// face with its own source, pasted by track id).
func TestFaceForEachPersonBySize(t *testing.T) {
	dir := t.TempDir()
	red, blue := tintedPhoto(t, dir, "red.png", tintRed), tintedPhoto(t, dir, "blue.png", tintBlue)
	cfg := facesConfig(t, "",
		config.FaceSource{Face: blue, Match: "size", Index: 0},
		config.FaceSource{Face: red, Match: "size", Index: 1})
	for _, tc := range []struct {
		decouple string
		leadIn   int // decoupled: a face shows its first result a frame or more after it is confirmed
	}{{"off", 0}, {"on", 10}} {
		t.Run("decouple "+tc.decouple, func(t *testing.T) {
			runFacesScene(t, facesScene{
				cfg:    strings.Replace(cfg, `"mode":"quality"`, `"mode":"quality","decouple":"`+tc.decouple+`"`, 1),
				frames: 30,
				leadIn: tc.leadIn,
				place: func(i int) []placedFace {
					f := twoMovingPeople(i)
					f[0].size, f[1].size = 150, 240
					return f
				},
				want: []string{"red", "blue"},
			})
		})
	}
}

// A third face no entry takes: untouched with unlisted pass, wearing the
// default source (swapper.face, the untinted sample2 face) with unlisted
// default.
func TestFaceForEachPersonUnlisted(t *testing.T) {
	dir := t.TempDir()
	red, blue := tintedPhoto(t, dir, "red.png", tintRed), tintedPhoto(t, dir, "blue.png", tintBlue)
	three := func(i int) []placedFace {
		s := float64(i) / 30
		return []placedFace{
			{src: 3, cx: 220, cy: 360 + 30*math.Sin(2*math.Pi*s), size: 170, gain: 1},
			{src: 4, cx: 640, cy: 360 - 30*math.Sin(2*math.Pi*s), size: 170, gain: 1},
			{src: 5, cx: 1060, cy: 360 + 30*math.Cos(2*math.Pi*s), size: 170, gain: 1},
		}
	}
	for _, tc := range []struct{ unlisted, third string }{{"pass", "same"}, {"default", "changed"}} {
		t.Run(tc.unlisted, func(t *testing.T) {
			runFacesScene(t, facesScene{
				cfg: facesConfig(t, fmt.Sprintf(`,"unlisted":%q`, tc.unlisted),
					config.FaceSource{Face: red, Match: "position", Index: 0},
					config.FaceSource{Face: blue, Match: "position", Index: 1}),
				frames: 20,
				place:  three,
				want:   []string{"red", "blue", tc.third},
			})
		})
	}
}

// A load failure of a source per person names the entry's key (or
// swapper.arcface_model) and the file. With swapper.arcface_model set,
// reference entries load the ArcFace model: a file that is not one fails
// there (the only model test possible here: no ArcFace model can be
// fetched).
func TestFaceForEachPersonLoadErrorsNameTheEntry(t *testing.T) {
	astronaut := filepath.Join(thirdParty(t), "faces", "astronaut.png")
	brick := filepath.Join(thirdParty(t), "backgrounds", "brick.png")
	for _, tc := range []struct {
		name, swapper, key, file string
	}{
		{"no face in the entry's photo", fmt.Sprintf(`"faces":[{"face":%q,"match":"size"}]`, brick), "swapper.faces[0].face", brick},
		{"not an ArcFace model", fmt.Sprintf(`"arcface_model":%q,"faces":[{"face":%q,"match":"reference","reference":%q}]`, astronaut, astronaut, astronaut),
			"swapper.arcface_model", astronaut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPipeline(t, `{"mode":"quality","swapper":{"kind":"photo",`+tc.swapper+`}}`)
			if err := p.WaitFaces(time.Minute); err == nil {
				t.Fatal("the face pipeline loaded")
			}
			if e := p.Metrics().Error; e == nil || e.Key != tc.key || !strings.Contains(e.Message, tc.file) {
				t.Fatalf("metrics error = %+v, want the load failed on %s naming %s", e, tc.key, tc.file)
			}
		})
	}
}

// Matching by a reference photo needs an ArcFace model: without one the
// config is refused, naming the key and the fix. (No ArcFace model can be
// fetched here, so the matching itself is not tested.)
func TestFaceForEachPersonReferenceNeedsArcFace(t *testing.T) {
	photo := filepath.Join(thirdParty(t), "faces", "astronaut.png")
	_, err := config.Default().Patch([]byte(fmt.Sprintf(`{"swapper":{"faces":[{"face":%q,"match":"reference","reference":%q}]}}`, photo, photo)))
	var ce *config.Error
	if err == nil || !errors.As(err, &ce) || ce.Key != "swapper.faces[0].reference" || !strings.Contains(err.Error(), `set "swapper.arcface_model"`) {
		t.Fatalf("err = %v, want a config error on swapper.faces[0].reference naming swapper.arcface_model", err)
	}
}

// A source per person costs no allocation per frame: the assignment, the
// per-face swapper and the paste run on what the first frames set up.
func TestFaceForEachPersonAllocatesNothing(t *testing.T) {
	dir := t.TempDir()
	red, blue := tintedPhoto(t, dir, "red.png", tintRed), tintedPhoto(t, dir, "blue.png", tintBlue)
	p := newPipeline(t, facesConfig(t, "",
		config.FaceSource{Face: red, Match: "position", Index: 0},
		config.FaceSource{Face: blue, Match: "position", Index: 1}))
	waitFaceReady(t, p)
	bgr := append([]byte(nil), sceneImg.get(t, filepath.Join("backgrounds", "brick.png"), true).pix...)
	for _, f := range twoMovingPeople(0) {
		pasteFace(t, bgr, f)
	}
	src := frametest.FromBGR(bgr, sceneW, sceneH, frame.BGR24, 0)
	dst := frametest.Blank(src)
	step := func() {
		src.PTS += 33_333_333
		if err := p.Submit(src); err != nil {
			t.Fatal(err)
		}
		if err := p.Get(dst, 20*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		step()
	}
	WaitLoads(time.Minute)
	if allocs := testing.AllocsPerRun(30, step); allocs != 0 {
		t.Fatalf("a frame with two people wearing their own sources allocates %.2f times, want 0", allocs)
	}
	if m := p.Metrics(); m.Faces != 2 {
		t.Fatalf("faces = %d, want 2", m.Faces)
	}
}
