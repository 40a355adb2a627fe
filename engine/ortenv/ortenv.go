// Package ortenv owns the process-wide ONNX Runtime environment.
//
// onnxruntime_go keeps one global environment per process, bound to the one
// shared library it loaded with dlopen. Every stage that runs an ONNX model
// (detector, swapper, embedder) calls Init before creating a session; the
// first successful call loads the library and later calls with the same path
// (or with "") are free. The environment is never destroyed: the facelive
// library is never unloaded either (it links with -z nodelete), and tearing
// down ONNX Runtime under live sessions would crash them.
package ortenv

import (
	"errors"
	"facelive/internal/assets"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// LibraryName is the soname of the ONNX Runtime shared library we load.
const LibraryName = "libonnxruntime.so.1"

// EnvLibrary names the environment variable that overrides the library path.
const EnvLibrary = "FACELIVE_ONNXRUNTIME_LIB"

// fix is appended to load errors: how a user gets a working library.
const fix = "run `make deps` (it fetches ONNX Runtime 1.30 into third_party/onnxruntime/lib), " +
	"or point the onnxruntime_library setting or " + EnvLibrary + " at a " + LibraryName +
	" of ONNX Runtime 1.24 or newer (C API version 24)"

var (
	mu     sync.Mutex
	loaded string // the library the environment was created from; "" = none yet
)

// Init loads the ONNX Runtime shared library at libPath and creates the
// process-wide environment. libPath "" means DefaultLibrary(""). Init is
// idempotent and safe for concurrent use: once a library is loaded, Init with
// the same path (or "") returns nil, and Init with a different path returns
// an error naming the library that is loaded (a process cannot switch). A
// failed Init loads nothing, so a later call may try another path. Errors
// name the path and say how to fix it.
func Init(libPath string) error {
	mu.Lock()
	defer mu.Unlock()
	if loaded != "" {
		if libPath == "" || sameFile(libPath, loaded) {
			return nil
		}
		return fmt.Errorf("ortenv: ONNX Runtime is already loaded from %q in this process; cannot also load %q "+
			"(one library per process: use the same onnxruntime_library everywhere, or restart)", loaded, libPath)
	}
	if libPath == "" {
		libPath = DefaultLibrary("")
	}
	if ort.IsInitialized() {
		// Someone initialised onnxruntime_go directly; the environment is
		// usable, but we cannot tell which file it came from.
		loaded = libPath
		return nil
	}
	if strings.ContainsRune(libPath, os.PathSeparator) {
		// A path (not a bare soname for the dynamic linker's search): give a
		// plain answer for the common mistakes before dlopen's terse one.
		st, err := os.Stat(libPath)
		switch {
		case err != nil && errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("ortenv: ONNX Runtime library %q does not exist; %s", libPath, fix)
		case err != nil:
			return fmt.Errorf("ortenv: ONNX Runtime library %q: %v; %s", libPath, err, fix)
		case st.IsDir():
			return fmt.Errorf("ortenv: ONNX Runtime library %q is a directory, not the %s file; %s", libPath, LibraryName, fix)
		}
	}
	ort.SetSharedLibraryPath(libPath)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("ortenv: cannot load ONNX Runtime from %q: %v; %s", libPath, err, fix)
	}
	loaded = libPath
	return nil
}

// Loaded returns the library path the environment was created from, or ""
// when Init has not succeeded yet.
func Loaded() string {
	mu.Lock()
	defer mu.Unlock()
	return loaded
}

// Version returns the loaded ONNX Runtime's version ("1.30.0"), or "" when
// none is loaded.
func Version() string {
	if !ort.IsInitialized() {
		return ""
	}
	return ort.GetVersion()
}

// DefaultLibrary returns the ONNX Runtime library to load when the
// configuration names none. It searches, in order:
//
//  1. the environment variable FACELIVE_ONNXRUNTIME_LIB, when set (returned
//     even if the file is missing, so that Init's error names it);
//  2. <assetsDir>/onnxruntime/lib/libonnxruntime.so.1, when assetsDir != ""
//     and the file exists;
//  3. the copy installed with libfacelive, found from where libfacelive.so
//     itself was loaded (dladdr), so an installed library needs no
//     environment variable: facelive/libonnxruntime.so.1 beside it (the
//     Debian package: /usr/lib/x86_64-linux-gnu/facelive/, private to
//     facelive), else libonnxruntime.so.1 beside it (a bundle); it comes
//     before 4 because it is the copy the library was installed with,
//     whatever third_party/ the working directory happens to be in;
//  4. onnxruntime/lib/libonnxruntime.so.1 in the assets folder that package
//     internal/assets finds (where `make deps` puts it);
//  5. plain "libonnxruntime.so.1", for the dynamic linker's own search
//     (LD_LIBRARY_PATH, ld.so.cache).
func DefaultLibrary(assetsDir string) string {
	if p := os.Getenv(EnvLibrary); p != "" {
		return p
	}
	if assetsDir != "" {
		if p := filepath.Join(assetsDir, "onnxruntime", "lib", LibraryName); isFile(p) {
			return p
		}
	}
	if p := besideSelf(); p != "" {
		return p
	}
	if dir := assets.Dir(); dir != "" {
		if p := filepath.Join(dir, "onnxruntime", "lib", LibraryName); isFile(p) {
			return p
		}
	}
	return LibraryName
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// sameFile reports whether two library paths name the same file (after
// cleaning, or by inode when both exist).
func sameFile(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}
