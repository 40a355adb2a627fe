package engine

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"facelive/engine/align"
	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/landmark"
	"facelive/engine/swap"
)

// track is one face followed from frame to frame.
type track struct {
	id       uint64 // never reused: matches a decoupled swap result to its face
	lm       landmark.Result
	smoother *landmark.Smoother
	box      face.Rect
	gate     gateState // the plausibility gate's count (gate.go)
	verified bool      // the second opinion saw a face in its aligned crop
	score    float64   // the best detector score it was found with
	runs     int       // detection runs that found it
	// The box of the last detection and its fit's centre and spread:
	// searchBox moves the box with the landmarks from there.
	anchor     face.Rect
	anchorC    face.Point
	anchorS    float64
	verifyWait int // frames until the second opinion is asked again
	// sharp: its box is a zoom window's, tighter than the whole frame's
	// for a small face (smallFaces.find); strayed: its fit's size left
	// scaleBand around that box (searchBox), so the next run looks again.
	sharp, strayed bool
	// under: a coarse grey sample of the frame under its box (underBox)
	// at the last frame, to see the picture move while the fit stays.
	under    [underN * underN]byte
	underBox face.Rect
	hasUnder bool
	textured bool // the picture under its box had a face's texture when it was last detected
	// source: which swapper.faces entry it wears (faceassign.go), given
	// once when assigned and kept while the track lives.
	source   int
	assigned bool
}

// tracker finds faces and follows them: detection on a schedule, matching
// detections to tracks, the landmark fit, One-Euro smoothing, alignment and
// the aligned crops. Frames pass through it one at a time, in order: each
// frame's tracks start from the last frame's.
type tracker struct {
	stats *stats
	now   func() int64

	detections atomic.Uint64 // detector runs; tracking covers the frames between

	mu          sync.Mutex  // one frame at a time; guards everything below
	models      *faceModels // the tracks belong to these; new models start over
	tracks      []track
	spare       []track            // matchTracks builds the next tracks here
	lost        [maxLost]lostTrack // tracks that ended lately (see lostRuns)
	nLost       int
	dets        []face.Detection
	det         face.Detection        // the box being fitted
	under       [underN * underN]byte // scratch: the frame under a track's last box
	sinceDetect int
	lastDetect  int64 // pts of the last detection
	lastPTS     int64 // the last frame's, and the steps between frames (notePTS)
	period      int64
	redetect    bool
	// keypointsOnly: this frame is on the quality ladder's lowest rung
	// (the detector's keypoints, no landmark fit): the detector finds
	// every face, every frame; 68 points a track kept from a higher rung
	// follow nothing.
	keypointsOnly bool
	nextID        uint64
	small         smallFaces       // zoom windows and tiles for faces the whole frame misses
	ahead         *detectAhead     // live modes: scheduled runs off the frame's path
	verifyView    frame.Frame      // secondOpinion's view of a crop
	verifyDets    []face.Detection // and its result
	warn          func(string)
	warnModels    *faceModels
}

// logWarn returns a func logging to m at Warn, made once per models (a
// closure per frame would allocate).
func (t *tracker) logWarn(m *faceModels) func(string) {
	if t.warnModels != m {
		t.warnModels, t.warn = m, func(msg string) { m.log(LevelWarn, msg) }
	}
	return t.warn
}

func newTracker(st *stats, now func() int64) *tracker {
	t := &tracker{stats: st, now: now, dets: make([]face.Detection, 0, 16),
		tracks: make([]track, 0, 16), spare: make([]track, 0, 16)}
	t.ahead = newDetectAhead(&t.small, now)
	return t
}

