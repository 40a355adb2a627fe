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

// slowRun feeds a head moving right by dx px per frame, one frame per
// period, through a realtime pipeline with the slow test DFM, taking each
// processed frame as a live host would (Get waits at most one period). It
// returns, per frame fed, the horizontal centre of the changed pixels (-1
// when nothing came out or nothing changed) and the final metrics.
func slowRun(t *testing.T, model, decouple string, frames, dx int, period time.Duration) ([]float64, Metrics, time.Duration) {
	t.Helper()
	p := newPipeline(t, fmt.Sprintf(`{"mode":"realtime","workers":1,"decouple":%q,
		"swapper":{"kind":"dfm","model":%q},"detector":{"interval":1},
		"merge":{"erode":0,"blur":0,"color_transfer":"none"}}`, decouple, model))
	waitFaceReady(t, p)
	centres := make([]float64, frames)
	late := 0
	// Every scene is made before the clock starts: under the race detector
	// making one takes longer than a camera period. Submit copies a frame
	// and never writes it, so each scene is also the original to compare to.
	scenes := map[int]*frame.Frame{}
	for i := 0; i < frames; i++ {
		if x := headX(i, dx); scenes[x] == nil {
			scenes[x] = frametest.FromBGR(headScene(t, x), 1280, 720, frame.BGRA, 0)
		}
	}
	dst := frametest.Blank(scenes[headX(0, dx)])
	start := time.Now()
	for i := 0; i < frames; i++ {
		next := start.Add(time.Duration(i+1) * period)
		src := scenes[headX(i, dx)]
		src.PTS = int64(i) * int64(period)
		orig := src
		if err := p.Submit(src); err != nil && !errors.Is(err, ErrDropped) { // a drop is counted, and checked below
			t.Fatalf("frame %d: %v", i, err)
		}
		centres[i] = -1
		t0 := time.Now()
		err := p.Get(dst, time.Until(next))
		if testing.Verbose() && i < 6 {
			t.Logf("%s frame %d: %v, pts %d after %.0f ms", decouple, i, err, dst.PTS, ms(time.Since(t0)))
		}
		if err == nil {
			switch {
			case dst.PTS > src.PTS || dst.PTS%int64(period) != 0:
				t.Fatalf("frame %d: out came pts %d, never fed", i, dst.PTS)
			case dst.PTS != src.PTS: // an older frame, late: not this one
				late++
				centres[i] = lateFrame
			default:
				if box := changedPixels(t, orig, dst); !box.Empty() {
					centres[i] = float64(box.Min.X+box.Max.X) / 2
				}
			}
		}
		time.Sleep(time.Until(next))
	}
	if late > 0 {
		t.Logf("%s: %d frames came out late, after a newer one was fed", decouple, late)
		// Decoupled, a frame is late only when the frame path itself
		// overran a camera period (a hiccup of a loaded CI machine); more
		// than two would mean the model is back on the camera's path.
		if decouple == "on" && late > 2 {
			t.Fatalf("decoupled, yet %d frames came out late", late)
		}
	}
	elapsed := time.Since(start)
	m := p.Metrics()
	lastRuns = p.face.dec.Stats().Completed
	checkInvariant(t, m)
	return centres, m, elapsed
}

// TestDecouplingKeepsCameraRateWithASlowModel: with a swap model four times
// slower than the camera, decoupling still sends every camera frame out with
// a swapped face pasted where the face is now; without it most frames are
// dropped.
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
	for i := 0; i < 3; i++ { // the first runs warm ONNX Runtime up
		t0 := time.Now()
		probe.Submit(src)
		if err := probe.Get(frametest.Blank(src), 30*time.Second); err != nil {
			t.Fatal(err)
		}
		cost = time.Since(t0)
	}
	probe.Close()
	// The camera runs four times faster than the model (or more, on a slow
	// machine), but never faster than the frame path (detect, landmarks,
	// paste) can follow, even under the race detector.
	period := min(max(cost/4, 250*time.Millisecond), 400*time.Millisecond)
	// Enough frames for the model to finish its first run well before the
	// middle of the clip, on a slow or loaded machine too.
	frames := min(max(24, int(3*cost/period)), 80)
	const dx = 12
	t.Logf("slow model: %.0f ms per frame; camera period %.0f ms; %d frames", ms(cost), ms(period), frames)

	centres, on, took := slowRun(t, model, "on", frames, dx, period)
	fpsOn := float64(on.FramesOutput) / took.Seconds()
	on.SwapFPS = float64(lastRuns) / took.Seconds() // the metric's 2 s window is short for a model this slow
	t.Logf("decoupled:   %d of %d frames out (%.1f fps, input %.1f fps), model %.1f runs/s, dropped %d",
		on.FramesOutput, frames, fpsOn, float64(frames)/took.Seconds(), on.SwapFPS, on.FramesDropped)
	if on.FramesOutput != uint64(frames) || on.FramesDropped != 0 {
		t.Fatalf("decoupled: %d of %d frames out, %d dropped; want every frame", on.FramesOutput, frames, on.FramesDropped)
	}
	if !on.Decoupled {
		t.Fatalf("metrics say decoupled = false with decouple on")
	}
	// The face follows the head at camera rate: once the first swapped face
	// exists, every frame has it, centred where the head is in that frame
	// (a face pasted at the alignment it was swapped at would trail by up
	// to four frames, 4 × dx px).
	first := -1
	for i, c := range centres {
		if c == lateFrame {
			continue // counted and bounded in slowRun
		}
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
	if first < 0 || first > frames/2 {
		t.Fatalf("the first swapped face came at frame %d of %d", first, frames)
	}

	_, off, took := slowRun(t, model, "off", frames, dx, period)
	fpsOff := float64(off.FramesOutput) / took.Seconds()
	t.Logf("in step:     %d of %d frames out (%.1f fps), dropped %d", off.FramesOutput, frames, fpsOff, off.FramesDropped)
	if off.FramesOutput > uint64(frames/2) {
		t.Fatalf("without decoupling %d of %d frames came out; the model is 4× slower than the camera", off.FramesOutput, frames)
	}
	t.Logf("RESULT decoupling: output %.1f fps with, %.1f fps without, camera %.1f fps, model %.0f ms",
		fpsOn, fpsOff, float64(frames)/took.Seconds(), ms(cost))
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

// lateFrame marks a frame whose Get returned an older frame.
const lateFrame = -2

// lastRuns is how many times the model ran in the last slowRun.
var lastRuns uint64

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
