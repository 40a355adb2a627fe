package engine

import (
	"fmt"
	"image"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"facelive/engine/align"
	"facelive/engine/detect"
	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
	"facelive/engine/landmark"
	"facelive/engine/merge"
	"facelive/engine/swap"
)

// synthFace is the mean face with its landmark bounds stretched onto r
// (squashed when r is flatter than a face).
func synthFace(r face.Rect) face.Landmarks {
	b := landmark.MeanFace.Bounds()
	var out face.Landmarks
	for i, p := range landmark.MeanFace {
		out[i] = face.Point{X: r.X0 + (p.X-b.X0)/b.W()*r.W(), Y: r.Y0 + (p.Y-b.Y0)/b.H()*r.H()}
	}
	return out
}

// synthDetection is a BlazeFace-like detection of lm: a square box
// boxW wide on the landmarks' centre, keypoints on lm's eyes, nose, mouth
// and jaw sides.
func synthDetection(lm *face.Landmarks, boxW float64) face.Detection {
	c := lm.Bounds().Center()
	d := face.Detection{Box: face.Rect{X0: c.X - boxW/2, Y0: c.Y - boxW/2, X1: c.X + boxW/2, Y1: c.Y + boxW/2},
		Score: 0.9, HasKeypoints: true}
	fp := pointsOf(&landmark.Result{Points: *lm, N: 68})
	d.Keypoints[face.RightEye], d.Keypoints[face.LeftEye] = fp.rEye, fp.lEye
	d.Keypoints[face.NoseTip], d.Keypoints[face.Mouth] = fp.nose, fp.mouth
	d.Keypoints[face.RightEar], d.Keypoints[face.LeftEar] = lm[0], lm[16]
	return d
}

// rotate turns lm by deg about c (positive: clockwise on screen).
func rotate(lm face.Landmarks, c face.Point, deg float64) face.Landmarks {
	s, co := math.Sincos(deg * math.Pi / 180)
	for i, p := range lm {
		dx, dy := p.X-c.X, p.Y-c.Y
		lm[i] = face.Point{X: c.X + co*dx - s*dy, Y: c.Y + s*dx + co*dy}
	}
	return lm
}

// turned moves lm's nose tip along the jaw line so that yaw(lm) is y.
func turned(lm face.Landmarks, y float64) face.Landmarks {
	t := (1 + y) / 2
	lm[30] = face.Point{X: lm[0].X + t*(lm[16].X-lm[0].X), Y: lm[0].Y + t*(lm[16].Y-lm[0].Y) + (lm[30].Y - (lm[0].Y+lm[16].Y)/2)}
	return lm
}