// track fills j.crops: one aligned crop per followed face, at the size
// j's swapper wants.
func (t *tracker) track(j *faceJob) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rm := t.ahead.collect() // first: a run out owns t.small until then
	if j.m != t.models {
		t.models, t.tracks, t.nLost = j.m, t.tracks[:0], 0
		t.small.restart()
	}
	m, o := j.m, j.o
	t.small.keepBoxes = hidesFaces(m)
	t.keypointsOnly = j.level != nil && j.level.Landmarks == "keypoints"
	t.small.keypointsOnly = t.keypointsOnly
	t.notePTS(j.f.PTS)
	t0 := t.now()
	var ahead int64  // a run off the path: its cost lands on the frame that takes it
	var fresh uint32 // the tracks whose box is in t.dets at their index: found this frame (or the last, ahead)
	switch {
	case rm == m && !t.redetect: // the last frame's run (detectahead.go)
		t.dets, t.ahead.dets = t.ahead.dets, t.dets
		t.sinceDetect, t.redetect, ahead = 1, false, t.ahead.ns // 1: the schedule counts from the frame searched
		fresh = t.matchTracks(o, t.ahead.unseen, t.ahead.sharp)
	case !t.needDetect(j.f.PTS, j):
		t.sinceDetect++
		if t.small.sweeping() && len(t.tracks) < o.maxFaces {
			fresh = t.sweepStep(m, j.f, o) // the first sweep goes on between detection runs
		}
	case o.live && !hidesFaces(m) && t.sound() && t.ahead.begin(m, j.f, t.tracks, o.maxFaces, t.logWarn(m)):
		j.kickAhead = true // once the frame is done (faceStage.swapFaces)
		t.detections.Add(1)
		t.sinceDetect++
		t.lastDetect = j.f.PTS
	default:
		var err error
		t.detections.Add(1)
		t.dets, err = m.det.Detect(j.f, t.dets[:0])
		if err != nil {
			m.log(LevelWarn, "detect: "+err.Error())
			t.dets = t.dets[:0]
		}
		var unseen, sharp uint32
		t.dets, unseen, sharp = t.small.find(m.det, j.f, t.dets, t.tracks, o.maxFaces, t.logWarn(m))
		t.sinceDetect, t.lastDetect, t.redetect = 0, j.f.PTS, false
		fresh = t.matchTracks(o, unseen, sharp)
	}
	t.stats.stageTime(timeDetect, t.now()-t0+ahead)
	m.plan.assign(t.tracks, t.lost[:t.nLost])

	fit := m.fit
	if t.keypointsOnly {
		fit = landmark.KeypointFitter{} // the lowest rung: the detector's 6 points
	}
	cs := &j.crops
	cs.grow(len(t.tracks), m.sw.Size())
	var tLm, tAlign int64
	for i := range t.tracks {
		tr := &t.tracks[i]
		cs.ok[i], cs.ids[i], cs.boxes[i], cs.src[i] = false, tr.id, tr.box, tr.source
		t1 := t.now()
		det := &t.det // a field, not a local: Fit's interface would move a local to the heap
		fromDet := i < 32 && fresh&(1<<i) != 0
		if fromDet {
			*det = t.dets[i]
		} else { // tracking: search where the landmarks were
			box, ok := tr.searchBox()
			*det = face.Detection{Box: box}
			if tr.strayed = !ok; !ok {
				t.redetect = true // its size strayed: the detector puts it right next frame
			}
		}
		prev, hadFit := centre(&tr.lm), tr.lm.N > 0
		if err := fit.Fit(j.f, det, &tr.lm); err != nil {
			t.redetect = true
			continue
		}
		// Blur and pixelate hide every face found, at once and whole: to
		// them a missed face is the harm and a false one costs nothing,
		// so the gate, the yaw fade and the second opinion are for swaps.
		hides := hidesFaces(m)
		swapIt := hides || t.admit(m, tr, det, fromDet) // the raw fit, before smoothing
		tr.smoother.SetSmoothing(o.smoothing)
		tr.smoother.Update(time.Duration(j.f.PTS), tr.lm.Valid())
		if c := centre(&tr.lm); hadFit && math.Hypot(c.X-prev.X, c.Y-prev.Y) > 0.15*tr.box.W() {
			t.redetect = true // fast motion: confirm with the detector next frame
		}
		tr.box, cs.boxes[i] = det.Box, det.Box
		if fromDet && tr.lm.N == 68 {
			tr.anchor, tr.anchorC, tr.anchorS = det.Box, centre(&tr.lm), fitSpread(&tr.lm.Points)
		}
		t2 := t.now()
		tLm += t2 - t1
		if cs.fade[i] = 1; !hides {
			cs.fade[i] = yawFade(&tr.lm)
		}
		if !tr.assigned && swapIt && cs.fade[i] > 0 {
			m.identify(j.f, t.tracks, t.lost[:t.nLost], i) // once, when a plan matches by reference
			cs.src[i] = tr.source
		}
		if !swapIt || cs.fade[i] == 0 || !tr.assigned || tr.source == srcPass {
			continue // refused, still confirming, turned away, or to pass: nothing to paste
		}

		var tf align.Transform
		var err error
		if a, ok := m.sw.(swap.Aligner); ok && tr.lm.N == 68 {
			tf, err = a.Align(&tr.lm.Points) // the crop the model was trained on (InSwapper: ArcFace's)
		} else if tr.lm.N == 68 {
			tf, err = align.Fit(&tr.lm.Points, m.align)
		} else {
			tf, err = align.FitKeypoints(det, m.align)
		}
		if err == nil {
			err = align.Crop(j.f, tf, cs.crops[i])
		}
		tAlign += t.now() - t2
		if err != nil {
			continue
		}
		slid := false
		if tr.hasUnder && !fromDet && hadFit && sampleUnder(t.under[:], j.f, tr.underBox) {
			c := centre(&tr.lm)
			moved := math.Hypot(c.X-prev.X, c.Y-prev.Y) / max(tr.box.W(), 1)
			slid = moved < slidMotion && greyDiff(t.under[:], tr.under[:]) > underChange
		}
		tr.hasUnder, tr.underBox = sampleUnder(tr.under[:], j.f, tr.box), tr.box
		if tr.hasUnder {
			if s := greySpread(tr.under[:]); fromDet {
				tr.textured = s >= 2*flatSpread // a face was seen there
			} else if tr.textured && s < flatSpread {
				slid = true // a face was there and nothing but a flat patch is: it has gone
			}
		}
		if slid {
			// The picture slid under a tracked fit: the face moved faster
			// than tracking follows. Its paste would land behind the face;
			// the detector puts the track right next frame.
			t.redetect = true
			continue
		}
		if !tr.verified && m.verify != nil && !hides {
			// A new face swaps only once a second detector, of another kind,
			// sees a face in its aligned crop, or BlazeFace itself was sure
			// of it (strongScore); a refusal is asked again verifyRetry
			// frames later.
			if tr.verifyWait > 0 {
				tr.verifyWait--
				continue
			}
			if tr.score < strongScore && !t.secondOpinion(m, tr, cs.crops[i], m.sw.Size()) {
				tr.verifyWait = verifyRetry
				continue
			}
			tr.verified = true
		}
		cs.tfs[i], cs.ok[i] = tf, true
		if cs.hasLm[i] = tr.lm.N == 68; cs.hasLm[i] {
			for k, q := range tr.lm.Points {
				cs.lms[i][k] = tf.Apply(q)
			}
		}
	}
	t.stats.stageTime(timeLandmarks, tLm)
	t.stats.stageTime(timeAlign, tAlign)
}

