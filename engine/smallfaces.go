package engine

import (
	"image"
	"math"

	"facelive/engine/detect"
	"facelive/engine/face"
	"facelive/engine/frame"
)

// BlazeFace's front model reads the frame at 128×128 and finds faces of
// about 1/8 of what it reads or more, with confident scores only from
// about 1/5 (on the face-api group photos, faces of 140–240 px scored
// 0.4–0.8 on the whole 1920 px frame and 0.9+ on a third of it). So small
// faces are looked for on parts of the frame, where it pays:
//
//   - a zoom window around a tracked face the whole-frame pass missed (the
//     face is a third of the window: a confident score), on every run while
//     the face is new, every confirmEvery runs after; a track that no
//     detection confirms when it was looked for ends (see matchTracks);
//   - tiles of a third of the frame, half overlapping: a face a twentieth
//     of the frame wide is found within one sweep (15 tiles), and a tracked
//     face then keeps its track. The first sweep (a new stream, a new size,
//     new models) takes one tile per frame while there is room for more
//     faces, on detection runs and between them (tracker.sweepStep), so
//     the faces in view are found within half a second. After it, one tile
//     per detection run while nothing is tracked, one every tileEvery runs
//     while there is room (at 1080p60 and detection every third frame, a
//     face that comes into view small is found within 3 s).
//
// Each part costs one detector run (~1.5 ms at 1080p on a 2-core EPYC,
// like the whole frame: BenchmarkDetectTile), hence the schedule.
type smallFaces struct {
	regions detect.Regions
	zoom    detect.Regions   // a zoom window around one face (zoomFind)
	zoomed  []face.Detection // and what it found
	sharp   uint32           // the detections of this run with a zoom window's box
	// keepBoxes: blur and pixelate hide the whole frame's boxes as they
	// are: a zoom window's tighter box of a profile in sample2.jpg left
	// 85 % of the face in view; a looser box hides more.
	keepBoxes bool
	// keypointsOnly: the quality ladder's lowest rung fits only the
	// detector's keypoints, so no face is followed between detections,
	// whatever 68 points a track kept from a higher rung: every face takes
	// the whole frame's box.
	keypointsOnly bool
	tiles         [maxTiles]image.Rectangle
	nTiles        int
	geom          [2]int // the frame size the tiles were laid out for
	next          int    // the tile the next sweep step looks at
	runs          int    // detection runs, for the every-other schedule
	swept         bool   // the first sweep is done
}

// restart makes the next sweep a first one (new models: the faces are
// found again from scratch).
func (s *smallFaces) restart() { s.next, s.swept = 0, false }

// sweeping reports whether the first sweep is under way (see smallFaces).
func (s *smallFaces) sweeping() bool { return !s.swept }

const (
	// tileMinScore, zoomMinScore: a new face from a tile needs tileMinScore
	// there and zoomMinScore in a zoom window around it (zoomFind). On
	// tiles of a third of the face-api group photos (1920 px) the faces
	// scored 0.84–0.96 and the other finds 0.30–0.71; a badge on the
	// astronaut's suit scored 0.53–0.64 on tiles and zoom windows of a
	// 1080p frame and became a second face. On the composed scenes
	// (1280×720), real faces scored 0.66–0.97 on tiles, those under 0.85
	// 0.72–0.97 in zoom windows; the backgrounds' finds (a coin, motorcycle
	// parts, galaxies) 0.60–0.82 on tiles, 0.43–0.67 in zoom windows. A
	// zoom window that confirms a face already tracked keeps the
	// detector's own threshold.
	tileMinScore = 0.65
	zoomMinScore = 0.70
	// tileEvery: the runs between tiles once the first sweep is done and a
	// face is followed; confirmEvery: between zoom windows around an
	// established small face the whole frame misses (tracking and the
	// gate's shape check cover the runs between; a tile and a zoom never
	// share a run). With the whole frame (~1.3 ms at 1080p) a run then
	// costs ~2 ms, 0.65 ms a frame at detection every third frame (the
	// 160 px face at 1080p60 in the bench).
	tileEvery    = 4
	confirmEvery = 4
	// lookRuns: a new face not yet vouched for gets a zoom window on its
	// first lookRuns detection runs (find), not for ever: a false one
	// would cost a detector run every time.
	lookRuns = 3
	maxTiles = 32
	// zoomFactor: a zoom window is this many face widths wide.
	zoomFactor = 3
	// minRegion: below this a region holds too few pixels to be worth a run.
	minRegion = 96
)

