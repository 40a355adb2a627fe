package ortenv

/*
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

// The file this code was loaded from: libfacelive.so.1 when we are in the
// C library, the program itself when linked into an executable. static,
// so that the version script's facelive_* never exports it.
static const char *fl_ortenv_self_path(void) {
	Dl_info info;
	if (dladdr((void *)fl_ortenv_self_path, &info) == 0 || info.dli_fname == NULL)
		return NULL;
	return info.dli_fname;
}
*/
import "C"

import (
	"os"
	"path/filepath"
	"sync"
)

// PrivateDir is the folder, next to libfacelive, that holds the library's
// private copy of ONNX Runtime in an installed layout: the Debian package
// puts libfacelive.so.1 in /usr/lib/x86_64-linux-gnu/ and ONNX Runtime in
// /usr/lib/x86_64-linux-gnu/facelive/, out of the dynamic linker's search,
// so that no other program picks it up and it never clashes with a system
// ONNX Runtime.
const PrivateDir = "facelive"

// selfDir returns the folder of the binary this package is linked into (the
// shared library when facelive runs as libfacelive.so, else the executable),
// links resolved; "" when it cannot be told. A variable so tests can move it.
var selfDir = sync.OnceValue(func() string {
	p := ""
	if cp := C.fl_ortenv_self_path(); cp != nil {
		p = C.GoString(cp)
	}
	// dladdr names the main program by its argv[0], which may be relative
	// or a bare name: ask the kernel instead.
	if !filepath.IsAbs(p) {
		exe, err := os.Executable()
		if err != nil {
			return ""
		}
		p = exe
	}
	if real, err := filepath.EvalSymlinks(p); err == nil {
		p = real
	}
	return filepath.Dir(p)
})

// besideSelf returns the ONNX Runtime that was installed with libfacelive:
// <dir>/facelive/libonnxruntime.so.1 (the Debian package), else
// <dir>/libonnxruntime.so.1 (a bundle that keeps both side by side), where
// <dir> is the folder libfacelive was loaded from; "" when neither exists.
func besideSelf() string {
	dir := selfDir()
	if dir == "" {
		return ""
	}
	for _, p := range []string{
		filepath.Join(dir, PrivateDir, LibraryName),
		filepath.Join(dir, LibraryName),
	} {
		if isFile(p) {
			return p
		}
	}
	return ""
}
