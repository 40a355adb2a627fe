package engine

import (
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A refused config and a failed load name the config key to change and what
// fixes it, in the metrics' "error" object, so that a host shows them as
// they are: a model that does not exist is swapper.model's, one that is no
// model too, a photo without a face swapper.face's. Nothing failed: no
// "error" in the JSON.
func TestFailuresNameTheirKey(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.dfm")
	if err := os.WriteFile(garbage, []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	noFace := filepath.Join(dir, "noface.png")
	writeGreyPNG(t, noFace)
	// Refused by set_config: the file does not exist.
	p := newPipeline(t, `{"mode":"quality","workers":1,"swapper":{"kind":"blur"}}`)
	if err := p.SetConfig([]byte(fmt.Sprintf(`{"swapper":{"kind":"dfm","model":%q}}`, filepath.Join(dir, "missing.dfm")))); err == nil {
		t.Fatal("a missing model: taken")
	}
	if e := p.Metrics().Error; e == nil || e.Key != "swapper.model" || !strings.Contains(e.Hint, ".dfm") {
		t.Errorf("refused missing model: error %+v", e)
	}
	if err := p.SetConfig([]byte(`{"swapper":{"kind":"pixelate"}}`)); err != nil {
		t.Fatal(err)
	}
	if e := fdSettle(t, p).Error; e != nil {
		t.Errorf("after a config that was taken: error %+v, want none", e)
	}
	// Loads that fail.
	for _, tc := range []struct {
		swapper, key, hintHas string
	}{
		{fmt.Sprintf(`{"kind":"dfm","model":%q}`, garbage), "swapper.model", ".dfm"},
		{fmt.Sprintf(`{"kind":"photo","face":%q}`, noFace), "swapper.face", "photo"},
	} {
		p := newPipeline(t, `{"mode":"quality","workers":1,"swapper":`+tc.swapper+`}`)
		m := fdSettle(t, p)
		if m.FacePipeline != faceFailed || m.Error == nil {
			t.Fatalf("%s: face_pipeline %s, error %+v; want failed with an error", tc.swapper, m.FacePipeline, m.Error)
		}
		if m.Error.Key != tc.key || !strings.Contains(m.Error.Hint, tc.hintHas) || m.Error.Message != m.LastError {
			t.Errorf("%s: error %+v; want key %s, a hint mentioning %q, last_error's message", tc.swapper, m.Error, tc.key, tc.hintHas)
		}
		b, _ := json.Marshal(m)
		if !strings.Contains(string(b), `"error":{"message":`) {
			t.Errorf("metrics JSON without the error object: %s", b)
		}
	}
	if m := fdSettle(t, newPipeline(t, `{"mode":"quality","workers":1,"swapper":{"kind":"blur"}}`)); m.Error != nil {
		t.Errorf("blur loaded: error %+v, want none", m.Error)
	}
}

// writeGreyPNG writes a 200×200 mid-grey PNG: an image with no face.
func writeGreyPNG(t *testing.T, path string) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 200, 200))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}
