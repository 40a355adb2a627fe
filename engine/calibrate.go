package engine

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"facelive/engine/align"
	"facelive/engine/frame"
	"facelive/engine/merge"
	"facelive/tune"
)

// The calibration: one face's align.Crop and merge.Merger.Paste (the
// config's default merge: erode 5, blur 25, rct, opacity 1) on a 1080p NV12
// frame, the CPU work every swapped face costs whatever the model. It needs
// no model files and takes ~50 ms on a 2-core EPYC, setup included.
const (
	CalibrationStage = "1080p face frame align+merge"
	// CalibrationSetup says what one run does, for facelive tune.
	CalibrationSetup = "align.Crop + merge.Paste of one 224-px face on a 1920×1080 NV12 frame, merge erode 5, blur 25, rct, opacity 1"
	calibW, calibH   = 1920, 1080
	calibFaceBox     = 260 // frame pixels the 224-px crop covers, a face at webcam distance
	calibWarmup      = 2   // the merger's scratch buffers and LUTs, then warm caches
	calibRuns        = 9
)

// Calibrate times the calibration: calibWarmup runs, then the median of
// calibRuns. It allocates its frame and buffers (~3.5 MB) and drops them.
func Calibrate() (tune.Calibration, error) {
	b := frame.NewPool(1).Get(frame.NV12, calibW, calibH)
	f := &b.Frame
	fillScene(f)
	size := merge.RefSize
	// A similarity turned by ~6° (faces are rarely upright), mapping the
	// face box around the frame's centre onto the crop.
	const cos, sin = 0.9945, 0.1045
	sc := float64(size) / calibFaceBox
	a, c := sc*cos, sc*sin
	cx, cy, h := calibW/2.0, calibH/2.0, float64(size)/2
	tf, err := align.NewTransform([6]float64{a, c, h - a*cx - c*cy, -c, a, h + c*cx - a*cy}, size)
	if err != nil {
		return tune.Calibration{}, fmt.Errorf("calibration: %w", err)
	}
	crop := make([]byte, 3*size*size)
	// Two faces pasted in turn, so every paste changes the pixels it blends
	// (a paste that changes nothing skips its writes).
	faces := [2][]byte{make([]byte, 3*size*size), make([]byte, 3*size*size)}
	for i := range faces[0] {
		faces[0][i] = byte(90 + (i*7)%61)
		faces[1][i] = byte(150 - (i*5)%53)
	}
	mask := make([]float32, size*size)
	ellipse(size, mask)
	mg := merge.New()
	o := merge.DefaultOptions()
	o.TargetCrop = crop // as the pipeline does: the swapper's input is the crop
	run := func(i int) error {
		if err := align.Crop(f, tf, crop); err != nil {
			return err
		}
		return mg.Paste(f, tf, faces[i%2], mask, o)
	}
	for i := range calibWarmup {
		if err := run(i); err != nil {
			return tune.Calibration{}, fmt.Errorf("calibration: %w", err)
		}
	}
	var times [calibRuns]time.Duration
	for i := range times {
		t0 := time.Now()
		if err := run(i); err != nil {
			return tune.Calibration{}, fmt.Errorf("calibration: %w", err)
		}
		times[i] = time.Since(t0)
	}
	slices.Sort(times[:])
	med := (times[(calibRuns-1)/2] + times[calibRuns/2]) / 2
	return tune.Calibration{Stage: CalibrationStage, Ms: float64(med) / float64(time.Millisecond), Runs: calibRuns}, nil
}

// fillScene paints f (NV12) with gradients and a little texture, so the
// colour statistics and the blend work on varied pixels.
func fillScene(f *frame.Frame) {
	y, uv := f.Planes[0], f.Planes[1]
	for r := range f.Height {
		row := y[r*f.Stride[0] : r*f.Stride[0]+f.Width]
		for x := range row {
			row[x] = byte(40 + (x+r)>>5 + (x^r)&31)
		}
	}
	for r := range f.Height / 2 {
		row := uv[r*f.Stride[1] : r*f.Stride[1]+f.Width]
		for x := 0; x < len(row); x += 2 {
			row[x], row[x+1] = byte(110+x/64), byte(140-r/16)
		}
	}
}

// ellipse is a face-shaped mask: 1 inside, a short ramp, 0 outside, as the
// InSwapper's fixed mask.
func ellipse(size int, mask []float32) {
	cx, cy := float64(size)/2, float64(size)*0.48
	rx, ry := float64(size)*0.34, float64(size)*0.42
	for y := range size {
		for x := range size {
			dx, dy := (float64(x)+0.5-cx)/rx, (float64(y)+0.5-cy)/ry
			switch d := dx*dx + dy*dy; {
			case d <= 0.81:
				mask[y*size+x] = 1
			case d < 1:
				mask[y*size+x] = float32((1 - d) / 0.19)
			}
		}
	}
}

// calibration runs its measurement once and keeps the figure: the first
// profile resolved with "auto" pays for it, every later one reads it.
type calibration struct {
	once    sync.Once
	measure func() (tune.Calibration, error)
	c       tune.Calibration
	err     error
}

func (c *calibration) get() (tune.Calibration, error) {
	c.once.Do(func() { c.c, c.err = c.measure() })
	return c.c, c.err
}

var machineCalibration = &calibration{measure: Calibrate}

// MachineCalibration returns this machine's calibration, measured on the
// first call of the process and cached.
func MachineCalibration() (tune.Calibration, error) { return machineCalibration.get() }

// SystemFor returns System for resolving profile: "auto" also gets the CPU
// calibration (PickProfile's main figure); a named profile needs none. A
// calibration that fails leaves the core-count rules.
func SystemFor(profile string) tune.System {
	s := System()
	if profile == "auto" {
		s.CPU, _ = MachineCalibration()
	}
	return s
}
