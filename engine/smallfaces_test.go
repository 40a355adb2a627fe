package engine

import (
	"image"
	"testing"

	"facelive/engine/align"
	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/landmark"
	"facelive/engine/swap"
)

// regionRecorder is a detector that finds one face at the centre of what
// it is shown (a third of its width; score 0.6: too low for a tile to take
// it, so that tile runs count alone) and records the sizes it was shown.
type regionRecorder struct{ shown []image.Point }

func (r *regionRecorder) Detect(f *frame.Frame, dst []face.Detection) ([]face.Detection, error) {
	r.shown = append(r.shown, image.Pt(f.Width, f.Height))
	w, h := float64(f.Width), float64(f.Height)
	return append(dst[:0], face.Detection{Box: face.Rect{X0: w / 3, Y0: h/2 - w/6, X1: 2 * w / 3, Y1: h/2 + w/6}, Score: 0.6}), nil
}

// tileThenZoom finds a face an eighth of what it is shown at its centre,
// scoring tile on regions of tileSide and zoom on any other.
type tileThenZoom struct {
	tileSide     int
	tile, zoom   float64
	tiles, zooms int
}

func (d *tileThenZoom) Detect(f *frame.Frame, dst []face.Detection) ([]face.Detection, error) {
	score := d.zoom
	if f.Width == d.tileSide {
		score, d.tiles = d.tile, d.tiles+1
	} else {
		d.zooms++
	}
	w, h := float64(f.Width), float64(f.Height)
	return append(dst[:0], face.Detection{Box: face.Rect{X0: w/2 - w/16, Y0: h/2 - w/16, X1: w/2 + w/16, Y1: h/2 + w/16}, Score: score}), nil
}

func (d *tileThenZoom) Close() error { return nil }

// A face a tile finds becomes a face only if a zoom window around it
// agrees (zoomMinScore), and it takes the zoom's score: the tiles' false
// finds on the scenes' backgrounds scored up to 0.82, in zoom windows 0.67.
func TestTileFindsAreCheckedByAZoom(t *testing.T) {
	f := frame.Frame{Format: frame.BGRA, Width: 1280, Height: 720, Stride: [4]int{1280 * 4}}
	f.Planes[0] = make([]byte, 1280*720*4)
	for _, tc := range []struct {
		tile, zoom float64
		want       int
	}{
		{0.9, 0.9, 1},
		{0.82, 0.67, 0}, // a motorcycle part
		{0.66, 0.72, 1}, // a laughing face, turned
		{0.6, 0.99, 0},  // below tileMinScore: no zoom asked
	} {
		d := &tileThenZoom{tileSide: 1280 / 3, tile: tc.tile, zoom: tc.zoom}
		var s smallFaces
		dets, _ := s.find(d, &f, nil, nil, 4, func(string) {})
		if len(dets) != tc.want || d.tiles != 1 {
			t.Errorf("tile %.2f, zoom %.2f: %d faces from %d tile runs, want %d from 1", tc.tile, tc.zoom, len(dets), d.tiles, tc.want)
			continue
		}
		if wantZooms := map[bool]int{true: 1, false: 0}[tc.tile >= tileMinScore]; d.zooms != wantZooms {
			t.Errorf("tile %.2f: %d zoom checks, want %d", tc.tile, d.zooms, wantZooms)
		}
		if tc.want == 1 && dets[0].Score != tc.zoom {
			t.Errorf("tile %.2f, zoom %.2f: the face scores %.2f, want the zoom's", tc.tile, tc.zoom, dets[0].Score)
		}
	}
}

func (r *regionRecorder) Close() error { return nil }

// The tiles of a 1080p frame: a third of its width, half overlapping, so
// any face up to half a tile lies wholly inside one.
func TestSmallFaceTiles(t *testing.T) {
	var s smallFaces
	s.layout(1920, 1080)
	if s.nTiles != 15 {
		t.Fatalf("%d tiles, want 15 (5 columns × 3 rows of 640 px)", s.nTiles)
	}
	frameR := image.Rect(0, 0, 1920, 1080)
	for y := 0; y+320 <= 1080; y += 37 {
		for x := 0; x+320 <= 1920; x += 41 {
			face := image.Rect(x, y, x+320, y+320)
			found := false
			for _, tile := range s.tiles[:s.nTiles] {
				if !tile.In(frameR) || tile.Dx() != 640 || tile.Dy() != 640 {
					t.Fatalf("tile %v", tile)
				}
				found = found || face.In(tile)
			}
			if !found {
				t.Fatalf("a 320 px face at %v is in no tile", face)
			}
		}
	}
}

