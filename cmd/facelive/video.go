package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gocv.io/x/gocv"

	"facelive/engine/frame"
)

// codecsFor lists the FourCCs to try for an output file, best first, chosen
// by its extension.
func codecsFor(path string) ([]string, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".mp4", ".m4v", ".mov":
		return []string{"avc1", "mp4v"}, nil
	case ".avi":
		return []string{"MJPG", "XVID"}, nil
	case ".mkv":
		return []string{"X264", "avc1", "mp4v"}, nil
	default:
		return nil, fmt.Errorf("cannot write %s: unknown video extension %q; use .mp4, .mkv or .avi", path, ext)
	}
}

// openWriter creates path as a BGR video of the given size and rate, trying
// the extension's codecs in order. It returns the codec that opened.
func openWriter(path string, fps float64, width, height int) (*gocv.VideoWriter, string, error) {
	codecs, err := codecsFor(path)
	if err != nil {
		return nil, "", err
	}
	if dir := filepath.Dir(path); dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, "", fmt.Errorf("cannot write %s: directory %s does not exist", path, dir)
		}
	}
	for _, codec := range codecs {
		w, err := gocv.VideoWriterFile(path, codec, fps, width, height, true)
		if err != nil {
			return nil, "", fmt.Errorf("cannot write %s: %v", path, err)
		}
		if w.IsOpened() {
			return w, codec, nil
		}
		w.Close()
		os.Remove(path) // a failed open may leave an empty file behind
	}
	return nil, "", fmt.Errorf("cannot write %s: OpenCV's video writer opened none of the codecs %s for %dx%d at %g fps",
		path, strings.Join(codecs, ", "), width, height, fps)
}

// cameraDevice says whether --input names a camera: /dev/videoN or a
// camera index N. It returns what OpenCV opens (the index, or the path).
func cameraDevice(input string) (any, bool) {
	if n, err := strconv.Atoi(input); err == nil && n >= 0 {
		return n, true
	}
	if strings.HasPrefix(input, "/dev/video") {
		if _, err := strconv.Atoi(strings.TrimPrefix(input, "/dev/video")); err == nil {
			return input, true
		}
	}
	return nil, false
}

// openCamera opens a V4L2 camera at the size and rate asked (0: the
// camera's own); a missing camera is a usage error that names the fix.
func openCamera(input string, dev any, width, height int, fps float64) (*gocv.VideoCapture, error) {
	path := input
	if n, ok := dev.(int); ok {
		path = fmt.Sprintf("/dev/video%d", n)
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, usageErrorf("run: no camera at %s: plug one in and list them with 'ls /dev/video*' "+
			"(v4l2-ctl --list-devices names them); a video file works too", path)
	}
	c, err := gocv.OpenVideoCaptureWithAPI(dev, gocv.VideoCaptureV4L2)
	if err != nil || !c.IsOpened() {
		if c != nil {
			c.Close()
		}
		return nil, fmt.Errorf("cannot open camera %s: OpenCV's V4L2 capture refused it (in use by another program, "+
			"or not a capture device? 'v4l2-ctl --list-devices' shows what it is)", path)
	}
	if width > 0 && height > 0 {
		c.Set(gocv.VideoCaptureFrameWidth, float64(width))
		c.Set(gocv.VideoCaptureFrameHeight, float64(height))
	}
	if fps > 0 {
		c.Set(gocv.VideoCaptureFPS, fps)
	}
	return c, nil
}

// openCapture opens a video file for reading; errors name the file.
func openCapture(path string) (*gocv.VideoCapture, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("cannot open input %s: no such file", path)
		}
		return nil, fmt.Errorf("cannot open input %s: %v", path, err)
	}
	// FFmpeg only: it reads every common file, and letting OpenCV fall back
	// to GStreamer for a file FFmpeg rejects only adds pages of warnings.
	c, err := gocv.VideoCaptureFileWithAPI(path, gocv.VideoCaptureFFmpeg)
	if err != nil || !c.IsOpened() {
		if c != nil {
			c.Close()
		}
		return nil, fmt.Errorf("cannot open input %s: OpenCV cannot decode it as a video", path)
	}
	return c, nil
}

// bgrView points f at m's pixels (no copy). m must be a continuous CV_8UC3
// Mat; the view is valid until m is reallocated or closed.
func bgrView(f *frame.Frame, m *gocv.Mat) error {
	if m.Type() != gocv.MatTypeCV8UC3 {
		return fmt.Errorf("internal: frame Mat has type %v, want CV_8UC3", m.Type())
	}
	data, err := m.DataPtrUint8()
	if err != nil {
		return fmt.Errorf("internal: %v", err)
	}
	f.Format = frame.BGR24
	f.Width, f.Height = m.Cols(), m.Rows()
	f.Planes[0] = data
	f.Stride[0] = m.Step()
	return nil
}

// ptsOf returns the presentation time in ns of frame i at fps frames per
// second.
func ptsOf(i int, fps float64) int64 {
	return int64(math.Round(float64(i) * 1e9 / fps))
}

// indexOf is the inverse of ptsOf.
func indexOf(pts int64, fps float64) int {
	return int(math.Round(float64(pts) * fps / 1e9))
}

// parseSize parses "WIDTHxHEIGHT".
func parseSize(s string) (w, h int, err error) {
	if _, err := fmt.Sscanf(strings.ToLower(s), "%dx%d", &w, &h); err != nil || fmt.Sprintf("%dx%d", w, h) != strings.ToLower(s) {
		return 0, 0, fmt.Errorf("size %q is not WIDTHxHEIGHT, e.g. 1280x720", s)
	}
	return w, h, nil
}
