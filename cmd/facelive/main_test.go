package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"facelive/engine/config"
	"facelive/internal/version"
)

// The synthetic photo: dark, with a dim pattern and one bright disc whose
// centre is the marker the tests track.
const (
	photoSize     = 200
	markerX       = 150
	markerY       = 50
	markerRadius  = 12
	clipSeconds   = 2
	clipFPS       = 15
	clipW, clipH  = 640, 360
	clipFrames    = clipSeconds * clipFPS
	maxMarkerErr  = 3.0 // px
	maxMeanAbsDif = 3.0 // per channel, codec noise only
)

func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// writePhoto draws the synthetic face photo and saves it as PNG.
func writePhoto(t *testing.T, dir string) string {
	t.Helper()
	m := gocv.NewMatWithSize(photoSize, photoSize, gocv.MatTypeCV8UC3)
	defer m.Close()
	m.SetTo(gocv.NewScalar(10, 10, 10, 0))
	for x := 10; x < photoSize; x += 30 { // a dim, asymmetric pattern
		gocv.Rectangle(&m, image.Rect(x, 90, x+12, 190), color.RGBA{40, 30, 20, 0}, -1)
	}
	gocv.Rectangle(&m, image.Rect(20, 20, 90, 60), color.RGBA{20, 40, 30, 0}, -1)
	gocv.Circle(&m, image.Pt(markerX, markerY), markerRadius, color.RGBA{255, 255, 255, 0}, -1)
	path := filepath.Join(dir, "photo.png")
	if !gocv.IMWrite(path, m) {
		t.Fatalf("IMWrite %s failed", path)
	}
	return path
}

// makeClip runs makeclip on the synthetic photo and returns the clip path.
func makeClip(t *testing.T, dir string) string {
	t.Helper()
	return makeClipWith(t, dir, "clip.mp4")
}

// makeClipWith is makeClip writing dir/name, with more makeclip flags.
func makeClipWith(t *testing.T, dir, name string, extra ...string) string {
	t.Helper()
	photo := writePhoto(t, dir)
	clip := filepath.Join(dir, name)
	args := append([]string{"makeclip", "--photo", photo, "--output", clip,
		"--seconds", "2", "--size", "640x360", "--fps", "15"}, extra...)
	code, stdout, stderr := cli(t, args...)
	if code != 0 {
		t.Fatalf("makeclip exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	for _, want := range []string{clip, clip + ".motion.json"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("makeclip output does not say it wrote %s:\n%s", want, stdout)
		}
	}
	return clip
}

// readFrames decodes every frame of a video.
func readFrames(t *testing.T, path string) []gocv.Mat {
	t.Helper()
	c, err := gocv.VideoCaptureFile(path)
	if err != nil || !c.IsOpened() {
		t.Fatalf("cannot open %s: %v", path, err)
	}
	defer c.Close()
	var frames []gocv.Mat
	for {
		m := gocv.NewMat()
		if !c.Read(&m) || m.Empty() {
			m.Close()
			break
		}
		frames = append(frames, m)
	}
	t.Cleanup(func() {
		for _, m := range frames {
			m.Close()
		}
	})
	return frames
}

func checkGeometry(t *testing.T, name string, frames []gocv.Mat, n, w, h int) {
	t.Helper()
	if len(frames) != n {
		t.Fatalf("%s has %d frames, want %d", name, len(frames), n)
	}
	for i, m := range frames {
		if m.Cols() != w || m.Rows() != h || m.Type() != gocv.MatTypeCV8UC3 {
			t.Fatalf("%s frame %d is %dx%d %v, want %dx%d CV_8UC3", name, i, m.Cols(), m.Rows(), m.Type(), w, h)
		}
	}
}

// findMarker returns the frame position of the bright disc of radius r
// pixels: the maximum of the luminance blurred about as wide as the disc
// (float, so the peak is unique even where the disc saturates).
func findMarker(m gocv.Mat, r float64) image.Point {
	sigma := max(3, 0.6*r)
	gray, f, blur := gocv.NewMat(), gocv.NewMat(), gocv.NewMat()
	defer gray.Close()
	defer f.Close()
	defer blur.Close()
	gocv.CvtColor(m, &gray, gocv.ColorBGRToGray)
	gray.ConvertTo(&f, gocv.MatTypeCV32F)
	gocv.GaussianBlur(f, &blur, image.Pt(0, 0), sigma, sigma, gocv.BorderReflect101)
	_, _, _, maxLoc := gocv.MinMaxLoc(blur)
	return maxLoc
}