// sweepStep searches the first sweep's next tile (smallfaces.go) on a
// frame between detection runs and follows the new faces it finds, up to
// max_faces; the tracks it had stay as they are. It returns which tracks
// are new: their boxes are in t.dets at their index.
func (t *tracker) sweepStep(m *faceModels, f *frame.Frame, o *faceOptions) (fresh uint32) {
	n := len(t.tracks)
	t.dets = t.dets[:0]
	for i := range t.tracks { // the faces followed: a tile's find there is not new
		t.dets = append(t.dets, face.Detection{Box: t.tracks[i].box, Score: t.tracks[i].score})
	}
	var sharp uint32
	t.dets, sharp = t.small.sweepStep(m.det, f, t.dets, t.logWarn(m))
	for i := 0; i < n && i < 32; i++ {
		if tr := &t.tracks[i]; t.dets[i].Score > tr.score { // a better find of a face followed: fit in its box
			tr.score, tr.sharp, tr.strayed = t.dets[i].Score, sharp&(1<<i) != 0, false
			fresh |= 1 << i
		}
	}
	for i := n; i < len(t.dets) && len(t.tracks) < o.maxFaces && i < 32; i++ {
		if t.nearTrack(t.dets[i].Box, n) {
			// Beside a face already followed, closer than a face's width:
			// that track may be lagging a fast-moving face (a head crossing
			// 60 px a frame left its track on the hair while a tile found
			// the face, and both were pasted). The detector, on the next
			// frame, tells one face from two.
			t.redetect = true
			continue
		}
		var tr track
		if !t.revive(&t.dets[i], &tr) {
			t.nextID++
			tr.id, tr.smoother = t.nextID, landmark.NewSmoother(o.smoothing)
		}
		tr.box, tr.score = t.dets[i].Box, max(tr.score, t.dets[i].Score)
		tr.sharp, tr.strayed = sharp&(1<<i) != 0, false
		t.tracks = append(t.tracks, tr)
		fresh |= 1 << i
	}
	return fresh
}