// The gate's decisions on synthetic fits: real-looking faces pass, fresh
// or tracked, rolled or turned; fits that disagree with their box or do
// not have a face's shape fail, with the reason.
func TestGateJudgesFits(t *testing.T) {
	faceBox := face.Rect{X0: 200, Y0: 150, X1: 372, Y1: 310} // landmark bounds of a ~200 px face
	lm := synthFace(faceBox)
	det := synthDetection(&lm, faceBox.W()/0.86) // the real median: landmarks 0.86 of the box's width

	// The torso: a big box on a body, dlib's points squashed into a band low in it.
	torsoDet := face.Detection{Box: face.Rect{X0: 100, Y0: 200, X1: 500, Y1: 600}, Score: 0.62, HasKeypoints: true}
	torso := synthFace(face.Rect{X0: 140, Y0: 470, X1: 460, Y1: 560})
	fp := pointsOf(&landmark.Result{Points: torso, N: 68})
	torsoDet.Keypoints[face.RightEye], torsoDet.Keypoints[face.LeftEye] = fp.rEye, fp.lEye
	torsoDet.Keypoints[face.NoseTip], torsoDet.Keypoints[face.Mouth] = fp.nose, fp.mouth

	small := synthFace(face.Rect{X0: 250, Y0: 190, X1: 310, Y1: 245}) // a fit a third of its box
	beside := det
	beside.Box.X0, beside.Box.X1 = det.Box.X0+0.6*det.Box.W(), det.Box.X1+0.6*det.Box.W()
	beside.Keypoints = det.Keypoints
	kpOff := det
	for k := range kpOff.Keypoints[:face.Mouth+1] {
		kpOff.Keypoints[k].Y += 0.8 * det.Box.W()
	}
	eyesClose := lm // both eyes moved 80 % of the way to their midpoint
	mid := face.Point{X: (lm[39].X + lm[42].X) / 2, Y: (lm[39].Y + lm[42].Y) / 2}
	for i := 36; i < 48; i++ {
		eyesClose[i] = face.Point{X: mid.X + 0.2*(lm[i].X-mid.X), Y: lm[i].Y}
	}
	mouthUp := lm // the mouth above the nose tip
	for i := 48; i < 68; i++ {
		mouthUp[i].Y -= 1.2 * (lm[57].Y - lm[30].Y)
	}
	tall := synthFace(face.Rect{X0: 250, Y0: 0, X1: 322, Y1: 470}) // stretched down the frame
	var collapsed face.Landmarks
	for i := range collapsed {
		collapsed[i] = face.Point{X: 300, Y: 200}
	}
	rolled := rotate(lm, lm.Bounds().Center(), 30)
	rolledDet := synthDetection(&rolled, faceBox.W()/0.86)
	flipped := lm // mirrored top to bottom: the nose and mouth above the eyes
	for i := range flipped {
		flipped[i].Y = 2*lm.Bounds().Center().Y - lm[i].Y
	}
	turn := turned(lm, 0.6)
	var kp landmark.Result // the detector's own keypoints (no dlib model)
	copy(kp.Points[:], det.Keypoints[:])
	kp.N = face.NumKeypoints
	haar := det
	haar.HasKeypoints = false

	for _, tc := range []struct {
		name string
		lm   face.Landmarks
		n    int             // 68 unless set
		det  *face.Detection // nil: tracking
		why  string          // "" passes
		what string
	}{
		{name: "frontal face, fresh", lm: lm, det: &det},
		{name: "frontal face, tracking", lm: lm},
		{name: "rolled 30°", lm: rolled, det: &rolledDet},
		{name: "turned (yaw 0.6)", lm: turn, det: &det},
		{name: "Haar box, no keypoints", lm: lm, det: &haar},
		{name: "keypoints only", lm: kp.Points, n: face.NumKeypoints, det: &det},
		{name: "torso: squashed low in a big box", lm: torso, det: &torsoDet, why: whyDetector, what: "landmark height"},
		{name: "fit a third of its box", lm: small, det: &det, why: whyDetector, what: "landmark width"},
		{name: "fit beside its box", lm: lm, det: &beside, why: whyDetector, what: "centre"},
		{name: "eyes too close for the box", lm: eyesClose, det: &det, why: whyDetector, what: "eye distance"},
		{name: "detector's keypoints elsewhere", lm: lm, det: &kpOff, why: whyDetector, what: "keypoints"},
		{name: "eyes too close, tracking", lm: eyesClose, why: whyShape, what: "eye distance"},
		{name: "nose and mouth above the eyes", lm: flipped, why: whyShape, what: "nose tip"},
		{name: "upside down (rolled 180°)", lm: rotate(lm, lm.Bounds().Center(), 180)}, // still a face's shape
		{name: "mouth above the nose", lm: mouthUp, why: whyShape, what: "mouth"},
		{name: "stretched tall, tracking", lm: tall, why: whyShape, what: "nose tip"},
		{name: "collapsed to a point", lm: collapsed, why: whyShape, what: "eye distance"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := landmark.Result{Points: tc.lm, N: 68}
			if tc.n != 0 {
				r.N = tc.n
			}
			v := judge(&r, tc.det)
			f := measure(&r, tc.det)
			if v.why != tc.why || !strings.Contains(v.what, tc.what) {
				t.Fatalf("verdict %+v, want %q about %q (figures %+v)", v, tc.why, tc.what, f)
			}
			if !v.ok() {
				t.Logf("%s", v.message(7))
			}
		})
	}
	v := judge(&landmark.Result{Points: torso, N: 68}, &torsoDet)
	if msg := v.message(12); !strings.HasPrefix(msg, "face 12 not swapped: landmarks disagree with the detector (landmark height 0.2") ||
		!strings.Contains(msg, "want 0.40–1.60") {
		t.Fatalf("message %q", msg)
	}
}

