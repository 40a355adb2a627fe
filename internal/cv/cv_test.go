package cv

import (
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Files that are not a cascade are errors that say so, never an abort
// (OpenCV throws on a malformed XML file).
func TestLoadCascadeRefusesWhatIsNotOne(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, body string }{
		{"empty.xml", ""},
		{"garbage.xml", "\x00\x01not xml at all"},
		{"other.xml", `<?xml version="1.0"?><opencv_storage><x>1</x></opencv_storage>`},
	} {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, []byte(tc.body), 0o644); err != nil {
			t.Fatal(err)
		}
		if c, err := LoadCascade(p); err == nil {
			c.Close()
			t.Errorf("%s: loaded", tc.name)
		}
	}
	if _, err := LoadCascade(filepath.Join(dir, "missing.xml")); err == nil {
		t.Error("a missing file: loaded")
	}
}

// Debian's frontal-face cascade loads, runs on a blank image without
// finding anything, refuses a buffer too small for the size given, and
// Close twice is harmless. (That it finds real faces is engine/detect's
// Haar tests, on photos.)
func TestCascadeDetect(t *testing.T) {
	path := "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no %s: run make deps (it installs Debian's opencv-data)", path)
	}
	c, err := LoadCascade(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	grey := make([]byte, 320*240)
	rects, err := c.Detect(grey, 320, 240, 320, 1.1, 5, 24, nil)
	if err != nil || len(rects) != 0 {
		t.Fatalf("blank image: %v, %v; want nothing", rects, err)
	}
	if _, err := c.Detect(grey[:100], 320, 240, 320, 1.1, 5, 24, nil); err == nil {
		t.Error("100 bytes for 320x240: accepted")
	}
	c.Close()
	c.Close()
	if _, err := c.Detect(grey, 320, 240, 320, 1.1, 5, 24, nil); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("after Close: %v, want an error saying so", err)
	}
}

// Text is drawn inside its measured size, in white, and nowhere else.
func TestPutTextWithinTextSize(t *testing.T) {
	w, h, err := TextSize("AI-modified", 1, 2)
	if err != nil || w < 100 || h < 15 {
		t.Fatalf("TextSize = %d x %d, %v", w, h, err)
	}
	pw, ph := w+20, h+20
	pix := make([]byte, pw*ph)
	if err := PutText(pix, pw, ph, pw, "AI-modified", image.Pt(10, 10+h), 1, 2); err != nil {
		t.Fatal(err)
	}
	inside, outside := 0, 0
	for y := range ph {
		for x := range pw {
			if pix[y*pw+x] == 0 {
				continue
			}
			if x >= 8 && x < 12+w && y >= 8 && y < 14+h {
				inside++
			} else {
				outside++
			}
		}
	}
	if inside < w*h/20 || outside != 0 {
		t.Errorf("%d px drawn inside the text's box, %d outside", inside, outside)
	}
	if err := PutText(pix[:10], pw, ph, pw, "x", image.Pt(1, 1), 1, 1); err == nil {
		t.Error("10 bytes for the image: accepted")
	}
}
