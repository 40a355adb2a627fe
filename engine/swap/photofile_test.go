package swap

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// withOrientation inserts an EXIF segment with the Orientation tag o
// right after a JPEG's start marker.
func withOrientation(jpg []byte, o uint16) []byte {
	var tiff bytes.Buffer
	tiff.WriteString("MM\x00\x2a")
	binary.Write(&tiff, binary.BigEndian, uint32(8)) // IFD0 right after the header
	binary.Write(&tiff, binary.BigEndian, uint16(1)) // one entry
	binary.Write(&tiff, binary.BigEndian, []uint16{0x0112, 3})
	binary.Write(&tiff, binary.BigEndian, uint32(1))
	binary.Write(&tiff, binary.BigEndian, []uint16{o, 0})
	binary.Write(&tiff, binary.BigEndian, uint32(0)) // no next IFD
	seg := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, 0xFF, 0xE1, byte((len(seg)+2)>>8), byte(len(seg)+2))
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// A photo stored sideways with an EXIF orientation tag is decoded the way
// it is shown (as OpenCV's imread did): a 64x32 picture with a red left
// half, tagged 6 (turn a quarter clockwise to show), comes out 32x64 with
// red on top. PNG is read as stored, in BGR order.
func TestDecodePhotoOrientation(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 64, 32))
	for y := range 32 {
		for x := range 64 {
			c := color.RGBA{0, 0, 255, 255} // blue
			if x < 32 {
				c = color.RGBA{255, 0, 0, 255} // red
			}
			img.Set(x, y, c)
		}
	}
	var jb, pb bytes.Buffer
	if err := jpeg.Encode(&jb, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(&pb, img); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	redAt := func(bgr []byte, w, x, y int) bool {
		p := bgr[3*(y*w+x):]
		return p[2] > 200 && p[0] < 60
	}
	for _, tc := range []struct {
		name         string
		file         string
		w, h         int
		redX, redY   int // a pixel that must be red
		blueX, blueY int // and one that must not
	}{
		{"png as stored", write("a.png", pb.Bytes()), 64, 32, 5, 16, 60, 16},
		{"jpeg, no tag", write("b.jpg", jb.Bytes()), 64, 32, 5, 16, 60, 16},
		{"jpeg, orientation 6", write("c.jpg", withOrientation(jb.Bytes(), 6)), 32, 64, 16, 5, 16, 60},
		{"jpeg, orientation 8", write("d.jpg", withOrientation(jb.Bytes(), 8)), 32, 64, 16, 60, 16, 5},
		{"jpeg, orientation 3", write("e.jpg", withOrientation(jb.Bytes(), 3)), 64, 32, 60, 16, 5, 16},
	} {
		bgr, w, h, err := decodePhoto(tc.file)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if w != tc.w || h != tc.h || len(bgr) != 3*w*h {
			t.Errorf("%s: %dx%d (%d bytes), want %dx%d", tc.name, w, h, len(bgr), tc.w, tc.h)
			continue
		}
		if !redAt(bgr, w, tc.redX, tc.redY) || redAt(bgr, w, tc.blueX, tc.blueY) {
			t.Errorf("%s: red not where the picture shows it", tc.name)
		}
	}
	_, _, _, err := decodePhoto(write("f.jpg", []byte("not a picture")))
	if err == nil || !strings.Contains(err.Error(), "not an image facelive can decode") {
		t.Errorf("garbage: %v", err)
	}
}

// Broken EXIF never panics: it is orientation 1.
func FuzzExifOrientation(f *testing.F) {
	var jb bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	if err := jpeg.Encode(&jb, img, nil); err != nil {
		f.Fatal(err)
	}
	f.Add(withOrientation(jb.Bytes(), 6))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		if o := exifOrientation(b); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
	})
}
