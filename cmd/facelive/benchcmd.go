package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"gocv.io/x/gocv"

	"facelive/bridge"
	"facelive/engine"
	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
	"facelive/internal/assets"
)

const benchSynopsis = "facelive bench [-o out/bench] [--quick] [--duration 3s] [--scenarios filter]"

// scenario is one fixed bench case.
type scenario struct {
	Name     string `json:"name"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	Format   string `json:"format"`
	Swapper  string `json:"swapper"`
	Mode     string `json:"mode"` // realtime or batch
	PacedFPS int    `json:"paced_fps,omitempty"`
}

// result is what one scenario measured.
type result struct {
	scenario
	Frames         int                `json:"frames"`
	ThroughputFPS  float64            `json:"throughput_fps"` // frames out per second of wall time
	OutputFPS      float64            `json:"output_fps"`     // the engine's fps_out at the end
	DropPct        float64            `json:"drop_pct"`
	LatencyMs      engine.Latency     `json:"latency_ms"` // submit → get, the engine's own
	StageMs        map[string]float64 `json:"stage_ms"`
	AllocsPerFrame float64            `json:"allocs_per_frame"`
	RSSMB          float64            `json:"rss_mb"`
	InitToFirstMs  float64            `json:"init_to_first_frame_ms"`
	ABIRatio       float64            `json:"abi_vs_memcpy"` // submit+get of one frame / one copy of it, same run
	Faces          int                `json:"faces"`
	Decoupled      bool               `json:"decoupled"` // the swap model ran at its own rate at the end
	Timeline       []sample           `json:"timeline,omitempty"`
	latencies      []float64          // per frame, ms (for the histogram)
}

// sample is one point of a realtime scenario's timeline.
type sample struct {
	T       float64 `json:"t"`
	FPS     float64 `json:"fps_out"`
	Quality int     `json:"quality_level"`
}

func benchScenarios(quick bool, dfm string) []scenario {
	var out []scenario
	sizes := [][2]int{{1280, 720}, {1920, 1080}}
	formats := []string{"NV12", "BGRA"}
	swappers := []string{"photo", "blur", "dfm"}
	modes := []struct {
		mode string
		fps  int
	}{{"batch", 0}, {"realtime", 30}, {"realtime", 60}}
	if quick {
		sizes, formats, swappers = sizes[1:], formats[:1], swappers[:1]
		modes = modes[:2]
	}
	for _, sz := range sizes {
		for _, f := range formats {
			for _, sw := range swappers {
				if sw == "dfm" && dfm == "" {
					continue
				}
				for _, m := range modes {
					name := fmt.Sprintf("%dp %s %s %s", sz[1], f, sw, m.mode)
					if m.fps > 0 {
						name += fmt.Sprintf(" %d fps", m.fps)
					}
					out = append(out, scenario{Name: name, Width: sz[0], Height: sz[1], Format: f, Swapper: sw, Mode: m.mode, PacedFPS: m.fps})
				}
			}
		}
	}
	return out
}

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", benchSynopsis, stderr)
	outDir := fs.String("o", "out/bench", "folder for report.html, results.json and the plots")
	quick := fs.Bool("quick", false, "a few short scenarios (tests, CI)")
	duration := fs.Duration("duration", 3*time.Second, "measuring time per scenario")
	filter := fs.String("scenarios", "", "run only scenarios whose name contains this")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	memProfile := fs.String("memprofile", "", "write an allocation profile (every allocation) to this file")
	if err := parseFlags(fs, args); err != nil {
		return err
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
		defer func() {
			if f, err := os.Create(*memProfile); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	if *quick && *duration == 3*time.Second {
		*duration = 600 * time.Millisecond
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return fmt.Errorf("bench: -o %s: %w", *outDir, err)
	}
	photo := filepath.Join(assets.Dir(), "faces", "astronaut.png")
	img := gocv.IMRead(photo, gocv.IMReadColor)
	if img.Empty() {
		return fmt.Errorf("bench: cannot read %s: run make deps (it fetches the test photos)", photo)
	}
	defer img.Close()
	dfm, err := benchModel(*outDir)
	if err != nil {
		fmt.Fprintf(stderr, "bench: no DFM scenarios: %v\n", err)
	}
	var results []*result
	scens := benchScenarios(*quick, dfm)
	start := time.Now()
	for i, sc := range scens {
		if *filter != "" && !strings.Contains(sc.Name, *filter) {
			continue
		}
		if ctx.Err() != nil {
			return errors.New("bench: interrupted")
		}
		fmt.Fprintf(stderr, "bench: [%2d/%d] %-32s ", i+1, len(scens), sc.Name)
		r, err := runScenario(ctx, sc, img, dfm, *duration)
		if err != nil {
			fmt.Fprintln(stderr)
			return fmt.Errorf("bench: %s: %w", sc.Name, err)
		}
		fmt.Fprintf(stderr, "%7.1f fps  drop %5.1f%%  p99 %6.2f ms  (%v)\n", r.ThroughputFPS, r.DropPct, r.LatencyMs.P99,
			time.Since(start).Round(time.Second))
		results = append(results, r)
	}
	if len(results) == 0 {
		return usageErrorf("bench: no scenario matches --scenarios %q", *filter)
	}
	targets := evaluateTargets(results)
	if err := writeBenchReport(*outDir, results, targets); err != nil {
		return err
	}
	printBenchSummary(stdout, results, targets)
	fmt.Fprintf(stdout, "bench: report %s (plots and results.json beside it), %v\n",
		filepath.Join(*outDir, "report.html"), time.Since(start).Round(time.Second))
	return nil
}

// benchModel generates the DFM-signature test model (tools/testmodels).
func benchModel(dir string) (string, error) {
	gen := "tools/testmodels/gen.py"
	if _, err := os.Stat(gen); err != nil {
		return "", fmt.Errorf("%s not found: run facelive bench from the source tree (make bench)", gen)
	}
	models := filepath.Join(dir, "models")
	if out, err := exec.Command("/usr/bin/python3", gen, models).CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s: %v: %s (python3-onnx comes with make deps)", gen, err, out)
	}
	return filepath.Join(models, "dfm.onnx"), nil
}

// benchFrames makes two frames of the astronaut scene at the scenario's
// size and format, 4 px apart, so tracking has motion to follow.
func benchFrames(img gocv.Mat, sc scenario) [2]*frame.Frame {
	f := frame.NV12
	if sc.Format == "BGRA" {
		f = frame.BGRA
	}
	var out [2]*frame.Frame
	for i := range out {
		scaled := gocv.NewMat()
		gocv.Resize(img, &scaled, image.Pt(sc.Width, sc.Height), 0, 0, gocv.InterpolationArea)
		shifted := gocv.NewMat()
		m := gocv.NewMatWithSize(2, 3, gocv.MatTypeCV64F)
		m.SetDoubleAt(0, 0, 1)
		m.SetDoubleAt(1, 1, 1)
		m.SetDoubleAt(0, 2, float64(4*i))
		gocv.WarpAffine(scaled, &shifted, m, image.Pt(sc.Width, sc.Height))
		pix, _ := shifted.DataPtrUint8()
		out[i] = frametest.FromBGR(pix, sc.Width, sc.Height, f, 0)
		scaled.Close()
		shifted.Close()
		m.Close()
	}
	return out
}

func runScenario(ctx context.Context, sc scenario, img gocv.Mat, dfm string, d time.Duration) (*result, error) {
	frames := benchFrames(img, sc)
	dst := frametest.Blank(frames[0])
	in := [2]*bridge.Frame{abiFrame(frames[0]), abiFrame(frames[1])}
	out := abiFrame(dst)
	r := &result{scenario: sc}
	var err error
	if r.ABIRatio, err = abiRatio(frames[0]); err != nil {
		return nil, err
	}

	sw := fmt.Sprintf(`{"kind":%q}`, sc.Swapper)
	if sc.Swapper == "dfm" {
		sw = fmt.Sprintf(`{"kind":"dfm","model":%q}`, dfm)
	}
	// level custom: the scenario's settings exactly, no auto-tuner moving them.
	cfg := fmt.Sprintf(`{"mode":%q,"level":"custom","swapper":%s}`, sc.Mode, sw)
	errBuf := make([]byte, 2048)
	t0 := time.Now()
	h := bridge.Init(&cfg, errBuf)
	if h == 0 {
		return nil, fmt.Errorf("facelive_init: %s", cString(errBuf))
	}
	defer bridge.Shutdown(h)
	metrics := make([]byte, 1<<16)
	// init → the first frame out with a swapped face.
	for i := 0; ; i++ {
		if time.Since(t0) > time.Minute || ctx.Err() != nil {
			return nil, fmt.Errorf("no swapped frame a minute after init: %s", lastError(h))
		}
		in[i%2].PtsNs = int64(i)
		bridge.Submit(h, in[i%2])
		if bridge.Get(h, out, 50) == bridge.OK {
			if m, _ := readMetrics(h, metrics); m.FacePipeline == "ready" && m.Faces > 0 {
				break
			}
			if m, _ := readMetrics(h, metrics); m.FacePipeline == "failed" {
				return nil, fmt.Errorf("face pipeline failed: %s", m.LastError)
			}
		}
	}
	r.InitToFirstMs = float64(time.Since(t0).Microseconds()) / 1000
	engine.WaitLoads(time.Minute) // other handles' loads would count in the allocations
	r.latencies = make([]float64, 0, int(d.Seconds()*float64(max(sc.PacedFPS, 1)))+16)
	seq := 0
	// drive runs the scenario's loop for dur; record keeps latencies and the
	// timeline. It returns frames submitted and frames out.
	drive := func(dur time.Duration, record bool) (n, got int, own uint64, err error) {
		start := time.Now()
		if sc.Mode == "batch" {
			for time.Since(start) < dur {
				seq++
				in[seq%2].PtsNs = int64(1e6 + seq)
				switch bridge.Submit(h, in[seq%2]) {
				case bridge.OK:
					n++
					continue
				case bridge.EAGAIN: // back-pressure: fetch one
				default:
					return n, got, own, fmt.Errorf("submit: %s", lastError(h))
				}
				if bridge.Get(h, out, 1000) == bridge.OK {
					got++
				}
			}
			for bridge.Get(h, out, 200) == bridge.OK {
				got++
			}
			return n, got, own, nil
		}
		period := time.Second / time.Duration(sc.PacedFPS)
		nextSample := start
		for time.Since(start) < dur {
			tick := start.Add(time.Duration(n+1) * period)
			seq++
			in[seq%2].PtsNs = int64(1e6 + seq)
			t := time.Now()
			if st := bridge.Submit(h, in[seq%2]); st != bridge.OK && st != bridge.EAGAIN {
				return n, got, own, fmt.Errorf("submit: %s", lastError(h))
			}
			n++
			if bridge.Get(h, out, uint32(max(0, time.Until(tick).Milliseconds()))) == bridge.OK {
				got++
				if record {
					r.latencies = append(r.latencies, float64(time.Since(t).Microseconds())/1000)
				}
			}
			if record && time.Now().After(nextSample) {
				// The bench's own sampling allocates; it is taken out of
				// the per-frame count.
				var a, b runtime.MemStats
				runtime.ReadMemStats(&a)
				m, _ := readMetrics(h, metrics)
				r.Timeline = append(r.Timeline, sample{T: time.Since(start).Seconds(), FPS: m.FPSOut, Quality: m.QualityLevel})
				nextSample = nextSample.Add(250 * time.Millisecond)
				runtime.ReadMemStats(&b)
				own += b.Mallocs - a.Mallocs
			}
			time.Sleep(time.Until(tick))
		}
		return n, got, own, nil
	}
	// Warm up in the scenario's own rhythm (the buffer pool grows to the
	// depth the mode keeps in flight), then measure.
	if _, _, _, err := drive(min(time.Second, d/3), false); err != nil {
		return nil, err
	}
	before, _ := readMetrics(h, metrics)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	n, got, own, err := drive(d, true)
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&ms1)
	m, err := readMetrics(h, metrics)
	if err != nil {
		return nil, err
	}
	r.Frames = got
	r.ThroughputFPS = float64(got) / elapsed.Seconds()
	r.OutputFPS = m.FPSOut
	if sub := m.FramesSubmitted - before.FramesSubmitted; sub > 0 {
		r.DropPct = 100 * float64(m.FramesDropped-before.FramesDropped) / float64(sub)
	}
	r.LatencyMs, r.StageMs, r.Faces, r.RSSMB, r.Decoupled = m.LatencyMs, m.StageMs, m.Faces, m.RSSMB, m.Decoupled
	if n > 0 {
		r.AllocsPerFrame = float64(ms1.Mallocs-ms0.Mallocs-own) / float64(n)
	}
	return r, nil
}

func readMetrics(h uint64, buf []byte) (engine.Metrics, error) {
	var m engine.Metrics
	if st := bridge.GetMetrics(h, buf); st != bridge.OK {
		return m, fmt.Errorf("facelive_get_metrics: %s", lastError(h))
	}
	return m, json.Unmarshal([]byte(cString(buf)), &m)
}

// abiRatio is the time of facelive_submit_frame + facelive_get_frame of
// one frame (two copies and a hand-off to a worker, no face work) over the
// time of one copy of the same bytes, both measured here and now.
func abiRatio(src *frame.Frame) (float64, error) {
	cfg := `{"mode":"realtime","workers":1,"level":"custom","swapper":{"kind":"none"}}`
	h := bridge.Init(&cfg, make([]byte, 512))
	if h == 0 {
		return 0, errors.New("facelive_init for the ABI measurement failed")
	}
	defer bridge.Shutdown(h)
	dst := frametest.Blank(src)
	in, out := abiFrame(src), abiFrame(dst)
	for i := 0; i < 10; i++ { // warm the buffer pool: steady state is what we measure
		bridge.Submit(h, in)
		bridge.Get(h, out, 1000)
	}
	// Both averaged over the same span, as BenchmarkSubmitGet does.
	perCall := func(f func()) float64 {
		n, start := 0, time.Now()
		for time.Since(start) < 200*time.Millisecond {
			f()
			n++
		}
		return float64(time.Since(start)) / float64(n)
	}
	abi := perCall(func() {
		bridge.Submit(h, in)
		bridge.Get(h, out, 1000)
	})
	cp := perCall(func() {
		for i := range src.Planes {
			copy(dst.Planes[i], src.Planes[i])
		}
	})
	return abi / cp, nil
}

// target is one of the performance targets and whether it is met.
type target struct {
	Measure  string `json:"measure"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
}