// nearTrack reports whether box lies within a face's width of one of the
// first n tracks.
func (t *tracker) nearTrack(box face.Rect, n int) bool {
	c := box.Center()
	for k := range n {
		b := t.tracks[k].box
		tc := b.Center()
		if math.Hypot(c.X-tc.X, c.Y-tc.Y) < max(b.W(), box.W()) {
			return true
		}
	}
	return false
}

// hidesFaces: blur and pixelate detect on the frame itself, never ahead: a
// face that comes into view is hidden on the frame it is found on, not the
// next one.
func hidesFaces(m *faceModels) bool {
	_, ok := m.sw.(*swap.Privacy)
	return ok
}

// sound reports whether tracking has nothing to put right: faces
// followed, every one with 68 points, no fit failed and nothing moved
// fast. Only then may the frame's detection run ahead (detectahead.go).
func (t *tracker) sound() bool {
	if len(t.tracks) == 0 || t.redetect || t.keypointsOnly {
		return false
	}
	for i := range t.tracks {
		if t.tracks[i].lm.N != 68 {
			return false
		}
	}
	return true
}

// close waits for a detection run out and stops its goroutine.
func (t *tracker) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ahead.close()
}

// needDetect: every detector.interval frames, or, with interval 0
// (adaptive), when tracking has nothing to follow, motion was fast, a fit
// failed, or half a second / 15 frames passed.
//
// The profiles' and the tuner's intervals (and the quality ladder's) are
// for a 30 fps camera: at 60 fps the same interval would run the detector
// twice as often a second for nothing (tracking follows the face between
// runs), and the detector is the stage that costs most at 1080p (~2 ms a
// run on a 2-core EPYC). So unless the user set detector.interval, it is
// multiplied by the source's frame rate over 30, rounded (from the frames'
// timestamps, not the clock: files come out the same on every machine).
func (t *tracker) needDetect(pts int64, j *faceJob) bool {
	if !t.sound() { // keypoints come only from the detector
		return true
	}
	if interval := detectInterval(j.o.interval, j.level); interval > 0 {
		if j.o.intervalAt30 {
			interval *= t.ratePer30()
		}
		return t.sinceDetect+1 >= interval
	}
	return t.sinceDetect >= 15 || pts-t.lastDetect >= int64(500*time.Millisecond) || pts < t.lastDetect
}

// notePTS follows the source's frame period from the timestamps (a
// moving average of the steps between frames). Steps over a second, or
// back, are a seek or a new stream and start it over; steps under a
// millisecond are not a camera's nanoseconds (a host numbering its frames)
// and leave the rate unknown (ratePer30 1).
func (t *tracker) notePTS(pts int64) {
	step := pts - t.lastPTS
	t.lastPTS = pts
	switch {
	case step < int64(time.Millisecond) || step > int64(time.Second):
		t.period = 0
	case t.period == 0:
		t.period = step
	default:
		t.period += (step - t.period) / 8
	}
}

