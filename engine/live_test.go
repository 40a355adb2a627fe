package engine

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
	"facelive/engine/landmark"
	"facelive/engine/warp"
)

// The talking clip: the astronaut scene whose mouth opens and closes,
// then whose eyes blink. Each frame is the scene warped (engine/warp) from
// the photo's own landmarks (dlib's fit) onto moved ones, so the clip's
// landmarks are known exactly: the ground truth the outputs are held to.
const (
	clipFrames  = 90
	mouthStart  = 15 // frames of the mouth's cycle: it opens and closes
	mouthFrames = 30
	blinkStart  = 55 // and of the blink's
	blinkFrames = 16
	// The mouth opens by this much of the inter-ocular distance.
	mouthOpen = 0.35
)

// openAt and blinkAt are the mouth's opening (0..1) and the eyes' closing
// (0..1) in frame k: one smooth cycle each.
func openAt(k int) float64  { return cycle(k, mouthStart, mouthFrames) }
func blinkAt(k int) float64 { return cycle(k, blinkStart, blinkFrames) }

func cycle(k, start, n int) float64 {
	if k < start || k >= start+n {
		return 0
	}
	s := math.Sin(math.Pi * float64(k-start) / float64(n))
	return s * s
}

// talkingClip builds the clip's frames on demand.
type talkingClip struct {
	scene []byte         // the astronaut scene, 1280x720 BGR
	base  face.Landmarks // its dlib fit
	pts   []face.Point   // base landmarks, then a fixed ring around the face
	tris  []warp.Tri
	io    float64
}

const clipW, clipH = 1280, 720

var (
	clipOnce sync.Once
	clip     *talkingClip
	clipErr  error
	clipDlib *landmark.Dlib
)

func newTalkingClip(t *testing.T) *talkingClip {
	t.Helper()
	scene := astronautScene(t)
	clipOnce.Do(func() {
		clipDlib, clipErr = landmark.NewDlib(dlibModel())
		if clipErr != nil {
			return
		}
		c := &talkingClip{scene: scene}
		f := frametest.FromBGR(scene, clipW, clipH, frame.BGR24, 0)
		if clipErr = clipDlib.Fit(f, sceneBox(), &c.base); clipErr != nil {
			return
		}
		c.io = c.base.InterOcular()
		// The ring pins the warp a face's width around the landmarks: the
		// rest of the frame stays as it is.
		b := c.base.Bounds()
		g := 0.5 * b.W()
		x0, y0, x1, y1 := b.X0-g, b.Y0-g, b.X1+g, b.Y1+g
		c.pts = append(c.pts, c.base[:]...)
		for _, q := range [][2]float64{{0, 0}, {0.5, 0}, {1, 0}, {1, 0.5}, {1, 1}, {0.5, 1}, {0, 1}, {0, 0.5}} {
			c.pts = append(c.pts, face.Point{X: x0 + q[0]*(x1-x0), Y: y0 + q[1]*(y1-y0)})
		}
		c.tris, clipErr = warp.Delaunay(c.pts)
		clip = c
	})
	if clipErr != nil {
		t.Fatal(clipErr)
	}
	return clip
}

// sceneBox is the detector's box around the scene's face: dlib fits in it.
func sceneBox() face.Rect {
	return face.Rect{X0: float64(sceneFace.Min.X), Y0: float64(sceneFace.Min.Y), X1: float64(sceneFace.Max.X), Y1: float64(sceneFace.Max.Y)}
}

// landmarks returns frame k's true landmarks: the lower lip and the jaw
// drop with the opening, the upper lids come down onto the lower ones with
// the blink.
func (c *talkingClip) landmarks(k int) face.Landmarks {
	return c.base.Expression(openAt(k), blinkAt(k), mouthOpen*c.io)
}

// frame writes frame k (BGR) into dst: the scene warped onto k's
// landmarks, the opened mouth's inside dark as a mouth's is.
func (c *talkingClip) frame(k int, dst []byte) face.Landmarks {
	copy(dst, c.scene)
	lm := c.landmarks(k)
	to := append([]face.Point(nil), c.pts...)
	copy(to, lm[:])
	img := func(pix []byte) warp.Image {
		return warp.Image{Pix: pix, Stride: 3 * clipW, W: clipW, H: clipH, BPP: 3}
	}
	if err := warp.Triangles(img(dst), img(c.scene), c.tris, c.pts, to); err != nil {
		panic(err)
	}
	if o := openAt(k); o > 0 {
		inner := lm[60:68]
		b := polyBounds(inner)
		for y := int(b.Min.Y); y <= int(b.Max.Y)+1; y++ {
			for x := int(b.Min.X); x <= int(b.Max.X)+1; x++ {
				if insidePoly(inner, face.Point{X: float64(x), Y: float64(y)}) {
					p := dst[3*(y*clipW+x):]
					for ch, dark := range [3]float64{25, 20, 60} { // BGR: a dark red
						p[ch] = byte(float64(p[ch]) + min(1, 3*o)*(dark-float64(p[ch])))
					}
				}
			}
		}
	}
	return lm
}