// The schedule: a tile per run while nothing is tracked (a sweep of every
// tile in turn), every tileEvery runs while there is room for more faces, none
// when the faces are all taken; a zoom window three face widths wide
// around a tracked face the whole frame missed.
func TestSmallFaceSchedule(t *testing.T) {
	f := frame.Frame{Format: frame.BGRA, Width: 1920, Height: 1080, Stride: [4]int{1920 * 4}}
	f.Planes[0] = make([]byte, 1920*1080*4)
	noLog := func(string) {}
	d := &regionRecorder{}
	var s smallFaces
	for range 15 {
		s.find(d, &f, nil, nil, 4, noLog)
	}
	if len(d.shown) != 15 {
		t.Fatalf("nothing tracked: %d region runs in 15 detection runs, want 15", len(d.shown))
	}
	if s.next != 0 {
		t.Fatalf("after 15 runs the sweep is at tile %d, want back at 0", s.next)
	}

	box := face.Rect{X0: 900, Y0: 500, X1: 980, Y1: 580} // an 80 px face
	tracked := func() []track {
		tr := track{box: box, verified: true} // vouched for: no closer look (see TestNewSmallFacesGetACloserLook)
		tr.lm.N = 68
		return []track{tr}
	}
	onIt := []face.Detection{{Box: box}}
	d.shown = nil
	for range 4 * tileEvery {
		s.find(d, &f, onIt, tracked(), 4, noLog)
	}
	if len(d.shown) != 4 {
		t.Errorf("a face found by the whole frame, room for more: %d tile runs in %d, want 4", len(d.shown), 4*tileEvery)
	}
	d.shown = nil
	for range 4 {
		s.find(d, &f, onIt, tracked(), 1, noLog)
	}
	if len(d.shown) != 0 {
		t.Errorf("max_faces taken: %d region runs, want none", len(d.shown))
	}
	// Missed by the whole frame: a zoom window around it, and its face is added.
	d.shown = nil
	dets, _ := s.find(d, &f, nil, tracked(), 1, noLog)
	if len(d.shown) != 1 || d.shown[0].X < 236 || d.shown[0].X > 244 {
		t.Fatalf("missed: regions %v, want one zoom window ≈ 240 px (3 × 80)", d.shown)
	}
	if len(dets) != 1 || !near(dets, box) {
		t.Fatalf("zoom found %v, want the face at %v", dets, box)
	}
	// A face a region finds again where one is already known is not added
	// twice; a tracked face the whole frame found needs no zoom.
	d.shown = nil
	if dets := s.search(d, &f, image.Rect(820, 420, 1060, 660), dets, 0, noLog); len(dets) != 1 || len(d.shown) != 1 {
		t.Errorf("the same face twice: %v", dets)
	}
	d.shown = nil
	if s.find(d, &f, dets, tracked(), 1, noLog); len(d.shown) != 0 {
		t.Errorf("a tracked face the whole frame found: %v region runs, want none", d.shown)
	}
}

