package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"gocv.io/x/gocv"

	"facelive/bridge"
	"facelive/engine"
	"facelive/engine/detect"
	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
	"facelive/internal/assets"
)

const benchSynopsis = "bench [--output out/bench] [--quick] [--duration 4s] [--scenarios SUBSTRING]"

// The scenario the realtime targets are measured on, and the batch one.
const (
	benchRealtimeTarget = "1080p NV12 photo realtime 60 fps"
	benchBatchTarget    = "1080p NV12 photo batch"
)

// The live path beside a slow model: the same camera, host and decoupled
// DFM-signature swap, once with the quick test model (~1 ms a run: no model
// worth the name beside the live path) and once with one far slower than
// the camera. The live path does the same work in both (track, align, paste
// the newest result); the ratio of the two p90s is what running the slow
// model beside it costs. (A photo-swap baseline would also count the
// difference between pasting a photo and a DFM face with its mask.)
const (
	benchSlowBase  = "slow model, 30 fps camera: quick dfm decoupled"
	benchSlowModel = "slow model, 30 fps camera: slow dfm decoupled"
	// benchSlowRounds sizes the slow test model (tools/testmodels/gen.py
	// --slow-rounds) for about 130 ms a run on one core of a quiet 2-core AMD EPYC
	// (AVX-512), the bench machine: several camera frames per model run.
	benchSlowRounds = 110
	// benchSlowSpan is the least the pair measures, whatever --duration says.
	benchSlowSpan = 15 * time.Second
	// benchAwaitMs is how long the slow-model scenarios wait for each frame
	// after submitting it, as an OBS filter that calls get right after
	// submit: a frame not back by then is late.
	benchAwaitMs = 25
)

