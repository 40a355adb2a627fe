package assets

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDirFindsThirdPartyUpwardsAndHonoursTheEnvironment(t *testing.T) {
	root := t.TempDir()
	tp := filepath.Join(root, "third_party")
	deep := filepath.Join(root, "a", "b", "c")
	os.MkdirAll(tp, 0o755)
	os.MkdirAll(deep, 0o755)
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	os.Chdir(deep)
	t.Setenv(Env, "")
	if d := Dir(); d == tp {
		t.Fatal("a third_party/ without MANIFEST.txt was taken for make deps' folder")
	}
	os.WriteFile(filepath.Join(tp, "MANIFEST.txt"), nil, 0o644)
	if d := Dir(); d != tp {
		t.Fatalf("Dir() = %q from %s, want %q", d, deep, tp)
	}
	if p := Path("models/x.onnx"); p != filepath.Join(tp, "models/x.onnx") {
		t.Fatalf("Path = %q", p)
	}
	t.Setenv(Env, "/elsewhere")
	if d := Dir(); d != "/elsewhere" {
		t.Fatalf("Dir() = %q with %s set, want /elsewhere", d, Env)
	}
}