func TestMakeclipFollowsKnownMotion(t *testing.T) {
	// The crops hold the marker; the affine still maps pixels of the whole
	// photo. A crop shown large moves less so that it stays in the frame.
	tests := []struct {
		name      string
		args      []string
		crop      [4]int
		height    float64 // --height
		fullSweep bool    // the full translation amplitude on both axes
		minMoved  float64 // px the photo's centre travels over the clip
	}{
		{"whole photo", nil, [4]int{0, 0, photoSize, photoSize}, 0.45, true, 50},
		{"crop", []string{"--crop", "100,0,100,100", "--height", "0.6"}, [4]int{100, 0, 100, 100}, 0.6, true, 50},
		{"crop shown large", []string{"--crop", "120,20, 60,60", "--height", "0.75"}, [4]int{120, 20, 60, 60}, 0.75, false, 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkClipMotion(t, makeClipWith(t, t.TempDir(), "clip.mp4", tc.args...), tc.crop, tc.height, tc.fullSweep, tc.minMoved)
		})
	}
}

func checkClipMotion(t *testing.T, clip string, crop [4]int, height float64, fullSweep bool, minMoved float64) {
	frames := readFrames(t, clip)
	checkGeometry(t, "clip", frames, clipFrames, clipW, clipH)

	data, err := os.ReadFile(clip + ".motion.json")
	if err != nil {
		t.Fatal(err)
	}
	var mo clipMotion
	if err := json.Unmarshal(data, &mo); err != nil {
		t.Fatalf("motion file is not valid JSON: %v", err)
	}
	if len(mo.Frames) != clipFrames || mo.FrameCount != clipFrames {
		t.Fatalf("motion file has %d frames (frame_count %d), want %d", len(mo.Frames), mo.FrameCount, clipFrames)
	}
	if mo.FrameSize != [2]int{clipW, clipH} || mo.PhotoSize != [2]int{photoSize, photoSize} || mo.FPS != clipFPS || mo.Crop != crop {
		t.Errorf("motion header: frame %v photo %v crop %v fps %g; want crop %v", mo.FrameSize, mo.PhotoSize, mo.Crop, mo.FPS, crop)
	}
	if full := mo.Sweep == [2]float64{1, 1}; full != fullSweep || mo.Sweep[0] <= 0 || mo.Sweep[1] <= 0 {
		t.Errorf("sweep %v; want the full sweep: %v, and some sweep on both axes", mo.Sweep, fullSweep)
	}
	t.Logf("sweep %v", mo.Sweep)

	var moved, turned float64
	for k, fm := range mo.Frames {
		if fm.Index != k || fm.PTSNs != ptsOf(k, clipFPS) {
			t.Errorf("frame %d: index %d pts %d", k, fm.Index, fm.PTSNs)
		}
		if fm.Brightness < 0.7-1e-9 || fm.Brightness > 1.2+1e-9 || math.Abs(fm.AngleDeg) > 12+1e-9 {
			t.Errorf("frame %d: brightness %g angle %g out of range", k, fm.Brightness, fm.AngleDeg)
		}
		a := fm.Affine
		at := func(x, y float64) (float64, float64) {
			return a[0][0]*x + a[0][1]*y + a[0][2], a[1][0]*x + a[1][1]*y + a[1][2]
		}
		wantX, wantY := at(markerX, markerY)
		got := findMarker(frames[k], markerRadius*fm.Scale)
		if d := math.Hypot(float64(got.X)-wantX, float64(got.Y)-wantY); d > maxMarkerErr {
			t.Errorf("frame %d: marker found at (%d, %d), the motion file puts it at (%.1f, %.1f): %.1f px off",
				k, got.X, got.Y, wantX, wantY, d)
		}
		// The crop is shown at --height of the frame (times the pose's
		// scale), its centre at "center", and it stays inside the frame.
		base := height * clipH / float64(crop[3]) // crop pixels to frame pixels at pose scale 1
		if s := math.Hypot(a[0][0], a[1][0]); math.Abs(s/fm.Scale-1) > 0.01 || fm.Scale < 0.85*base-1e-6 || fm.Scale > 1.15*base+1e-6 {
			t.Errorf("frame %d: affine scale %.4f, scale field %.4f; want 0.85..1.15 x %.4f", k, s, fm.Scale, base)
		}
		cx, cy := at(float64(crop[0])+float64(crop[2]-1)/2, float64(crop[1])+float64(crop[3]-1)/2)
		if math.Hypot(cx-fm.Center[0], cy-fm.Center[1]) > 0.6 { // the resize rounds the crop's size to whole pixels
			t.Errorf("frame %d: the crop's centre maps to (%.1f, %.1f), the motion file says (%.1f, %.1f)", k, cx, cy, fm.Center[0], fm.Center[1])
		}
		for _, c := range [][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
			x, y := at(float64(crop[0]+c[0]*crop[2])-0.5, float64(crop[1]+c[1]*crop[3])-0.5)
			if x < -1 || y < -1 || x > clipW || y > clipH {
				t.Errorf("frame %d: corner %v of the crop is at (%.1f, %.1f), outside the %dx%d frame", k, c, x, y, clipW, clipH)
			}
		}
		if k > 0 {
			p := mo.Frames[k-1]
			moved += math.Hypot(fm.Center[0]-p.Center[0], fm.Center[1]-p.Center[1])
			turned += math.Abs(fm.AngleDeg - p.AngleDeg)
		}
	}
	if moved < minMoved || turned < 5 { // the photo really moves and turns
		t.Errorf("photo moved only %.1f px and turned %.1f° over the clip", moved, turned)
	}
}

