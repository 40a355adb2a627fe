// Package assetstest gives tests the assets `make deps` fetches, failing
// with "run make deps" when they are missing (tests never skip on a
// missing asset: make test fetches them first).
package assetstest

import (
	"os"
	"path/filepath"
	"testing"

	"facelive/internal/assets"
)

// Dir returns the assets folder (third_party/ or $FACELIVE_THIRD_PARTY).
func Dir(t testing.TB) string {
	t.Helper()
	d := assets.Dir()
	if d == "" {
		t.Fatal("no third_party/ with make deps' MANIFEST.txt above the test: run make deps")
	}
	return d
}

// Path returns an asset's path, failing when it is absent.
func Path(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(Dir(t), rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("test asset %s is missing: run make deps (%v)", p, err)
	}
	return p
}

// RepoRoot returns the folder holding go.mod above the working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for ; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		if dir == filepath.Dir(dir) {
			t.Fatal("cannot find the repository root (no go.mod above the working directory)")
		}
	}
}
