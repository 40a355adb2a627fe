package engine

import (
	"math"
	"testing"

	"facelive/adapt"
	"facelive/engine/align"
	"facelive/engine/detect"
	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/landmark"
	"facelive/engine/swap"
)

// The controller's detection rungs act under every profile: a profile's
// interval is lengthened by a longer rung, never shortened.
func TestDetectIntervalFollowsTheRung(t *testing.T) {
	rung := func(n int) *qualityLevel { return &qualityLevel{Level: adapt.Level{DetectInterval: n}} }
	for _, tc := range []struct {
		configured int
		level      *qualityLevel
		want       int
	}{
		{0, nil, 0},     // adaptive, no controller
		{0, rung(0), 0}, // adaptive at full quality
		{0, rung(3), 3}, // adaptive, the controller stepped down
		{2, rung(0), 2}, // a profile's interval at full quality
		{2, rung(5), 5}, // a profile's interval, the controller stepped down: it acts
		{7, rung(5), 7}, // never more often than configured
		{3, nil, 3},
	} {
		if got := detectInterval(tc.configured, tc.level); got != tc.want {
			t.Errorf("detectInterval(%d, %v) = %d, want %d", tc.configured, tc.level, got, tc.want)
		}
	}
}

// TestUnconfirmedTracksEnd: a track no detection matches ends (the zoom
// window and tiles have had their look by then, see smallFaces); one a
// detection matches keeps its id and smoother.
func TestUnconfirmedTracksEnd(t *testing.T) {
	box := face.Rect{X0: 100, Y0: 100, X1: 300, Y1: 300}
	tr := track{id: 7, box: box, smoother: landmark.NewSmoother(0.5)}
	tr.lm.N = 68
	o := &faceOptions{maxFaces: 4, smoothing: 0.5}
	tk := newTracker(nil, nil)
	tk.tracks = append(tk.tracks, tr)
	tk.nextID = 7
	tk.dets = append(tk.dets[:0], face.Detection{Box: face.Rect{X0: 110, Y0: 105, X1: 310, Y1: 305}})
	tk.matchTracks(o, 0, 0)
	if len(tk.tracks) != 1 || tk.tracks[0].id != 7 || tk.tracks[0].smoother != tr.smoother {
		t.Fatalf("matched: tracks %+v, want track 7 with its smoother", tk.tracks)
	}
	tk.dets = tk.dets[:0]
	tk.matchTracks(o, 0, 0)
	if len(tk.tracks) != 0 {
		t.Fatalf("no detection: tracks %+v, want none", tk.tracks)
	}
}

// TestLostTrackIsRevived: a face the detector finds again at the same place
// within lostRuns detection runs takes its track back (id, smoother, the
// gate's standing, the second opinion); later, or elsewhere, it is a new
// face.
func TestLostTrackIsRevived(t *testing.T) {
	box := face.Rect{X0: 100, Y0: 100, X1: 300, Y1: 300}
	o := &faceOptions{maxFaces: 4, smoothing: 0.5}
	for _, tc := range []struct {
		name   string
		misses int       // detection runs that miss the face
		again  face.Rect // where it is found then
		revive bool
	}{
		{"missed once", 1, box, true},
		{"missed twice", lostRuns, box, true},
		{"missed too long", lostRuns + 1, box, false},
		{"found elsewhere", 1, face.Rect{X0: 600, Y0: 100, X1: 800, Y1: 300}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := track{id: 7, box: box, smoother: landmark.NewSmoother(0.5), verified: true}
			tr.lm.N = 68
			tr.gate.passes = confirmFrames
			tk := newTracker(nil, nil)
			tk.tracks, tk.nextID = append(tk.tracks, tr), 7
			for range tc.misses {
				tk.dets = tk.dets[:0]
				tk.matchTracks(o, 0, 0)
			}
			tk.dets = append(tk.dets[:0], face.Detection{Box: tc.again})
			tk.matchTracks(o, 0, 0)
			if len(tk.tracks) != 1 {
				t.Fatalf("tracks %+v, want one", tk.tracks)
			}
			got := tk.tracks[0]
			if revived := got.id == 7; revived != tc.revive {
				t.Fatalf("track %d (verified %v, passes %d): revived %v, want %v", got.id, got.verified, got.gate.passes, revived, tc.revive)
			}
			if tc.revive && (!got.verified || got.gate.passes != confirmFrames || got.smoother != tr.smoother) {
				t.Errorf("revived track lost its standing: %+v", got)
			}
			if !tc.revive && (got.verified || got.gate.passes != 0) {
				t.Errorf("a new face starts over: %+v", got)
			}
		})
	}
}