// ratePer30 is the source's frame rate over 30, rounded, at least 1.
func (t *tracker) ratePer30() int {
	if t.period <= 0 {
		return 1
	}
	return max(1, int(math.Round(float64(time.Second)/30/float64(t.period))))
}

// detectInterval is the interval a frame detects at: the configured one
// (a profile's, or the user's), lengthened by the controller's rung when it
// is longer. The controller runs only when level is not custom, so a user
// who wants their interval kept exactly says level custom.
func detectInterval(configured int, l *qualityLevel) int {
	if l != nil && l.DetectInterval > configured {
		return l.DetectInterval
	}
	return configured
}

// matchTracks pairs fresh detections with the tracks of the last frame by
// nearest centre, so each face keeps its smoother; faces that left lose
// theirs (the One-Euro state resets on face loss). A track no detection
// matched ends: the whole frame's detection, the zoom window around it and
// the tiles (smallFaces) all missed it, and dlib fits 68 points to
// whatever it is given, so following it on would paste a face where there
// may be none. It is kept aside a little in case the face is found again
// (lostRuns). A track the run did not look for (unseen: smallFaces
// looks for an established small face every confirmEvery runs) goes on as
// it was. sharp tells which detections have a zoom window's box. It
// returns which tracks took a detection's box (the first ones, their
// detection at their index in t.dets).
func (t *tracker) matchTracks(o *faceOptions, unseen, sharp uint32) (fromDets uint32) {
	t.ageLost()
	n := min(len(t.dets), o.maxFaces)
	old, next := t.tracks, t.spare[:0]
	used := uint32(0)
	for i := 0; i < n; i++ {
		c := t.dets[i].Box.Center()
		best, bestD := -1, math.Inf(1)
		for k := range old {
			if used&(1<<k) != 0 {
				continue
			}
			oc := old[k].box.Center()
			if d := math.Hypot(c.X-oc.X, c.Y-oc.Y); d < bestD && d < t.dets[i].Box.W() {
				best, bestD = k, d
			}
		}
		var tr track
		switch {
		case best >= 0:
			used |= 1 << best
			tr = old[best]
		case t.revive(&t.dets[i], &tr):
		default:
			t.nextID++
			tr.id, tr.smoother = t.nextID, landmark.NewSmoother(o.smoothing)
		}
		tr.box, tr.score = t.dets[i].Box, max(tr.score, t.dets[i].Score)
		tr.sharp, tr.strayed = i < 32 && sharp&(1<<i) != 0, false
		tr.runs++
		next = append(next, tr)
		if i < 32 {
			fromDets |= 1 << i
		}
	}
	t.dets = t.dets[:n]
	for k := range old {
		if used&(1<<k) == 0 && unseen&(1<<k) != 0 && len(next) < o.maxFaces {
			used |= 1 << k
			next = append(next, old[k])
			t.dets = append(t.dets, face.Detection{Box: old[k].box}) // its index's place: not read
		}
	}
	for k := range old {
		if used&(1<<k) == 0 {
			t.loseTrack(old[k])
		}
	}
	t.tracks, t.spare = next, old
	return fromDets
}

// A track no detection matched is kept aside for lostRuns detection runs:
// a face the detector misses once and finds again at the same place takes
// its track back (id, smoother, the gate's standing, the second opinion)
// instead of being confirmed from scratch, unswapped for those frames.
// BlazeFace scores some real faces near its threshold (the astronaut at
// 1080p: 0.3-0.6), so this happens.
const (
	lostRuns = 2
	maxLost  = 8
)

// lostTrack is a track that ended, and the detection runs since.
type lostTrack struct {
	tr   track
	runs int
}