func evaluateTargets(rs []*result) []target {
	find := func(name string) *result {
		for _, r := range rs {
			if r.Name == name {
				return r
			}
		}
		return nil
	}
	var ts []target
	add := func(measure, goal string, r *result, value float64, unit string, met bool) {
		t := target{Measure: measure, Target: goal, Measured: "not run"}
		if r != nil {
			t.Measured, t.Met = fmt.Sprintf("%.2f %s", value, unit), met
		}
		ts = append(ts, t)
	}
	if r := find("1080p NV12 photo batch"); r != nil {
		add("1080p NV12, photo swap, 1 face, batch", "≥ 200 fps", r, r.ThroughputFPS, "fps", r.ThroughputFPS >= 200)
	} else {
		add("1080p NV12, photo swap, 1 face, batch", "≥ 200 fps", nil, 0, "", false)
	}
	r := find("1080p NV12 photo realtime 60 fps")
	if r != nil {
		add("realtime 60 fps paced, 1080p NV12: drops", "≤ 0.5 %", r, r.DropPct, "%", r.DropPct <= 0.5)
		add("realtime 60 fps paced, 1080p NV12: p99 added latency", "≤ 10 ms", r, r.LatencyMs.P99, "ms", r.LatencyMs.P99 <= 10)
	} else {
		add("realtime 60 fps paced, 1080p NV12: drops", "≤ 0.5 %", nil, 0, "", false)
		add("realtime 60 fps paced, 1080p NV12: p99 added latency", "≤ 10 ms", nil, 0, "", false)
	}
	var abi, allocs, init float64 // worst over the scenarios
	var any1080 *result
	for _, r := range rs {
		if r.Width == 1920 && r.Format == "NV12" {
			any1080, abi = r, r.ABIRatio
		}
		allocs, init = max(allocs, r.AllocsPerFrame), max(init, r.InitToFirstMs)
	}
	add("ABI submit + get, 1080p NV12", "≤ 2× memcpy", any1080, abi, "× memcpy", abi <= 2)
	add("allocations per frame, steady state (worst scenario)", "0", rs[0], allocs, "", allocs < 0.01)
	// RSS of one engine: the first scenario, when the process holds one
	// engine with ONNX Runtime, dlib and its swapper loaded (later rows add
	// the cached models of every earlier scenario).
	first := rs[0].RSSMB
	add("RSS, one engine with ONNX Runtime and dlib loaded (first scenario)", "≤ 400 MB", rs[0], first, "MB", first <= 400)
	add("init → first processed frame with a face (worst scenario)", "≤ 1.5 s", rs[0], init/1000, "s", init <= 1500)
	return ts
}