// biasFitter fits a face dy box heights below the box's centre and grow
// times its size: dlib's fit sits a little off a box, by how much depends
// on the face.
type biasFitter struct{ dy, grow float64 }

func (f *biasFitter) Fit(_ *frame.Frame, det *face.Detection, out *landmark.Result) error {
	c := det.Box.Center()
	hw, hh := f.grow*det.Box.W()/2*0.8, f.grow*det.Box.H()/2*0.8
	c.Y += f.dy * det.Box.H()
	out.Points, out.N = synthFace(face.Rect{X0: c.X - hw, Y0: c.Y - hh, X1: c.X + hw, Y1: c.Y + hh}), 68
	return nil
}

// closerFace is a face growing 2 % a frame (coming closer): the detector
// finds it as it is, and so does the fitter, wherever it looks.
func closerFace(pts int64) face.Landmarks {
	k := math.Pow(1.02, float64(pts/33_000_000))
	return synthFace(face.Rect{X0: 320 - 80*k, Y0: 225 - 75*k, X1: 320 + 80*k, Y1: 225 + 75*k})
}

type closerFitter struct{}

func (closerFitter) Fit(f *frame.Frame, _ *face.Detection, out *landmark.Result) error {
	out.Points, out.N = closerFace(f.PTS), 68
	return nil
}

// Tracking searches where the last detection's box was, moved with the
// landmarks: a fit that sits off its box does not walk away frame by
// frame (a face in sample5.jpg slid 150 px onto a shoulder in 15 frames
// when the box followed the fit's bounds), and a face whose fit grows asks
// the detector each time it strays scaleBand from the detection's size.
func TestTrackingStaysWhereTheDetectionWas(t *testing.T) {
	lm := synthFace(face.Rect{X0: 240, Y0: 150, X1: 400, Y1: 300})
	still := &fakeDetector{w: 640, dets: []face.Detection{synthDetection(&lm, 160/0.86)}}
	closer := &scriptDetector{w: 640, script: func(pts int64) []face.Detection {
		c := closerFace(pts)
		return []face.Detection{synthDetection(&c, c.Bounds().W()/0.86)}
	}}
	for _, tc := range []struct {
		name      string
		det       detect.Detector
		fit       landmark.Fitter
		redetects bool
	}{
		{"off its box", still, &biasFitter{dy: 0.04, grow: 1.05}, false},
		{"coming closer", closer, closerFitter{}, true},
	} {
		var sw swap.Swapper = stampSwapper{}
		m := &faceModels{det: tc.det, fit: tc.fit, sw: sw, align: align.DefaultOptions(&landmark.MeanFace), log: func(Level, string) {}}
		m.align.Size = sw.Size()
		tk := testTracker(t)
		o := &faceOptions{interval: 100, maxFaces: 1}
		fr := blank(frame.BGR24, 640, 480, 0)
		j := &faceJob{}
		var first face.Point
		for k := range 30 {
			fr.PTS = int64(k) * 33_000_000
			*j = faceJob{f: fr, m: m, o: o, crops: j.crops}
			tk.track(j)
			if k == 0 {
				first = centre(&tk.tracks[0].lm)
			}
		}
		c := centre(&tk.tracks[0].lm)
		runs := tk.detections.Load()
		if !tc.redetects {
			if d := math.Hypot(c.X-first.X, c.Y-first.Y); d > 1 || runs != 1 {
				t.Errorf("%s: the fit moved %.1f px in 30 still frames (%d detector runs), want it put, 1 run", tc.name, d, runs)
			}
			continue
		}
		// 2 % a frame strays 15 % in 8 frames: a detection about every 8.
		if runs < 3 || runs > 5 {
			t.Errorf("%s: %d detector runs in 30 frames, want 3-5 (one each time the size strays 15 %%)", tc.name, runs)
		}
	}
}

// A profile's (or the tuner's) detector.interval is for a 30 fps camera:
// at 60 fps it runs the detector as often a second, not twice as often; an
// interval the user set is kept in frames at any rate.
func TestProfileIntervalIsPerSecond(t *testing.T) {
	for _, tc := range []struct {
		fps    float64
		at30   bool
		every  int // frames between detector runs
		detail string
	}{
		{30, true, 3, "a 30 fps camera: the profile's 3"},
		{25, true, 3, "25 fps rounds to 30's"},
		{60, true, 6, "60 fps: twice the frames, the same runs a second"},
		{50, true, 6, "50 fps rounds to 60's"},
		{120, true, 12, "120 fps"},
		{60, false, 3, "the user's 3 at 60 fps: kept"},
	} {
		tr := track{}
		tr.lm.N = 68
		tk := newTracker(nil, nil)
		tk.tracks = append(tk.tracks, tr) // tracking is sound: the schedule decides
		j := &faceJob{o: &faceOptions{interval: 3, intervalAt30: tc.at30}}
		const frames = 240
		runs := 0
		for k := range frames {
			pts := int64(float64(k) * 1e9 / tc.fps)
			tk.notePTS(pts)
			if tk.needDetect(pts, j) {
				runs, tk.sinceDetect = runs+1, 0
			} else {
				tk.sinceDetect++
			}
		}
		if want := frames / tc.every; runs < want-1 || runs > want+1 {
			t.Errorf("%s: %d detector runs in %d frames, want %d (every %d)", tc.detail, runs, frames, want, tc.every)
		}
	}
}

