package main

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// runConfig returns the config for processing a file and the dotted keys
// that count as set by the user (engine.WithExplicit): the profile and level
// fill in every other key they cover, as the C ABI does. The config is the
// file at path (or the defaults) with mode batch unless the file sets a mode
// itself. Files keep every frame: a live mode is used as asked but warned
// about, and an ordered mode never uses a skip strategy that drops frames.
// The keys are config.Keys of the file, plus mode where run chose batch, so
// that no profile turns a file run into a live one.
func runConfig(path string, con *console) (config.Config, []string, error) {
	if path == "" {
		c := config.Default()
		c.Mode = "batch"
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
		c.Mode = "batch"
		keys = append(keys, "mode")
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
	w       *gocv.VideoWriter
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

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", "run --input FILE --output FILE [--config FILE] [--quiet]", stderr)
	input := fs.String("input", "", "video file to process (required)")
	output := fs.String("output", "", "video file to write, .mp4, .mkv or .avi (required)")
	cfgPath := fs.String("config", "", "engine config JSON file (default: the defaults with mode batch)")
	quiet := fs.Bool("quiet", false, "print no progress and no summary; warnings and errors still go to stderr")
	if err := parseFlags(fs, args, "input", "output"); err != nil {
		return err
	}
	if sameFile(*input, *output) {
		return usageErrorf("run: --output %s is the input file; choose another name", *output)
	}
	if _, err := codecsFor(*output); err != nil {
		return usageErrorf("run: %v", err)
	}
	con := &console{w: stderr}
	cfg, explicit, err := runConfig(*cfgPath, con)
	if err != nil {
		return err
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

	w, codec, err := openWriter(*output, fps, width, height)
	if err != nil {
		return err
	}
	j.w = w
	writerOpen := true
	closeWriter := func() {
		if writerOpen {
			writerOpen = false
			w.Close()
		}
	}
	defer closeWriter()

	p, err := engine.New(cfg, engine.WithExplicit(explicit), engine.WithLogger(func(level engine.Level, msg string) {
		if level <= engine.LevelWarn {
			con.printf("facelive: engine: %s\n", msg)
		}
	}))
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
	prog := newProgress(stderr, total, *quiet, start)
	con.mu.Lock()
	con.prog = prog
	con.mu.Unlock()

	interrupted := false
	for {
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
		for { // write whatever is ready, without waiting
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
	if err := j.drain(); err != nil {
		return err
	}
	closeWriter()
	end := time.Now()

	con.mu.Lock()
	prog.finish(j.written, end)
	con.prog = nil
	con.mu.Unlock()

	m := p.Metrics()
	if !*quiet {
		printSummary(stderr, *input, *output, codec, width, height, fps, cfg, j, m, end.Sub(start))
	}
	if msg, ok := p.Poisoned(); ok {
		return fmt.Errorf("engine fault: %s; frames from then on passed through unmodified (%s is complete but not fully processed)", msg, *output)
	}
	if interrupted {
		return fmt.Errorf("interrupted after %d frames; %s holds the first %d frames", j.read, *output, j.written)
	}
	return nil
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
	for j.written < j.read {
		j.write(&j.out[j.cur])
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
	for j.written < k {
		j.write(fill)
		j.filled++
	}
	j.write(&j.out[o])
	j.cur = o
	return true, nil
}

func (j *fileJob) write(m *gocv.Mat) {
	j.w.Write(*m) // gocv reports no write errors; OpenCV logs them itself
	j.written++
	j.con.progress(j.written)
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
func printSummary(w io.Writer, input, output, codec string, width, height int, fps float64, cfg config.Config, j *fileJob, m engine.Metrics, elapsed time.Duration) {
	secs := max(elapsed.Seconds(), 1e-9)
	prof := ""
	if m.Profile != "" {
		prof = ", profile " + m.Profile + " " + cfg.Level
	}
	fmt.Fprintf(w, "facelive: %s -> %s  (%dx%d, %s fps, codec %s, mode %s, skip %s, %s%s)\n",
		input, output, width, height, trimFloat(fps), codec, m.Mode, m.Skip, plural(m.Workers, "worker"), prof)
	fmt.Fprintf(w, "  swapper   %s; face pipeline %s\n", swapperSummary(cfg.Swapper), m.FacePipeline)
	fmt.Fprintf(w, "  frames    in %d  out %d  dropped %d  written %d", j.read, m.FramesOutput, m.FramesDropped, j.written)
	if j.filled > 0 {
		fmt.Fprintf(w, " (%d repeated to fill drops)", j.filled)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  speed     %.1f fps  (%s in %.2f s)\n", float64(j.got)/secs, plural(j.got, "frame"), secs)
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
