package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"gocv.io/x/gocv"

	"facelive/engine"
	"facelive/engine/config"
	"facelive/engine/frame"
)

// stallLimit is how long run waits for the pipeline to produce a frame while
// frames are in flight before it gives up.
var stallLimit = 2 * time.Minute

// console serialises what goes to stderr: the engine logs from its own
// goroutines, and a message must first erase an in-place progress line.
type console struct {
	mu   sync.Mutex
	w    io.Writer
	prog *progress
}

func (c *console) printf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prog != nil {
		c.prog.clear()
	}
	fmt.Fprintf(c.w, format, args...)
}

func (c *console) warn(format string, args ...any) {
	c.printf("facelive: warning: "+format+"\n", args...)
}

func (c *console) progress(done int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prog != nil {
		c.prog.update(done, time.Now())
	}
}

// runConfig returns the config for processing a file or a camera and the dotted keys
// that count as set by the user (engine.WithExplicit): the profile and level
// fill in every other key they cover, as the C ABI does. The config is the
// file at path (or the defaults) with mode batch unless the file sets a mode
// itself (realtime for a camera). Files keep every frame: a live mode is used as asked but warned
// about, and an ordered mode never uses a skip strategy that drops frames.
// The keys are config.Keys of the file, plus mode where run chose batch, so
// that no profile turns a file run into a live one.
func runConfig(path string, con *console, camera bool) (config.Config, []string, error) {
	mode := "batch" // a file: every frame
	if camera {
		mode = "realtime" // a camera does not wait: the newest frame wins
	}
	if path == "" {
		c := config.Default()
		c.Mode = mode
		return c, []string{"mode"}, c.Validate()
	}
	c, err := config.Load(path)
	if err != nil {
		return c, nil, err
	}
	data, err := os.ReadFile(path)
	var keys []string
	if err == nil {
		keys, err = config.Keys(data)
	}
	if err != nil { // Load read and parsed it a moment ago
		return c, nil, fmt.Errorf("config: %s: %w", path, err)
	}
	if !slices.Contains(keys, "mode") {
		c.Mode = mode
		keys = append(keys, "mode")
	}
	if camera {
		return c, keys, nil // a live source: whatever mode the file asks for
	}
	switch c.Mode {
	case "realtime", "balanced":
		con.warn("%s sets mode %q, which drops frames when the engine falls behind; dropped frames are filled by "+
			"repeating the previous output frame. Use mode batch or quality to process every frame.", path, c.Mode)
	case "batch", "quality":
		if c.Skip == "drop_oldest" || c.Skip == "drop_newest" {
			con.warn("%s sets skip %q, which would lose frames of the file in mode %s; using skip \"none\" (wait instead)",
				path, c.Skip, c.Mode)
			c.Skip = "none" // skip is among keys: only a file sets a dropping one
		}
	}
	return c, keys, nil
}

// fileJob carries one "run": the decoded input, the pipeline and the writer.
// Every Mat is allocated once; frames are views over them.
type fileJob struct {
	p       *engine.Pipeline
	w       sink
	pace    *pacer // live sinks: frames go out at the video's rate
	quit    bool   // the user closed the window
	fps     float64
	ordered bool // batch/quality: every frame comes out, in order
	con     *console

	in   gocv.Mat
	inF  frame.Frame
	out  [2]gocv.Mat // the newest written frame and the one being fetched
	outF [2]frame.Frame
	cur  int // index in out of the newest written frame

	read, written, got, filled int
	lastOut                    time.Time
	poisonWarned               bool
}

const runSynopsis = "run --input FILE|/dev/videoN|N --output FILE|window|v4l2:/dev/videoN [--config FILE] [--size WxH] [--fps N] [--v4l2-format yuyv|nv12] [--quiet]"

