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

// tileThenZoom finds a face at the centre of what it is shown: an eighth
// of a tile (regions of tileSide), scoring tile, and a third of any other
// region (a zoom window, three face widths wide), scoring zoom.
type tileThenZoom struct {
	tileSide     int
	tile, zoom   float64
	tiles, zooms int
}

func (d *tileThenZoom) Detect(f *frame.Frame, dst []face.Detection) ([]face.Detection, error) {
	score, half := d.zoom, float64(f.Width)/6
	if f.Width == d.tileSide {
		score, half, d.tiles = d.tile, float64(f.Width)/16, d.tiles+1
	} else {
		d.zooms++
	}
	w, h := float64(f.Width), float64(f.Height)
	return append(dst[:0], face.Detection{Box: face.Rect{X0: w/2 - half, Y0: h/2 - half, X1: w/2 + half, Y1: h/2 + half}, Score: score}), nil
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
		dets, _, _ := s.find(d, &f, nil, nil, 4, func(string) {})
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
	tracked := func(runs int) []track {
		// Vouched for, with a zoom window's box: established, it needs no
		// closer look (see TestNewSmallFacesGetACloserLook).
		tr := track{box: box, verified: true, sharp: true, runs: runs}
		tr.lm.N = 68
		return []track{tr}
	}
	established := func() []track { return tracked(lookRuns) }
	onIt := []face.Detection{{Box: box}}
	d.shown = nil
	for range 4 * tileEvery {
		s.find(d, &f, onIt, established(), 4, noLog)
	}
	if len(d.shown) != 4 {
		t.Errorf("a face found by the whole frame, room for more: %d tile runs in %d, want 4", len(d.shown), 4*tileEvery)
	}
	d.shown = nil
	for range 4 {
		s.find(d, &f, onIt, established(), 1, noLog)
	}
	if len(d.shown) != 0 {
		t.Errorf("max_faces taken: %d region runs, want none", len(d.shown))
	}
	// A new face missed by the whole frame: a zoom window around it, and
	// its face is added.
	d.shown = nil
	dets, _, sharp := s.find(d, &f, nil, tracked(0), 1, noLog)
	if len(d.shown) != 1 || d.shown[0].X < 236 || d.shown[0].X > 244 {
		t.Fatalf("missed: regions %v, want one zoom window ≈ 240 px (3 × 80)", d.shown)
	}
	if len(dets) != 1 || !near(dets, box) || sharp != 1 {
		t.Fatalf("zoom found %v (sharp %b), want the face at %v, sharp", dets, sharp, box)
	}
	// A face a region finds again where one is already known is not added
	// twice; an established face with a zoom's box the whole frame found
	// needs no zoom, and the whole frame's looser box of it is not taken
	// (the track goes on as it is: unseen).
	d.shown = nil
	if dets := s.search(d, &f, image.Rect(820, 420, 1060, 660), dets, 0, noLog); len(dets) != 1 || len(d.shown) != 1 {
		t.Errorf("the same face twice: %v", dets)
	}
	d.shown = nil
	loose := []face.Detection{{Box: face.Rect{X0: 880, Y0: 480, X1: 1030, Y1: 630}, Score: 0.6}} // the whole frame's 150 px box
	if got, unseen, _ := s.find(d, &f, loose, established(), 1, noLog); len(d.shown) != 0 || len(got) != 0 || unseen != 1 {
		t.Errorf("an established face the whole frame found: %v region runs, detections %v, unseen %b; want none, none, the track", d.shown, got, unseen)
	}
}

