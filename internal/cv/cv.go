// Package cv is the few OpenCV calls the library makes — a Haar cascade
// (objdetect) and text for the overlay labels (imgproc) — through C++ that
// catches every exception. The library links OpenCV's core, imgproc and
// objdetect only: gocv's package links every module Debian builds (highgui
// with Qt5, videoio with GStreamer and FFmpeg, imgcodecs with GDAL), 264
// libraries in all, into every host that loads libfacelive (OBS runs on
// Qt6). The command line and the tests use gocv freely.
package cv

/*
#cgo CXXFLAGS: -std=c++17 -O2 -Wall -I/usr/include/opencv4
#cgo LDFLAGS: -lopencv_objdetect -lopencv_imgproc -lopencv_core
#cgo noescape fl_cascade_detect
#cgo nocallback fl_cascade_detect
#include <stdlib.h>
#include "cv.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"unsafe"
)

// Cascade is a loaded OpenCV cascade classifier. Not safe for concurrent
// use; Close frees it.
type Cascade struct {
	c     *C.fl_cascade
	rects []C.int
	err   [256]C.char
}

// LoadCascade loads the cascade at path; the error says why it cannot
// (a missing or malformed file never aborts the process).
func LoadCascade(path string) (*Cascade, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	c := &Cascade{}
	if c.c = C.fl_cascade_load(cpath, &c.err[0], C.size_t(len(c.err))); c.c == nil {
		return nil, errors.New(C.GoString(&c.err[0]))
	}
	return c, nil
}

// Detect finds objects in an 8-bit grey image of w×h pixels, rows stride
// bytes apart, with detectMultiScale's scale factor, minimum neighbours and
// minimum size (px), and appends their rectangles to dst.
func (c *Cascade) Detect(grey []byte, w, h, stride int, scale float64, minNeighbors, minSize int, dst []image.Rectangle) ([]image.Rectangle, error) {
	if c == nil || c.c == nil {
		return dst, errors.New("cv: cascade closed")
	}
	if w < 1 || h < 1 || stride < w || len(grey) < (h-1)*stride+w {
		return dst, fmt.Errorf("cv: grey image %dx%d, stride %d: %d bytes is too few", w, h, stride, len(grey))
	}
	if c.rects == nil {
		c.rects = make([]C.int, 4*maxRects)
	}
	n := C.fl_cascade_detect(c.c, (*C.uint8_t)(unsafe.Pointer(&grey[0])), C.int(w), C.int(h), C.int(stride),
		C.double(scale), C.int(minNeighbors), C.int(minSize), &c.rects[0], C.int(maxRects), &c.err[0], C.size_t(len(c.err)))
	if n < 0 {
		return dst, errors.New(C.GoString(&c.err[0]))
	}
	for i := range min(int(n), maxRects) {
		r := c.rects[4*i : 4*i+4]
		dst = append(dst, image.Rect(int(r[0]), int(r[1]), int(r[0]+r[2]), int(r[1]+r[3])))
	}
	return dst, nil
}

// maxRects bounds what one Detect reports (a frame holds far fewer faces).
const maxRects = 256

// Close frees the cascade; closing again does nothing.
func (c *Cascade) Close() {
	if c != nil && c.c != nil {
		C.fl_cascade_free(c.c)
		c.c = nil
	}
}

// TextSize is the width and the height above the baseline of text in
// Hershey simplex at scale and thickness thick.
func TextSize(text string, scale float64, thick int) (w, h int, err error) {
	ct := C.CString(text)
	defer C.free(unsafe.Pointer(ct))
	var cw, ch C.int
	if C.fl_text_size(ct, C.double(scale), C.int(thick), &cw, &ch) != 0 {
		return 0, 0, fmt.Errorf("cv: cannot measure %q", text)
	}
	return int(cw), int(ch), nil
}

// PutText draws text in white (255), anti-aliased, into the 8-bit grey
// image dst (w×h, rows stride bytes apart), its baseline starting at org.
func PutText(dst []byte, w, h, stride int, text string, org image.Point, scale float64, thick int) error {
	if w < 1 || h < 1 || stride < w || len(dst) < (h-1)*stride+w {
		return fmt.Errorf("cv: grey image %dx%d, stride %d: %d bytes is too few", w, h, stride, len(dst))
	}
	ct := C.CString(text)
	defer C.free(unsafe.Pointer(ct))
	if C.fl_put_text((*C.uint8_t)(unsafe.Pointer(&dst[0])), C.int(w), C.int(h), C.int(stride), ct,
		C.int(org.X), C.int(org.Y), C.double(scale), C.int(thick)) != 0 {
		return fmt.Errorf("cv: cannot draw %q", text)
	}
	return nil
}