func init() {
	commandHelp["run"] = `Swaps faces in a video file or a live camera and writes the result.

Inputs:
  FILE.mp4 (.mkv, .avi, ...)   a video file: every frame is processed (mode batch), in order
  /dev/videoN, or N            a V4L2 camera (N: /dev/videoN); --size and --fps ask it for a
                               format; mode realtime: the newest frame wins, nothing waits

Outputs:
  FILE.mp4, .mkv or .avi       a video file
  window                       a window on the screen: q or Esc quits, s switches the stats
                               overlay on and off; a file plays at its own speed
  v4l2:/dev/videoN             a virtual camera for Zoom, Meet, a browser: a v4l2loopback
                               device ('sudo modprobe v4l2loopback exclusive_caps=1' makes one)

A config file's mode is kept (a file run in a live mode drops frames and repeats the last
one to fill their place). At the end a summary of the metrics goes to stderr (not with --quiet).
`
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", runSynopsis, stdout)
	input := fs.String("input", "", "`SOURCE`: a video file, /dev/videoN or camera index N (required)")
	output := outputFlag(fs, "", "`TARGET`: a video file (.mp4, .mkv, .avi), window, or v4l2:/dev/videoN (required)")
	cfgPath := fs.String("config", "", "engine config JSON `FILE` (default: the defaults, with mode batch for a file and realtime for a camera)")
	size := fs.String("size", "", "camera only: ask the camera for `WIDTHxHEIGHT`, e.g. 1280x720 (default: its own)")
	camFPS := fs.Float64("fps", 0, "camera only: ask the camera for `FPS` frames per second (default: its own)")
	v4l2Format := fs.String("v4l2-format", "yuyv", "v4l2: output only: the pixel `FORMAT` the virtual camera gets, yuyv or nv12")
	quiet := fs.Bool("quiet", false, "print no progress and no summary; warnings and errors still go to stderr")
	if err := parseFlags(fs, args, "input", "output"); err != nil {
		return err
	}
	out, err := parseOutput(*output)
	if err != nil {
		return usageErrorf("run: %v", err)
	}
	if out.kind == "file" && sameFile(*input, out.path) {
		return usageErrorf("run: --output %s is the input file; choose another name", out.path)
	}
	if out.kind == "v4l2" { // before anything is read: the device must be there
		if _, err := os.Stat(out.path); errors.Is(err, iofs.ErrNotExist) {
			return usageErrorf("run: no virtual camera at %s: load the loopback module with "+
				"'sudo modprobe v4l2loopback exclusive_caps=1' (Debian: apt-get install v4l2loopback-dkms) and name the "+
				"device it creates (ls /dev/video*)", out.path)
		}
	}
	dev, camera := cameraDevice(*input)
	var camW, camH int
	if *size != "" || *camFPS != 0 {
		if !camera {
			return usageErrorf("run: --size and --fps are for a camera input (/dev/videoN); a file keeps its own")
		}
		if *size != "" {
			if camW, camH, err = parseSize(*size); err != nil {
				return usageErrorf("run: --size: %v", err)
			}
		}
		if *camFPS < 0 || *camFPS > 1000 {
			return usageErrorf("run: --fps %g: use a rate between 1 and 1000", *camFPS)
		}
	}
	con := &console{w: stderr}
	cfg, explicit, err := runConfig(*cfgPath, con, camera)
	if err != nil {
		return err
	}
	newPipeline := func() (*engine.Pipeline, error) {
		return engine.New(cfg, engine.WithExplicit(explicit), engine.WithLogger(func(level engine.Level, msg string) {
			if level <= engine.LevelWarn {
				con.printf("facelive: engine: %s\n", msg)
			}
		}))
	}
	if camera {
		capture, err := openCamera(*input, dev, camW, camH, *camFPS)
		if err != nil {
			return err
		}
		defer capture.Close()
		return runLive(ctx, capture, *input, out, *v4l2Format, cfg, newPipeline, con, *quiet)
	}

	capture, err := openCapture(*input)
	if err != nil {
		return err
	}
	defer capture.Close()
	fps := capture.Get(gocv.VideoCaptureFPS)
	if !(fps > 0 && fps <= 1000) {
		con.warn("%s reports no usable frame rate (%g); assuming 30 fps", *input, fps)
		fps = 30
	}
	total := int(capture.Get(gocv.VideoCaptureFrameCount)) // an estimate for some containers
	if total < 0 || total > 1e8 {
		total = 0
	}

	j := &fileJob{fps: fps, ordered: cfg.Mode == "batch" || cfg.Mode == "quality", con: con, in: gocv.NewMat()}
	defer j.in.Close()
	if !capture.Read(&j.in) || j.in.Empty() {
		return fmt.Errorf("input %s has no video frames OpenCV can decode", *input)
	}
	width, height := j.in.Cols(), j.in.Rows()
	for i := range j.out {
		j.out[i] = gocv.NewMatWithSize(height, width, gocv.MatTypeCV8UC3)
		defer j.out[i].Close()
		if err := bgrView(&j.outF[i], &j.out[i]); err != nil {
			return err
		}
	}

	w, err := openSink(out, *v4l2Format, fps, width, height, func() { toggleStats(j.p, con) })
	if err != nil {
		return err
	}
	j.w = w
	if w.live() {
		j.pace = &pacer{fps: fps}
	}
	sinkOpen := true
	closeSink := func() {
		if sinkOpen {
			sinkOpen = false
			w.close()
		}
	}
	defer closeSink()

	p, err := newPipeline()
	if err != nil {
		return err
	}
	defer p.Close()
	j.p = p
	// A file has no deadline: wait for the face models rather than let the
	// first frames through unswapped.
	if err := p.WaitFaces(time.Minute); err != nil {
		return err
	}

	start := time.Now()
	j.lastOut = start
	if j.pace != nil {
		j.pace.start = start
	}
	prog := newProgress(stderr, total, *quiet || w.live(), start)
	con.mu.Lock()
	con.prog = prog
	con.mu.Unlock()

	interrupted := false
	for !j.quit {
		if ctx.Err() != nil {
			interrupted = true
			break
		}
		if j.in.Cols() != width || j.in.Rows() != height || j.in.Type() != gocv.MatTypeCV8UC3 {
			return fmt.Errorf("input %s changes frame size or type at frame %d (%dx%d %v, was %dx%d CV_8UC3); not supported",
				*input, j.read, j.in.Cols(), j.in.Rows(), j.in.Type(), width, height)
		}
		if err := bgrView(&j.inF, &j.in); err != nil {
			return err
		}
		j.inF.PTS = ptsOf(j.read, fps)
		if err := j.submit(); err != nil {
			return err
		}
		j.read++
		for !j.quit { // write whatever is ready, without waiting
			got, err := j.fetch(0)
			if err != nil {
				return err
			}
			if !got {
				break
			}
		}
		if !capture.Read(&j.in) || j.in.Empty() {
			break
		}
	}
	if !j.quit {
		if err := j.drain(); err != nil {
			return err
		}
	}
	closeSink()
	end := time.Now()

	con.mu.Lock()
	prog.finish(j.written, end)
	con.prog = nil
	con.mu.Unlock()

	m := p.Metrics()
	if !*quiet {
		printSummary(stderr, *input, w.describe(), width, height, fps, cfg, j, m, end.Sub(start))
	}
	if msg, ok := p.Poisoned(); ok {
		return fmt.Errorf("engine fault: %s; frames from then on passed through unmodified (%s is complete but not fully processed)", msg, *output)
	}
	if interrupted {
		if out.kind != "file" {
			return fmt.Errorf("interrupted after %d frames", j.read)
		}
		return fmt.Errorf("interrupted after %d frames; %s holds the first %d frames", j.read, out.path, j.written)
	}
	return nil // the user quitting the window is no error
}

