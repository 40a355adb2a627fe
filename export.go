// Command libfacelive is the C shared library: build it with
// `go build -buildmode=c-shared`. This file holds only the //export shims of
// include/facelive.h; each converts its arguments, calls package bridge and
// recovers any panic into FACELIVE_EINTERNAL so a fault never reaches the
// host.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/include -DFACELIVE_BUILDING_LIBRARY
#include "facelive.h"
*/
import "C"

import (
	"unsafe"

	"facelive/bridge"
)

func main() {} // required by -buildmode=c-shared; never runs

// goString copies a C string; NULL gives nil.
func goString(s *C.char) *string {
	if s == nil {
		return nil
	}
	g := C.GoString(s)
	return &g
}

func frameOf(f *C.facelive_frame) *bridge.Frame { return (*bridge.Frame)(unsafe.Pointer(f)) }

//export facelive_abi_version
func facelive_abi_version() C.uint32_t {
	return C.uint32_t(bridge.ABIVersion) // cannot fail or panic
}

//export facelive_version_string
func facelive_version_string() *C.char {
	return (*C.char)(bridge.VersionCString()) // a static string: cannot fail or panic
}

//export facelive_init
func facelive_init(configJSON *C.char, errBuf *C.char, errLen C.size_t) (h C.facelive_handle) {
	errOut := bridge.Bytes(unsafe.Pointer(errBuf), uintptr(errLen))
	defer func() {
		if r := recover(); r != nil {
			bridge.Recovered("facelive_init", 0, r)
			h = 0
		}
	}()
	return C.facelive_handle(bridge.Init(goString(configJSON), errOut))
}

//export facelive_submit_frame
func facelive_submit_frame(h C.facelive_handle, f *C.facelive_frame) (st C.int) {
	defer func() {
		if r := recover(); r != nil {
			st = C.int(bridge.Recovered("facelive_submit_frame", uint64(h), r))
		}
	}()
	return C.int(bridge.Submit(uint64(h), frameOf(f)))
}

//export facelive_get_frame
func facelive_get_frame(h C.facelive_handle, out *C.facelive_frame, timeoutMs C.uint32_t) (st C.int) {
	defer func() {
		if r := recover(); r != nil {
			st = C.int(bridge.Recovered("facelive_get_frame", uint64(h), r))
		}
	}()
	return C.int(bridge.Get(uint64(h), frameOf(out), uint32(timeoutMs)))
}

//export facelive_set_config
func facelive_set_config(h C.facelive_handle, js *C.char) (st C.int) {
	defer func() {
		if r := recover(); r != nil {
			st = C.int(bridge.Recovered("facelive_set_config", uint64(h), r))
		}
	}()
	return C.int(bridge.SetConfig(uint64(h), goString(js)))
}

//export facelive_get_config
func facelive_get_config(h C.facelive_handle, buf *C.char, n C.size_t) (st C.int) {
	defer func() {
		if r := recover(); r != nil {
			st = C.int(bridge.Recovered("facelive_get_config", uint64(h), r))
		}
	}()
	return C.int(bridge.GetConfig(uint64(h), bridge.Bytes(unsafe.Pointer(buf), uintptr(n))))
}

//export facelive_get_metrics
func facelive_get_metrics(h C.facelive_handle, buf *C.char, n C.size_t) (st C.int) {
	defer func() {
		if r := recover(); r != nil {
			st = C.int(bridge.Recovered("facelive_get_metrics", uint64(h), r))
		}
	}()
	return C.int(bridge.GetMetrics(uint64(h), bridge.Bytes(unsafe.Pointer(buf), uintptr(n))))
}

//export facelive_save_config
func facelive_save_config(h C.facelive_handle, path *C.char) (st C.int) {
	defer func() {
		if r := recover(); r != nil {
			st = C.int(bridge.Recovered("facelive_save_config", uint64(h), r))
		}
	}()
	return C.int(bridge.SaveConfig(uint64(h), goString(path)))
}

//export facelive_load_config
func facelive_load_config(h C.facelive_handle, path *C.char) (st C.int) {
	defer func() {
		if r := recover(); r != nil {
			st = C.int(bridge.Recovered("facelive_load_config", uint64(h), r))
		}
	}()
	return C.int(bridge.LoadConfig(uint64(h), goString(path)))
}

//export facelive_last_error
func facelive_last_error(h C.facelive_handle, buf *C.char, n C.size_t) (st C.int) {
	defer func() {
		if r := recover(); r != nil {
			st = C.int(bridge.Recovered("facelive_last_error", uint64(h), r))
		}
	}()
	return C.int(bridge.LastError(uint64(h), bridge.Bytes(unsafe.Pointer(buf), uintptr(n))))
}

//export facelive_set_log_callback
func facelive_set_log_callback(cb C.facelive_log_fn, user unsafe.Pointer) {
	defer func() {
		if r := recover(); r != nil {
			bridge.Recovered("facelive_set_log_callback", 0, r)
		}
	}()
	bridge.SetLogCallback(unsafe.Pointer(cb), user)
}

//export facelive_shutdown
func facelive_shutdown(h C.facelive_handle) (st C.int) {
	defer func() {
		if r := recover(); r != nil {
			st = C.int(bridge.Recovered("facelive_shutdown", uint64(h), r))
		}
	}()
	return C.int(bridge.Shutdown(uint64(h)))
}
