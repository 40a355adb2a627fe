package detect

// #cgo !windows pkg-config: opencv4
// #cgo CXXFLAGS: --std=c++11
// #include <stdlib.h>
// #include "cascade_check.h"
import "C"

import (
	"errors"
	"unsafe"
)

// checkCascade loads path once in C++ with every exception caught, because
// gocv's CascadeClassifier.Load lets OpenCV's exception for a malformed file
// abort the process.
func checkCascade(path string) error {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var buf [512]C.char
	if C.fl_cascade_check(cpath, &buf[0], C.size_t(len(buf))) == 1 {
		return nil
	}
	return errors.New(C.GoString(&buf[0]))
}