// The confirmation count: a new face needs confirmFrames passes in a row;
// a confirmed one skips a failed frame and must confirm again after
// dropFails in a row.
func TestGateConfirms(t *testing.T) {
	for _, tc := range []struct {
		name, passes, swaps string // P pass / F fail; S swapped / - not
	}{
		{"new face", "PPPPP", "--SSS"},
		{"never a face", "FFFF", "----"},
		{"a failed frame while confirming starts over", "PPFPPP", "-----S"},
		{"a confirmed face skips one failed frame", "PPPFPP", "--S-SS"},
		{"two failed frames in a row: confirm again", "PPPFFPPP", "--S----S"},
		{"failures apart do not add up", "PPPFPFPFP", "--S-S-S-S"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g gateState
			var got strings.Builder
			for _, c := range tc.passes {
				if g.step(c == 'P') {
					got.WriteByte('S')
				} else {
					got.WriteByte('-')
				}
			}
			if got.String() != tc.swaps {
				t.Fatalf("passes %s swapped %s, want %s", tc.passes, got.String(), tc.swaps)
			}
		})
	}
}

// The yaw fade: full opacity up to yawFull, none from yawGone, linear in
// between, whatever the roll.
func TestYawFade(t *testing.T) {
	lm := synthFace(face.Rect{X0: 200, Y0: 150, X1: 372, Y1: 310})
	if y := yaw(&landmark.Result{Points: lm, N: 68}); y > 0.01 {
		t.Fatalf("the mean face's yaw is %.3f, want 0", y)
	}
	mid := (yawFull + yawGone) / 2
	for _, tc := range []struct {
		yaw, roll, want float64
	}{
		{0, 0, 1}, {0.4, 0, 1}, {yawFull, 0, 1}, {mid, 0, 0.5}, {yawGone, 0, 0}, {1, 0, 0},
		{mid, 35, 0.5}, {0.3, -40, 1}, {yawGone, 20, 0},
	} {
		l := rotate(turned(lm, tc.yaw), lm.Bounds().Center(), tc.roll)
		r := landmark.Result{Points: l, N: 68}
		if got := yawFade(&r); math.Abs(got-tc.want) > 1e-6 {
			t.Errorf("yaw %.3f, roll %.0f°: fade %.3f, want %.3f", tc.yaw, tc.roll, got, tc.want)
		}
	}
	// The detector's keypoints have no jaw: no fade.
	if got := yawFade(&landmark.Result{N: face.NumKeypoints}); got != 1 {
		t.Errorf("keypoints: fade %v, want 1", got)
	}
}

// The per-crop fade reaches the merge: a face faded to half changes the
// frame half as much.
func TestMergeAppliesTheCropsFade(t *testing.T) {
	const size = 64
	lm := synthFace(face.Rect{X0: 80, Y0: 80, X1: 176, Y1: 176})
	o := align.DefaultOptions(&landmark.MeanFace)
	o.Size = size
	tf, err := align.Fit(&lm, o)
	if err != nil {
		t.Fatal(err)
	}
	white, mask := make([]byte, size*size*3), make([]float32, size*size)
	for i := range white {
		white[i] = 255
	}
	for i := range mask {
		mask[i] = 1
	}
	opts := &faceOptions{merge: merge.Options{ColorTransfer: "none", Opacity: 1}}
	ms := &mergeStage{log: func(Level, string) {}, merger: merge.New()}
	for _, tc := range []struct{ fade, want float64 }{{1, 255}, {0.5, 128 + 127*0.5}, {0.25, 128 + 127*0.25}} {
		f := blank(frame.BGR24, 256, 256, 0)
		for i := range f.Planes[0] {
			f.Planes[0][i] = 128
		}
		j := &faceJob{f: f, dmg: &frame.Damage{}, o: opts}
		j.crops.grow(1, size)
		j.crops.tfs[0], j.crops.ok[0], j.crops.fade[0] = tf, true, tc.fade
		ms.paste(j, 0, white, mask, func() int64 { return 0 })
		if got := frametest.ReadBGR(f, 128, 128)[1]; math.Abs(float64(got)-tc.want) > 2 {
			t.Errorf("fade %.2f: the face's centre is %d, want %.0f", tc.fade, got, tc.want)
		}
	}
}

