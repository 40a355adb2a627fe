package merge

import (
	"bytes"
	"math"
	"sync"
	"testing"
	"time"

	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
)

const frame30 = int64(time.Second / 30)

// TestSteadySmooth: the smoothed statistics follow a step by
// 1−exp(−Δt/τ) per frame, Δt from the timestamps (one 30 fps frame when
// they do not give one); a new track, a gap over a second and a track
// pushed out by steadySlots others start from their own statistics.
func TestSteadySmooth(t *testing.T) {
	step := float32(1 - math.Exp(-1.0/30/0.25)) // one 30 fps frame at τ 250 ms
	cases := []struct {
		name   string
		tau    time.Duration
		id     uint64 // the second update's track (the first is track 1 at pts 0)
		pts    int64  // and its timestamp
		others int    // tracks updated in between
		want   float32
	}{
		{"same track, next frame", 250 * time.Millisecond, 1, frame30, 0, step},
		{"same track, frames numbered", 250 * time.Millisecond, 1, 1, 0, step},
		{"same track, a step back", 250 * time.Millisecond, 1, -frame30, 0, step},
		{"same track, 10 frames on", 250 * time.Millisecond, 1, 10 * frame30, 0, float32(1 - math.Exp(-10.0/30/0.25))},
		{"new track", 250 * time.Millisecond, 2, frame30, 0, 1},
		{"same track after a gap", 250 * time.Millisecond, 1, 2 * int64(time.Second), 0, 1},
		{"same track after a seek back", 250 * time.Millisecond, 1, -2 * int64(time.Second), 0, 1},
		{"same track among as many as fit", 250 * time.Millisecond, 1, frame30, steadySlots - 1, step},
		{"same track pushed out", 250 * time.Millisecond, 1, frame30, steadySlots, 1},
		{"off", 0, 1, frame30, 0, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSteady(tc.tau)
			mean, std := [3]float32{50, 0, 0}, [3]float32{10, 5, 5}
			s.smooth(1, 0, &mean, &std)
			for k := range tc.others {
				m, d := [3]float32{90, 9, 9}, [3]float32{1, 1, 1}
				s.smooth(uint64(100+k), 0, &m, &d)
			}
			// The frame's statistics step to L 60 and std 20.
			mean, std = [3]float32{60, 0, 0}, [3]float32{20, 5, 5}
			s.smooth(tc.id, tc.pts, &mean, &std)
			if got := (mean[0] - 50) / 10; math.Abs(float64(got-tc.want)) > 1e-4 {
				t.Errorf("mean moved %.4f of the step, want %.4f", got, tc.want)
			}
			if got := (std[0] - 10) / 10; math.Abs(float64(got-tc.want)) > 1e-4 {
				t.Errorf("std moved %.4f of the step, want %.4f", got, tc.want)
			}
		})
	}
}

// steadyScene is a frame with a textured disc of face in a flat surround,
// each in its own colour, and the transform that aligns the disc.
func steadyScene(t *testing.T, tint [3]int) *frame.Frame {
	t.Helper()
	img := texture(256, 256)
	for i, v := range img.pix {
		img.pix[i] = round8(float64(int(v) + tint[i%3]))
	}
	return frametest.FromBGR(img.pix, img.w, img.h, frame.BGR24, 0)
}

// TestSteadyNewTrackStartsFromItsOwnStatistics: after one face was pasted
// for a while over a reddish frame, a new face (another track) over a bluish
// frame comes out exactly as if there had been no smoothing: no colour is
// carried over from the other face. The same track going on over the bluish
// frame does carry its colour over, so the test can tell.
func TestSteadyNewTrackStartsFromItsOwnStatistics(t *testing.T) {
	const s = 128
	tr := faceTransform(t, 0, s, 127.5, 127.5, s)
	faceImg, mask := texture(s, s).pix, discMask(s, 45)
	red, blue := steadyScene(t, [3]int{-30, 0, 40}), steadyScene(t, [3]int{40, 0, -30})
	paste := func(m *Merger, f *frame.Frame, o Options) []byte {
		t.Helper()
		out := frametest.Clone(f)
		if err := m.Paste(out, tr, faceImg, mask, o); err != nil {
			t.Fatal(err)
		}
		if !m.Stats().Transferred {
			t.Fatal("no colour transfer")
		}
		return out.Planes[0]
	}
	own := paste(New(), blue, DefaultOptions()) // the bluish frame's face, unsmoothed
	for _, tc := range []struct {
		name    string
		id      uint64
		carried bool
	}{{"new track", 2, false}, {"same track", 1, true}} {
		t.Run(tc.name, func(t *testing.T) {
			st, m := NewSteady(DefaultSteadyTime), New()
			o := DefaultOptions()
			o.Steady, o.Track = st, 1
			for k := range 30 {
				o.PTS = int64(k) * frame30
				paste(m, red, o)
			}
			o.Track, o.PTS = tc.id, 30*frame30
			got := paste(m, blue, o)
			if same := bytes.Equal(got, own); same == tc.carried {
				t.Errorf("pasted as the bluish frame's own face: %v, want %v", same, !tc.carried)
			}
		})
	}
}

// TestSteadyPasteAllocs: a smoothed paste allocates nothing, new tracks
// included.
func TestSteadyPasteAllocs(t *testing.T) {
	const s = 224
	img := texture(1280, 720)
	faceImg, mask := solidFace(s, green), discMask(s, 80)
	fr := frametest.FromBGR(img.pix, img.w, img.h, frame.NV12, 0)
	tr := faceTransform(t, 17, 400, 640, 360, s)
	m, o := New(), DefaultOptions()
	o.Steady = NewSteady(DefaultSteadyTime)
	if n := testing.AllocsPerRun(50, func() {
		o.Track, o.PTS = o.Track+1, o.PTS+frame30 // a new track every other paste
		_ = m.Paste(fr, tr, faceImg, mask, o)
		o.PTS += frame30
		_ = m.Paste(fr, tr, faceImg, mask, o)
	}); n != 0 {
		t.Errorf("%v allocs per two smoothed pastes", n)
	}
}

// TestSteadySharedByWorkers: workers with their own Mergers share one
// Steady (run with -race).
func TestSteadySharedByWorkers(t *testing.T) {
	const s = 96
	st := NewSteady(DefaultSteadyTime)
	tr := faceTransform(t, 0, s, 127.5, 127.5, s)
	faceImg, mask := texture(s, s).pix, discMask(s, 30)
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, o := New(), DefaultOptions()
			o.Steady = st
			f := steadyScene(t, [3]int{10 * w, 0, -10 * w})
			for k := range 20 {
				o.Track, o.PTS = uint64(k%3), int64(2*k+w)*frame30
				if err := m.Paste(f, tr, faceImg, mask, o); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
