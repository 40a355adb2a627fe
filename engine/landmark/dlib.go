package landmark

/*
#cgo CXXFLAGS: -std=c++17 -O2 -Wall
#cgo pkg-config: dlib-1
#cgo noescape fl_dlib_fit
#cgo nocallback fl_dlib_fit
#cgo nocallback fl_dlib_create
#include <stdlib.h>
#include "dlib_shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"sync"
	"unsafe"

	"facelive/engine/face"
	"facelive/engine/frame"
)

// DefaultModelPath is where Debian's libdlib-data installs the 68-point
// shape predictor.
const DefaultModelPath = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"

// ROIMargin is how far Fit expands the face box on every side, as a fraction
// of the box's width (left, right) and height (top, bottom): the region of
// interest the predictor may read. The predictor samples pixels
// a little outside the box it was trained on; inside the expanded region it
// sees real pixels, outside it sees 0.
const ROIMargin = 0.25

// ErrClosed is returned by Fit after Close.
var ErrClosed = errors.New("landmark: dlib predictor is closed")

// Dlib is dlib's 68-point shape predictor (iBUG 300-W landmarks) loaded from
// a .dat file.
//
// NewDlib may run on any goroutine (loading takes about half a second, so
// the pipeline loads it in the background). Fit may be called from several
// goroutines at once on one Dlib: the loaded model is read-only and every
// call works in its own grey buffer (kept in a small free list, so steady
// state allocates nothing). Close waits for running Fit calls to return;
// Fit after Close returns ErrClosed.
type Dlib struct {
	path string

	mu sync.RWMutex // Fit holds it shared during the C call; Close exclusively
	p  *C.fl_dlib   // nil once closed

	freeMu sync.Mutex
	free   []*roiBuf
}

// roiBuf is one Fit call's scratch: what C writes back. It lives on the Go
// heap and is passed to C only for the duration of a call.
type roiBuf struct {
	out [C.FL_DLIB_OUT]C.float
	err [256]C.char
}

// NewDlib loads the shape predictor at path. The error names the path and
// says what was expected: a missing file, a directory, or a file that is not
// a readable 68-point dlib shape predictor (truncated, corrupt, another
// model) are all errors, never a crash.
func NewDlib(path string) (*Dlib, error) {
	const want = "expected dlib's 68-point shape predictor (shape_predictor_68_face_landmarks.dat, Debian package libdlib-data)"
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("landmark model %s: no such file; %s", path, want)
	case err != nil:
		return nil, fmt.Errorf("landmark model %s: %v; %s", path, err, want)
	case st.IsDir():
		return nil, fmt.Errorf("landmark model %s: is a directory; %s", path, want)
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var cerr [512]C.char
	p := C.fl_dlib_create(cpath, &cerr[0], C.size_t(len(cerr)))
	if p == nil {
		return nil, fmt.Errorf("landmark model %s: cannot load: %s; %s", path, C.GoString(&cerr[0]), want)
	}
	return &Dlib{path: path, p: p}, nil
}

// Path returns the file the predictor was loaded from.
func (d *Dlib) Path() string { return d.path }

// Close frees the predictor. It waits for Fit calls in progress; calling it
// again does nothing.
func (d *Dlib) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.p != nil {
		C.fl_dlib_destroy(d.p)
		d.p = nil
	}
	return nil
}

func (d *Dlib) getBuf() *roiBuf {
	d.freeMu.Lock()
	defer d.freeMu.Unlock()
	if n := len(d.free); n > 0 {
		b := d.free[n-1]
		d.free = d.free[:n-1]
		return b
	}
	return new(roiBuf)
}

func (d *Dlib) putBuf(b *roiBuf) {
	d.freeMu.Lock()
	d.free = append(d.free, b)
	d.freeMu.Unlock()
}

// Fit fits the 68 landmarks of the face in box and writes them, in frame
// pixels, to out. It reads only the region of interest: box expanded by
// ROIMargin on every side and clipped to the frame; a box partly outside the
// frame is fine. Grey values are the Y samples for NV12, I420 and YUY2 (used
// as they are, whatever their range) and BT.601 luma (OpenCV's
// COLOR_BGR2GRAY, computed for the pixels the predictor samples, straight
// from the frame: nothing is copied) for the RGB formats.
//
// Errors: an invalid frame, a box that is empty, not finite or entirely
// outside the frame (its margin overlapping the frame is not enough), or a
// closed predictor. out is unchanged on error.
func (d *Dlib) Fit(f *frame.Frame, box face.Rect, out *face.Landmarks) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("landmark: %w", err)
	}
	if !(finite(box.X0) && finite(box.Y0) && finite(box.X1) && finite(box.Y1)) || !(box.X1 > box.X0) || !(box.Y1 > box.Y0) {
		return fmt.Errorf("landmark: face box (%g,%g)-(%g,%g) is empty or not finite", box.X0, box.Y0, box.X1, box.Y1)
	}
	if !(box.X1 > 0 && box.Y1 > 0 && box.X0 < float64(f.Width) && box.Y0 < float64(f.Height)) {
		return fmt.Errorf("landmark: face box (%g,%g)-(%g,%g) lies outside the %dx%d frame", box.X0, box.Y0, box.X1, box.Y1, f.Width, f.Height)
	}
	mx, my := ROIMargin*box.W(), ROIMargin*box.H()
	x0 := clampInt(math.Floor(box.X0-mx), 0, f.Width)
	y0 := clampInt(math.Floor(box.Y0-my), 0, f.Height)
	x1 := clampInt(math.Ceil(box.X1+mx), 0, f.Width)
	y1 := clampInt(math.Ceil(box.Y1+my), 0, f.Height)
	w, h := x1-x0, y1-y0

	bpp, r, g, bl := sampling(f.Format)
	b := d.getBuf()
	defer d.putBuf(b)
	roi := f.Planes[0][y0*f.Stride[0]+x0*bpp:] // the predictor reads its samples straight from the frame

	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.p == nil {
		return ErrClosed
	}
	fx, fy := float64(x0), float64(y0)
	rc := C.fl_dlib_fit(d.p, (*C.uchar)(unsafe.Pointer(&roi[0])), C.int(w), C.int(h), C.int(f.Stride[0]),
		C.int(bpp), C.int(r), C.int(g), C.int(bl),
		C.double(box.X0-fx), C.double(box.Y0-fy), C.double(box.X1-fx), C.double(box.Y1-fy),
		&b.out[0], &b.err[0], C.size_t(len(b.err)))
	if rc != 0 {
		return fmt.Errorf("landmark: %s", C.GoString(&b.err[0]))
	}
	for i := range out {
		out[i] = face.Point{X: float64(b.out[2*i]) + fx, Y: float64(b.out[2*i+1]) + fy}
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// clampInt converts v to an int within [lo, hi]; v is finite.
func clampInt(v float64, lo, hi int) int {
	if v <= float64(lo) {
		return lo
	}
	if v >= float64(hi) {
		return hi
	}
	return int(v)
}

// sampling says how the predictor reads a grey value from plane 0 of a
// frame of format f: bytes per pixel, and the offsets of R, G and B in a
// pixel (g < 0: the first byte is the grey value, a Y sample).
func sampling(f frame.Format) (bpp, r, g, b int) {
	switch f {
	case frame.NV12, frame.I420:
		return 1, -1, -1, -1
	case frame.YUY2:
		return 2, -1, -1, -1
	case frame.RGBA:
		return 4, 0, 1, 2
	case frame.RGB24:
		return 3, 0, 1, 2
	case frame.BGR24:
		return 3, 2, 1, 0
	default: // BGRA, BGRX
		return 4, 2, 1, 0
	}
}

// luma is OpenCV's fixed-point BT.601 RGB→grey (COLOR_BGR2GRAY for 8-bit):
// (4899 R + 9617 G + 1868 B + 2^13) >> 14.
func luma(r, g, b byte) byte {
	return byte((4899*uint32(r) + 9617*uint32(g) + 1868*uint32(b) + 1<<13) >> 14)
}
