package bridge

/*
#cgo CFLAGS: -I${SRCDIR}/../include -DFACELIVE_BUILDING_LIBRARY
#include <stdlib.h>
#include <stddef.h>
#include "facelive.h"

// Go cannot call a C function pointer; this trampoline does.
static void facelive_call_log(facelive_log_fn cb, int level, const char *msg, void *user) {
	cb(level, msg, user);
}

// The header's values, for the test that keeps Go's copies honest.
static const long long facelive_c_constants[] = {
	FACELIVE_ABI_VERSION, FACELIVE_OK, FACELIVE_EAGAIN, FACELIVE_EINVAL, FACELIVE_EBADHANDLE,
	FACELIVE_ENOMEM, FACELIVE_EMODEL, FACELIVE_ECLOSED, FACELIVE_EINTERNAL, FACELIVE_ERANGE,
	FACELIVE_EFORMAT, FACELIVE_FORMAT_BGRA, FACELIVE_FORMAT_RGBA, FACELIVE_FORMAT_BGRX,
	FACELIVE_FORMAT_BGR24, FACELIVE_FORMAT_RGB24, FACELIVE_FORMAT_NV12, FACELIVE_FORMAT_I420,
	FACELIVE_FORMAT_YUY2, FACELIVE_MAX_DIMENSION, FACELIVE_PTS_NONE, FACELIVE_MAX_LINESIZE,
	FACELIVE_LOG_ERROR, FACELIVE_LOG_WARN, FACELIVE_LOG_INFO, FACELIVE_LOG_DEBUG,
	sizeof(facelive_frame), offsetof(facelive_frame, format), offsetof(facelive_frame, width),
	offsetof(facelive_frame, height), offsetof(facelive_frame, data), offsetof(facelive_frame, linesize),
	offsetof(facelive_frame, pts_ns), offsetof(facelive_frame, flags), FACELIVE_FRAME_HOLDS_INPUT, FACELIVE_FRAME_PROCESSED,
	offsetof(facelive_frame, color_matrix), offsetof(facelive_frame, color_range), FACELIVE_COLOR_MATRIX_BT601,
	FACELIVE_COLOR_MATRIX_BT709, FACELIVE_COLOR_RANGE_LIMITED, FACELIVE_COLOR_RANGE_FULL,
};
static int facelive_c_constant_count(void) { return sizeof facelive_c_constants / sizeof facelive_c_constants[0]; }
static long long facelive_c_constant(int i) { return facelive_c_constants[i]; }
*/
import "C"

import (
	"sync/atomic"
	"unsafe"

	"facelive/internal/version"
)

type logSink struct {
	cb   C.facelive_log_fn
	user unsafe.Pointer
}

var sink atomic.Pointer[logSink]

// SetLogCallback installs the host's log function (cb nil removes it). The
// callback and its user pointer are opaque to Go: we only pass them back.
func SetLogCallback(cb, user unsafe.Pointer) {
	if cb == nil {
		sink.Store(nil)
		return
	}
	sink.Store(&logSink{cb: C.facelive_log_fn(cb), user: user})
}

// Log sends a line to the host's callback, if any, prefixed "[facelive]"
// by the host as it likes. Safe from any goroutine.
func Log(level int, msg string) {
	s := sink.Load()
	if s == nil {
		return
	}
	cmsg := C.CString(msg)
	defer C.free(unsafe.Pointer(cmsg))
	C.facelive_call_log(s.cb, C.int(level), cmsg, s.user)
}

// cConstants returns the header's constants in the order of
// facelive_c_constants (see abi_test.go).
func cConstants() []int64 {
	out := make([]int64, int(C.facelive_c_constant_count()))
	for i := range out {
		out[i] = int64(C.facelive_c_constant(C.int(i)))
	}
	return out
}

// versionC is the static string facelive_version_string returns; it lives
// as long as the process (the library is never unloaded).
var versionC = C.CString(version.String())

// VersionCString returns the library-owned C version string.
func VersionCString() unsafe.Pointer { return unsafe.Pointer(versionC) }