// The pipeline tells the tracker whose interval it is: the profile's
// (scaled with the frame rate) unless the user set detector.interval, at
// init or later; without WithExplicit the config is taken as given.
func TestIntervalPinnedByTheUser(t *testing.T) {
	at30 := func(p *Pipeline) bool { return p.face.opts.Load().intervalAt30 }
	p := newPipeline(t, `{"mode":"realtime"}`, WithExplicit([]string{"mode"}))
	if !at30(p) {
		t.Fatal("profile's interval: taken as the user's")
	}
	if err := p.SetConfig([]byte(`{"detector":{"interval":2}}`)); err != nil {
		t.Fatal(err)
	}
	if at30(p) {
		t.Error("detector.interval set by set_config: still scaled")
	}
	if p := newPipeline(t, `{"detector":{"interval":2}}`, WithExplicit([]string{"detector.interval"})); at30(p) {
		t.Error("detector.interval set at init: scaled")
	}
	if p := newPipeline(t, `{"mode":"realtime"}`); at30(p) {
		t.Error("no WithExplicit (the config as given): scaled")
	}
}

// Timestamps that are no camera's (a host numbering its frames 1, 2, 3)
// leave the rate unknown: the interval as configured.
func TestFrameNumbersAsTimestamps(t *testing.T) {
	tk := newTracker(nil, nil)
	for k := range 10 {
		tk.notePTS(int64(k))
	}
	if r := tk.ratePer30(); r != 1 {
		t.Fatalf("pts 0..9 (frame numbers): rate %d × 30 fps, want 1", r)
	}
}

// The quality ladder's lowest rung fits only the detector's keypoints, so
// no face is followed between detections: every face takes the whole
// frame's detection, also an established small face a zoom window had
// confirmed, which the higher rungs follow by its 68 points instead. (Its
// fit failed on every frame after the step down, and through an inference
// server such a face was never swapped again.)
func TestKeypointsRungTakesEveryDetection(t *testing.T) {
	a := synthFace(face.Rect{X0: 100, Y0: 150, X1: 180, Y1: 230}) // 80 px: a small face at 640
	da := synthDetection(&a, 80/0.86)
	det := &scriptDetector{w: 640, script: func(int64) []face.Detection { return []face.Detection{da} }}
	var sw swap.Swapper = stampSwapper{}
	m := &faceModels{det: det, fit: &nearestFitter{faces: []face.Landmarks{a}}, sw: sw,
		align: align.DefaultOptions(&landmark.MeanFace), log: func(Level, string) {}, users: 1}
	m.align.Size = sw.Size()
	tk := testTracker(t)
	o := &faceOptions{interval: 1, maxFaces: 4}
	lowest := &qualityLevel{index: len(ladder) - 1, Level: ladder[len(ladder)-1]}
	if lowest.Landmarks != "keypoints" {
		t.Fatalf("the ladder's lowest rung fits %q, want keypoints", lowest.Landmarks)
	}
	fr := blank(frame.BGR24, 640, 480, 0)
	j := &faceJob{}
	for k := range 12 {
		fr.PTS = int64(k) * frame60
		var level *qualityLevel
		if k >= 6 {
			level = lowest
			tk.tracks[0].sharp = true // as when a zoom window confirmed it
		}
		*j = faceJob{f: fr, m: m, o: o, crops: j.crops, level: level}
		trackFrame(tk, j)
		if len(tk.tracks) != 1 {
			t.Fatalf("frame %d: %d tracks, want the one face", k, len(tk.tracks))
		}
		if want := map[bool]int{false: 68, true: face.NumKeypoints}[level != nil]; tk.tracks[0].lm.N != want {
			t.Errorf("frame %d (%s): the face's fit has %d points, want %d", k, map[bool]string{false: "full", true: "keypoints rung"}[level != nil], tk.tracks[0].lm.N, want)
		}
	}
}
