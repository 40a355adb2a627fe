package engine

import (
	"testing"

	"facelive/adapt"
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
