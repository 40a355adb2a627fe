package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gocv.io/x/gocv"

	"facelive/engine"
	"facelive/engine/config"
	"facelive/engine/frame"
)

// runLive swaps faces in a camera's frames as they come: each frame is
// stamped with the time it was read, submitted, and the newest processed
// frame goes to the sink. Nothing waits for the engine (a frame it has not
// processed yet is simply not shown: the window keeps the last one, a
// virtual camera repeats it); it runs until the user quits (q, Esc, the
// window's close button, Ctrl-C) or the camera stops.
func runLive(ctx context.Context, capture *gocv.VideoCapture, input string, out outputSpec, v4l2Format string,
	cfg config.Config, newPipeline func() (*engine.Pipeline, error), con *console, quiet bool) error {
	in := gocv.NewMat()
	defer in.Close()
	if !capture.Read(&in) || in.Empty() {
		return fmt.Errorf("camera %s delivered no frame: is another program using it?", input)
	}
	width, height := in.Cols(), in.Rows()
	fps := capture.Get(gocv.VideoCaptureFPS)
	if !(fps > 0 && fps <= 1000) {
		fps = 30
	}
	outM := gocv.NewMatWithSize(height, width, gocv.MatTypeCV8UC3)
	defer outM.Close()
	var inF, outF frame.Frame
	if err := bgrView(&outF, &outM); err != nil {
		return err
	}

	var p *engine.Pipeline
	s, err := openSink(out, v4l2Format, fps, width, height, func() { toggleStats(p, con) })
	if err != nil {
		return err
	}
	defer s.close()
	p, err = newPipeline()
	if err != nil {
		return err
	}
	defer p.Close()

	start := time.Now()
	read, written, got := 0, 0, 0
	var stopErr error
	for ctx.Err() == nil {
		if in.Cols() != width || in.Rows() != height || in.Type() != gocv.MatTypeCV8UC3 {
			stopErr = fmt.Errorf("camera %s changed its format to %dx%d mid-stream; start again", input, in.Cols(), in.Rows())
			break
		}
		if err := bgrView(&inF, &in); err != nil {
			return err
		}
		inF.PTS = time.Since(start).Nanoseconds() // when it was read: the engine paces by it
		if err := p.Submit(&inF); err != nil && !errors.Is(err, engine.ErrDropped) && !errors.Is(err, engine.ErrBusy) &&
			!errors.Is(err, engine.ErrPoisoned) {
			return fmt.Errorf("submitting camera frame %d: %w", read, err)
		}
		read++
		outF.PTS = -1
		if err := p.Get(&outF, 0); err == nil || (errors.Is(err, engine.ErrPoisoned) && outF.PTS >= 0) {
			got++
			err := s.write(&outM)
			if errors.Is(err, errQuit) {
				break
			}
			if err != nil {
				return err
			}
			written++
		}
		if !capture.Read(&in) || in.Empty() {
			stopErr = fmt.Errorf("camera %s stopped delivering frames after %d", input, read)
			break
		}
	}
	end := time.Now()
	if !quiet {
		printSummaryCounts(con.w, input, s.describe(), width, height, fps, cfg, p.Metrics(), read, written, 0, got, end.Sub(start))
	}
	if msg, ok := p.Poisoned(); ok {
		return fmt.Errorf("engine fault: %s; frames from then on passed through unmodified", msg)
	}
	return stopErr
}
