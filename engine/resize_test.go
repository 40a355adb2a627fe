package engine

import (
	"errors"
	"image"
	"testing"
	"time"

	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
)

// A camera that switches from 720p to 1080p mid-stream (OBS's camera
// properties, a phone rotated) keeps its frames flowing, swapped, in the
// ordered mode and the live one: the frames of the old size still in the
// pipeline are dropped, counted, not left at the head of the queue for a
// host that now asks for 1080p (it got FACELIVE_EFORMAT for ever).
func TestStreamChangesSize(t *testing.T) {
	sizes := []image.Point{{1280, 720}, {1920, 1080}}
	scenes := map[image.Point]*frame.Frame{}
	for _, s := range sizes {
		scenes[s] = frametest.FromBGR(photoScene(t, "sample3.jpg", s.X, s.Y), s.X, s.Y, frame.NV12, 0)
	}
	for _, mode := range []string{"quality", "realtime"} {
		t.Run(mode, func(t *testing.T) {
			p := newPipeline(t, `{"mode":"`+mode+`","workers":1,"level":"custom","swapper":{"kind":"photo"}}`)
			waitFaceReady(t, p)
			pts := int64(0)
			for _, s := range sizes {
				src := scenes[s]
				dst := frametest.Blank(src)
				got, swapped := 0, false
				for range 20 {
					pts += 33_333_333
					src.PTS = pts
					if err := p.Submit(src); err != nil && !errors.Is(err, ErrDropped) && !errors.Is(err, ErrBusy) {
						t.Fatalf("%v: submit: %v", s, err)
					}
					err := p.Get(dst, 10*time.Second)
					switch {
					case errors.Is(err, ErrNoFrame):
						continue // live: a newer frame took its place
					case err != nil:
						t.Fatalf("%dx%d frame %d: %v", s.X, s.Y, got, err)
					}
					got++
					if dst.PTS != src.PTS && mode == "quality" {
						// In order: a frame of the old size is never handed out
						// once the host asks for the new one, so every frame out
						// is the one just submitted.
						t.Fatalf("%dx%d: frame out has pts %d, want %d", s.X, s.Y, dst.PTS, src.PTS)
					}
					d := frameDiff{src, dst}
					swapped = d.count(image.Rect(0, 0, s.X, s.Y)) > s.X*s.Y/200
				}
				if got < 15 || !swapped {
					t.Errorf("%dx%d: %d of 20 frames out, the last swapped: %v", s.X, s.Y, got, swapped)
				}
				// The switch: frames of this size still in the pipeline,
				// not yet asked for, when the next size comes.
				for range 2 {
					pts += 33_333_333
					src.PTS = pts
					if err := p.Submit(src); err != nil && !errors.Is(err, ErrDropped) && !errors.Is(err, ErrBusy) {
						t.Fatalf("%v: submit: %v", s, err)
					}
				}
			}
			m := p.Metrics()
			checkInvariant(t, m)
			t.Logf("%s: %d frames out, %d dropped", mode, m.FramesOutput, m.FramesDropped)
			if mode == "quality" && m.FramesDropped < 2 {
				t.Errorf("quality: %d frames dropped, want the 2 of 720p left when 1080p came", m.FramesDropped)
			}
		})
	}
	// A host asking for a size no frame has is still told so.
	p := newPipeline(t, `{"mode":"quality","workers":1}`)
	src := blank(frame.BGRA, 64, 48, 1)
	if err := p.Submit(src); err != nil {
		t.Fatal(err)
	}
	if err := p.Get(blank(frame.BGRA, 96, 48, 0), time.Second); !errors.Is(err, ErrMismatch) {
		t.Fatalf("a size never submitted: %v, want ErrMismatch", err)
	}
}
