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
	zoom    detect.Regions   // a tile find's check (zoomScore)
	zoomed  []face.Detection // and what it found
	tiles   [maxTiles]image.Rectangle
	nTiles  int
	geom    [2]int // the frame size the tiles were laid out for
	next    int    // the tile the next sweep step looks at
	runs    int    // detection runs, for the every-other schedule
	swept   bool   // the first sweep is done
}

// restart makes the next sweep a first one (new models: the faces are
// found again from scratch).
func (s *smallFaces) restart() { s.next, s.swept = 0, false }

// sweeping reports whether the first sweep is under way (see smallFaces).
func (s *smallFaces) sweeping() bool { return !s.swept }

const (
	// tileMinScore, zoomMinScore: a new face from a tile needs tileMinScore
	// there and zoomMinScore in a zoom window around it (zoomScore). On
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

// find adds to dets the faces the zoom windows and the scheduled tile find
// that are not already there, and returns the result. tracks are the last
// frame's; maxFaces bounds what matching will use. A small face the whole
// frame misses gets a zoom window on every run while it is new, every
// confirmEvery runs once it was found lookRuns times; unseen tells which
// tracks a run did not look for (matchTracks keeps them as they are).
func (s *smallFaces) find(d detect.Detector, f *frame.Frame, dets []face.Detection, tracks []track, maxFaces int, log func(string)) (_ []face.Detection, unseen uint32) {
	s.runs++
	s.layout(f.Width, f.Height)
	for i := range tracks {
		tr := &tracks[i]
		if tr.lm.N != 68 {
			continue
		}
		if k := nearest(dets, tr.box); k >= 0 {
			// Found; a new small face not yet vouched for
			// (tracker.secondOpinion) gets a closer look, which scores it
			// higher when it is one: the whole frame scores small faces
			// low. Not a large one: the whole frame sees it well, and a
			// window (at most a third of the frame) could not hold it with
			// room around it; the cat scored 0.85+ in one.
			if !tr.verified && tr.score < strongScore && tr.runs < lookRuns &&
				tr.box.W() <= float64(max(f.Width, f.Height))/6 {
				dets[k].Score = max(dets[k].Score, s.zoomScore(d, f, tr.box, log))
			}
			continue
		}
		if tr.runs >= lookRuns && s.runs%confirmEvery != confirmEvery/2 && i < 32 {
			unseen |= 1 << i // established: looked for every confirmEvery runs (not with the tile)
			continue
		}
		dets = s.search(d, f, zoomWindow(tr.box, f), dets, 0, log)
	}
	if len(tracks) < maxFaces && (len(tracks) == 0 || !s.swept || s.runs%tileEvery == 0) {
		dets = s.search(d, f, s.tiles[s.next], dets, tileMinScore, log)
		if s.next = (s.next + 1) % s.nTiles; s.next == 0 {
			s.swept = true
		}
	}
	return dets, unseen
}

// sweepStep searches the first sweep's next tile and appends to dets the
// faces it finds that are not already there (dets holds the faces
// followed, or takes the better find's place: see search); the sweep is
// done when it is back at the first tile.
func (s *smallFaces) sweepStep(d detect.Detector, f *frame.Frame, dets []face.Detection, log func(string)) []face.Detection {
	s.layout(f.Width, f.Height)
	dets = s.search(d, f, s.tiles[s.next], dets, tileMinScore, log)
	if s.next = (s.next + 1) % s.nTiles; s.next == 0 {
		s.swept = true
	}
	return dets
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
// and takes that score; when it is a face already in dets with a lower
// score, it takes that one's place (the whole frame's boxes of small
// faces are loose and low: the tile's is the better one).
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
			z := s.zoomScore(d, f, dets[i].Box, log)
			if z < zoomMinScore || (k >= 0 && z <= dets[k].Score) {
				continue
			}
			dets[i].Score = z
		}
		if k >= 0 {
			dets[k] = dets[i]
			continue
		}
		dets[out] = dets[i]
		out++
	}
	return dets[:out]
}

// zoomScore is the best score of a face found near box's centre in a zoom
// window around it.
func (s *smallFaces) zoomScore(d detect.Detector, f *frame.Frame, box face.Rect, log func(string)) float64 {
	var err error
	if s.zoomed, err = s.zoom.Detect(d, f, zoomWindow(box, f), s.zoomed[:0]); err != nil {
		log("detect (zoom): " + err.Error())
		return 0
	}
	best, c := 0.0, box.Center()
	for i := range s.zoomed {
		dc := s.zoomed[i].Box.Center()
		if math.Hypot(dc.X-c.X, dc.Y-c.Y) < 0.5*box.W() {
			best = max(best, s.zoomed[i].Score)
		}
	}
	return best
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