// diffStats compares two BGR frames per channel: bias is the mean signed
// difference b−a, noise the mean absolute difference left once the bias is
// removed, abs the plain mean absolute difference.
func diffStats(t *testing.T, a, b gocv.Mat) (bias, noise, abs [3]float64) {
	t.Helper()
	da, err1 := a.DataPtrUint8()
	db, err2 := b.DataPtrUint8()
	if err1 != nil || err2 != nil || len(da) != len(db) {
		t.Fatalf("cannot compare frames: %v %v (%d vs %d bytes)", err1, err2, len(da), len(db))
	}
	n := float64(len(da) / 3)
	for i := range da {
		d := float64(db[i]) - float64(da[i])
		bias[i%3] += d
		abs[i%3] += math.Abs(d)
	}
	for c := range bias {
		bias[c] /= n
		abs[c] /= n
	}
	for i := range da {
		noise[i%3] += math.Abs(float64(db[i]) - float64(da[i]) - bias[i%3])
	}
	for c := range noise {
		noise[c] /= n
	}
	return bias, noise, abs
}

// TestRunPassThrough runs with the default config: the synthetic photo has
// no face for the swapper to find, so frames come out as they went in.
func TestRunPassThrough(t *testing.T) {
	dir := t.TempDir()
	clip := makeClip(t, dir)
	in := readFrames(t, clip)
	for _, tc := range []struct {
		ext, codec string
		// Debian's OpenCV 4.6 + FFmpeg 5.1 convert BGR24 <-> YUV420P with
		// swscale's fast paths, which lose about 1–2 levels each way: every
		// H.264 / MPEG-4 generation shifts grey (B, G, R) by about (−4, −2, −2)
		// (flat grey 100 comes back as 95, 98, 96). That is a bias of the
		// container conversion, not noise; the noise bound is the same for
		// both. MJPG (OpenCV's own encoder) has no such shift.
		maxBias, maxAbs float64
	}{
		{"avi", "MJPG", 1, maxMeanAbsDif},
		{"mp4", "avc1", 5, 5 + maxMeanAbsDif},
	} {
		t.Run(tc.ext, func(t *testing.T) {
			out := filepath.Join(dir, "out."+tc.ext)
			code, _, stderr := cli(t, "run", "--input", clip, "--output", out)
			if code != 0 {
				t.Fatalf("run exit %d\n%s", code, stderr)
			}
			for _, want := range []string{"frames    in 30  out 30  dropped 0  written 30", "latency", "stage_ms",
				"mode batch", "codec " + tc.codec} {
				if !strings.Contains(stderr, want) {
					t.Errorf("summary lacks %q:\n%s", want, stderr)
				}
			}
			got := readFrames(t, out)
			checkGeometry(t, "output", got, len(in), clipW, clipH)
			for i := range in {
				bias, noise, abs := diffStats(t, in[i], got[i])
				for c := range bias {
					if noise[c] >= maxMeanAbsDif || math.Abs(bias[c]) >= tc.maxBias || abs[c] >= tc.maxAbs {
						t.Errorf("frame %d channel %d: mean abs difference %.2f (bias %+.2f, noise %.2f); want < %g with noise < %g, |bias| < %g",
							i, c, abs[c], bias[c], noise[c], tc.maxAbs, maxMeanAbsDif, tc.maxBias)
					}
					if i == 0 {
						t.Logf("frame 0 channel %d: mean abs difference %.2f, bias %+.2f, noise %.2f", c, abs[c], bias[c], noise[c])
					}
				}
			}
		})
	}
}

