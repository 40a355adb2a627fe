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
//     face is a third of the window: a confident score); a track that no
//     detection confirms ends (see matchTracks);
//   - tiles of a third of the frame, half overlapping, one per detection
//     run while nothing is tracked, one every other run while there is room
//     for more faces: a face a twentieth of the frame wide is found within
//     one sweep (15 tiles), and a tracked face then keeps its track.
//
// Each part costs one detector run (~1.5 ms at 1080p on a 2-core EPYC,
// like the whole frame: BenchmarkDetectTile), hence the schedule.
type smallFaces struct {
	regions detect.Regions
	tiles   [maxTiles]image.Rectangle
	nTiles  int
	geom    [2]int // the frame size the tiles were laid out for
	next    int    // the tile the next sweep step looks at
	runs    int    // detection runs, for the every-other schedule
}

const (
	// tileMinScore: a new face from a tile needs this score. On tiles of a
	// third of the face-api group photos (1920 px) the faces scored
	// 0.84–0.96 and the other finds 0.30–0.71; a badge on the astronaut's
	// suit scored 0.53–0.64 on tiles and zoom windows of a 1080p frame and
	// became a second face. A zoom window, which confirms a face already
	// tracked, keeps the detector's own threshold.
	tileMinScore = 0.8
	maxTiles     = 32
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
	s.geom, s.nTiles, s.next = [2]int{w, h}, 0, 0
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
// frame's; maxFaces bounds what matching will use.
func (s *smallFaces) find(d detect.Detector, f *frame.Frame, dets []face.Detection, tracks []track, maxFaces int, log func(string)) []face.Detection {
	s.runs++
	s.layout(f.Width, f.Height)
	for i := range tracks {
		tr := &tracks[i]
		if tr.lm.N != 68 || near(dets, tr.box) {
			continue
		}
		c := tr.box.Center()
		side := min(max(zoomFactor*tr.box.W(), minRegion), float64(max(f.Width, f.Height))/3)
		r := image.Rect(int(c.X-side/2), int(c.Y-side/2), int(c.X+side/2), int(c.Y+side/2))
		dets = s.search(d, f, r, dets, 0, log)
	}
	if len(tracks) < maxFaces && (len(tracks) == 0 || s.runs%2 == 0) {
		dets = s.search(d, f, s.tiles[s.next], dets, tileMinScore, log)
		s.next = (s.next + 1) % s.nTiles
	}
	return dets
}

// search runs the detector on r and appends the faces scoring at least
// minScore that are not already in dets.
func (s *smallFaces) search(d detect.Detector, f *frame.Frame, r image.Rectangle, dets []face.Detection, minScore float64, log func(string)) []face.Detection {
	n := len(dets)
	dets, err := s.regions.Detect(d, f, r, dets)
	if err != nil {
		log("detect (region): " + err.Error())
		return dets[:n]
	}
	// Keep the new ones that are not a face already found.
	out := n

	for i := n; i < len(dets); i++ {
		if dets[i].Score >= minScore && !near(dets[:out], dets[i].Box) {
			dets[out] = dets[i]
			out++
		}
	}
	return dets[:out]
}

// near reports whether a detection in dets is the face in box: its centre
// within half the larger width of box's centre.
func near(dets []face.Detection, box face.Rect) bool {
	c := box.Center()
	for i := range dets {
		dc := dets[i].Box.Center()
		if math.Hypot(dc.X-c.X, dc.Y-c.Y) < 0.5*max(dets[i].Box.W(), box.W()) {
			return true
		}
	}
	return false
}
