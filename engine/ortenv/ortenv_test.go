package ortenv

import (
	"facelive/internal/assets"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// thirdParty returns the directory `make deps` fills, honouring
// FACELIVE_THIRD_PARTY, found by walking up from here to go.mod.
func thirdParty(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("FACELIVE_THIRD_PARTY"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if isFile(filepath.Join(dir, "go.mod")) {
			return filepath.Join(dir, "third_party")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

func realLibrary(t *testing.T) string {
	t.Helper()
	p := filepath.Join(thirdParty(t), "onnxruntime", "lib", LibraryName)
	if !isFile(p) {
		t.Fatalf("%s is missing: run make deps", p)
	}
	return p
}

// TestInit runs the whole life of the process-wide environment in order,
// because it can be created only once per process.
func TestInit(t *testing.T) {
	good := realLibrary(t)
	dir := t.TempDir()

	missing := filepath.Join(dir, "nope", LibraryName)
	err := Init(missing)
	wantErr(t, "missing", err, missing, "does not exist", "make deps")

	garbage := filepath.Join(dir, LibraryName)
	if err := os.WriteFile(garbage, []byte("this is not a shared library\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "garbage", Init(garbage), garbage, "cannot load ONNX Runtime", "make deps")
	wantErr(t, "directory", Init(dir), dir, "is a directory")

	if Loaded() != "" || Version() != "" {
		t.Fatalf("failed Init calls left something loaded: %q %q", Loaded(), Version())
	}

	if err := Init(good); err != nil {
		t.Fatalf("Init(%q): %v", good, err)
	}
	if Loaded() != good {
		t.Errorf("Loaded() = %q, want %q", Loaded(), good)
	}
	if v := Version(); !strings.HasPrefix(v, "1.") {
		t.Errorf("Version() = %q, want 1.x", v)
	}
	// Idempotent: the same path (also spelled differently, or through the
	// symlink make deps creates) and "" are fine.
	for _, p := range []string{good, "", filepath.Join(filepath.Dir(good), ".", LibraryName)} {
		if err := Init(p); err != nil {
			t.Errorf("second Init(%q): %v", p, err)
		}
	}
	if link := filepath.Join(filepath.Dir(good), "libonnxruntime.so"); isFile(link) {
		if err := Init(link); err != nil {
			t.Errorf("Init through the symlink %q: %v", link, err)
		}
	}
	// A different library cannot replace the loaded one.
	other := filepath.Join(dir, "other", LibraryName)
	err = Init(other)
	wantErr(t, "different path", err, good, other, "already loaded")
}

func wantErr(t *testing.T, name string, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", name)
		return
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not mention %q", name, err, p)
		}
	}
}

func TestDefaultLibrary(t *testing.T) {
	t.Setenv(assets.Env, "") // test the search itself, not the folder make test points at
	dir := t.TempDir()
	assets := filepath.Join(dir, "assets")
	inAssets := filepath.Join(assets, "onnxruntime", "lib", LibraryName)
	repo := filepath.Join(dir, "repo")
	inRepo := filepath.Join(repo, "third_party", "onnxruntime", "lib", LibraryName)
	manifest := filepath.Join(repo, "third_party", "MANIFEST.txt") // marks make deps' folder
	for _, p := range []string{inAssets, inRepo, manifest} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	deep := filepath.Join(repo, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		t.Fatal(err)
	}

	t.Run("env wins", func(t *testing.T) {
		t.Setenv(EnvLibrary, "/custom/libonnxruntime.so.1")
		if got := DefaultLibrary(assets); got != "/custom/libonnxruntime.so.1" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("assets dir", func(t *testing.T) {
		t.Setenv(EnvLibrary, "")
		if got := DefaultLibrary(assets); got != inAssets {
			t.Errorf("got %q, want %q", got, inAssets)
		}
	})
	t.Run("assets dir without the library falls through to the repo", func(t *testing.T) {
		t.Setenv(EnvLibrary, "")
		t.Chdir(deep)
		if got := DefaultLibrary(empty); got != inRepo {
			t.Errorf("got %q, want %q", got, inRepo)
		}
	})
	t.Run("walks up from the working directory", func(t *testing.T) {
		t.Setenv(EnvLibrary, "")
		t.Chdir(deep)
		if got := DefaultLibrary(""); got != inRepo {
			t.Errorf("got %q, want %q", got, inRepo)
		}
	})
	t.Run("system", func(t *testing.T) {
		t.Setenv(EnvLibrary, "")
		t.Chdir(empty)
		// The test binary lives in a temporary build directory, so nothing
		// is found next to the executable either.
		if got := DefaultLibrary(""); got != LibraryName {
			t.Errorf("got %q, want %q", got, LibraryName)
		}
	})
}