// fakeDetector finds dets on whole frames of width w (nothing on the
// small-face tiles and windows, which are narrower).
type fakeDetector struct {
	w    int
	dets []face.Detection
}

func (d *fakeDetector) Detect(f *frame.Frame, dst []face.Detection) ([]face.Detection, error) {
	if f.Width != d.w {
		return dst[:0], nil
	}
	return append(dst[:0], d.dets...), nil
}
func (d *fakeDetector) Close() error { return nil }

// fakeFitter "finds" lm wherever it is asked to look, as dlib finds a
// face in any box.
type fakeFitter struct{ lm face.Landmarks }

func (f *fakeFitter) Fit(_ *frame.Frame, _ *face.Detection, out *landmark.Result) error {
	out.Points, out.N = f.lm, 68
	return nil
}

// The tracker and the gate together, with a scripted detector and fitter:
// a new face is swapped from its 3rd frame; a torso-like false detection
// never is, is counted on every frame and logged once; a turned face
// fades; a confirmed face that fails skips that frame, and after two
// failed frames in a row confirms again.
func TestTrackerSwapsOnlyConfirmedPlausibleFaces(t *testing.T) {
	faceLm := synthFace(face.Rect{X0: 240, Y0: 150, X1: 400, Y1: 300})
	faceDet := synthDetection(&faceLm, 160/0.86)
	torsoDet := face.Detection{Box: face.Rect{X0: 120, Y0: 60, X1: 520, Y1: 460}, Score: 0.6, HasKeypoints: true}
	torsoLm := synthFace(face.Rect{X0: 160, Y0: 340, X1: 480, Y1: 430})
	fp := pointsOf(&landmark.Result{Points: torsoLm, N: 68})
	torsoDet.Keypoints[face.RightEye], torsoDet.Keypoints[face.LeftEye] = fp.rEye, fp.lEye
	torsoDet.Keypoints[face.NoseTip], torsoDet.Keypoints[face.Mouth] = fp.nose, fp.mouth

	type step struct {
		lm     face.Landmarks
		det    face.Detection
		swap   bool
		fade   float64 // checked when swap
		reject uint64  // faces_rejected after the step
	}
	good := func(swap bool, reject uint64) step {
		return step{lm: faceLm, det: faceDet, swap: swap, fade: 1, reject: reject}
	}
	bad := func(reject uint64) step { return step{lm: torsoLm, det: faceDet, reject: reject} }
	half := turned(faceLm, (yawFull+yawGone)/2)
	for _, tc := range []struct {
		name  string
		steps []step
		logs  int
	}{
		{"a new face from its 3rd frame", []step{good(false, 0), good(false, 0), good(true, 0), good(true, 0), good(true, 0)}, 0},
		{"a torso never", []step{
			{lm: torsoLm, det: torsoDet, reject: 1}, {lm: torsoLm, det: torsoDet, reject: 2},
			{lm: torsoLm, det: torsoDet, reject: 3}, {lm: torsoLm, det: torsoDet, reject: 4}}, 1},
		{"a turned face fades", []step{
			{lm: half, det: faceDet}, {lm: half, det: faceDet}, {lm: half, det: faceDet, swap: true, fade: 0.5},
			{lm: turned(faceLm, 1), det: faceDet}, {lm: faceLm, det: faceDet, swap: true, fade: 1}}, 0},
		{"a confirmed face that fails", []step{
			good(false, 0), good(false, 0), good(true, 0), bad(1), good(true, 1), bad(2), bad(3),
			good(false, 3), good(false, 3), good(true, 3)}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fr := blank(frame.BGR24, 640, 480, 0)
			det := &fakeDetector{w: fr.Width}
			fit := &fakeFitter{}
			var sw swap.Swapper = stampSwapper{}
			var logs []string
			m := &faceModels{det: det, fit: fit, sw: sw, align: align.DefaultOptions(&landmark.MeanFace),
				log: func(_ Level, msg string) { logs = append(logs, msg) }}
			m.align.Size = sw.Size()
			st := newStats(make([]string, firstExtraStage), &fakeClock{})
			tk := newTracker(st, func() int64 { return 0 })
			o := &faceOptions{interval: 1, maxFaces: 4}
			j := &faceJob{}
			for i, s := range tc.steps {
				det.dets, fit.lm = append(det.dets[:0], s.det), s.lm
				fr.PTS = int64(i) * 33_000_000
				*j = faceJob{f: fr, m: m, o: o, crops: j.crops}
				tk.track(j)
				if len(j.crops.ok) != 1 {
					t.Fatalf("frame %d: %d crops, want 1", i, len(j.crops.ok))
				}
				if j.crops.ok[0] != s.swap {
					t.Fatalf("frame %d: swapped %v, want %v (logs %q)", i, j.crops.ok[0], s.swap, logs)
				}
				if s.swap && math.Abs(j.crops.fade[0]-s.fade) > 0.01 {
					t.Fatalf("frame %d: fade %.3f, want %.3f", i, j.crops.fade[0], s.fade)
				}
				if got := st.snapshot().FacesRejected; got != s.reject {
					t.Fatalf("frame %d: faces_rejected %d, want %d", i, got, s.reject)
				}
			}
			if len(logs) != tc.logs {
				t.Fatalf("%d log lines, want %d: %q", len(logs), tc.logs, logs)
			}
			for _, l := range logs {
				if !strings.HasPrefix(l, "face 1 not swapped: landmarks disagree with the detector (") {
					t.Fatalf("log line %q", l)
				}
				t.Log(l)
			}
		})
	}
}