// A new small face the whole frame found but that nothing vouched for yet
// (no second opinion, a low score) gets a zoom window on its first
// lookRuns detection runs, and the detection takes the zoom's better
// score; a large face does not (the whole frame sees it well).
func TestNewSmallFacesGetACloserLook(t *testing.T) {
	f := frame.Frame{Format: frame.BGRA, Width: 1280, Height: 720, Stride: [4]int{1280 * 4}}
	f.Planes[0] = make([]byte, 1280*720*4)
	for _, tc := range []struct {
		name     string
		box      face.Rect
		verified bool
		runs     int
		looks    int
	}{
		{"new small face", face.Rect{X0: 600, Y0: 300, X1: 680, Y1: 380}, false, 0, 1},
		{"vouched for", face.Rect{X0: 600, Y0: 300, X1: 680, Y1: 380}, true, 0, 0},
		{"looked at enough", face.Rect{X0: 600, Y0: 300, X1: 680, Y1: 380}, false, lookRuns, 0},
		{"large face", face.Rect{X0: 400, Y0: 100, X1: 800, Y1: 500}, false, 0, 0},
	} {
		d := &tileThenZoom{tileSide: 1280 / 3, tile: 0.5, zoom: 0.95} // tiles find nothing new
		tr := track{box: tc.box, verified: tc.verified, runs: tc.runs, score: 0.6}
		tr.lm.N = 68
		dets := []face.Detection{{Box: tc.box, Score: 0.6}}
		var s smallFaces
		s.swept = true // past the first sweep; the tile is the every-other run's
		dets, _ = s.find(d, &f, dets, []track{tr}, 1, func(string) {})
		if d.zooms != tc.looks {
			t.Errorf("%s: %d zoom windows, want %d", tc.name, d.zooms, tc.looks)
		}
		if want := map[bool]float64{true: 0.95, false: 0.6}[tc.looks > 0]; len(dets) != 1 || dets[0].Score != want {
			t.Errorf("%s: detections %v, want the face scoring %.2f", tc.name, dets, want)
		}
	}
}

// zoomOnly finds its face in the whole frame on the first frame only (a
// small face the whole frame scores too low after that), and in any region
// centred on it, which it counts.
type zoomOnly struct {
	w     int
	face  float64 // side, px
	zooms int
}

func (d *zoomOnly) Detect(f *frame.Frame, dst []face.Detection) ([]face.Detection, error) {
	if f.Width == d.w && f.PTS != 0 {
		return dst[:0], nil
	}
	cx, cy := float64(f.Width)/2, float64(f.Height)/2
	if f.Width == d.w {
		cx, cy = 320, 240
	} else {
		d.zooms++
	}
	lm := synthFace(face.Rect{X0: cx - d.face/2, Y0: cy - d.face/2, X1: cx + d.face/2, Y1: cy + d.face/2})
	return append(dst[:0], synthDetection(&lm, d.face/0.86)), nil
}

func (d *zoomOnly) Close() error { return nil }

// A small face only zoom windows find keeps its track on every detection
// run, though once established it is looked for every confirmEvery runs.
func TestEstablishedSmallFaceIsZoomedNowAndThen(t *testing.T) {
	lm := synthFace(face.Rect{X0: 280, Y0: 200, X1: 360, Y1: 280})
	det := &zoomOnly{w: 640, face: 80}
	var sw swap.Swapper = stampSwapper{}
	m := &faceModels{det: det, fit: &fakeFitter{lm: lm}, sw: sw, align: align.DefaultOptions(&landmark.MeanFace), log: func(Level, string) {}}
	m.align.Size = sw.Size()
	tk := testTracker(t)
	o := &faceOptions{interval: 1, maxFaces: 1} // a run every frame; no room for tiles
	fr := blank(frame.BGR24, 640, 480, 0)
	j := &faceJob{}
	const frames = 21
	var id uint64
	for k := range frames {
		fr.PTS = int64(k) * 33_000_000
		*j = faceJob{f: fr, m: m, o: o, crops: j.crops}
		tk.track(j)
		if len(tk.tracks) != 1 {
			t.Fatalf("frame %d: %d faces followed, want the one", k, len(tk.tracks))
		}
		if k == 0 {
			id, det.zooms = tk.tracks[0].id, 0 // frame 0's tile and its check are not the face's
		} else if tk.tracks[0].id != id {
			t.Fatalf("frame %d: the face's track changed (%d, was %d)", k, tk.tracks[0].id, id)
		}
	}
	// Runs 2 and 3 look (new), then one in confirmEvery of runs 4..21.
	if want := (lookRuns - 1) + (frames-lookRuns)/confirmEvery; det.zooms < want-1 || det.zooms > want+1 {
		t.Errorf("%d zoom windows in %d runs, want about %d", det.zooms, frames, want)
	}
}
