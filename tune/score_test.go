package tune

import (
	"math"
	"testing"
)

func TestScore(t *testing.T) {
	tests := []struct {
		name string
		s    Sample
		want float64
	}{
		{"keeping up", Sample{FPSIn: 30, FPSOut: 30, LatencyP95Ms: 20}, 1},
		{"half the frames", Sample{FPSIn: 30, FPSOut: 15, DropRate: 0.5, LatencyP95Ms: 20}, 0.5*0.5 + 0.3*0.5 + 0.2},
		{"twice the budget late", Sample{FPSIn: 25, FPSOut: 25, LatencyP95Ms: 80}, 0.5 + 0.3 + 0.2*0.5},
		{"latency unknown", Sample{FPSIn: 30, FPSOut: 30}, 1},
		{"target below input drops on purpose", Sample{FPSIn: 30, FPSOut: 15, DropRate: 0.5, TargetFPS: 15, LatencyP95Ms: 50}, 1},
		{"target below input, falling short", Sample{FPSIn: 30, FPSOut: 12, DropRate: 0.6, TargetFPS: 15, LatencyP95Ms: 50}, 0.5*0.8 + 0.3*0.8 + 0.2},
		{"target above input is the input", Sample{FPSIn: 30, FPSOut: 30, TargetFPS: 60}, 1},
		{"no input", Sample{FPSOut: 30}, 0},
		{"fps_out above fps_in is capped", Sample{FPSIn: 30, FPSOut: 31}, 1},
		{"NaN fields", Sample{FPSIn: 30, FPSOut: math.NaN(), DropRate: math.NaN(), LatencyP95Ms: math.NaN()}, 0.3 + 0.2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.s.Score()
			if math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("Score() = %v, want %v", got, tt.want)
			}
			if got < 0 || got > 1 {
				t.Errorf("Score() = %v, outside [0, 1]", got)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name                 string
		s                    Sample
		struggling, headroom bool
	}{
		{"drops", Sample{FPSIn: 30, FPSOut: 28, DropRate: 0.08}, true, false},
		{"behind", Sample{FPSIn: 30, FPSOut: 26, DropRate: 0.03}, true, false},
		{"comfortable", Sample{FPSIn: 30, FPSOut: 30, LatencyP95Ms: 10, CPUBusy: 0.4}, false, true},
		{"late but keeping up", Sample{FPSIn: 30, FPSOut: 30, LatencyP95Ms: 25}, false, false},
		{"cpu nearly full", Sample{FPSIn: 30, FPSOut: 30, LatencyP95Ms: 10, CPUBusy: 0.85}, false, false},
		{"a few drops", Sample{FPSIn: 30, FPSOut: 29.4, DropRate: 0.02, LatencyP95Ms: 10}, false, false},
		{"capped by target", Sample{FPSIn: 60, FPSOut: 30, DropRate: 0.5, TargetFPS: 30, LatencyP95Ms: 10}, false, true},
		{"no input", Sample{}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.struggling(); got != tt.struggling {
				t.Errorf("struggling() = %v, want %v", got, tt.struggling)
			}
			if got := tt.s.headroom(); got != tt.headroom {
				t.Errorf("headroom() = %v, want %v", got, tt.headroom)
			}
		})
	}
}