type fbox struct{ Min, Max face.Point }

func polyBounds(poly []face.Point) fbox {
	b := fbox{poly[0], poly[0]}
	for _, p := range poly {
		b.Min.X, b.Min.Y = min(b.Min.X, p.X), min(b.Min.Y, p.Y)
		b.Max.X, b.Max.Y = max(b.Max.X, p.X), max(b.Max.Y, p.Y)
	}
	return b
}

// insidePoly: the even-odd rule.
func insidePoly(poly []face.Point, p face.Point) bool {
	in := false
	for i := range poly {
		a, b := poly[i], poly[(i+1)%len(poly)]
		if (a.Y > p.Y) != (b.Y > p.Y) && p.X < a.X+(p.Y-a.Y)*(b.X-a.X)/(b.Y-a.Y) {
			in = !in
		}
	}
	return in
}

// mouthOpening is the gap between the inner lips' middles (62, 66);
// eyeOpening the mean lid gap of both eyes (37–41, 38–40, 43–47, 44–46).
func mouthOpening(lm *face.Landmarks) float64 { return dist(lm[62], lm[66]) }

func eyeOpening(lm *face.Landmarks) float64 {
	return (dist(lm[37], lm[41]) + dist(lm[38], lm[40]) + dist(lm[43], lm[47]) + dist(lm[44], lm[46])) / 4
}

// regionDiff is the mean absolute BGR difference between a and b over the
// pixels inside poly.
func regionDiff(a, b *frame.Frame, poly []face.Point) (float64, int) {
	bb := polyBounds(poly)
	sum, n := 0.0, 0
	for y := int(bb.Min.Y); y <= int(bb.Max.Y)+1; y++ {
		for x := int(bb.Min.X); x <= int(bb.Max.X)+1; x++ {
			if !insidePoly(poly, face.Point{X: float64(x), Y: float64(y)}) {
				continue
			}
			pa, pb := frametest.ReadBGR(a, x, y), frametest.ReadBGR(b, x, y)
			for c := range 3 {
				sum += math.Abs(float64(pa[c]) - float64(pb[c]))
			}
			n += 3
		}
	}
	if n == 0 {
		return 0, 0
	}
	return sum / float64(n), n / 3
}

// liveRun is what one pass of the clip through the engine measured.
type liveRun struct {
	mouthDiff, eyeDiff    float64 // inner mouth / eyes: output vs input, mean levels over the open/closed frames
	mouthErr, mouthErrMax float64 // |output's re-fitted mouth opening − truth| / inter-ocular, mean and max
	eyeErr, eyeErrMax     float64 // the same for the eyes' opening over the blink
	inMouthErr, inEyeErr  float64 // dlib's own error on the input frames (its bias on this clip)
	// mouthOver, eyeOver: the largest, over the frames, of how much
	// further the output's re-fit is from the truth than dlib's re-fit of
	// that frame's input (output error − input error); at frames
	// mouthOverAt, eyeOverAt.
	mouthOver, eyeOver     float64
	mouthOverAt, eyeOverAt int
	// mouthApart, eyeApart: the largest, over the frames, of how far the
	// output's re-fitted opening is from the input's, measured the same
	// way (|output − input| / inter-ocular): the issue's "follows the
	// input's within 10 %" per frame, read on both sides by dlib.
	mouthApart, eyeApart   float64
	outMouthMax, outEyeMin float64 // the output's widest mouth and narrowest eyes, / inter-ocular
	inMouthMax, inEyeMin   float64 // the truth's
	// stillMouthErr, stillEyeErr: the opening errors of a face that does
	// not move (the clip's first frame held): what a still photo scores.
	stillMouthErr, stillEyeErr float64
	outEyeOpen                 float64 // the output's eye opening just before the blink, / inter-ocular
}