// openSink opens what --output names for frames of w×h at fps; toggle is
// the window's stats key.
func openSink(out outputSpec, v4l2Format string, fps float64, w, h int, toggle func()) (sink, error) {
	switch out.kind {
	case "window":
		return openWindow(toggle), nil
	case "v4l2":
		return openV4L2(out.path, v4l2Format, w, h)
	}
	vw, codec, err := openWriter(out.path, fps, w, h)
	if err != nil {
		return nil, err
	}
	return &fileSink{w: vw, path: out.path, codec: codec}, nil
}

// toggleStats switches the stats overlay (the window's s key).
func toggleStats(p *engine.Pipeline, con *console) {
	if p == nil {
		return
	}
	on := !p.Config().Overlay.Stats
	if err := p.SetConfig([]byte(fmt.Sprintf(`{"overlay":{"stats":%v}}`, on))); err != nil {
		con.warn("stats overlay: %v", err)
	}
}

// submit hands the current input frame to the pipeline. When the pipeline is
// full it writes finished frames until there is room, so no frame is lost in
// the ordered modes.
func (j *fileJob) submit() error {
	for {
		err := j.p.Submit(&j.inF)
		switch {
		case err == nil, errors.Is(err, engine.ErrDropped): // dropped: live modes only; counted by the engine
			return nil
		case errors.Is(err, engine.ErrPoisoned): // taken; it comes out unmodified
			j.notePoison()
			return nil
		case errors.Is(err, engine.ErrBusy):
			got, err := j.fetch(time.Second)
			if err != nil {
				return err
			}
			if !got {
				if err := j.checkStall(); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("submitting frame %d: %w", j.read, err)
		}
	}
}

// drain writes the frames still in the pipeline after the last submit, then
// (live modes) repeats the last frame for trailing frames that were dropped.
func (j *fileJob) drain() error {
	for {
		got, err := j.fetch(100 * time.Millisecond)
		if err != nil {
			return err
		}
		if got {
			continue
		}
		if j.p.Metrics().InFlight == 0 {
			break
		}
		if err := j.checkStall(); err != nil {
			return err
		}
	}
	if j.written == 0 && j.read > 0 {
		m := j.p.Metrics()
		return fmt.Errorf("the pipeline returned none of %d frames (%d dropped)", j.read, m.FramesDropped)
	}
	for j.written < j.read && !j.quit {
		if err := j.write(&j.out[j.cur]); err != nil {
			return err
		}
		j.filled++
	}
	return nil
}

func (j *fileJob) checkStall() error {
	if since := time.Since(j.lastOut); since > stallLimit {
		m := j.p.Metrics()
		return fmt.Errorf("pipeline stalled: no frame came out for %s with %d frames in flight", since.Round(time.Second), m.InFlight)
	}
	return nil
}

// fetch gets the next processed frame, if one is ready within timeout, checks
// its PTS and writes it (after filling any frames a live mode dropped).
func (j *fileJob) fetch(timeout time.Duration) (bool, error) {
	o := 1 - j.cur // keep the newest written frame intact for filling gaps
	f := &j.outF[o]
	f.PTS = -1 // Get sets it when it delivers a frame; input PTS are >= 0
	err := j.p.Get(f, timeout)
	switch {
	case err == nil:
	case errors.Is(err, engine.ErrPoisoned): // with or without a frame
		j.notePoison()
		if f.PTS < 0 {
			return false, nil
		}
	case errors.Is(err, engine.ErrNoFrame):
		return false, nil
	default:
		return false, fmt.Errorf("fetching a processed frame: %w", err)
	}
	j.got++
	j.lastOut = time.Now()
	k := indexOf(f.PTS, j.fps)
	if ptsOf(k, j.fps) != f.PTS || k < j.written || k >= j.read {
		return false, fmt.Errorf("bug: output frame %d has PTS %d ns, which matches no input frame still expected (next expected: frame %d, PTS %d ns)",
			j.got-1, f.PTS, j.written, ptsOf(j.written, j.fps))
	}
	if j.ordered && k != j.written {
		if msg, ok := j.p.Poisoned(); ok { // a frame caught in the fault is dropped
			return false, fmt.Errorf("engine fault (%s) lost input frame %d (PTS %d ns)", msg, j.written, ptsOf(j.written, j.fps))
		}
		m := j.p.Metrics()
		return false, fmt.Errorf("bug: output frame %d carries PTS %d ns (input frame %d), but mode %s must return input frame %d (PTS %d ns) in that position; engine counts: %d dropped",
			j.written, f.PTS, k, m.Mode, j.written, ptsOf(j.written, j.fps), m.FramesDropped)
	}
	fill := &j.out[j.cur]
	if j.written == 0 {
		fill = &j.out[o] // nothing written yet: repeat this frame instead
	}
	for j.written < k && !j.quit {
		if err := j.write(fill); err != nil {
			return false, err
		}
		j.filled++
	}
	if err := j.write(&j.out[o]); err != nil {
		return false, err
	}
	j.cur = o
	return true, nil
}

// write hands one frame to the sink (at its time, for a live one); the
// user quitting ends the run (j.quit).
func (j *fileJob) write(m *gocv.Mat) error {
	if j.quit {
		return nil
	}
	if j.pace != nil {
		j.pace.wait(j.written)
	}
	err := j.w.write(m)
	if errors.Is(err, errQuit) {
		j.quit = true
		return nil
	}
	if err != nil {
		return err
	}
	j.written++
	j.con.progress(j.written)
	return nil
}

func (j *fileJob) notePoison() {
	if j.poisonWarned {
		return
	}
	j.poisonWarned = true
	msg, _ := j.p.Poisoned()
	j.con.warn("engine fault (%s); frames now pass through unmodified", msg)
}

// printSummary writes the final metrics as a short table.
func printSummary(w io.Writer, input, output string, width, height int, fps float64, cfg config.Config, j *fileJob, m engine.Metrics, elapsed time.Duration) {
	printSummaryCounts(w, input, output, width, height, fps, cfg, m, j.read, j.written, j.filled, j.got, elapsed)
}

// printSummaryCounts is the summary for any input: frames read, written,
// repeated to fill drops, and got from the engine.
func printSummaryCounts(w io.Writer, input, output string, width, height int, fps float64, cfg config.Config, m engine.Metrics,
	read, written, filled, got int, elapsed time.Duration) {
	secs := max(elapsed.Seconds(), 1e-9)
	prof := ""
	if m.Profile != "" {
		prof = ", profile " + m.Profile + " " + cfg.Level
	}
	fmt.Fprintf(w, "facelive: %s -> %s  (%dx%d, %s fps, mode %s, skip %s, %s%s)\n",
		input, output, width, height, trimFloat(fps), m.Mode, m.Skip, plural(m.Workers, "worker"), prof)
	fmt.Fprintf(w, "  swapper   %s; face pipeline %s\n", swapperSummary(cfg.Swapper), m.FacePipeline)
	fmt.Fprintf(w, "  frames    in %d  out %d  dropped %d  written %d", read, m.FramesOutput, m.FramesDropped, written)
	if filled > 0 {
		fmt.Fprintf(w, " (%d repeated to fill drops)", filled)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  speed     %.1f fps  (%s in %.2f s)\n", float64(got)/secs, plural(got, "frame"), secs)
	fmt.Fprintf(w, "  latency   p50 %.2f ms  p95 %.2f ms  p99 %.2f ms\n", m.LatencyMs.P50, m.LatencyMs.P95, m.LatencyMs.P99)
	names := make([]string, 0, len(m.StageMs))
	for name := range m.StageMs {
		names = append(names, name)
	}
	fixed := []string{"copy_in", "process", "copy_out"} // the pipeline's own, in flow order
	slices.SortFunc(names, func(a, b string) int {
		ia, ib := slices.Index(fixed, a), slices.Index(fixed, b)
		if ia < 0 {
			ia = len(fixed)
		}
		if ib < 0 {
			ib = len(fixed)
		}
		if ia != ib {
			return ia - ib
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = fmt.Sprintf("%s %.2f", name, m.StageMs[name])
	}
	fmt.Fprintf(w, "  stage_ms  %s\n", strings.Join(parts, "  "))
}

// swapperSummary names the swapper and what it swaps in.
func swapperSummary(s config.Swapper) string {
	switch s.Kind {
	case "none":
		return "none: frames pass through unchanged"
	case "photo", "inswapper":
		if s.Face == "" {
			return s.Kind + " with the default face (" + engine.DefaultFace + " in the assets folder)"
		}
		return s.Kind + " with the face " + s.Face
	case "dfm":
		return "dfm, model " + s.Model
	}
	return s.Kind
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// trimFloat prints 30 as "30" and 30000/1001 as "29.97".
func trimFloat(x float64) string { return fmt.Sprintf("%.4g", x) }

// sameFile reports whether two paths name the same file (or would).
func sameFile(a, b string) bool {
	if sa, err := os.Stat(a); err == nil {
		if sb, err := os.Stat(b); err == nil {
			return os.SameFile(sa, sb)
		}
	}
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}
