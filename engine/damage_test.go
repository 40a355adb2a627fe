package engine

import (
	"fmt"
	"testing"
	"time"

	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
)

// The damage a processed frame carries covers every pixel the pipeline
// changed: copying only the damage over the input gives exactly the
// processed frame (what a host getting into its own input buffer sees),
// for every format, in step and decoupled, with both overlays on. And it is
// a small part of the frame.
func TestDamageCoversEveryChangedPixel(t *testing.T) {
	scene := astronautScene(t)
	for _, tc := range []struct{ swapper, mode, decouple string }{
		{"blur", "quality", "off"},
		{"pixelate", "realtime", "on"}, // decoupled: the paste comes from the runner's result
	} {
		p := newPipeline(t, fmt.Sprintf(`{"mode":%q,"workers":1,"level":"custom","decouple":%q,"swapper":{"kind":%q},`+
			`"overlay":{"disclosure":true,"stats":true}}`, tc.mode, tc.decouple, tc.swapper))
		waitFaceReady(t, p)
		ws := p.face.newScratch()
		for _, f := range frame.Formats {
			t.Run(tc.swapper+"/"+tc.decouple+"/"+f.String(), func(t *testing.T) {
				src := frametest.FromBGR(scene, 1280, 720, f, 16)
				b := p.pool.Get(f, 1280, 720)
				defer b.Release()
				deadline := time.Now().Add(20 * time.Second)
				for { // until a face is pasted (decoupled: the runner's first result)
					frame.Copy(&b.Frame, src)
					b.Damage.Reset()
					if !p.process(b, ws) {
						t.Fatal("process failed")
					}
					if p.face.faces.Load() > 0 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("no face pasted within 20 s")
					}
					time.Sleep(10 * time.Millisecond)
				}
				if b.Damage.All() {
					t.Fatal("damage is the whole frame: the face stage said where it wrote")
				}
				area := 0
				for _, r := range b.Damage.Rects() {
					area += r.Dx() * r.Dy()
				}
				if area == 0 || area > 1280*720/4 {
					t.Fatalf("damage covers %d pixels of %d: want some, and at most a quarter", area, 1280*720)
				}
				whole := frametest.Clone(src) // in the host's layout (padded rows)
				frame.Copy(whole, &b.Frame)
				inPlace := frametest.Clone(src)
				frame.CopyDamaged(inPlace, &b.Frame, &b.Damage)
				if box := changedPixels(t, inPlace, whole); !box.Empty() {
					t.Fatalf("pixels in %v changed outside the damage %v", box, b.Damage.Rects())
				}
				if box := changedPixels(t, src, whole); box.Empty() {
					t.Fatal("nothing changed: the test proves nothing")
				}
			})
		}
	}
}