// layout places tiles of a third of the frame's longer side, overlapping
// by half, the last row and column flush with the frame's edges.
func (s *smallFaces) layout(w, h int) {
	if s.geom == [2]int{w, h} {
		return
	}
	s.geom, s.nTiles, s.next, s.swept = [2]int{w, h}, 0, 0, false
	side := max(max(w, h)/3, minRegion)
	xs := tileStarts(w, side)
	ys := tileStarts(h, side)
	for _, y := range ys {
		for _, x := range xs {
			if s.nTiles < maxTiles {
				s.tiles[s.nTiles] = image.Rect(x, y, x+side, y+side).Intersect(image.Rect(0, 0, w, h))
				s.nTiles++
			}
		}
	}
}

// tileStarts returns the starts of tiles of side along n: every side/2,
// the last at n-side.
func tileStarts(n, side int) []int {
	if side >= n {
		return []int{0}
	}
	var out []int
	for x := 0; x+side < n; x += side / 2 {
		out = append(out, x)
	}
	return append(out, n-side)
}

// find adds to dets (the whole frame's detections) the faces the zoom
// windows and the scheduled tile find that are not already there, and
// returns the result. tracks are the last frame's; maxFaces bounds what
// matching will use.
//
// The whole frame's box of a small face is loose: on sample1.jpg at
// 1280 px the tilted face of 107 px came out at 199 px, and dlib's fit in
// it at 177 px, so the pasted face reached far past the real one. A zoom
// window around it gives a box that fits (109 px, score 0.97). So a small
// face the whole frame finds is put right by a zoom window while it is
// new (its first lookRuns runs; a profile no window confirms keeps the
// whole frame's box). A face with a zoom's box (sharp) is then followed by
// tracking from that box: the whole frame's looser box of it is not taken,
// unless its fit's size strayed (it came closer or went away: a zoom
// window again). A small face the whole frame misses gets a zoom window on
// every run while it is new, every confirmEvery runs once it was found
// lookRuns times.
//
// unseen tells which tracks a run did not look for (matchTracks keeps
// them as they are); sharp which of the returned detections have a zoom
// window's box.
func (s *smallFaces) find(d detect.Detector, f *frame.Frame, dets []face.Detection, tracks []track, maxFaces int, log func(string)) (_ []face.Detection, unseen, sharp uint32) {
	s.runs++
	s.layout(f.Width, f.Height)
	s.sharp = 0
	var claimed, drop uint32 // whole-frame detections that are a track's; and those not to keep
	small := float64(max(f.Width, f.Height)) / 6
	confirm := s.runs%confirmEvery == confirmEvery/2
	whole := len(dets)
	for i := range tracks {
		tr := &tracks[i]
		k := nearest(dets[:whole], tr.box)
		if k >= 0 && k < 32 {
			claimed |= 1 << k
		}
		if tr.lm.N != 68 || s.keypointsOnly {
			continue
		}
		switch {
		case k >= 0 && tr.box.W() > small:
			// The whole frame sees a large face well.
		case tr.runs >= lookRuns && i < 32 && (k < 0 && !confirm || k >= 0 && k < 32 && tr.sharp && !tr.strayed):
			// Established: tracking follows it from its zoom's box; a
			// face the whole frame misses is looked for every
			// confirmEvery runs (not with the tile).
			unseen |= 1 << i
			if k >= 0 {
				drop |= 1 << k
			}
		case k >= 0 && (tr.runs < lookRuns || tr.sharp):
			s.refine(d, f, dets, k, log) // new, or its size strayed
		case k >= 0:
			// No zoom window confirmed it while it was new (a profile):
			// the whole frame's box it is.
		default:
			dets = s.search(d, f, zoomWindow(tr.box, f), dets, 0, log)
		}
	}
	for k := range dets[:whole] {
		if k < 32 && claimed&(1<<k) == 0 && dets[k].Box.W() <= small {
			s.refine(d, f, dets, k, log) // a new small face
		}
	}
	if len(tracks) < maxFaces && (len(tracks) == 0 || !s.swept || s.runs%tileEvery == 0) {
		dets = s.search(d, f, s.tiles[s.next], dets, tileMinScore, log)
		if s.next = (s.next + 1) % s.nTiles; s.next == 0 {
			s.swept = true
		}
	}
	if drop != 0 {
		dets = s.compact(dets, drop)
	}
	return dets, unseen, s.sharp
}

// refine puts the zoom window's find of the face dets[k] in its place,
// with the better score, and marks it sharp; false (dets[k] as it was)
// when the window holds no such face, or for blur and pixelate
// (keepBoxes).
func (s *smallFaces) refine(d detect.Detector, f *frame.Frame, dets []face.Detection, k int, log func(string)) bool {
	if s.keepBoxes {
		return false
	}
	z, ok := s.zoomFind(d, f, dets[k].Box, log)
	if !ok {
		return false
	}
	z.Score = max(z.Score, dets[k].Score)
	dets[k] = z
	s.mark(k)
	return true
}

// mark notes that dets[k] has a zoom window's box.
func (s *smallFaces) mark(k int) {
	if k < 32 {
		s.sharp |= 1 << k
	}
}

