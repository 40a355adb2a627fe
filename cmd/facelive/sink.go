package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"gocv.io/x/gocv"
)

// sink is where run writes the processed frames: a video file, a window, or
// a v4l2loopback virtual camera.
type sink interface {
	// write takes one BGR frame; errQuit when the user closed the window
	// or pressed q.
	write(m *gocv.Mat) error
	close() error
	// live: frames go out at the video's pace (a window, a camera),
	// not as fast as they are processed (a file).
	live() bool
	describe() string
}

// errQuit ends a run early because the user asked to (q, Esc, the
// window's close button); run exits 0.
var errQuit = errors.New("quit")

// outputSpec is what --output names.
type outputSpec struct {
	kind string // "file", "window", "v4l2"
	path string // the file or the device
}

// parseOutput reads --output: "window", "v4l2:/dev/videoN", or a video file.
func parseOutput(s string) (outputSpec, error) {
	switch {
	case s == "window":
		return outputSpec{kind: "window"}, nil
	case strings.HasPrefix(s, "v4l2:"):
		dev := strings.TrimPrefix(s, "v4l2:")
		if dev == "" {
			return outputSpec{}, fmt.Errorf("--output v4l2: names no device; use v4l2:/dev/videoN (the loopback device)")
		}
		return outputSpec{kind: "v4l2", path: dev}, nil
	}
	if _, err := codecsFor(s); err != nil {
		return outputSpec{}, err
	}
	return outputSpec{kind: "file", path: s}, nil
}

// fileSink writes a video file.
type fileSink struct {
	w     *gocv.VideoWriter
	path  string
	codec string
}

func (s *fileSink) write(m *gocv.Mat) error {
	return s.w.Write(*m) // OpenCV logs what it cannot write itself
}
func (s *fileSink) close() error     { return s.w.Close() }
func (s *fileSink) live() bool       { return false }
func (s *fileSink) describe() string { return s.path + " (codec " + s.codec + ")" }

// windowSink shows the frames in a window: q or Esc quits, s switches the
// stats overlay on and off (toggle), the close button quits.
type windowSink struct {
	win    *gocv.Window
	toggle func() // the stats overlay key
	shown  int
}

const windowTitle = "facelive (q: quit, s: stats)"

func openWindow(toggle func()) *windowSink {
	w := gocv.NewWindow(windowTitle) // locks this goroutine to its thread until close
	return &windowSink{win: w, toggle: toggle}
}

func (s *windowSink) write(m *gocv.Mat) error {
	s.win.IMShow(*m)
	s.shown++
	switch key := s.win.WaitKey(1); key {
	case 'q', 'Q', 27:
		return errQuit
	case 's', 'S':
		if s.toggle != nil {
			s.toggle()
		}
	}
	// The window's close button: OpenCV reports it invisible.
	if s.shown > 1 && s.win.GetWindowProperty(gocv.WindowPropertyVisible) < 1 {
		return errQuit
	}
	return nil
}
func (s *windowSink) close() error     { return s.win.Close() }
func (s *windowSink) live() bool       { return true }
func (s *windowSink) describe() string { return "a window" }

// pacer holds frames to the video's rate for live sinks: frame k goes out
// at start + k/fps (a window shows a file at its speed, a virtual camera
// gets frames at its rate).
type pacer struct {
	start time.Time
	fps   float64
}

func (p *pacer) wait(k int) {
	if p.fps <= 0 {
		return
	}
	if d := time.Until(p.start.Add(time.Duration(float64(k) * float64(time.Second) / p.fps))); d > 0 {
		time.Sleep(d)
	}
}