func TestRunRealtimeKeepsEveryFramePosition(t *testing.T) {
	dir := t.TempDir()
	clip := makeClip(t, dir)
	cfg := filepath.Join(dir, "rt.json")
	if err := os.WriteFile(cfg, []byte(`{"mode": "realtime"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.avi")
	code, _, stderr := cli(t, "run", "--input", clip, "--output", out, "--config", cfg, "--quiet")
	if code != 0 {
		t.Fatalf("run exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, `mode "realtime"`) || !strings.Contains(stderr, "warning") {
		t.Errorf("no warning about the live mode:\n%s", stderr)
	}
	if strings.Contains(stderr, "stage_ms") {
		t.Errorf("--quiet printed the summary:\n%s", stderr)
	}
	// Dropped frames are filled, so the output keeps the input's timing.
	checkGeometry(t, "output", readFrames(t, out), clipFrames, clipW, clipH)
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"detector": {"threshold": 2}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "no-such-clip.mp4")
	notVideo := filepath.Join(dir, "not-a-video.mp4")
	if err := os.WriteFile(notVideo, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.mp4")
	photo := writePhoto(t, dir)
	tests := []struct {
		name string
		args []string
		code int
		want []string // in stderr
	}{
		{"missing input", []string{"run", "--input", missing, "--output", out}, 1, []string{"facelive: ", missing}},
		{"input not a video", []string{"run", "--input", notVideo, "--output", out}, 1, []string{notVideo, "decode"}},
		{"run bad config", []string{"run", "--input", missing, "--output", out, "--config", bad}, 1, []string{"detector.threshold"}},
		{"config check bad", []string{"config", "check", bad}, 1, []string{"facelive: ", "detector.threshold", bad}},
		{"config check missing", []string{"config", "check", missing}, 1, []string{missing}},
		{"unknown command", []string{"frobnicate"}, 2, []string{`unknown command "frobnicate"`}},
		{"no args", nil, 2, []string{"Commands:", "makeclip"}},
		{"run without input", []string{"run", "--output", out}, 2, []string{"--input is required"}},
		{"run unknown flag", []string{"run", "--inptu", "x"}, 2, []string{"inptu"}},
		{"run stray argument", []string{"run", "--input", missing, "--output", out, "extra"}, 2, []string{`"extra"`}},
		{"run bad extension", []string{"run", "--input", missing, "--output", filepath.Join(dir, "o.xyz")}, 2, []string{".xyz"}},
		{"makeclip bad size", []string{"makeclip", "--photo", bad, "--output", out, "--size", "big"}, 2, []string{"WIDTHxHEIGHT"}},
		{"makeclip missing photo", []string{"makeclip", "--photo", missing, "--output", out}, 1, []string{missing}},
		{"makeclip not a photo", []string{"makeclip", "--photo", bad, "--output", out}, 1, []string{bad}},
		{"makeclip bad crop", []string{"makeclip", "--photo", photo, "--output", out, "--crop", "1,2,3"}, 2, []string{"--crop", "X,Y,W,H"}},
		{"makeclip empty crop", []string{"makeclip", "--photo", photo, "--output", out, "--crop", "10,10,0,20"}, 2, []string{"W and H at least 1"}},
		{"makeclip crop outside", []string{"makeclip", "--photo", photo, "--output", out, "--crop", "150,150,100,100"}, 2,
			[]string{"(150,150)-(250,250) reaches outside the 200x200 photo"}},
		{"makeclip bad height", []string{"makeclip", "--photo", photo, "--output", out, "--height", "1.5"}, 2, []string{"--height 1.5"}},
		{"config no subcommand", []string{"config"}, 2, []string{"config check FILE"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := cli(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

func TestInfoCommands(t *testing.T) {
	code, stdout, _ := cli(t, "version")
	if code != 0 || strings.TrimSpace(stdout) != version.String() || !strings.HasPrefix(stdout, "facelive "+version.Version+" (go") {
		t.Errorf("version: exit %d, %q", code, stdout)
	}
	for _, h := range []string{"help", "-h", "--help"} {
		code, stdout, _ = cli(t, h)
		if code != 0 || !strings.Contains(stdout, "Usage:") || !strings.Contains(stdout, "Example") {
			t.Errorf("%s: exit %d\n%s", h, code, stdout)
		}
	}
	code, stdout, _ = cli(t, "run", "-h")
	if code != 0 || !strings.Contains(stdout, "--input") {
		t.Errorf("run -h: exit %d\n%s", code, stdout)
	}

	code, stdout, _ = cli(t, "config", "default")
	if code != 0 {
		t.Fatalf("config default: exit %d", code)
	}
	c, err := config.Parse([]byte(stdout))
	if err != nil || c != config.Default() {
		t.Errorf("config default does not parse back to the defaults: %v\n%s", err, stdout)
	}

	good := filepath.Join(t.TempDir(), "good.json")
	if err := os.WriteFile(good, []byte(`{"mode": "quality"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = cli(t, "config", "check", good)
	if code != 0 || !strings.HasPrefix(stdout, good+": ok\n") || !strings.Contains(stdout, `"mode": "quality"`) ||
		!strings.Contains(stdout, `"detector"`) {
		t.Errorf("config check: exit %d\n%s", code, stdout)
	}
}

func TestFormatProgress(t *testing.T) {
	tests := []struct {
		done, total int
		elapsed     time.Duration
		want        string
	}{
		{540, 1200, 6185567010, // 540 frames at 87.3 fps
			"[#####.....]  45%  540/1200 frames  87.3 fps  ETA 0:07"},
		{0, 1200, 0, "[..........]   0%  0/1200 frames  0.0 fps  ETA --:--"},
		{1200, 1200, 20 * time.Second, "[##########] 100%  1200/1200 frames  60.0 fps  ETA 0:00"},
		{1, 100, 10 * time.Second, "[..........]   1%  1/100 frames  0.1 fps  ETA 16:30"},
		{10, 100000, 10 * time.Second, "[..........]   0%  10/100000 frames  1.0 fps  ETA 27:46:30"},
		{130, 120, 2 * time.Second, "[##########] 100%  130/120 frames  65.0 fps  ETA 0:00"}, // the container's count was low
		{300, 0, 10 * time.Second, "300 frames  30.0 fps"},                                   // total unknown
	}
	for _, tc := range tests {
		if got := formatProgress(tc.done, tc.total, tc.elapsed); got != tc.want {
			t.Errorf("formatProgress(%d, %d, %v)\n got %q\nwant %q", tc.done, tc.total, tc.elapsed, got, tc.want)
		}
	}
}

func TestProgressLinesWhenNotATerminal(t *testing.T) {
	var buf bytes.Buffer
	start := time.Unix(0, 0)
	p := newProgress(&buf, 50, false, start)
	for i := 1; i <= 50; i++ {
		p.update(i, start.Add(time.Duration(i)*100*time.Millisecond))
	}
	p.finish(50, start.Add(5*time.Second))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 10 || !strings.HasPrefix(lines[0], "[#.........]  10%  5/50") || !strings.HasPrefix(lines[9], "[##########] 100%") {
		t.Errorf("want one line per 10%%, got %d:\n%s", len(lines), buf.String())
	}
	if strings.Contains(buf.String(), "\r") {
		t.Error("carriage return written to a non-terminal")
	}
}

// thirdParty returns the third_party/ folder that make deps fills, or skips.
func thirdParty(t *testing.T) string {
	t.Helper()
	dir, _ := os.Getwd()
	for ; dir != "/" && dir != "."; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "third_party", "MANIFEST.txt")); err == nil {
			return filepath.Join(dir, "third_party")
		}
	}
	t.Skip("third_party/ not found: run make deps")
	return ""
}

