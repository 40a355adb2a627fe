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

// TestMissedDetectionKeepsTheTrack: a detection that misses a face whose
// landmark fit holds keeps the track (same id) for maxMisses detections in
// a row; the next miss, or a track without a fit, lets it go; a detection
// that finds it again starts the count over.
func TestMissedDetectionKeepsTheTrack(t *testing.T) {
	box := face.Rect{X0: 100, Y0: 100, X1: 300, Y1: 300}
	fitted := func(id uint64) track {
		tr := track{id: id, box: box, smoother: landmark.NewSmoother(0.5)}
		tr.lm.N = 68
		return tr
	}
	o := &faceOptions{maxFaces: 4, smoothing: 0.5}
	tk := newTracker(nil, nil)
	tk.tracks = append(tk.tracks, fitted(7))
	tk.nextID = 7
	for miss := 1; miss <= maxMisses; miss++ {
		tk.dets = tk.dets[:0]
		tk.matchTracks(o)
		if len(tk.tracks) != 1 || tk.tracks[0].id != 7 || tk.tracks[0].misses != miss || tk.fresh != 0 {
			t.Fatalf("miss %d: tracks %+v (fresh %d), want track 7 kept with %d misses", miss, tk.tracks, tk.fresh, miss)
		}
	}
	// Found again: same track, count reset, and it is this frame's fresh detection.
	tk.dets = append(tk.dets[:0], face.Detection{Box: box})
	tk.matchTracks(o)
	if len(tk.tracks) != 1 || tk.tracks[0].id != 7 || tk.tracks[0].misses != 0 || tk.fresh != 1 {
		t.Fatalf("found again: tracks %+v (fresh %d), want track 7 with 0 misses", tk.tracks, tk.fresh)
	}
	for range maxMisses + 1 {
		tk.dets = tk.dets[:0]
		tk.matchTracks(o)
	}
	if len(tk.tracks) != 0 {
		t.Fatalf("after %d misses in a row: tracks %+v, want none", maxMisses+1, tk.tracks)
	}
	// A track without a 68-point fit is not kept by tracking.
	tk.tracks = append(tk.tracks[:0], track{id: 9, box: box, smoother: landmark.NewSmoother(0.5)})
	tk.dets = tk.dets[:0]
	tk.matchTracks(o)
	if len(tk.tracks) != 0 {
		t.Fatalf("unfitted track kept: %+v", tk.tracks)
	}
}
