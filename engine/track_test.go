package engine

import (
	"testing"

	"facelive/adapt"
	"facelive/engine/face"
	"facelive/engine/landmark"
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
	tk.matchTracks(o)
	if len(tk.tracks) != 1 || tk.tracks[0].id != 7 || tk.tracks[0].smoother != tr.smoother {
		t.Fatalf("matched: tracks %+v, want track 7 with its smoother", tk.tracks)
	}
	tk.dets = tk.dets[:0]
	tk.matchTracks(o)
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
				tk.matchTracks(o)
			}
			tk.dets = append(tk.dets[:0], face.Detection{Box: tc.again})
			tk.matchTracks(o)
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