// A new small face the whole frame found gets a zoom window, whose box
// (the whole frame's of a small face is loose) and better score the
// detection takes. Established, a face with a zoom's box goes on from it
// (its track is unseen) unless its fit's size strayed, one without keeps the whole frame's (no window
// confirmed it while it was new); a large face gets none (the whole frame
// sees it well).
func TestNewSmallFacesGetACloserLook(t *testing.T) {
	f := frame.Frame{Format: frame.BGRA, Width: 1280, Height: 720, Stride: [4]int{1280 * 4}}
	f.Planes[0] = make([]byte, 1280*720*4)
	small := face.Rect{X0: 600, Y0: 300, X1: 680, Y1: 380}
	for _, tc := range []struct {
		name           string
		box            face.Rect // the face, painted
		sharp, strayed bool
		runs           int
		looks          int
	}{
		{"new small face", small, false, false, 0, 1},
		{"new, with a zoom's box", small, true, false, 0, 1},
		{"established, no zoom's box (a profile no window confirmed)", small, false, false, lookRuns, 0},
		{"established, a zoom's box", small, true, false, lookRuns, 0},
		{"established, a zoom's box, its fit's size strayed", small, true, true, lookRuns, 1},
		{"large face", face.Rect{X0: 400, Y0: 100, X1: 800, Y1: 500}, false, false, 0, 0},
	} {
		clear(f.Planes[0])
		for y := int(tc.box.Y0); y < int(tc.box.Y1); y++ {
			for x := int(tc.box.X0); x < int(tc.box.X1); x++ {
				f.Planes[0][y*f.Stride[0]+4*x] = 255
			}
		}
		d := &paintedFace{tileSide: 1280 / 3, tile: 0.5, zoom: 0.95} // tiles find nothing new
		tr := track{box: tc.box, sharp: tc.sharp, strayed: tc.strayed, runs: tc.runs, score: 0.6}
		tr.lm.N = 68
		g := 0.2 * tc.box.W() // the whole frame's box is looser
		loose := face.Rect{X0: tc.box.X0 - g, Y0: tc.box.Y0 - g, X1: tc.box.X1 + g, Y1: tc.box.Y1 + g}
		dets := []face.Detection{{Box: loose, Score: 0.6}}
		var s smallFaces
		s.swept = true // past the first sweep; the tile is the every-other run's
		dets, _, sharp := s.find(d, &f, dets, []track{tr}, 1, func(string) {})
		if d.zooms != tc.looks {
			t.Errorf("%s: %d zoom windows, want %d", tc.name, d.zooms, tc.looks)
		}
		switch {
		case tc.looks > 0:
			if len(dets) != 1 || dets[0].Score != 0.95 || sharp != 1 || dets[0].Box != tc.box {
				t.Errorf("%s: detections %v (sharp %b), want the zoom's box of the face, scoring 0.95", tc.name, dets, sharp)
			}
		case tc.sharp:
			if len(dets) != 0 {
				t.Errorf("%s: detections %v, want none (the track goes on from its own box)", tc.name, dets)
			}
		default:
			if len(dets) != 1 || dets[0].Box != loose || sharp != 0 {
				t.Errorf("%s: detections %v (sharp %b), want the whole frame's as it was", tc.name, dets, sharp)
			}
		}
	}
}

// paintedFace finds the face painted into the frame (blue 255) where a
// region holds it whole: its box exactly, scoring tile on regions of
// tileSide and zoom on any other, which it counts.
type paintedFace struct {
	tileSide   int
	tile, zoom float64
	zooms      int
}

func (d *paintedFace) Detect(f *frame.Frame, dst []face.Detection) ([]face.Detection, error) {
	score := d.tile
	if f.Width != d.tileSide {
		score, d.zooms = d.zoom, d.zooms+1
	}
	b := face.Rect{X0: 1e9, Y0: 1e9, X1: -1, Y1: -1}
	for y := range f.Height {
		for x := range f.Width {
			if f.Planes[0][y*f.Stride[0]+4*x] == 255 {
				b = face.Rect{X0: min(b.X0, float64(x)), Y0: min(b.Y0, float64(y)), X1: max(b.X1, float64(x+1)), Y1: max(b.Y1, float64(y+1))}
			}
		}
	}
	if b.X1 < 0 {
		return dst[:0], nil
	}
	return append(dst[:0], face.Detection{Box: b, Score: score}), nil
}

func (d *paintedFace) Close() error { return nil }

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
