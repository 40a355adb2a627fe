package engine

import (
	"strings"
	"testing"
	"time"

	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
	"facelive/vram"
)

// Pipelines share one dlib predictor (it is safe for concurrent use)
// instead of holding a ~100 MB copy each; it goes back to the cache when
// the last of them closes, and the next pipeline gets it without loading.
func TestPipelinesShareTheLandmarkModel(t *testing.T) {
	WaitLoads(time.Minute)
	cfg := `{"mode":"quality","workers":1,"level":"custom","swapper":{"kind":"blur"}}`
	c, _ := shared()
	dlibSize := vram.SizeOf(dlibModel())
	p1 := newPipeline(t, cfg)
	waitFaceReady(t, p1)
	one := c.Stats().ActiveBytes
	p2 := newPipeline(t, cfg)
	waitFaceReady(t, p2)
	two := c.Stats().ActiveBytes
	if two-one >= dlibSize {
		t.Fatalf("a second pipeline added %d MB of active models; the %d MB predictor must be shared", (two-one)>>20, dlibSize>>20)
	}
	lmUsers := func() int {
		sharedMu.Lock()
		defer sharedMu.Unlock()
		for k, e := range sharedModels {
			if strings.HasPrefix(k, "landmarks|dlib68|") {
				return e.users
			}
		}
		return 0
	}
	if n := lmUsers(); n != 2 {
		t.Fatalf("the shared predictor has %d users, want 2", n)
	}
	// Both fit landmarks on the one predictor, at once.
	src := frametest.FromBGR(headScene(t, 400), 1280, 720, frame.NV12, 0)
	for range confirmFrames { // a new face is swapped from its confirmFrames-th frame
		for _, p := range []*Pipeline{p1, p2} {
			if err := p.Submit(src); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range []*Pipeline{p1, p2} {
			if err := p.Get(frametest.Blank(src), 10*time.Second); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, p := range []*Pipeline{p1, p2} {
		if m := p.Metrics(); m.Faces != 1 {
			t.Fatalf("faces = %d with the shared predictor, want 1", m.Faces)
		}
	}
	p1.Close()
	if n := lmUsers(); n != 1 {
		t.Fatalf("after one Close the predictor has %d users, want 1", n)
	}
	p2.Close()
	if n := lmUsers(); n != 0 {
		t.Fatalf("after both closed the predictor still has %d users", n)
	}
	loads := c.Stats().Loads
	p3 := newPipeline(t, cfg)
	waitFaceReady(t, p3)
	if c.Stats().Loads != loads {
		t.Fatal("a third pipeline loaded models again instead of taking them from the cache")
	}
}
