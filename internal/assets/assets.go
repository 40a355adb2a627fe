// Package assets finds the files `make deps` fetches into third_party/
// (models, the default face, ONNX Runtime) when a config does not name
// them: one search, used by every package that needs an asset.
package assets

import (
	"os"
	"path/filepath"
)

// Env overrides the search: the folder that holds models/, faces/ and
// onnxruntime/ (the layout of third_party/).
const Env = "FACELIVE_THIRD_PARTY"

// Dir returns the assets folder: $FACELIVE_THIRD_PARTY when set, else the
// nearest third_party/ holding make deps' MANIFEST.txt above the executable
// (links resolved) or the working directory; "" when there is none.
func Dir() string {
	if d := os.Getenv(Env); d != "" {
		return d
	}
	var starts []string
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		starts = append(starts, filepath.Dir(exe))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, dir := range starts {
		for dir = filepath.Clean(dir); ; dir = filepath.Dir(dir) {
			tp := filepath.Join(dir, "third_party")
			if isFile(filepath.Join(tp, "MANIFEST.txt")) {
				return tp
			}
			if dir == filepath.Dir(dir) {
				break
			}
		}
	}
	return ""
}

// Path returns rel inside the assets folder, or rel itself (relative to
// third_party/) when there is no folder, so that an error names the file.
func Path(rel string) string {
	if d := Dir(); d != "" {
		return filepath.Join(d, rel)
	}
	return filepath.Join("third_party", rel)
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