// stillFrames submits src n times, 30 fps apart, and calls each(i, out)
// with each frame as it comes back (quality mode: in order).
func stillFrames(t *testing.T, p *Pipeline, src *frame.Frame, n int, each func(i int, out *frame.Frame)) {
	t.Helper()
	for i := range n {
		dst := frametest.Blank(src)
		src.PTS = int64(i) * 33_333_333
		if err := p.Submit(src); err != nil {
			t.Fatal(err)
		}
		if err := p.Get(dst, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		each(i, dst)
	}
}

// TestNewFaceIsSwappedFromItsThirdFrame: the real pipeline leaves a new
// face alone on its first two frames and swaps it from the third; a real
// face is never refused.
func TestNewFaceIsSwappedFromItsThirdFrame(t *testing.T) {
	p := newPipeline(t, `{"mode":"quality","workers":1,"swapper":{"kind":"photo"},"detector":{"interval":1}}`)
	waitFaceReady(t, p)
	src := frametest.FromBGR(astronautScene(t), 1280, 720, frame.NV12, 0)
	orig := frametest.Clone(src)
	stillFrames(t, p, src, confirmFrames+2, func(i int, dst *frame.Frame) {
		m := p.Metrics()
		swapped := m.Faces == 1 && faceChange(orig, dst) >= 4
		if want := i >= confirmFrames-1; swapped != want || (!want && !sameRows(orig, dst)) {
			t.Fatalf("frame %d: faces %d, face changed by %.1f levels; want swapped %v", i, m.Faces, faceChange(orig, dst), want)
		}
		if m.FacesRejected != 0 {
			t.Fatalf("frame %d: faces_rejected %d for a real face", i, m.FacesRejected)
		}
	})
}

// TestRealFacesPassTheGate runs BlazeFace (and Haar) and dlib over the test
// photos at four sizes, fresh and tracked (three refits in the fit's own
// box), and checks that every real face passes; it prints the figures the
// limits in gate.go come from (go test -v -run RealFacesPassTheGate).
// Photos shrunk onto a 1280x720 frame (faces of 40-90 px, below
// BlazeFace's range) give its false boxes; their figures are printed too.
func TestRealFacesPassTheGate(t *testing.T) {
	bf, err := detect.New(detect.Options{Threshold: 0.5, MaxFaces: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	haar, err := detect.NewHaar(detect.Options{MaxFaces: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer haar.Close()
	dl, err := landmark.NewDlib(dlibModel())
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	fit := landmark.DlibFitter{Dlib: dl}

	figures := map[string][]fitFigures{}
	yaws := map[string][]float64{}
	for _, name := range []string{"astronaut.png", "sample1.jpg", "sample2.jpg", "sample3.jpg", "sample4.jpg", "sample5.jpg", "sample6.jpg"} {
		img := gocv.IMRead(filepath.Join(thirdParty(t), "faces", name), gocv.IMReadColor)
		if img.Empty() {
			t.Fatalf("cannot read %s: run make deps", name)
		}
		for _, sc := range []struct {
			set  string
			long int // the photo's longer side
		}{{"real", 640}, {"real", 960}, {"real", 1280}, {"real", 1920}, {"shrunk", 300}, {"shrunk", 420}, {"shrunk", 540}, {"shrunk", 700}} {
			fr := gateScene(img, sc.long, sc.set == "shrunk")
			for _, d := range []struct {
				name string
				det  detect.Detector
			}{{"BlazeFace", bf}, {"Haar", haar}} {
				if sc.set == "shrunk" && d.name == "Haar" {
					continue
				}
				dets, err := d.det.Detect(fr, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, det := range dets {
					var r landmark.Result
					if err := fit.Fit(fr, &det, &r); err != nil {
						continue
					}
					where := fmt.Sprintf("%s at %d px, %s box %.0f px (score %.2f)", name, sc.long, d.name, det.Box.W(), det.Score)
					set := sc.set + " " + d.name
					figures[set] = append(figures[set], measure(&r, &det))
					yaws[set] = append(yaws[set], yaw(&r))
					if sc.set == "shrunk" {
						t.Logf("false box? %s: %+v", where, measure(&r, &det))
						continue
					}
					if v := judge(&r, &det); !v.ok() {
						t.Errorf("%s: refused: %s", where, v.message(0))
					}
					if d.name == "BlazeFace" {
						var kp landmark.Result
						if err := (landmark.KeypointFitter{}).Fit(fr, &det, &kp); err != nil {
							t.Fatal(err)
						}
						figures["real keypoints"] = append(figures["real keypoints"], measure(&kp, nil))
						if v := judge(&kp, &det); !v.ok() {
							t.Errorf("%s, keypoints only: refused: %s", where, v.message(0))
						}
					}
					for k := range 3 {
						tb := face.Detection{Box: trackBox(&r.Points)}
						if err := fit.Fit(fr, &tb, &r); err != nil {
							break
						}
						figures["real tracking"] = append(figures["real tracking"], measure(&r, nil))
						yaws["real tracking"] = append(yaws["real tracking"], yaw(&r))
						if v := judge(&r, nil); !v.ok() {
							t.Errorf("%s, tracking refit %d: refused: %s", where, k+1, v.message(0))
						}
					}
				}
			}
		}
		img.Close()
	}
	if n := len(figures["real BlazeFace"]); n < 40 {
		t.Fatalf("only %d BlazeFace detections on the test photos", n)
	}
	// The distributions, for the comment in gate.go.
	fields := []struct {
		name  string
		get   func(f *fitFigures) float64
		fresh bool
	}{
		{"width/box", func(f *fitFigures) float64 { return f.width }, true},
		{"height/box", func(f *fitFigures) float64 { return f.height }, true},
		{"offset/box", func(f *fitFigures) float64 { return f.offset }, true},
		{"eyes/box", func(f *fitFigures) float64 { return f.eyes }, true},
		{"keypoints/box", func(f *fitFigures) float64 { return f.keypoints }, true},
		{"eyes/width", func(f *fitFigures) float64 { return f.eyeSpan }, false},
		{"nose/eyes", func(f *fitFigures) float64 { return f.nose }, false},
		{"mouth/eyes", func(f *fitFigures) float64 { return f.mouth }, false},
	}
	sets := []string{"real BlazeFace", "real Haar", "real tracking", "real keypoints", "shrunk BlazeFace"}
	for _, set := range sets {
		for _, fl := range fields {
			if fl.fresh && (set == "real tracking" || set == "real keypoints") {
				continue
			}
			v := make([]float64, 0, len(figures[set]))
			for i := range figures[set] {
				v = append(v, fl.get(&figures[set][i]))
			}
			if slices.Max(v) > 0 { // Haar and tracking have no keypoints
				t.Logf("%-16s %-13s %s", set, fl.name, spread(v))
			}
		}
		if y := yaws[set]; len(y) > 0 {
			t.Logf("%-16s %-13s %s", set, "yaw", spread(y))
		}
	}
}

// gateScene is img with its longer side long, alone or (shrunk) in the
// middle of a grey 1280x720 frame.
func gateScene(img gocv.Mat, long int, shrunk bool) *frame.Frame {
	W, H := img.Cols(), img.Rows()
	s := float64(long) / float64(max(W, H))
	w, h := int(float64(W)*s+0.5), int(float64(H)*s+0.5)
	out := gocv.NewMat()
	defer out.Close()
	gocv.Resize(img, &out, image.Pt(w, h), 0, 0, gocv.InterpolationArea)
	pix, _ := out.DataPtrUint8()
	if !shrunk {
		return frametest.FromBGR(append([]byte(nil), pix...), w, h, frame.BGR24, 0)
	}
	scene := make([]byte, 1280*720*3)
	for i := range scene {
		scene[i] = 128
	}
	x0, y0 := (1280-w)/2, (720-h)/2
	for y := 0; y < h; y++ {
		copy(scene[3*((y0+y)*1280+x0):], pix[y*w*3:(y+1)*w*3])
	}
	return frametest.FromBGR(scene, 1280, 720, frame.BGR24, 0)
}

// spread is "n, min, p5, median, p95, max" of v.
func spread(v []float64) string {
	if len(v) == 0 {
		return "n=0"
	}
	slices.Sort(v)
	q := func(p float64) float64 { return v[int(p*float64(len(v)-1)+0.5)] }
	return fmt.Sprintf("n=%3d  min %.3f  p5 %.3f  median %.3f  p95 %.3f  max %.3f", len(v), v[0], q(0.05), q(0.5), q(0.95), v[len(v)-1])
}

// The gate allocates nothing per frame: not for a swapped face, and not
// for a refused one once its log line is out.
func TestGateAllocatesNothing(t *testing.T) {
	faceLm := synthFace(face.Rect{X0: 240, Y0: 150, X1: 400, Y1: 300})
	faceDet := synthDetection(&faceLm, 160/0.86)
	torsoLm := synthFace(face.Rect{X0: 160, Y0: 340, X1: 480, Y1: 430})
	for _, tc := range []struct {
		name string
		lm   face.Landmarks
	}{{"a face", faceLm}, {"a torso", torsoLm}} {
		t.Run(tc.name, func(t *testing.T) {
			fr := blank(frame.BGR24, 640, 480, 0)
			det, fit := &fakeDetector{w: fr.Width, dets: []face.Detection{faceDet}}, &fakeFitter{lm: tc.lm}
			var sw swap.Swapper = stampSwapper{}
			m := &faceModels{det: det, fit: fit, sw: sw, align: align.DefaultOptions(&landmark.MeanFace), log: func(Level, string) {}}
			m.align.Size = sw.Size()
			tk := newTracker(newStats(make([]string, firstExtraStage), &fakeClock{}), func() int64 { return 0 })
			o := &faceOptions{interval: 1, maxFaces: 4}
			j := &faceJob{}
			step := func() {
				fr.PTS += 33_000_000
				*j = faceJob{f: fr, m: m, o: o, crops: j.crops}
				tk.track(j)
			}
			for range 5 { // confirmed, or refused and logged
				step()
			}
			if allocs := testing.AllocsPerRun(50, step); allocs != 0 {
				t.Fatalf("tracking %s allocates %.2f times per frame, want 0", tc.name, allocs)
			}
		})
	}
}

// A tracked fit the gate refuses (dlib sliding off the face between
// detections) asks for the detector on the next frame.
func TestRefusedTrackedFitAsksForTheDetector(t *testing.T) {
	faceLm := synthFace(face.Rect{X0: 240, Y0: 150, X1: 400, Y1: 300})
	slid := faceLm // nose and mouth above the eyes: not a face's shape
	for i := range slid {
		slid[i].Y = 450 - faceLm[i].Y
	}
	fr := blank(frame.BGR24, 640, 480, 0)
	det := &fakeDetector{w: fr.Width, dets: []face.Detection{synthDetection(&faceLm, 160/0.86)}}
	fit := &fakeFitter{lm: faceLm}
	var sw swap.Swapper = stampSwapper{}
	m := &faceModels{det: det, fit: fit, sw: sw, align: align.DefaultOptions(&landmark.MeanFace), log: func(Level, string) {}}
	m.align.Size = sw.Size()
	tk := newTracker(newStats(make([]string, firstExtraStage), &fakeClock{}), func() int64 { return 0 })
	o := &faceOptions{interval: 100, maxFaces: 4}
	j := &faceJob{}
	step := func(lm face.Landmarks) uint64 {
		fit.lm = lm
		fr.PTS += 33_000_000
		*j = faceJob{f: fr, m: m, o: o, crops: j.crops}
		tk.track(j)
		return tk.detections.Load()
	}
	for i := range 4 {
		if n := step(faceLm); n != 1 {
			t.Fatalf("frame %d: %d detector runs, want 1 (tracking)", i, n)
		}
	}
	if n := step(slid); n != 1 || j.crops.ok[0] {
		t.Fatalf("the slid fit: %d detector runs (want 1), swapped %v", n, j.crops.ok[0])
	}
	if n := step(faceLm); n != 2 || !j.crops.ok[0] {
		t.Fatalf("after the slid fit: %d detector runs (want 2), swapped %v (want true: one failed frame)", n, j.crops.ok[0])
	}
}

// stampSwapper is a swap model stand-in for the tracker's tests: a grey
// face with a full mask. It is not a privacy swapper, which hides every
// face found at once and so bypasses the gate.
type stampSwapper struct{}

func (stampSwapper) Size() int { return 64 }

func (stampSwapper) Swap(target, out []byte, mask []float32) error {
	for i := range out[:3*64*64] {
		out[i] = 128
	}
	for i := range mask[:64*64] {
		mask[i] = 1
	}
	return nil
}

func (stampSwapper) Close() error { return nil }

// TestHideCoversAFaceNotYetSwapped: with unprocessed hide, a swap never
// shows the real face while it has it in view: on the frames the gate
// confirms a new face (the first two), the face is pixelated, not shown;
// from the third it is swapped. Far from the face nothing changes. (The
// real OBS Studio app showed the face on those frames: tests/obsapp.)
func TestHideCoversAFaceNotYetSwapped(t *testing.T) {
	p := newPipeline(t, `{"mode":"quality","workers":1,"unprocessed":"hide","swapper":{"kind":"photo"},"detector":{"interval":1}}`)
	waitFaceReady(t, p)
	src := frametest.FromBGR(astronautScene(t), 1280, 720, frame.NV12, 0)
	orig := frametest.Clone(src)
	stillFrames(t, p, src, confirmFrames+1, func(i int, dst *frame.Frame) {
		if c := faceChange(orig, dst); c < 4 {
			t.Errorf("frame %d: the face changed by %.1f levels: it shows", i, c)
		}
		if n := (frameDiff{orig, dst}).count(image.Rect(0, 0, 200, 720)); n != 0 {
			t.Errorf("frame %d: %d px changed at the left edge, far from the face", i, n)
		}
	})
}