// ageLost counts a detection run for the lost tracks and lets go of those
// kept long enough.
func (t *tracker) ageLost() {
	k := 0
	for _, l := range t.lost[:t.nLost] {
		if l.runs++; l.runs > lostRuns {
			if l.tr.smoother != nil {
				l.tr.smoother.Reset()
			}
			continue
		}
		t.lost[k] = l
		k++
	}
	t.nLost = k
}

// loseTrack keeps tr aside (the oldest goes when there is no room).
func (t *tracker) loseTrack(tr track) {
	if t.nLost == maxLost {
		if s := t.lost[0].tr.smoother; s != nil {
			s.Reset()
		}
		copy(t.lost[:], t.lost[1:])
		t.nLost--
	}
	t.lost[t.nLost] = lostTrack{tr: tr}
	t.nLost++
}

// revive gives det the lost track whose box centre is nearest to det's,
// within det's width; false when there is none.
func (t *tracker) revive(det *face.Detection, tr *track) bool {
	c := det.Box.Center()
	best, bestD := -1, math.Inf(1)
	for k, l := range t.lost[:t.nLost] {
		lc := l.tr.box.Center()
		if d := math.Hypot(c.X-lc.X, c.Y-lc.Y); d < bestD && d < det.Box.W() {
			best, bestD = k, d
		}
	}
	if best < 0 {
		return false
	}
	*tr = t.lost[best].tr
	copy(t.lost[best:], t.lost[best+1:t.nLost])
	t.nLost--
	return true
}

// searchBox is where the next fit looks: the box of the last detection,
// moved and scaled with the landmarks since. Fitting in the landmarks' own
// bounds (trackBox) drifted: dlib's fit sits a little off a box it was not
// trained on, the next box follows the fit, and the error adds up frame by
// frame (a face in the face-api sample5.jpg slid 150 px down onto a
// shoulder in 15 frames). Relative to its detection's box a still face
// stays put.
//
// The box keeps the detection's size: dlib's fit in a larger box comes
// out larger, so a box following the fit's size grows or shrinks on its
// own (a face in sample4.jpg went from 163 to 1500 px in 12 frames; a
// tilted one in sample1.jpg swung 20 % either way). When the fit's size
// strays scaleBand from the detection's, ok is false and the tracker asks
// the detector: the face came closer or went away.
func (tr *track) searchBox() (box face.Rect, ok bool) {
	if tr.anchorS <= 0 || tr.lm.N != 68 {
		return trackBox(&tr.lm.Points), true
	}
	c, k := centre(&tr.lm), fitSpread(&tr.lm.Points)/tr.anchorS
	ac := tr.anchor.Center()
	x, y := ac.X+c.X-tr.anchorC.X, ac.Y+c.Y-tr.anchorC.Y
	hw, hh := tr.anchor.W()/2, tr.anchor.H()/2
	return face.Rect{X0: x - hw, Y0: y - hh, X1: x + hw, Y1: y + hh}, k >= 1/scaleBand && k <= scaleBand
}

// scaleBand: how far a tracked fit's size may stray from its detection's
// (searchBox).
const scaleBand = 1.15

// fitSpread is the size of a fit: the geometric mean of its bounds' sides.
func fitSpread(lm *face.Landmarks) float64 {
	b := lm.Bounds()
	return math.Sqrt(max(0, b.W()) * max(0, b.H()))
}

// trackBox derives the next frame's search box from this frame's
// landmarks: their bounds, which is close to the box dlib was trained on.
func trackBox(lm *face.Landmarks) face.Rect {
	b := lm.Bounds()
	pad := 0.05 * b.W()
	return face.Rect{X0: b.X0 - pad, Y0: b.Y0 - pad, X1: b.X1 + pad, Y1: b.Y1 + pad}
}

// centre is the mean of a fit's points (0,0 before the first fit).
func centre(r *landmark.Result) face.Point {
	var c face.Point
	for _, p := range r.Valid() {
		c.X += p.X
		c.Y += p.Y
	}
	if r.N > 0 {
		c.X /= float64(r.N)
		c.Y /= float64(r.N)
	}
	return c
}
