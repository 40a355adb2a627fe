package detect

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"facelive/engine/face"
	"facelive/engine/frame"
)

func TestHaarAstronaut(t *testing.T) {
	h, err := NewHaar(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	img := fromMat(t, loadBGR(t, asset(t, "faces/astronaut.png")))
	big, bigFace := astronautFrame(t)
	var dets []face.Detection
	for _, c := range []struct {
		name string
		img  *bgrImage
		box  face.Rect
	}{{"512x512", img, astronautFace}, {"1280x720", big, bigFace}} {
		for _, f := range []frame.Format{frame.BGR24, frame.BGRA, frame.NV12, frame.I420, frame.YUY2} {
			t.Run(fmt.Sprintf("%s/%v", c.name, f), func(t *testing.T) {
				dets, err = h.Detect(toFrame(c.img, f, 20), dets)
				if err != nil {
					t.Fatal(err)
				}
				if len(dets) != 1 {
					t.Fatalf("found %d faces, want 1: %+v", len(dets), dets)
				}
				d := dets[0]
				t.Logf("box %.1f", d.Box)
				if d.Score != 1 || d.HasKeypoints {
					t.Errorf("score %v, HasKeypoints %v; want 1, false", d.Score, d.HasKeypoints)
				}
				if iou := iouRect(d.Box, c.box); iou < 0.5 {
					t.Errorf("box %.1f has IoU %.2f with the face %.1f, want >= 0.5", d.Box, iou, c.box)
				}
			})
		}
	}
	dets, err = h.Detect(flatFrame(640, 480, frame.NV12, 128), dets)
	if err != nil || len(dets) != 0 {
		t.Errorf("flat frame: %d faces, err %v; want none", len(dets), err)
	}
	h.Close()
	if _, err := h.Detect(flatFrame(64, 64, frame.BGRA, 1), nil); err != ErrClosed {
		t.Errorf("Detect after Close: err = %v, want ErrClosed", err)
	}
}

func TestNewHaarErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.xml")
	if err := os.WriteFile(bad, []byte("<opencv_storage>nonsense</opencv_storage>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.xml")
	// Well-formed storage without a cascade.
	empty := filepath.Join(dir, "empty.xml")
	if err := os.WriteFile(empty, []byte("<?xml version=\"1.0\"?>\n<opencv_storage>\n<x>1</x>\n</opencv_storage>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{missing, "does not exist"},
		// OpenCV throws for both; uncaught, that would abort the process.
		{bad, "Input file is invalid"},
		{empty, "cannot load the Haar cascade"},
	} {
		o := testOptions(t)
		o.HaarCascade = c.path
		h, err := NewHaar(o)
		if err == nil {
			h.Close()
			t.Errorf("%s: no error", c.path)
			continue
		}
		if !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %q does not name %s and say %q", err, c.path, c.want)
		}
	}
}