// runTalkingClip sends the clip through a pipeline with cfg and measures
// every output against its input and the truth.
func runTalkingClip(t *testing.T, cfg string) liveRun {
	c := newTalkingClip(t)
	p := newPipeline(t, cfg)
	waitFaceReady(t, p)
	bgr := make([]byte, clipW*clipH*3)
	var r liveRun
	var nMouth, nEye, nMouthPix, nEyePix int
	var mouthPix, eyePix float64
	r.outEyeMin, r.inEyeMin = math.Inf(1), math.Inf(1)
	r.mouthOver, r.eyeOver = math.Inf(-1), math.Inf(-1)
	dump := os.Getenv("FACELIVE_TEST_DUMP")
	for k := range clipFrames {
		truth := c.frame(k, bgr)
		in := frametest.FromBGR(bgr, clipW, clipH, frame.NV12, 0)
		in.PTS = int64(k) * int64(time.Second/30)
		orig, out := frametest.Clone(in), frametest.Blank(in)
		if err := p.Submit(in); err != nil {
			t.Fatal(err)
		}
		if err := p.Get(out, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if k < confirmFrames+2 {
			continue // the face is being confirmed
		}
		var fitIn, fitOut face.Landmarks
		if err := clipDlib.Fit(orig, sceneBox(), &fitIn); err != nil {
			t.Fatal(err)
		}
		if err := clipDlib.Fit(out, sceneBox(), &fitOut); err != nil {
			t.Fatal(err)
		}
		if o := openAt(k); o > 0.5 {
			d, n := regionDiff(orig, out, truth[60:68])
			mouthPix += d * float64(n)
			nMouthPix += n
		}
		if k >= mouthStart && k < mouthStart+mouthFrames {
			want := mouthOpening(&truth)
			e, in := math.Abs(mouthOpening(&fitOut)-want)/c.io, math.Abs(mouthOpening(&fitIn)-want)/c.io
			r.mouthErr += e
			r.mouthErrMax = max(r.mouthErrMax, e)
			r.inMouthErr += in
			if e-in > r.mouthOver {
				r.mouthOver, r.mouthOverAt = e-in, k
			}
			r.mouthApart = max(r.mouthApart, math.Abs(mouthOpening(&fitOut)-mouthOpening(&fitIn))/c.io)
			if testing.Verbose() {
				t.Logf("frame %d: mouth open %.2f, opening / eye distance: truth %.3f, re-fit on the input %.3f, on the output %.3f", k, openAt(k), want/c.io, mouthOpening(&fitIn)/c.io, mouthOpening(&fitOut)/c.io)
			}
			r.outMouthMax = max(r.outMouthMax, mouthOpening(&fitOut)/c.io)
			r.inMouthMax = max(r.inMouthMax, want/c.io)
			r.stillMouthErr += math.Abs(mouthOpening(&c.base)-want) / c.io
			nMouth++
		}
		if b := blinkAt(k); b > 0.5 {
			for _, eye := range [][]face.Point{truth[36:42], truth[42:48]} {
				d, n := regionDiff(orig, out, eye)
				eyePix += d * float64(n)
				nEyePix += n
			}
		}
		if k >= blinkStart && k < blinkStart+blinkFrames {
			want := eyeOpening(&truth)
			e, in := math.Abs(eyeOpening(&fitOut)-want)/c.io, math.Abs(eyeOpening(&fitIn)-want)/c.io
			r.eyeErr += e
			r.eyeErrMax = max(r.eyeErrMax, e)
			r.inEyeErr += in
			if e-in > r.eyeOver {
				r.eyeOver, r.eyeOverAt = e-in, k
			}
			r.eyeApart = max(r.eyeApart, math.Abs(eyeOpening(&fitOut)-eyeOpening(&fitIn))/c.io)
			if testing.Verbose() {
				t.Logf("frame %d: eyes closed %.2f, opening / eye distance: truth %.3f, re-fit on the input %.3f, on the output %.3f", k, blinkAt(k), want/c.io, eyeOpening(&fitIn)/c.io, eyeOpening(&fitOut)/c.io)
			}
			r.outEyeMin = min(r.outEyeMin, eyeOpening(&fitOut)/c.io)
			r.inEyeMin = min(r.inEyeMin, want/c.io)
			r.stillEyeErr += math.Abs(eyeOpening(&c.base)-want) / c.io
			nEye++
		}
		if k == blinkStart-1 {
			r.outEyeOpen = eyeOpening(&fitOut) / c.io
		}
		inCycle := (k >= mouthStart && k < mouthStart+mouthFrames) || (k >= blinkStart && k < blinkStart+blinkFrames)
		if dump != "" && inCycle {
			writeBGRPNG(t, filepath.Join(dump, fmt.Sprintf("live_%s_%02d_in.png", filepath.Base(t.Name()), k)), orig)
			writeBGRPNG(t, filepath.Join(dump, fmt.Sprintf("live_%s_%02d_out.png", filepath.Base(t.Name()), k)), out)
		}
	}
	if nMouthPix == 0 || nEyePix == 0 || nMouth == 0 || nEye == 0 {
		t.Fatal("the clip measured nothing")
	}
	r.mouthDiff, r.eyeDiff = mouthPix/float64(nMouthPix), eyePix/float64(nEyePix)
	r.mouthErr /= float64(nMouth)
	r.stillMouthErr /= float64(nMouth)
	r.stillEyeErr /= float64(nEye)
	r.inMouthErr /= float64(nMouth)
	r.eyeErr /= float64(nEye)
	r.inEyeErr /= float64(nEye)
	if m := p.Metrics(); m.Faces != 1 {
		t.Fatalf("faces = %d at the clip's end", m.Faces)
	}
	t.Logf("inner mouth: output vs input %.1f levels; mouth opening error %.3f mean, %.3f max of the eye distance (dlib on the input: %.3f, a still mouth: %.3f); widest %.2f (truth %.2f); at worst %+.3f beyond dlib's error on the input (frame %d)",
		r.mouthDiff, r.mouthErr, r.mouthErrMax, r.inMouthErr, r.stillMouthErr, r.outMouthMax, r.inMouthMax, r.mouthOver, r.mouthOverAt)
	t.Logf("worst frame, output's re-fit vs the input's: mouth opening %.3f, eye opening %.3f of the eye distance", r.mouthApart, r.eyeApart)
	t.Logf("eyes: output vs input %.1f levels; eye opening error %.3f mean, %.3f max (dlib on the input: %.3f, a still eye: %.3f); narrowest %.3f of open %.3f (truth %.3f of %.3f); at worst %+.3f beyond dlib's error on the input (frame %d)",
		r.eyeDiff, r.eyeErr, r.eyeErrMax, r.inEyeErr, r.stillEyeErr, r.outEyeMin, r.outEyeOpen, r.inEyeMin, eyeOpening(&c.base)/c.io, r.eyeOver, r.eyeOverAt)
	return r
}

// The acceptance test of live features: with live_mouth the person's own
// mouth shows where the swapped face would be, and the output's mouth
// opens and closes with the input's; with live_eyes the same for a blink.
// Without them the inner mouth is the photo's, far from the input: the
// measure can fail.
//
// Frame by frame, the output's opening is held to dlib's reading of the
// input frame, not to the truth alone. At the widest frames dlib re-fitted
// on the input itself reads the mouth 0.14 of the eye distance narrower
// than it is (this clip's dark, wide-open mouth is beyond what its shape
// model bends to: in the dumped frames the fitted inner lower lip sits in
// the middle of the dark opening, on the input as on the output), so no
// output can score under 0.10 there. What the output is held to is that
// its re-fit is never much further from the truth than the input's:
// measured at +0.014 for the mouth in step (the closed smile's lips read
// a pixel apart), +0.017 decoupled, and +0.004 for the eyes, the same in
// five runs. (Where the output's reading differs most from the input's, by up
// to 0.08 as the mouth closes, it is the nearer to the truth: the
// landmarks' smoothing lags, the source's lower lip is drawn a little
// low, and dlib takes its edge for the opening's.) Broken on purpose it
// fails: with the live features off, +0.049 and +0.034; a photo swap that
// does not follow the face, +0.032 for the mouth; a live-mouth margin of
// 0.04 instead of 0.12, +0.029 (decoupled). The eyes' own maximum error
// stays under 0.04 even for a still eye (it is only 0.1 of the eye
// distance open), so their bound is the relative one too.
func TestLiveFeaturesFollowMouthAndBlinks(t *testing.T) {
	const maxMouthOver, maxEyeOver = 0.025, 0.02 // of the eye distance, per frame
	photo := filepath.Join(thirdParty(t), "faces", "sample2.jpg")
	for _, tc := range []struct {
		name string
		cfg  string
		live bool
	}{
		{"live in step", `"mode":"quality"`, true},
		{"live decoupled", `"mode":"realtime","decouple":"on"`, true},
		{"live off", `"mode":"quality","merge":{"live_eyes":false,"live_mouth":false}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runTalkingClip(t, fmt.Sprintf(`{%s,"workers":1,"swapper":{"kind":"photo","face":%q}}`, tc.cfg, photo))
			// A still mouth fails the opening measure; a still eye would
			// pass it (a whole eye is about 10 % of the eye distance
			// open), so the blink must also show in the output's re-fit:
			// the eyes close to under 60 % of their opening.
			if r.stillMouthErr <= 0.10 {
				t.Fatalf("a still mouth is only %.3f of the eye distance off: the clip's mouth barely moves", r.stillMouthErr)
			}
			if !tc.live {
				if r.mouthDiff <= 6 {
					t.Fatalf("without live_mouth the inner mouth is %.1f levels from the input's: the measure cannot tell", r.mouthDiff)
				}
				if r.eyeDiff <= 6 {
					t.Fatalf("without live_eyes the eyes are %.1f levels from the input's: the measure cannot tell", r.eyeDiff)
				}
				if r.mouthOver <= maxMouthOver || r.eyeOver <= maxEyeOver {
					t.Fatalf("without live features the output's re-fit is at worst only %+.3f (mouth) and %+.3f (eyes) of the eye distance beyond the input's: the per-frame measure cannot tell", r.mouthOver, r.eyeOver)
				}
				return
			}
			if r.mouthDiff > 6 {
				t.Errorf("inner mouth %.1f levels from the input's on average, want ≤ 6", r.mouthDiff)
			}
			if r.eyeDiff > 6 {
				t.Errorf("eyes %.1f levels from the input's on average during the blink, want ≤ 6", r.eyeDiff)
			}
			if r.mouthErr > 0.10 {
				t.Errorf("the output's mouth opening is %.3f of the eye distance off the input's on average, want ≤ 0.10", r.mouthErr)
			}
			if r.eyeErr > 0.10 {
				t.Errorf("the output's eye opening is %.3f of the eye distance off the input's on average, want ≤ 0.10", r.eyeErr)
			}
			if r.mouthOver > maxMouthOver {
				t.Errorf("frame %d: the output's mouth opening is %.3f of the eye distance further from the truth than dlib's re-fit of the input, want ≤ %.3f", r.mouthOverAt, r.mouthOver, maxMouthOver)
			}
			if r.eyeOver > maxEyeOver {
				t.Errorf("frame %d: the output's eye opening is %.3f of the eye distance further from the truth than dlib's re-fit of the input, want ≤ %.3f", r.eyeOverAt, r.eyeOver, maxEyeOver)
			}
			// In step only: decoupled, which frame's warp a frame gets
			// depends on the machine (0.069-0.082 here), so it is logged.
			if !strings.Contains(tc.cfg, "decouple") && (r.mouthApart > 0.10 || r.eyeApart > 0.10) {
				t.Errorf("in its worst frame the output's re-fitted opening is %.3f (mouth) and %.3f (eyes) of the eye distance from the input's, want ≤ 0.10 in every frame", r.mouthApart, r.eyeApart)
			}
			if r.outEyeMin > 0.6*r.outEyeOpen {
				t.Errorf("the output's eyes close only to %.3f from %.3f of the eye distance: no blink", r.outEyeMin, r.outEyeOpen)
			}
		})
	}
}

// A photo swap that follows the face, with the live features, allocates
// nothing per frame once warm: in step and decoupled, on a face that moves
// its mouth (two of the talking clip's frames in turn).
func TestFollowingPhotoSwapAllocatesNothing(t *testing.T) {
	c := newTalkingClip(t)
	photo := filepath.Join(thirdParty(t), "faces", "sample2.jpg")
	var frames [2]*frame.Frame
	bgr := make([]byte, clipW*clipH*3)
	for i, k := range []int{0, mouthStart + mouthFrames/2} {
		c.frame(k, bgr)
		frames[i] = frametest.FromBGR(bgr, clipW, clipH, frame.NV12, 0)
	}
	for _, tc := range []struct{ name, cfg string }{
		{"in step", `"mode":"quality"`},
		{"decoupled", `"mode":"realtime","decouple":"on"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPipeline(t, fmt.Sprintf(`{%s,"workers":1,"swapper":{"kind":"photo","face":%q}}`, tc.cfg, photo))
			waitFaceReady(t, p)
			dst := frametest.Blank(frames[0])
			n := 0
			step := func() {
				src := frames[n%2]
				n++
				src.PTS = int64(n) * int64(time.Second/30)
				if err := p.Submit(src); err != nil {
					t.Fatal(err)
				}
				if err := p.Get(dst, 10*time.Second); err != nil {
					t.Fatal(err)
				}
			}
			for range 20 {
				step()
			}
			WaitLoads(time.Minute)
			if m := p.Metrics(); m.Faces != 1 {
				t.Fatalf("faces = %d: the face is not swapped", m.Faces)
			}
			if allocs := testing.AllocsPerRun(40, step); allocs != 0 {
				t.Fatalf("a frame allocates %.2f times, want 0", allocs)
			}
		})
	}
}
