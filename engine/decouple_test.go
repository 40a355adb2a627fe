package engine

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
)

// slowRun feeds a head moving right by dx px per frame, one frame per
// period, through a realtime pipeline with the slow test DFM, and waits for
// each frame to come back (no deadline: nothing here depends on how fast
// the machine is). It feeds at least frames frames, and goes on (up to
// 200) until swapped frames have come out (ONNX Runtime's first runs are
// slow, by how much depends on the machine). It returns, per frame fed,
// the horizontal centre of the changed pixels (-1 when nothing changed),
// the final metrics, and how many times the model ran meanwhile.
func slowRun(t *testing.T, model, decouple string, frames, swapped, dx int, period time.Duration) ([]float64, Metrics, uint64) {
	t.Helper()
	p := newPipeline(t, fmt.Sprintf(`{"mode":"realtime","workers":1,"decouple":%q,
		"swapper":{"kind":"dfm","model":%q},"detector":{"interval":1},
		"merge":{"erode":0,"blur":0,"color_transfer":"none"}}`, decouple, model))
	waitFaceReady(t, p)
	const most = 200
	centres := make([]float64, 0, most)
	// Every scene is made before the clock starts: under the race detector
	// making one takes longer than a camera period. Submit copies a frame
	// and never writes it, so each scene is also the original to compare to.
	scenes := map[int]*frame.Frame{}
	for i := 0; i < 48; i++ { // headX repeats every 48 frames
		if x := headX(i, dx); scenes[x] == nil {
			scenes[x] = frametest.FromBGR(headScene(t, x), 1280, 720, frame.BGRA, 0)
		}
	}
	dst := frametest.Blank(scenes[headX(0, dx)])
	// In step, every frame counted must run the model: show the new face
	// until it is confirmed (a new face is swapped from its confirmFrames-th
	// frame). Decoupled, the loop goes on until swapped frames came out.
	for i := confirmFrames - 1; decouple == "off" && i > 0; i-- {
		src := scenes[headX(0, dx)]
		src.PTS = -int64(i) * int64(period)
		p.Submit(src)
		if err := p.Get(dst, time.Minute); err != nil {
			t.Fatalf("priming: %v", err)
		}
	}
	runs0 := p.face.swap.runs.Load()
	start := time.Now()
	for i, faces := 0, 0; i < most && (i < frames || faces < swapped); i++ {
		next := start.Add(time.Duration(i+1) * period)
		src := scenes[headX(i, dx)]
		src.PTS = int64(i) * int64(period)
		if err := p.Submit(src); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if err := p.Get(dst, time.Minute); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if dst.PTS != src.PTS {
			t.Fatalf("frame %d: out came pts %d, want %d", i, dst.PTS, src.PTS)
		}
		centres = append(centres, -1)
		if box := changedPixels(t, src, dst); !box.Empty() {
			centres[i] = float64(box.Min.X+box.Max.X) / 2
			faces++
		}
		time.Sleep(time.Until(next)) // the camera's pace; a frame that took longer goes on at once
	}
	runs := p.face.swap.runs.Load() - runs0
	m := p.Metrics()
	checkInvariant(t, m)
	return centres, m, runs
}

// TestDecouplingKeepsCameraRateWithASlowModel: with a swap model four times
// slower than the camera, decoupling sends camera frames out without
// waiting for the model, each with a swapped face pasted where the face is
// now; in step, each frame waits for its own model run. Counted in model
// runs per frame, not in milliseconds, so a slow or loaded machine cannot
// fail it.
func TestDecouplingKeepsCameraRateWithASlowModel(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a deliberately slow model for several seconds")
	}
	model := filepath.Join(testModels(t), "dfm_slow.onnx")
	WaitLoads(time.Minute) // earlier tests' background loads would steal the cores

	// How slow is the model here? One frame, swapped in step.
	probe := newPipeline(t, fmt.Sprintf(`{"mode":"quality","workers":1,"decouple":"off","swapper":{"kind":"dfm","model":%q}}`, model))
	waitFaceReady(t, probe)
	src := frametest.FromBGR(headScene(t, 300), 1280, 720, frame.BGRA, 0)
	var cost time.Duration
	for i := 0; i < confirmFrames+1; i++ { // a new face is swapped from its confirmFrames-th frame; the first run warms ONNX Runtime up
		t0 := time.Now()
		probe.Submit(src)
		if err := probe.Get(frametest.Blank(src), time.Minute); err != nil {
			t.Fatal(err)
		}
		cost = time.Since(t0)
	}
	probe.Close()
	// The camera runs four times faster than the model.
	period := cost / 4
	const minFrames, dx = 16, 12
	t.Logf("slow model: %.0f ms per frame; camera period %.0f ms", ms(cost), ms(period))

	centres, on, runs := slowRun(t, model, "on", minFrames, 8, dx, period)
	frames := len(centres)
	t.Logf("decoupled: %d of %d frames out, %d model runs, dropped %d", on.FramesOutput, frames, runs, on.FramesDropped)
	if on.FramesOutput != uint64(frames) || on.FramesDropped != 0 {
		t.Fatalf("decoupled: %d of %d frames out, %d dropped; want every frame", on.FramesOutput, frames, on.FramesDropped)
	}
	if !on.Decoupled {
		t.Fatalf("metrics say decoupled = false with decouple on")
	}
	// Frames did not wait for the model: far fewer runs than frames (in
	// step it is one run per frame).
	if runs > uint64(frames/2) {
		t.Fatalf("decoupled: the model ran %d times for %d frames; frames waited for it", runs, frames)
	}
	// The face follows the head at camera rate: once the first swapped face
	// exists, every frame has it, centred where the head is in that frame
	// (a face pasted at the alignment it was swapped at would trail by up
	// to four frames, 4 × dx px).
	first := -1
	for i, c := range centres {
		if c < 0 {
			if first >= 0 {
				t.Fatalf("frame %d: no swapped face after the first at frame %d", i, first)
			}
			continue
		}
		if first < 0 {
			first = i
		}
		want := centres[first] + float64(headX(i, dx)-headX(first, dx))
		if d := c - want; d > dx || d < -dx {
			t.Fatalf("frame %d: swapped face centred at x %.0f, the head is at %.0f (off by %.0f px)", i, c, want, d)
		}
	}
	if first < 0 {
		t.Fatalf("no swapped face in %d frames", frames)
	}

	// In step, each frame waits for its own model run.
	const stepFrames = 2
	_, off, runs := slowRun(t, model, "off", stepFrames, 0, dx, period)
	t.Logf("in step: %d of %d frames out (after %d showing the new face), %d model runs", off.FramesOutput-(confirmFrames-1), stepFrames, confirmFrames-1, runs)
	if off.Decoupled || runs != stepFrames {
		t.Fatalf("in step: decoupled %v, %d model runs for %d frames; want one each", off.Decoupled, runs, stepFrames)
	}
}

// headX is where the head is in frame i: it moves dx px a frame, 24
// frames right, then 24 back, and so on.
func headX(i, dx int) int {
	step := i % 48
	if step > 24 {
		step = 48 - step
	}
	return 300 + step*dx
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
