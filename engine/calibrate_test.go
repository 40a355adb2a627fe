package engine

import (
	"errors"
	"math"
	"testing"
	"time"

	"facelive/tune"
)

// The real calibration on this machine: only that it gives a figure, never
// how fast the machine is.
func TestCalibrateMeasures(t *testing.T) {
	t0 := time.Now()
	c, err := Calibrate()
	took := time.Since(t0)
	if err != nil {
		t.Fatal(err)
	}
	if !(c.Ms > 0) || math.IsInf(c.Ms, 0) || c.Runs != calibRuns || c.Stage != CalibrationStage {
		t.Fatalf("Calibrate() = %+v, want a positive finite ms over %d runs of %q", c, calibRuns, CalibrationStage)
	}
	t.Logf("calibration %.3f ms (median of %d), %v in all", c.Ms, c.Runs, took)
}

func TestCalibrationRunsOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    tune.Calibration
		err  error
	}{
		{"measured", tune.Calibration{Stage: "x", Ms: 1.5, Runs: 10}, nil},
		{"failed", tune.Calibration{}, errors.New("boom")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			cal := &calibration{measure: func() (tune.Calibration, error) { calls++; return tc.c, tc.err }}
			for range 3 {
				if c, err := cal.get(); c != tc.c || !errors.Is(err, tc.err) {
					t.Fatalf("get() = %+v, %v; want %+v, %v", c, err, tc.c, tc.err)
				}
			}
			if calls != 1 {
				t.Errorf("measured %d times, want once", calls)
			}
		})
	}
}
