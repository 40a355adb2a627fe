package engine

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"facelive/engine/align"
	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/landmark"
	"facelive/engine/swap"
)

// scriptDetector finds the faces the script shows at a frame's PTS and
// records the PTS of every whole-frame run (the tracker's own or, in the
// live modes, its goroutine's).
type scriptDetector struct {
	w      int
	script func(pts int64) []face.Detection

	mu   sync.Mutex
	seen []int64
}

func (d *scriptDetector) Detect(f *frame.Frame, dst []face.Detection) ([]face.Detection, error) {
	if f.Width != d.w { // a zoom window or a tile: nothing there
		return dst[:0], nil
	}
	d.mu.Lock()
	d.seen = append(d.seen, f.PTS)
	d.mu.Unlock()
	return append(dst[:0], d.script(f.PTS)...), nil
}
func (d *scriptDetector) Close() error { return nil }

func (d *scriptDetector) runs() []int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.seen)
}

// nearestFitter "finds" the one of its faces nearest to the box it is given.
type nearestFitter struct{ faces []face.Landmarks }

func (f *nearestFitter) Fit(_ *frame.Frame, det *face.Detection, out *landmark.Result) error {
	c, best := det.Box.Center(), math.Inf(1)
	for i := range f.faces {
		fc := f.faces[i].Bounds().Center()
		if d := math.Hypot(fc.X-c.X, fc.Y-c.Y); d < best {
			best, out.Points, out.N = d, f.faces[i], 68
		}
	}
	return nil
}

// aheadScene: one face from the start, a second from frame 5; frames at
// 60 fps, detection every 3rd frame.
func aheadScene() (*faceModels, *scriptDetector, []face.Landmarks) {
	a := synthFace(face.Rect{X0: 100, Y0: 150, X1: 260, Y1: 300})
	b := synthFace(face.Rect{X0: 380, Y0: 150, X1: 540, Y1: 300})
	da, db := synthDetection(&a, 160/0.86), synthDetection(&b, 160/0.86)
	det := &scriptDetector{w: 640, script: func(pts int64) []face.Detection {
		if pts >= 5*frame60 {
			return []face.Detection{da, db}
		}
		return []face.Detection{da}
	}}
	var sw swap.Swapper = stampSwapper{}
	m := &faceModels{det: det, fit: &nearestFitter{faces: []face.Landmarks{a, b}}, sw: sw,
		align: align.DefaultOptions(&landmark.MeanFace), log: func(Level, string) {}, users: 1}
	m.align.Size = sw.Size()
	return m, det, []face.Landmarks{a, b}
}

const frame60 = int64(time.Second / 60)

// In the live modes a scheduled detection runs ahead, off the frame's
// path: on the same frames as in the other modes (so the schedule's cost
// is the same), its result taken by the next frame, whatever the machine's
// speed. A face that appears is followed one frame later than when the
// frame waits for its own detection, and never later than that.
func TestScheduledDetectionRunsAheadInTheLiveModes(t *testing.T) {
	for _, live := range []bool{false, true} {
		m, det, _ := aheadScene()
		tk := testTracker(t)
		o := &faceOptions{interval: 3, maxFaces: 4, live: live}
		fr := blank(frame.BGR24, 640, 480, 0)
		j := &faceJob{}
		var counts []int
		for k := range 12 {
			fr.PTS = int64(k) * frame60
			*j = faceJob{f: fr, m: m, o: o, crops: j.crops}
			trackFrame(tk, j)
			counts = append(counts, len(tk.tracks))
		}
		started := tk.ahead.quit != nil
		tk.close()

		wantRuns := []int64{0, 3 * frame60, 6 * frame60, 9 * frame60}
		if got := det.runs(); !slices.Equal(got, wantRuns) {
			t.Errorf("live=%v: whole-frame runs at PTS %v, want %v (every 3rd frame)", live, got, wantRuns)
		}
		want := []int{1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2} // frame 6's own run finds the second face
		if live {
			want = []int{1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2} // frame 6's run, taken by frame 7
		}
		if !slices.Equal(counts, want) {
			t.Errorf("live=%v: faces followed per frame %v, want %v", live, counts, want)
		}
		if started != live {
			t.Errorf("live=%v: detection goroutine started = %v", live, started)
		}
		if m.users != 1 {
			t.Errorf("live=%v: %d uses of the models after close, want the loader's 1", live, m.users)
		}
	}
}

// Trouble does not wait for a run ahead: a frame with nothing tracked
// detects on itself, and a run ahead taken by a frame after a failed fit
// is dropped for that frame's own detection.
func TestTroubleDetectsOnTheFrameItself(t *testing.T) {
	m, det, faces := aheadScene()
	det.script = func(int64) []face.Detection { return []face.Detection{synthDetection(&faces[0], 160/0.86)} }
	fit := &failingFitter{nearestFitter: nearestFitter{faces: faces}, failAt: 3 * frame60}
	m.fit = fit
	tk := testTracker(t)
	o := &faceOptions{interval: 3, maxFaces: 4, live: true}
	fr := blank(frame.BGR24, 640, 480, 0)
	j := &faceJob{}
	for k := range 6 {
		fr.PTS = int64(k) * frame60
		*j = faceJob{f: fr, m: m, o: o, crops: j.crops}
		trackFrame(tk, j)
	}
	// 0: nothing tracked, detect; 3: due, runs ahead, but frame 3's fit
	// fails, so frame 4 detects on itself; then the schedule from 4.
	if got, want := det.runs(), []int64{0, 3 * frame60, 4 * frame60}; !slices.Equal(got, want) {
		t.Errorf("whole-frame runs at PTS %v, want %v", got, want)
	}
}