func printBenchSummary(w io.Writer, rs []*result, ts []target) {
	fmt.Fprintf(w, "%-34s %9s %8s %7s %8s %8s %8s %8s %7s %9s %7s\n", "scenario", "fps", "fps_out", "drop%",
		"p50 ms", "p95 ms", "p99 ms", "allocs/f", "RSS MB", "init ms", "ABI×")
	for _, r := range rs {
		fmt.Fprintf(w, "%-34s %9.1f %8.1f %7.2f %8.2f %8.2f %8.2f %8.2f %7.0f %9.0f %7.2f\n", r.Name, r.ThroughputFPS,
			r.OutputFPS, r.DropPct, r.LatencyMs.P50, r.LatencyMs.P95, r.LatencyMs.P99, r.AllocsPerFrame, r.RSSMB,
			r.InitToFirstMs, r.ABIRatio)
	}
	fmt.Fprintln(w)
	for _, t := range ts {
		verdict := "MISSED"
		if t.Met {
			verdict = "met"
		}
		fmt.Fprintf(w, "target: %-58s %-12s measured %-16s %s\n", t.Measure, t.Target, t.Measured, verdict)
	}
}

// stageOrder is how the per-stage bars stack.
var stageOrder = []string{"copy_in", "detect", "landmarks", "align", "swap", "merge", "copy_out"}