// compact removes the detections drop names, keeping s.sharp in step.
func (s *smallFaces) compact(dets []face.Detection, drop uint32) []face.Detection {
	out, sharp := 0, uint32(0)
	for k := range dets {
		if k < 32 && drop&(1<<k) != 0 {
			continue
		}
		if k < 32 && s.sharp&(1<<k) != 0 && out < 32 {
			sharp |= 1 << out
		}
		dets[out] = dets[k]
		out++
	}
	s.sharp = sharp
	return dets[:out]
}

// sweepStep searches the first sweep's next tile and appends to dets the
// faces it finds that are not already there (dets holds the faces
// followed, or takes the better find's place: see search); the sweep is
// done when it is back at the first tile.
func (s *smallFaces) sweepStep(d detect.Detector, f *frame.Frame, dets []face.Detection, log func(string)) (_ []face.Detection, sharp uint32) {
	s.layout(f.Width, f.Height)
	s.sharp = 0
	dets = s.search(d, f, s.tiles[s.next], dets, tileMinScore, log)
	if s.next = (s.next + 1) % s.nTiles; s.next == 0 {
		s.swept = true
	}
	return dets, s.sharp
}

// zoomWindow is the region around box a zoom looks at: zoomFactor face
// widths, at most a third of the frame.
func zoomWindow(box face.Rect, f *frame.Frame) image.Rectangle {
	c := box.Center()
	side := min(max(zoomFactor*box.W(), minRegion), float64(max(f.Width, f.Height))/3)
	return image.Rect(int(c.X-side/2), int(c.Y-side/2), int(c.X+side/2), int(c.Y+side/2))
}

// search runs the detector on r and appends the faces scoring at least
// minScore that are not already in dets. A tile's find (minScore
// tileMinScore) must also score zoomMinScore in a zoom window around it,
// and takes that window's box and score; when it is a face already in dets
// with a lower score, it takes that one's place (the whole frame's boxes
// of small faces are loose and low: the window's is the better one). A
// zoom window's finds (minScore 0: r is one) are sharp.
func (s *smallFaces) search(d detect.Detector, f *frame.Frame, r image.Rectangle, dets []face.Detection, minScore float64, log func(string)) []face.Detection {
	n := len(dets)
	dets, err := s.regions.Detect(d, f, r, dets)
	if err != nil {
		log("detect (region): " + err.Error())
		return dets[:n]
	}
	tile := minScore == tileMinScore
	out := n
	for i := n; i < len(dets); i++ {
		if dets[i].Score < minScore {
			continue
		}
		k := nearest(dets[:out], dets[i].Box)
		if k >= 0 && !(tile && dets[i].Score > dets[k].Score) {
			continue // a face already found
		}
		if tile {
			z, ok := s.zoomFind(d, f, dets[i].Box, log)
			if !ok || z.Score < zoomMinScore || (k >= 0 && z.Score <= dets[k].Score) {
				continue
			}
			if dets[i].Score = z.Score; !s.keepBoxes {
				dets[i].Box, dets[i].Keypoints = z.Box, z.Keypoints
			}
		}
		if k < 0 {
			k = out
			out++
		}
		dets[k] = dets[i]
		s.mark(k)
	}
	return dets[:out]
}

// zoomFind is the best-scoring face a zoom window around box finds that
// is the face in box (see nearest); false when there is none.
func (s *smallFaces) zoomFind(d detect.Detector, f *frame.Frame, box face.Rect, log func(string)) (face.Detection, bool) {
	var err error
	if s.zoomed, err = s.zoom.Detect(d, f, zoomWindow(box, f), s.zoomed[:0]); err != nil {
		log("detect (zoom): " + err.Error())
		return face.Detection{}, false
	}
	best := -1
	for i := range s.zoomed {
		if nearest(s.zoomed[i:i+1], box) == 0 && (best < 0 || s.zoomed[i].Score > s.zoomed[best].Score) {
			best = i
		}
	}
	if best < 0 {
		return face.Detection{}, false
	}
	return s.zoomed[best], true
}

// near reports whether a detection in dets is the face in box: its centre
// within half the larger width of box's centre, and neither more than
// twice the other's width (a small face inside a large false find, a cat,
// is another face).
func near(dets []face.Detection, box face.Rect) bool { return nearest(dets, box) >= 0 }

// nearest is the first detection in dets that is the face in box (see
// near), or -1.
func nearest(dets []face.Detection, box face.Rect) int {
	c, w := box.Center(), box.W()
	for i := range dets {
		dc, dw := dets[i].Box.Center(), dets[i].Box.W()
		if math.Hypot(dc.X-c.X, dc.Y-c.Y) < 0.5*max(dw, w) && max(dw, w) <= 2*min(dw, w) {
			return i
		}
	}
	return -1
}