// failingFitter fails on the frame at failAt.
type failingFitter struct {
	nearestFitter
	failAt int64
}

func (f *failingFitter) Fit(fr *frame.Frame, det *face.Detection, out *landmark.Result) error {
	if fr.PTS == f.failAt {
		return errors.New("no fit")
	}
	return f.nearestFitter.Fit(fr, det, out)
}

// Running ahead allocates nothing per frame either: the frame's copy, the
// tracks' copy and the result all live in the tracker.
func TestDetectionAheadAllocatesNothing(t *testing.T) {
	m, _, _ := aheadScene()
	tk := testTracker(t)
	o := &faceOptions{interval: 2, maxFaces: 4, live: true}
	fr := blank(frame.BGR24, 640, 480, 0)
	j := &faceJob{}
	step := func() {
		fr.PTS += frame60
		*j = faceJob{f: fr, m: m, o: o, crops: j.crops}
		trackFrame(tk, j)
	}
	for range 12 { // both faces followed and confirmed, the buffers grown
		step()
	}
	if allocs := testing.AllocsPerRun(60, step); allocs != 0 {
		t.Fatalf("live tracking with detection ahead allocates %.2f times per frame, want 0", allocs)
	}
}

// Closing with a run out waits for it, gives its use of the models back
// and stops the goroutine.
func TestCloseWithARunAhead(t *testing.T) {
	before := runtime.NumGoroutine()
	m, det, _ := aheadScene()
	tk := testTracker(t)
	o := &faceOptions{interval: 3, maxFaces: 4, live: true}
	fr := blank(frame.BGR24, 640, 480, 0)
	j := &faceJob{}
	for k := range 4 { // frame 3's run is out
		fr.PTS = int64(k) * frame60
		*j = faceJob{f: fr, m: m, o: o, crops: j.crops}
		trackFrame(tk, j)
	}
	if !tk.ahead.pending {
		t.Fatalf("no run out after frame 3 (runs at %v)", det.runs())
	}
	tk.close()
	if m.users != 1 {
		t.Errorf("%d uses of the models after close, want the loader's 1", m.users)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after close, %d before", n, before)
	}
}

// trackFrame is the face stage's part in a run ahead: the tracker readies
// it, and it starts once the frame is done.
func trackFrame(tk *tracker, j *faceJob) {
	tk.track(j)
	if j.kickAhead {
		tk.ahead.kick()
	}
}

// The run ahead is background work: its thread runs at nice aheadNice, so
// that on a machine with two cores it does not slow the frames (p99 at
// 1080p60 halved when it stopped competing with them).
func TestRunAheadThreadYields(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("per-thread priority is Linux's")
	}
	m, det, _ := aheadScene()
	tk := testTracker(t)
	o := &faceOptions{interval: 3, maxFaces: 4, live: true}
	fr := blank(frame.BGR24, 640, 480, 0)
	j := &faceJob{}
	for k := range 5 { // frame 3's run, taken by frame 4
		fr.PTS = int64(k) * frame60
		*j = faceJob{f: fr, m: m, o: o, crops: j.crops}
		trackFrame(tk, j)
	}
	if len(det.runs()) != 2 || tk.ahead.tid == 0 {
		t.Fatalf("no run ahead (runs at %v)", det.runs())
	}
	runtime.LockOSThread() // this goroutine's thread: another than the run's, with the process's priority
	defer runtime.UnlockOSThread()
	run, own := niceOf(t, fmt.Sprintf("/proc/self/task/%d/stat", tk.ahead.tid)), niceOf(t, fmt.Sprintf("/proc/self/task/%d/stat", threadID()))
	if run != min(own+aheadNice, 19) || aheadNice <= 0 {
		t.Errorf("the run's thread has nice %d, the process %d: want the run %d lower in priority", run, own, aheadNice)
	}
}

// niceOf reads the nice value from a /proc stat file: fields after the
// command's closing parenthesis start with the 3rd (state); nice is the 19th.
func niceOf(t *testing.T, path string) int {
	t.Helper()
	stat, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	nice, err := strconv.Atoi(f[19-3])
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return nice
}

// testTracker is a tracker on a stopped clock, closed when the test ends.
func testTracker(t *testing.T) *tracker {
	tk := newTracker(newStats(make([]string, firstExtraStage), &fakeClock{}), func() int64 { return 0 })
	t.Cleanup(tk.close)
	return tk
}

// Blur and pixelate never detect ahead: a face coming into view is hidden
// on the frame its detection runs on, not one later.
func TestPrivacyDetectsOnTheFrameItself(t *testing.T) {
	m, _, _ := aheadScene()
	px, err := swap.NewPrivacy("pixelate", m.sw.Size())
	if err != nil {
		t.Fatal(err)
	}
	m.sw = px
	tk := testTracker(t)
	o := &faceOptions{interval: 3, maxFaces: 4, live: true}
	fr := blank(frame.BGR24, 640, 480, 0)
	j := &faceJob{}
	var counts []int
	for k := range 8 {
		fr.PTS = int64(k) * frame60
		*j = faceJob{f: fr, m: m, o: o, crops: j.crops}
		trackFrame(tk, j)
		counts = append(counts, len(tk.tracks))
	}
	if tk.ahead.quit != nil {
		t.Error("the detection goroutine started for pixelate")
	}
	if want := []int{1, 1, 1, 1, 1, 1, 2, 2}; !slices.Equal(counts, want) {
		t.Errorf("faces followed per frame %v, want %v (the second face from frame 6, its own detection)", counts, want)
	}
}