// scenario is one fixed bench case.
type scenario struct {
	Name     string `json:"name"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	Format   string `json:"format"`
	Swapper  string `json:"swapper"`
	Mode     string `json:"mode"`                     // realtime (paced) or batch (as fast as it takes frames)
	PacedFPS int    `json:"paced_fps,omitempty"`      // realtime: frames submitted per second of wall time
	Slow     bool   `json:"slow_model,omitempty"`     // dfm: the slow test model instead of the quick one
	Decouple string `json:"decouple,omitempty"`       // the config's decouple key ("" = its default)
	AwaitMs  int    `json:"await_ms,omitempty"`       // each frame awaited at most this long after its submit (0: until the next tick)
	FaceBox  int    `json:"face_box,omitempty"`       // a realistic scene with a face box this wide (0: the bench scene)
	Defaults bool   `json:"default_config,omitempty"` // the default config (profile auto, level balanced) but for the mode
	// KServe: the dfm runs on the in-process stand-in KServe v2 server
	// over loopback (swapper.backend kserve), answering no sooner than
	// ServerDelayMs after each request.
	KServe        bool `json:"kserve,omitempty"`
	ServerDelayMs int  `json:"server_delay_ms,omitempty"`
}

func (s scenario) geometry() string { return fmt.Sprintf("%dp %s", s.Height, s.Format) }

// scene names the frames a scenario runs on: scenarios sharing it share them.
func (s scenario) scene() string {
	if s.FaceBox > 0 {
		return fmt.Sprintf("%s face %d px", s.geometry(), s.FaceBox)
	}
	return s.geometry()
}

// result is what one scenario measured. Everything but InitToFirstMs is
// taken over the measuring span, after the warm-up.
type result struct {
	scenario
	Seconds         float64            `json:"seconds"`          // measuring span, drain included
	Submitted       int                `json:"frames_submitted"` // submit calls taken (realtime: every tick)
	Refused         int                `json:"frames_refused"`   // batch: EAGAIN back-pressure, submitted again
	Frames          int                `json:"frames_out"`       // frames fetched with facelive_get_frame
	ThroughputFPS   float64            `json:"throughput_fps"`   // frames out per second of wall time
	OutputFPS       float64            `json:"output_fps"`       // the engine's fps_out, mean of the samples
	DropPct         float64            `json:"drop_pct"`         // the engine's frames_dropped / frames_submitted
	LatencyMs       engine.Latency     `json:"latency_ms"`       // added latency: submit call → get returns that frame
	EngineLatencyMs engine.Latency     `json:"engine_latency_ms"`
	StageMs         map[string]float64 `json:"stage_ms"`                // the engine's stage_ms, mean of the samples
	DetectRuns      float64            `json:"detector_runs_per_frame"` // whole-frame detector runs per frame processed (tracking covers the rest)
	Mallocs         uint64             `json:"mallocs"`                 // whole process, bench's own sampling taken out
	GCCycles        uint32             `json:"gc_cycles"`               // garbage collections during the span
	AllocsPerFrame  float64            `json:"allocs_per_frame"`
	RSSMB           float64            `json:"rss_mb"`      // at the end
	PeakRSSMB       float64            `json:"peak_rss_mb"` // highest sample
	ModelCacheMB    float64            `json:"model_cache_mb"`
	InitToFirstMs   float64            `json:"init_to_first_frame_ms"`
	ColdStart       bool               `json:"cold_start"` // the first models this process loaded
	ABIRatio        float64            `json:"abi_vs_memcpy"`
	Faces           int                `json:"faces"`
	FaceBoxPx       float64            `json:"face_box_px,omitempty"` // the detector's box in the scene's first frame
	QualityLevel    int                `json:"quality_level"`         // at the end
	Quality         string             `json:"quality"`
	Decoupled       bool               `json:"decoupled"`
	SwapFPS         float64            `json:"swap_fps"`
	OtherCPUPct     float64            `json:"other_cpu_pct"`           // the machine's CPU other processes (and steal) took during the span
	LivePath        *livePath          `json:"live_path,omitempty"`     // scenarios with AwaitMs
	RemoteRTTMs     *engine.RemoteRTT  `json:"remote_rtt_ms,omitempty"` // kserve scenarios: request round trip
	Timeline        []sample           `json:"timeline"`
	latencies       []float64          // ms, every frame of the span (histogram)
}

// livePath is the live path's per-frame latency (submit → that same frame
// back, every frame that came back) and how many frames came back within
// the host's wait.
type livePath struct {
	P50       float64 `json:"p50_ms"`
	P90       float64 `json:"p90_ms"`
	P99       float64 `json:"p99_ms"`
	Within    int     `json:"frames_within_await"`
	WithinPct float64 `json:"within_await_pct"` // of the frames submitted
	AwaitMs   int     `json:"await_ms"`
}

// sample is one reading of the metrics, every 250 ms from facelive_init on.
type sample struct {
	T       float64 `json:"t"` // seconds since facelive_init
	FPSIn   float64 `json:"fps_in"`
	FPSOut  float64 `json:"fps_out"`
	Quality int     `json:"quality_level"`
}

func benchScenarios(quick bool) []scenario {
	var out []scenario
	sizes := [][2]int{{1280, 720}, {1920, 1080}}
	formats := []string{"NV12", "BGRA"}
	swappers := []string{"photo", "blur", "dfm"}
	type mode struct {
		name string
		fps  int
	}
	modes := []mode{{"batch", 0}, {"realtime", 30}, {"realtime", 60}}
	if quick { // what the targets need, nothing more
		sizes, formats, swappers = sizes[1:], formats[:1], swappers[:1]
		modes = []mode{modes[0], modes[2]}
	}
	for _, sz := range sizes {
		for _, f := range formats {
			for _, sw := range swappers {
				for _, m := range modes {
					name := fmt.Sprintf("%dp %s %s %s", sz[1], f, sw, m.name)
					if m.fps > 0 {
						name += fmt.Sprintf(" %d fps", m.fps)
					}
					out = append(out, scenario{Name: name, Width: sz[0], Height: sz[1], Format: f, Swapper: sw, Mode: m.name, PacedFPS: m.fps})
				}
			}
		}
	}
	if !quick {
		live := scenario{Width: 1280, Height: 720, Format: "BGRA", Mode: "realtime", PacedFPS: 30, AwaitMs: benchAwaitMs}
		base, slow := live, live
		base.Name, base.Swapper, base.Decouple = benchSlowBase, "dfm", "on"
		slow.Name, slow.Swapper, slow.Slow, slow.Decouple = benchSlowModel, "dfm", true, "on"
		out = append(out, base, slow)
		out = append(out, kserveScenarios(live)...)
		out = append(out, faceScenarios()...)
	}
	return out
}

// benchOpts are the knobs of one bench run.
type benchOpts struct {
	duration, warmup time.Duration
	abiRounds        int
	abiRound         time.Duration
	memProfile       string // allocation profiles around each measuring span
}

// writeAllocs writes the allocation profile (after a collection, so that
// it is current) to path.
func writeAllocs(path string) error {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--memprofile: %w", err)
	}
	err = pprof.Lookup("allocs").WriteTo(f, 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", benchSynopsis, stdout)
	outDir := outputFlag(fs, "out/bench", "`DIR` for report.html, results.json and the plots")
	quick := fs.Bool("quick", false, "two short scenarios (the ones the targets need): for tests and CI")
	duration := fs.Duration("duration", 4*time.Second, "measuring time per scenario, after a warm-up of a quarter of it (at most 1 s)")
	filter := fs.String("scenarios", "", "run only the scenarios whose name contains `SUBSTRING` (e.g. \"1080p NV12\", \"realtime 60\")")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to `FILE` (go tool pprof)")
	memProfile := fs.String("memprofile", "", "record every allocation; write the allocation profile at the start of each "+
		"measuring span to `FILE`.base and at its end to FILE (the last scenario's: go tool pprof -sample_index=alloc_objects -diff_base FILE.base FILE)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	durationSet := false
	fs.Visit(func(f *flag.Flag) { durationSet = durationSet || f.Name == "duration" })
	if *quick && !durationSet {
		*duration = 600 * time.Millisecond
	}
	if *duration < 100*time.Millisecond || *duration > 10*time.Minute {
		return usageErrorf("bench: --duration %v: use 100ms to 10m", *duration)
	}
	opts := benchOpts{duration: *duration, warmup: min(time.Second, *duration/4), abiRounds: 7, abiRound: 80 * time.Millisecond}
	if *quick {
		opts.abiRounds, opts.abiRound = 5, 40*time.Millisecond
	}
	var scens []scenario
	for _, sc := range benchScenarios(*quick) {
		if strings.Contains(sc.Name, *filter) {
			scens = append(scens, sc)
		}
	}
	if len(scens) == 0 {
		return usageErrorf("bench: no scenario name contains %q (names look like %q)", *filter, benchRealtimeTarget)
	}

	photoPath := filepath.Join(assets.Dir(), "faces", "astronaut.png")
	photo := gocv.IMRead(photoPath, gocv.IMReadColor)
	if photo.Empty() {
		return fmt.Errorf("bench: cannot read the test photo %s: run make deps (it fetches the test photos)", photoPath)
	}
	defer photo.Close()
	var models benchModels
	if slices.ContainsFunc(scens, func(s scenario) bool { return s.Swapper == "dfm" }) {
		dir, err := os.MkdirTemp("", "facelive-bench-models-")
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer os.RemoveAll(dir)
		if models, err = genBenchModels(dir); err != nil {
			return fmt.Errorf("bench: the DFM scenarios need a generated model: %w", err)
		}
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return fmt.Errorf("bench: --output %s: %w", *outDir, err)
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("bench: --cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench: --cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		runtime.MemProfileRate = 1
		opts.memProfile = *memProfile
	}

	total := time.Duration(0)
	for _, sc := range scens {
		total += opts.duration + opts.warmup + 300*time.Millisecond
		if sc.Name == benchSlowBase || sc.Name == benchSlowModel {
			total += max(0, benchSlowSpan-opts.duration)
		}
	}
	fmt.Fprintf(stderr, "bench: %d scenarios, %v each after a %v warm-up: about %v; report in %s\n", len(scens),
		opts.duration, opts.warmup, total.Round(time.Second), *outDir)
	start, load0 := time.Now(), loadAvg()
	var (
		results []*result
		skipped []string // scenarios that could not run, and why
		abis    []abiCost
		scenes  benchSceneCache
	)
	defer scenes.close()
	for i, sc := range scens {
		if ctx.Err() != nil {
			break
		}
		frames, err := scenes.get(photo, sc)
		if errors.Is(err, errFaceNotFound) {
			skipped = append(skipped, fmt.Sprintf("%s: %v", sc.Name, err))
			fmt.Fprintf(stderr, "bench: [%2d/%d] %-40s skipped: %v\n", i+1, len(scens), sc.Name, err)
			continue
		}
		if err != nil {
			return fmt.Errorf("bench: %s: %w", sc.Name, err)
		}
		r, err := runScenario(ctx, sc, frames, models, opts, len(results) == 0)
		if r != nil {
			r.FaceBoxPx = scenes.box
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return fmt.Errorf("bench: %s: %w", sc.Name, err)
		}
		// The ABI cost depends on the frame only: measured once per
		// size and format, right after that frame's first scenario.
		k := slices.IndexFunc(abis, func(a abiCost) bool { return a.Frame == sc.geometry() })
		if k < 0 {
			c, err := measureABI(sc.geometry(), frames[0], opts.abiRounds, opts.abiRound)
			if err != nil {
				return fmt.Errorf("bench: %w", err)
			}
			abis, k = append(abis, c), len(abis)
		}
		r.ABIRatio = abis[k].Ratio
		results = append(results, r)
		el := time.Since(start)
		eta := time.Duration(float64(el) / float64(i+1) * float64(len(scens)-i-1))
		fmt.Fprintf(stderr, "bench: [%2d/%d] %-40s %6.1f fps  drop %5.2f%%  p99 %7.2f ms  %6.2f allocs/frame  RSS %4.0f MB  init %5.0f ms  other CPU %3.0f%%  (%s, ETA %s)\n",
			i+1, len(scens), sc.Name, r.ThroughputFPS, r.DropPct, r.LatencyMs.P99, r.AllocsPerFrame, r.PeakRSSMB, r.InitToFirstMs, r.OtherCPUPct,
			el.Round(time.Second), eta.Round(time.Second))
	}
	if len(results) == 0 {
		return errors.New("bench: interrupted before the first scenario finished")
	}
	targets := evaluateTargets(results, abis)
	if slices.ContainsFunc(results, func(r *result) bool { return r.FaceBox > 0 }) {
		targets = append(targets, faceTargets(results, scenes.merges)...)
	}
	doc := newBenchDoc(results, abis, targets, opts, time.Since(start), args, load0)
	doc.Merges, doc.Skipped = scenes.merges, skipped
	if err := writeBenchReport(*outDir, doc); err != nil {
		return err
	}
	printBenchSummary(stdout, doc)
	fmt.Fprintf(stdout, "bench: %d scenarios in %v; report %s (plots and results.json beside it)\n", len(results),
		time.Since(start).Round(time.Second), filepath.Join(*outDir, "report.html"))
	if ctx.Err() != nil {
		return fmt.Errorf("bench: interrupted after %d of %d scenarios (the report has those)", len(results), len(scens))
	}
	return nil
}

// benchModels are the generated DFM-signature test models' paths.
type benchModels struct{ dfm, slow string }

// genBenchModels generates the DFM-signature test models with
// tools/testmodels (next to the third_party/ folder make deps fills, or
// under the working directory): the quick one and the slow one.
func genBenchModels(dir string) (benchModels, error) {
	var gen string
	for _, root := range []string{filepath.Dir(assets.Dir()), "."} {
		if p := filepath.Join(root, "tools", "testmodels", "gen.py"); fileExists(p) {
			gen = p
			break
		}
	}
	if gen == "" {
		return benchModels{}, errors.New("tools/testmodels/gen.py not found: run facelive bench from the source tree (make bench), " +
			"or leave the DFM scenarios out with --scenarios")
	}
	rounds := fmt.Sprint(benchSlowRounds)
	if out, err := exec.Command("/usr/bin/python3", gen, dir, "--slow-rounds", rounds).CombinedOutput(); err != nil {
		return benchModels{}, fmt.Errorf("/usr/bin/python3 %s %s --slow-rounds %s: %v: %s (python3-onnx comes with make deps)",
			gen, dir, rounds, err, strings.TrimSpace(string(out)))
	}
	return benchModels{dfm: filepath.Join(dir, "dfm.onnx"), slow: filepath.Join(dir, "dfm_slow.onnx")}, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// benchSceneCache holds the C frames of one scene (scenarios come grouped
// by them). The bench scene: the astronaut's head on a background, in
// three positions a few pixels apart, so tracking has motion to follow.
// The realistic scenes: see composeFaceScene; each is also where the merge
// is measured against DeepFaceLive's (merges).
type benchSceneCache struct {
	key    string
	frames []*cFrame
	box    float64 // realistic scenes: the detector's face box
	det    detect.Detector
	merges []mergeVsDFL
}

func (c *benchSceneCache) free() {
	for _, f := range c.frames {
		f.free()
	}
	c.key, c.frames, c.box = "", nil, 0
}

func (c *benchSceneCache) close() {
	c.free()
	if c.det != nil {
		c.det.Close()
		c.det = nil
	}
}

func (c *benchSceneCache) get(photo gocv.Mat, sc scenario) ([]*cFrame, error) {
	if c.key == sc.scene() {
		return c.frames, nil
	}
	c.free()
	if sc.FaceBox > 0 {
		if c.det == nil {
			d, err := detect.New(detect.Options{MaxFaces: 1})
			if err != nil {
				return nil, fmt.Errorf("the realistic-face scenes are measured with the face detector: %w", err)
			}
			c.det = d
		}
		s, err := composeFaceScene(photo, sc, c.det)
		if err != nil {
			return nil, err
		}
		mv, err := measureMergeVsDFL(sc.scene(), sc, s, 15)
		if err != nil {
			s.free()
			return nil, err
		}
		c.merges = append(c.merges, mv)
		c.frames, c.box, c.key = s.frames, s.det.Box.W(), sc.scene()
		return c.frames, nil
	}
	f := frame.NV12
	if sc.Format == "BGRA" {
		f = frame.BGRA
	}
	// The head as make demo shows it (crop 110,12,232,232 of the 512×512
	// photo), 0.6 of the frame high, centred, on makeclip's grey gradient.
	crop := headCrop
	if !crop.In(image.Rect(0, 0, photo.Cols(), photo.Rows())) {
		crop = image.Rect(0, 0, photo.Cols(), photo.Rows())
	}
	head := photo.Region(crop)
	defer head.Close()
	side := int(0.6*float64(sc.Height)) &^ 1
	for k := 0; k < 3; k++ {
		pix, err := placeHead(head, sc.Width, sc.Height, side, 0.5, 3*k, 2*k)
		if err != nil {
			return nil, err
		}
		c.frames = append(c.frames, newCFrame(frametest.FromBGR(pix, sc.Width, sc.Height, f, 0)))
	}
	c.key = sc.scene()
	return c.frames, nil
}

// benchRun is one handle being driven: the frames, the clock of every
// submitted frame (by pts) and what the scenario records.
type benchRun struct {
	ctx      context.Context
	sc       scenario
	h        uint64
	in       []*cFrame
	out      *cFrame
	metrics  []byte
	t0       time.Time // facelive_init
	seq      int64     // the newest submitted frame's number
	lastOut  int64     // the newest frame out's
	ptsStep  int64     // ns between frames' pts: a 60 fps camera's, or the paced rate's (see seqOut)
	submitAt [4096]time.Duration

	// while measuring (recording):
	recording    bool
	firstSeq     int64
	submitted    int
	refused      int
	got          int
	within       int // frames back within sc.AwaitMs of their submit
	latencies    []float64
	timeline     []sample
	nextSample   time.Duration
	stageSum     map[string]float64
	fpsOutSum    float64
	stageSamples int
	peakRSS      float64
	ownMallocs   uint64
}

// positions cycle 0 1 2 1: the head moves a few pixels back and forth.
var benchCycle = [4]int{0, 1, 2, 1}

func (b *benchRun) submit() int {
	b.seq++
	f := b.in[benchCycle[b.seq%4]]
	f.setPTS(b.seq * b.ptsStep)
	b.submitAt[b.seq%int64(len(b.submitAt))] = time.Since(b.t0)
	return abiSubmit(b.h, f)
}

// seqOut is the number of the frame facelive_get_frame just returned.
// Frames carry a camera's timestamps (seq × ptsStep), not bare numbers:
// the engine follows the source's frame rate from them (the detector's
// schedule is per second) as it does a real camera's.
func (b *benchRun) seqOut() int64 { return b.out.pts() / b.ptsStep }

// fetched records a frame that facelive_get_frame just returned.
func (b *benchRun) fetched() {
	pts := b.seqOut()
	b.lastOut = max(b.lastOut, pts)
	if !b.recording || pts < b.firstSeq || pts > b.seq {
		return
	}
	b.got++
	lat := time.Since(b.t0) - b.submitAt[pts%int64(len(b.submitAt))]
	if b.sc.AwaitMs > 0 && lat <= time.Duration(b.sc.AwaitMs)*time.Millisecond {
		b.within++
	}
	if len(b.latencies) < cap(b.latencies) { // never grow: that would allocate
		b.latencies = append(b.latencies, float64(lat.Microseconds())/1000)
	}
}

// sampleMetrics reads the metrics every 250 ms: the timeline, and while
// recording the stage times, fps_out and RSS. Its own allocations are
// taken out of the count.
func (b *benchRun) sampleMetrics() error {
	now := time.Since(b.t0)
	if now < b.nextSample {
		return nil
	}
	b.nextSample = now + 250*time.Millisecond
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	m, err := readMetrics(b.h, b.metrics)
	if err != nil {
		return err
	}
	b.timeline = append(b.timeline, sample{T: now.Seconds(), FPSIn: m.FPSIn, FPSOut: m.FPSOut, Quality: m.QualityLevel})
	if b.recording {
		for k, v := range m.StageMs {
			b.stageSum[k] += v
		}
		b.stageSamples++
		b.fpsOutSum += m.FPSOut
		b.peakRSS = max(b.peakRSS, m.RSSMB)
	}
	runtime.ReadMemStats(&m1)
	b.ownMallocs += m1.Mallocs - m0.Mallocs
	return nil
}

func sleepUntil(t time.Time) {
	if d := time.Until(t); d > 0 {
		time.Sleep(d)
	}
}

func msUntil(t time.Time) uint32 { return uint32(max(0, time.Until(t).Milliseconds())) }

// waitFirstSwap submits frames at the scenario's rate (batch: 60 fps) from
// facelive_init on, until facelive_get_frame returns a frame with the face
// pipeline ready and a face in it; it returns the time since init.
func (b *benchRun) waitFirstSwap() (time.Duration, error) {
	period := time.Second / 60
	if b.sc.PacedFPS > 0 {
		period = time.Second / time.Duration(b.sc.PacedFPS)
	}
	for i := 1; ; i++ {
		if err := b.ctx.Err(); err != nil {
			return 0, err
		}
		if time.Since(b.t0) > 30*time.Second {
			m, _ := readMetrics(b.h, b.metrics)
			return 0, fmt.Errorf("no frame with a swapped face 30 s after facelive_init (face_pipeline %q, faces %d): %s",
				m.FacePipeline, m.Faces, lastError(b.h))
		}
		tick := b.t0.Add(time.Duration(i) * period)
		if st := b.submit(); st != bridge.OK && st != bridge.EAGAIN && st != bridge.EMODEL {
			return 0, fmt.Errorf("facelive_submit_frame returned %d: %s", st, lastError(b.h))
		}
		for abiGet(b.h, b.out, msUntil(tick)) == bridge.OK {
			t := time.Since(b.t0)
			m, err := readMetrics(b.h, b.metrics)
			if err != nil {
				return 0, err
			}
			switch {
			case m.FacePipeline == "ready" && m.Faces > 0:
				return t, nil
			case m.FacePipeline == "failed":
				return 0, fmt.Errorf("the face pipeline failed to load: %s", m.LastError)
			}
		}
		if err := b.sampleMetrics(); err != nil {
			return 0, err
		}
		sleepUntil(tick)
	}
}

// drive runs the scenario's loop for d. Realtime: one frame per tick of
// the paced clock, then facelive_get_frame until that frame came out or
// the next tick is due, or AwaitMs after the submit when that comes first
// (an older frame that comes out first is taken too).
// Batch: frames as fast as the pipeline takes them (EAGAIN is
// back-pressure: fetch one, submit the same frame again), every ready
// frame fetched at once, and at the end everything drained.
func (b *benchRun) drive(d time.Duration) error {
	start := time.Now()
	if b.sc.Mode == "batch" {
		for time.Since(start) < d {
			if err := b.ctx.Err(); err != nil {
				return err
			}
			for {
				st := b.submit()
				if st == bridge.OK {
					b.submitted++
					break
				}
				if st != bridge.EAGAIN {
					return fmt.Errorf("facelive_submit_frame returned %d: %s", st, lastError(b.h))
				}
				b.refused++
				b.seq-- // not taken: the same frame again
				if abiGet(b.h, b.out, 1000) == bridge.OK {
					b.fetched()
				}
			}
			for abiGet(b.h, b.out, 0) == bridge.OK {
				b.fetched()
			}
			if err := b.sampleMetrics(); err != nil {
				return err
			}
		}
		// Drain: every frame taken comes out in batch mode; stop the clock
		// at the last one, not at a timeout.
		for pending := b.seq - b.lastOut; pending > 0; pending = b.seq - b.lastOut {
			if abiGet(b.h, b.out, 2000) != bridge.OK {
				return nil
			}
			b.fetched()
		}
		return nil
	}
	period := time.Second / time.Duration(b.sc.PacedFPS)
	for i := 1; time.Since(start) < d; i++ {
		if err := b.ctx.Err(); err != nil {
			return err
		}
		tick := start.Add(time.Duration(i) * period)
		until := tick
		if w := time.Now().Add(time.Duration(b.sc.AwaitMs) * time.Millisecond); b.sc.AwaitMs > 0 && w.Before(tick) {
			until = w
		}
		if st := b.submit(); st != bridge.OK && st != bridge.EAGAIN { // EAGAIN: dropped by the skip policy, counted
			return fmt.Errorf("facelive_submit_frame returned %d: %s", st, lastError(b.h))
		}
		b.submitted++
		for abiGet(b.h, b.out, msUntil(until)) == bridge.OK {
			b.fetched()
			if b.seqOut() == b.seq {
				break
			}
		}
		if err := b.sampleMetrics(); err != nil {
			return err
		}
		sleepUntil(tick)
	}
	return nil
}

func runScenario(ctx context.Context, sc scenario, frames []*cFrame, models benchModels, o benchOpts, cold bool) (*result, error) {
	out := newCFrameLike(frames[0])
	defer out.free()

	sw := fmt.Sprintf(`{"kind":%q}`, sc.Swapper)
	if sc.Swapper == "dfm" {
		model := models.dfm
		if sc.Slow {
			model = models.slow
		}
		sw = fmt.Sprintf(`{"kind":"dfm","model":%q}`, model)
	}
	if sc.KServe {
		srv, err := startBenchServer(models.dfm, sc.ServerDelayMs)
		if err != nil {
			return nil, err
		}
		defer srv.Kill()
		sw = fmt.Sprintf(`{"kind":"dfm","model":%q,"backend":"kserve","server":{"url":%q,"model":"dfm","timeout_ms":5000}}`, models.dfm, srv.Addr())
	}
	// level custom: exactly the scenario's settings, no auto-tuner moving them.
	cfg := fmt.Sprintf(`{"mode":%q,"level":"custom","swapper":%s}`, sc.Mode, sw)
	switch {
	case sc.Defaults: // what a user gets without a config, in this mode
		cfg = fmt.Sprintf(`{"mode":%q}`, sc.Mode)
	case sc.Decouple != "":
		cfg = fmt.Sprintf(`{"mode":%q,"level":"custom","decouple":%q,"swapper":%s}`, sc.Mode, sc.Decouple, sw)
	}
	// Each scenario starts from a collected heap, so its RSS is its own
	// (plus the models the process-wide cache keeps).
	debug.FreeOSMemory()

	fps := 60 // a 1080p60 camera's frames, processed live or as fast as they go (batch)
	if sc.PacedFPS > 0 {
		fps = sc.PacedFPS
	}
	b := &benchRun{ctx: ctx, sc: sc, in: frames, out: out, metrics: make([]byte, 1<<16),
		ptsStep: int64(time.Second) / int64(fps), stageSum: map[string]float64{}, timeline: make([]sample, 0, 64)}
	errBuf := make([]byte, 2048)
	b.t0 = time.Now()
	b.h = bridge.Init(&cfg, errBuf)
	if b.h == 0 {
		return nil, fmt.Errorf("facelive_init(%s): %s", cfg, cString(errBuf))
	}
	defer bridge.Shutdown(b.h)
	initToFirst, err := b.waitFirstSwap()
	if err != nil {
		return nil, err
	}
	engine.WaitLoads(time.Minute) // a load under way anywhere would count in the allocations
	if err := b.drive(o.warmup); err != nil {
		return nil, err
	}

	rate := 2000.0 // the most frames a second we make room for (batch)
	if sc.PacedFPS > 0 {
		rate = float64(sc.PacedFPS) * 1.2
	}
	span := o.duration
	if sc.Name == benchSlowBase || sc.Name == benchSlowModel {
		// Their target is a ratio of two p90s: 4 s (120 frames) leaves it
		// to the noise of a dozen frames.
		span = max(span, benchSlowSpan)
	}
	b.latencies = make([]float64, 0, int(span.Seconds()*rate)+256)
	b.timeline = slices.Grow(b.timeline, int(span/(250*time.Millisecond))+8)
	before, err := readMetrics(b.h, b.metrics)
	if err != nil {
		return nil, err
	}
	// The span's counts start here: the warm-up's submits are not the span's.
	b.recording, b.firstSeq, b.ownMallocs = true, b.seq+1, 0
	b.submitted, b.refused, b.within = 0, 0, 0
	if o.memProfile != "" {
		if err := writeAllocs(o.memProfile + ".base"); err != nil {
			return nil, err
		}
	}
	var ms0, ms1 runtime.MemStats
	busy0, self0 := cpuTicks()
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	if err := b.drive(span); err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&ms1)
	busy1, self1 := cpuTicks()
	if o.memProfile != "" {
		if err := writeAllocs(o.memProfile); err != nil {
			return nil, err
		}
	}
	m, err := readMetrics(b.h, b.metrics)
	if err != nil {
		return nil, err
	}

	r := &result{scenario: sc, Seconds: elapsed.Seconds(), Submitted: b.submitted, Refused: b.refused, Frames: b.got,
		ThroughputFPS: float64(b.got) / elapsed.Seconds(), EngineLatencyMs: m.LatencyMs, RSSMB: m.RSSMB,
		PeakRSSMB: max(b.peakRSS, m.RSSMB), ModelCacheMB: m.ModelCache.ActiveMB + m.ModelCache.IdleMB,
		InitToFirstMs: float64(initToFirst.Microseconds()) / 1000, ColdStart: cold, Faces: m.Faces,
		QualityLevel: m.QualityLevel, Quality: m.Quality, Decoupled: m.Decoupled, SwapFPS: m.SwapFPS,
		Timeline: b.timeline, latencies: b.latencies, StageMs: map[string]float64{}}
	if busy1 > busy0 {
		other := float64(busy1-busy0) - float64(self1-self0)
		r.OtherCPUPct = max(0, 100*other/(elapsed.Seconds()*clockTicks*float64(runtime.NumCPU())))
	}
	if n := m.FramesProcessed - before.FramesProcessed; n > 0 {
		r.DetectRuns = float64(m.Detections-before.Detections) / float64(n)
	}
	if sub := m.FramesSubmitted - before.FramesSubmitted; sub > 0 {
		r.DropPct = 100 * float64(m.FramesDropped-before.FramesDropped) / float64(sub)
	}
	if b.stageSamples > 0 {
		r.OutputFPS = b.fpsOutSum / float64(b.stageSamples)
		for k, v := range b.stageSum {
			r.StageMs[k] = v / float64(b.stageSamples)
		}
	} else {
		r.OutputFPS, r.StageMs = m.FPSOut, m.StageMs
	}
	r.LatencyMs = percentiles(b.latencies)
	if sc.AwaitMs > 0 && b.submitted > 0 {
		r.LivePath = &livePath{P50: quantile(b.latencies, 0.50), P90: quantile(b.latencies, 0.90), P99: quantile(b.latencies, 0.99),
			Within: b.within, WithinPct: 100 * float64(b.within) / float64(b.submitted), AwaitMs: sc.AwaitMs}
	}
	r.RemoteRTTMs = m.RemoteRTTMs
	r.Mallocs = ms1.Mallocs - ms0.Mallocs - min(b.ownMallocs, ms1.Mallocs-ms0.Mallocs)
	r.GCCycles = ms1.NumGC - ms0.NumGC
	if b.submitted > 0 {
		r.AllocsPerFrame = float64(r.Mallocs) / float64(b.submitted)
	}
	if r.Frames == 0 {
		return nil, fmt.Errorf("no frame came out in %v: %s", elapsed.Round(time.Millisecond), lastError(b.h))
	}
	return r, nil
}

// newCFrameLike allocates a C frame of f's format, size and strides.
func newCFrameLike(f *cFrame) *cFrame {
	fr := &frame.Frame{Format: frame.Format(f.desc.format), Width: int(f.desc.width), Height: int(f.desc.height)}
	for i := range f.planes {
		if f.lens[i] > 0 {
			fr.Planes[i], fr.Stride[i] = make([]byte, f.lens[i]), int(f.desc.linesize[i])
		}
	}
	return newCFrame(fr)
}

// clockTicks is USER_HZ, the unit of /proc/stat (100 on Linux).
const clockTicks = 100

// cpuTicks returns the busy ticks of the whole machine (every CPU; steal
// included) and the ticks of this process, from /proc; 0, 0 elsewhere.
func cpuTicks() (machine, self uint64) {
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		if line, _, _ := strings.Cut(string(b), "\n"); strings.HasPrefix(line, "cpu ") {
			for i, f := range strings.Fields(line)[1:] {
				var v uint64
				fmt.Sscan(f, &v)
				if i != 3 && i != 4 && i < 8 { // not idle, iowait; not guest (counted in user)
					machine += v
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/self/stat"); err == nil {
		if i := strings.LastIndexByte(string(b), ')'); i >= 0 {
			if f := strings.Fields(string(b[i+1:])); len(f) > 13 {
				var u, s uint64
				fmt.Sscan(f[11], &u)
				fmt.Sscan(f[12], &s)
				self = u + s
			}
		}
	}
	return machine, self
}

func percentiles(ms []float64) engine.Latency {
	return engine.Latency{P50: quantile(ms, 0.50), P95: quantile(ms, 0.95), P99: quantile(ms, 0.99)}
}

// quantile is the q-quantile of ms (nearest rank); 0 when ms is empty.
func quantile(ms []float64, q float64) float64 {
	if len(ms) == 0 {
		return 0
	}
	s := slices.Clone(ms)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1)+0.5)]
}

func readMetrics(h uint64, buf []byte) (engine.Metrics, error) {
	var m engine.Metrics
	if st := bridge.GetMetrics(h, buf); st != bridge.OK {
		return m, fmt.Errorf("facelive_get_metrics: %s", lastError(h))
	}
	return m, json.Unmarshal([]byte(cString(buf)), &m)
}
