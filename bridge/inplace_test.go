package bridge

import (
	"image"
	"image/png"
	"os"
	"strings"
	"testing"
	"time"

	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
	"facelive/internal/assets/assetstest"
)

// faceScene is the astronaut's head (a real face photo, cropped as the
// engine's tests do and scaled ×1.5 by nearest neighbour) in the middle of
// a grey 1280×720 BGR scene, and the rectangle it covers.
func faceScene(t *testing.T) ([]byte, image.Rectangle) {
	t.Helper()
	f, err := os.Open(assetstest.Path(t, "faces/astronaut.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	const w, h, side = 1280, 720, 450
	head := image.Rect(100, 20, 400, 320) // 300×300 around the face
	at := image.Rect(w/2-side/2, h/2-side/2, w/2+side/2, h/2+side/2)
	bgr := make([]byte, w*h*3)
	for i := range bgr {
		bgr[i] = 128
	}
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			r, g, bl, _ := img.At(head.Min.X+x*head.Dx()/side, head.Min.Y+y*head.Dy()/side).RGBA()
			o := 3 * ((at.Min.Y+y)*w + at.Min.X + x)
			bgr[o], bgr[o+1], bgr[o+2] = byte(bl>>8), byte(g>>8), byte(r>>8)
		}
	}
	return bgr, at
}

// A host that gets into the buffer it submitted from, with
// FACELIVE_FRAME_HOLDS_INPUT: the face is swapped, and nothing outside
// what the pipeline changed is written (a marker the host put in a corner
// after submitting survives); for another frame, or without the flag, the
// whole frame is written as before.
func TestGetIntoTheInputWritesOnlyTheChangedPixels(t *testing.T) {
	bgr, faceAt := faceScene(t)
	h := mustInit(t, `{"mode":"quality","workers":1,"level":"custom","swapper":{"kind":"blur"},"overlay":{"disclosure":true}}`)
	orig := frametest.FromBGR(bgr, 1280, 720, frame.NV12, 16)
	buf := frametest.Clone(orig) // the host's one buffer: submitted from, got into
	c := cFrame(buf)
	if c.StructSize != frameFlagsSize {
		t.Fatalf("struct_size %d, want %d (with flags)", c.StructSize, frameFlagsSize)
	}
	corner := 10*buf.Stride[0] + 10 // far from the face and from the label at the bottom
	round := func(pts int64, flags uint32, holds int64) int {
		t.Helper()
		frame.Copy(buf, orig)
		c.PtsNs, c.Flags = pts, 0
		if st := Submit(h, c); st != OK {
			t.Fatalf("submit: %d %s", st, lastErr(h))
		}
		buf.Planes[0][corner] = 7 // written by the host after submit: survives only if get leaves it alone
		c.Flags, c.PtsNs = flags, holds
		st := Get(h, c, 5000)
		if st == OK && c.PtsNs != pts {
			t.Fatalf("get returned pts %d, want %d", c.PtsNs, pts)
		}
		return st
	}
	deadline := time.Now().Add(30 * time.Second)
	for pts := int64(1); ; pts++ { // until the models are loaded and the face is blurred
		if st := round(pts, FrameHoldsInput, pts); st != OK {
			t.Fatalf("get: %d %s", st, lastErr(h))
		}
		if m := bridgeMetrics(t, h); m.FacePipeline == "ready" && m.Faces > 0 {
			break
		}
		if time.Now().After(deadline) {
			m := bridgeMetrics(t, h)
			t.Fatalf("no face swapped 30 s after init: face_pipeline %q faces %d: %s %s", m.FacePipeline, m.Faces, m.LastError, lastErr(h))
		}
	}

	if st := round(1000, FrameHoldsInput, 1000); st != OK {
		t.Fatalf("get: %d %s", st, lastErr(h))
	}
	if buf.Planes[0][corner] != 7 {
		t.Fatal("with FACELIVE_FRAME_HOLDS_INPUT the corner far from the face was written")
	}
	changed, far := 0, 0
	near := faceAt.Inset(-120) // the blurred ellipse reaches past the photo's edge
	for y := 0; y < 600; y++ { // above the disclosure label
		for x := 0; x < 1280; x++ {
			if buf.Planes[0][y*buf.Stride[0]+x] == orig.Planes[0][y*orig.Stride[0]+x] || (x == 10 && y == 10) {
				continue
			}
			if image.Pt(x, y).In(near) {
				changed++
			} else {
				far++
			}
		}
	}
	if changed < 1000 || far != 0 {
		t.Fatalf("%d pixels changed near the face (want ≥ 1000), %d far from it (want 0)", changed, far)
	}
	label := frametest.ReadBGR(buf, 30, 700)
	if plain := frametest.ReadBGR(orig, 30, 700); label == plain {
		t.Fatal("the disclosure label was not written")
	}

	// The flag naming another frame, and no flag: the whole frame is written.
	if st := round(1001, FrameHoldsInput, 999); st != OK || buf.Planes[0][corner] == 7 {
		t.Fatalf("flag for another frame: get %d, corner kept %v: the whole frame must be written", st, buf.Planes[0][corner] == 7)
	}
	if st := round(1002, 0, 1002); st != OK || buf.Planes[0][corner] == 7 {
		t.Fatalf("no flag: get %d, corner kept %v: the whole frame must be written", st, buf.Planes[0][corner] == 7)
	}
	// Unknown bits are refused and leave the frame for the next call.
	if st := round(1003, 0x80, 1003); st != EINVAL || c.PtsNs != PTSNone {
		t.Fatalf("unknown flag bits: get %d pts %d, want EINVAL and FACELIVE_PTS_NONE", st, c.PtsNs)
	}
	if msg := lastErr(h); !strings.Contains(msg, "flags") {
		t.Fatalf("last error %q does not name the flags", msg)
	}
	// A caller with the first version's struct: flags are not read.
	c.StructSize, c.Flags = frameV1Size, 0xFFFF
	if st := Get(h, c, 5000); st != OK || c.PtsNs != 1003 {
		t.Fatalf("struct_size %d with garbage flags: get %d pts %d, want OK 1003", frameV1Size, st, c.PtsNs)
	}
}
