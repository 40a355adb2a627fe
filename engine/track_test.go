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
