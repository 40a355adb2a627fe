package engine

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
)

// TestDecoupleSwitchingWithTwoWorkers switches decouple between on, off
// and auto while two workers swap faces with a real ONNX model: one worker
// may be swapping in step while the other hands crops to the decoupled
// runner. Under -race (make test) any unguarded use of the model session
// is a race report; either way the counts must add up and the model must
// have run on both paths.
func TestDecoupleSwitchingWithTwoWorkers(t *testing.T) {
	model := filepath.Join(testModels(t), "dfm.onnx")
	p := newPipeline(t, fmt.Sprintf(`{"mode":"realtime","workers":2,"level":"custom","decouple":"off",
		"swapper":{"kind":"dfm","model":%q}}`, model))
	waitFaceReady(t, p)
	src := frametest.FromBGR(astronautScene(t), 1280, 720, frame.BGRA, 0)
	dst := frametest.Blank(src)
	var inStep, decoupled uint64 // model runs seen on each path
	pts := int64(0)
	for round := 0; round < 24; round++ {
		mode := []string{"on", "off", "auto"}[round%3]
		runsBefore, decBefore := p.face.swap.runs.Load(), p.face.swap.dec.Stats().Completed
		for k := 0; k < 2; k++ { // two frames at once: one for each worker
			pts++
			src.PTS = pts
			if err := p.Submit(src); err != nil && !errors.Is(err, ErrDropped) {
				t.Fatal(err)
			}
		}
		// Switch while both frames are in flight.
		if err := p.SetConfig([]byte(fmt.Sprintf(`{"decouple":%q}`, mode))); err != nil {
			t.Fatal(err)
		}
		if err := p.Get(dst, time.Minute); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for p.Get(dst, 0) == nil { // the other frame, unless a newer one superseded it
		}
		runs, dec := p.face.swap.runs.Load()-runsBefore, p.face.swap.dec.Stats().Completed-decBefore
		decoupled += dec
		inStep += runs - min(runs, dec)
		checkInvariant(t, p.Metrics())
	}
	// Nothing left behind: every frame came out or was counted dropped.
	deadline := time.Now().Add(time.Minute)
	for p.Metrics().InFlight > 0 && time.Now().Before(deadline) {
		p.Get(dst, 10*time.Millisecond)
	}
	m := p.Metrics()
	checkInvariant(t, m)
	if m.InFlight != 0 {
		t.Fatalf("%d frames still in flight", m.InFlight)
	}
	t.Logf("%d frames in, %d out, %d dropped; model runs: %d in step, %d decoupled", m.FramesSubmitted, m.FramesOutput, m.FramesDropped, inStep, decoupled)
	if inStep == 0 || decoupled == 0 {
		t.Fatalf("the model ran %d times in step and %d times decoupled; want both paths exercised", inStep, decoupled)
	}
}