// TestDemoFlow is scripts/demo.sh at a smaller size: the astronaut's head
// moving, run with the default config (the photo swapper and its default
// face), then the sheet. Her face must be replaced in the frames and the
// rest of the frame left alone.
func TestDemoFlow(t *testing.T) {
	tp := thirdParty(t)
	dir := t.TempDir()
	clip, out, sheet := filepath.Join(dir, "in.mp4"), filepath.Join(dir, "out.mp4"), filepath.Join(dir, "sheet.png")
	steps := [][]string{
		{"makeclip", "--photo", filepath.Join(tp, "faces", "astronaut.png"), "--crop", "110,12,232,232", "--height", "0.7",
			"--output", clip, "--seconds", "1", "--size", "640x360", "--fps", "15"},
		{"run", "--input", clip, "--output", out},
		{"sheet", "--before", clip, "--after", out, "--output", sheet, "--frames", "3", "--width", "900"},
	}
	for _, args := range steps {
		code, stdout, stderr := cli(t, args...)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", args[0], code, stdout, stderr)
		}
		if args[0] == "run" {
			for _, want := range []string{"mode batch", "swapper   " + swapperSummary(config.Default().Swapper) + "; face pipeline ready"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("run's summary lacks %q:\n%s", want, stderr)
				}
			}
		}
	}
	if config.Default().Swapper.Kind != "photo" {
		t.Skipf("the default swapper is %q, not photo: no swap to check", config.Default().Swapper.Kind)
	}

	var mo clipMotion
	data, err := os.ReadFile(clip + ".motion.json")
	if err == nil {
		err = json.Unmarshal(data, &mo)
	}
	if err != nil {
		t.Fatal(err)
	}
	in, got := readFrames(t, clip), readFrames(t, out)
	checkGeometry(t, "output", got, len(in), 640, 360)
	faceIn := image.Rect(178, 81, 272, 175) // her face in astronaut.png
	swapped := 0
	for k := range in {
		a := mo.Frames[k].Affine
		box := image.Rectangle{Min: image.Pt(1<<20, 1<<20)}
		for _, p := range []image.Point{faceIn.Min, faceIn.Max, {faceIn.Min.X, faceIn.Max.Y}, {faceIn.Max.X, faceIn.Min.Y}} {
			x := int(a[0][0]*float64(p.X) + a[0][1]*float64(p.Y) + a[0][2])
			y := int(a[1][0]*float64(p.X) + a[1][1]*float64(p.Y) + a[1][2])
			box = image.Rect(min(box.Min.X, x), min(box.Min.Y, y), max(box.Max.X, x), max(box.Max.Y, y))
		}
		if !box.In(image.Rect(0, 0, 640, 360)) || box.Dx() < 640/8 {
			t.Errorf("frame %d: her face is at %v: not inside the frame, or narrower than 1/8 of it", k, box)
		}
		// The face changes; a corner of the frame far from it does not.
		// (By 9.7–11.6 levels over the face's box: the person's own eyes
		// and mouth show through, merge.live_eyes and live_mouth; an
		// unswapped frame differs by 2.6–3.6, codec noise.)
		if d := meanAbsDiff(in[k], got[k], box); d > 7 {
			swapped++
		} else {
			t.Logf("DEBUG frame %d face diff %.1f box %v", k, d, box)
		}
		corner := image.Rect(0, 300, 60, 360)
		if d := meanAbsDiff(in[k], got[k], corner); d > 6 {
			t.Errorf("frame %d: the background at %v changed by %.1f on average", k, corner, d)
		}
	}
	if swapped < len(in)*9/10 {
		t.Errorf("the face changed in only %d of %d frames", swapped, len(in))
	}
	t.Logf("face replaced in %d of %d frames", swapped, len(in))
	s := gocv.IMRead(sheet, gocv.IMReadColor)
	defer s.Close()
	if s.Cols() != 900 || s.Rows() < 2*((900-2*sheetGap)/3*9/16) {
		t.Errorf("sheet is %dx%d", s.Cols(), s.Rows())
	}
}

// meanAbsDiff is the mean absolute difference of a and b over r, all
// channels together.
func meanAbsDiff(a, b gocv.Mat, r image.Rectangle) float64 {
	ra, rb, d := a.Region(r), b.Region(r), gocv.NewMat()
	defer ra.Close()
	defer rb.Close()
	defer d.Close()
	gocv.AbsDiff(ra, rb, &d)
	m := d.Mean()
	return (m.Val1 + m.Val2 + m.Val3) / 3
}
