package engine

import (
	"os"
	"path/filepath"
)

// AssetsEnv names a folder holding the registry assets (the layout make deps
// writes to third_party/: models/, faces/, onnxruntime/).
const AssetsEnv = "FACELIVE_ASSETS_DIR"

// findAssets returns where models and the default face live: the config's
// assets_dir, else $FACELIVE_ASSETS_DIR, else a third_party/ folder with
// make deps' MANIFEST.txt found from the working directory or the
// executable upwards. "" when there is none.
func findAssets(configured string) string {
	if configured != "" {
		return configured
	}
	if dir := os.Getenv(AssetsEnv); dir != "" {
		return dir
	}
	starts := []string{}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		for ; ; dir = filepath.Dir(dir) {
			tp := filepath.Join(dir, "third_party")
			if _, err := os.Stat(filepath.Join(tp, "MANIFEST.txt")); err == nil {
				return tp
			}
			if dir == filepath.Dir(dir) {
				break
			}
		}
	}
	return ""
}
