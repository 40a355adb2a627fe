package ortenv

import (
	"facelive/internal/assets"
	"os"
	"path/filepath"
	"testing"
)

// In a test binary the code is in the executable itself: selfDir is the
// executable's folder.
func TestSelfDirIsTheExecutablesFolder(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	if got, want := selfDir(), filepath.Dir(exe); got != want {
		t.Errorf("selfDir() = %q, want %q", got, want)
	}
}

// The installed layouts: the Debian package's private folder first, then a
// copy beside the library; both before a third_party/ found by walking up
// from the working directory, after an explicit assets folder.
func TestDefaultLibraryBesideTheLibrary(t *testing.T) {
	t.Setenv(EnvLibrary, "")
	t.Setenv(assets.Env, "")
	dir := t.TempDir()
	libDir := filepath.Join(dir, "usr", "lib", "x86_64-linux-gnu")
	private := filepath.Join(libDir, PrivateDir, LibraryName)
	beside := filepath.Join(libDir, LibraryName)
	repo := filepath.Join(dir, "repo")
	inRepo := filepath.Join(repo, "third_party", "onnxruntime", "lib", LibraryName)
	manifest := filepath.Join(repo, "third_party", "MANIFEST.txt")
	assetsDir := filepath.Join(dir, "assets")
	inAssets := filepath.Join(assetsDir, "onnxruntime", "lib", LibraryName)
	for _, p := range []string{private, beside, inRepo, manifest, inAssets} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	saved := selfDir
	t.Cleanup(func() { selfDir = saved })
	selfDir = func() string { return libDir }
	t.Chdir(repo)

	if got := DefaultLibrary(""); got != private {
		t.Errorf("private folder: got %q, want %q", got, private)
	}
	if got := DefaultLibrary(assetsDir); got != inAssets {
		t.Errorf("an explicit assets folder still comes first: got %q, want %q", got, inAssets)
	}
	if err := os.Remove(private); err != nil {
		t.Fatal(err)
	}
	if got := DefaultLibrary(""); got != beside {
		t.Errorf("beside the library: got %q, want %q", got, beside)
	}
	if err := os.Remove(beside); err != nil {
		t.Fatal(err)
	}
	if got := DefaultLibrary(""); got != inRepo {
		t.Errorf("nothing installed with the library: got %q, want %q", got, inRepo)
	}
	selfDir = func() string { return "" }
	if got := DefaultLibrary(""); got != inRepo {
		t.Errorf("unknown library folder: got %q, want %q", got, inRepo)
	}
}
