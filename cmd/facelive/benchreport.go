package main

import (
	"encoding/json"
	"fmt"
	"html"
	"image/color"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// infoTarget marks a row that reports a figure without a goal.
const infoTarget = "(for information)"

// target is one of the performance targets and whether it is met.
type target struct {
	Measure  string  `json:"measure"`
	Target   string  `json:"target"`
	Measured string  `json:"measured"` // value, unit and detail; "no scenario measured it" when none ran
	Value    float64 `json:"value"`
	Scenario string  `json:"scenario,omitempty"`
	Met      bool    `json:"met"`
}

// findResult returns the scenario named name, or nil when it did not run.
func findResult(rs []*result, name string) *result {
	for _, r := range rs {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// measuredTarget is a target row: measured by r, or "no scenario measured
// it" when r is nil (its scenario was filtered out).
func measuredTarget(measure, goal string, r *result, value float64, measured string, met bool) target {
	t := target{Measure: measure, Target: goal, Measured: "no scenario measured it (see --scenarios)"}
	if r != nil {
		t.Measured, t.Value, t.Scenario, t.Met = measured, value, r.Name, met
	}
	return t
}

func evaluateTargets(rs []*result, abis []abiCost) []target {
	find := func(name string) *result { return findResult(rs, name) }
	worst := func(v func(*result) float64) *result {
		var w *result
		for _, r := range rs {
			if w == nil || v(r) > v(w) {
				w = r
			}
		}
		return w
	}
	var ts []target
	add := func(measure, goal string, r *result, value float64, measured string, met bool) {
		ts = append(ts, measuredTarget(measure, goal, r, value, measured, met))
	}

	if r := find(benchBatchTarget); r != nil {
		add("throughput, 1080p NV12, photo swap, 1 face, batch", "≥ 200 fps", r, r.ThroughputFPS,
			fmt.Sprintf("%.1f fps (%d face)", r.ThroughputFPS, r.Faces), r.ThroughputFPS >= 200 && r.Faces == 1)
	} else {
		add("throughput, 1080p NV12, photo swap, 1 face, batch", "≥ 200 fps", nil, 0, "", false)
	}
	r := find(benchRealtimeTarget)
	if r != nil {
		add("drops, realtime 60 fps paced, 1080p NV12 (photo swap)", "≤ 0.5 %", r, r.DropPct,
			fmt.Sprintf("%.2f %%", r.DropPct), r.DropPct <= 0.5)
		add("p99 added latency, realtime 60 fps paced, 1080p NV12 (photo swap)", "≤ 10 ms", r, r.LatencyMs.P99,
			fmt.Sprintf("%.2f ms (p50 %.2f, p95 %.2f)", r.LatencyMs.P99, r.LatencyMs.P50, r.LatencyMs.P95), r.LatencyMs.P99 <= 10)
	} else {
		add("drops, realtime 60 fps paced, 1080p NV12 (photo swap)", "≤ 0.5 %", nil, 0, "", false)
		add("p99 added latency, realtime 60 fps paced, 1080p NV12 (photo swap)", "≤ 10 ms", nil, 0, "", false)
	}
	abiMeasure := "ABI submit + get (in place, face blurred), 1080p NV12, vs copy of the same frame"
	if k := slices.IndexFunc(abis, func(a abiCost) bool { return a.Frame == "1080p NV12" }); k >= 0 {
		a := abis[k]
		ts = append(ts, target{Measure: abiMeasure, Target: "≤ 2× memcpy", Value: a.Ratio, Scenario: a.Frame, Met: a.Ratio <= 2,
			Measured: fmt.Sprintf("%.2f× (%.3f ms vs memcpy %.3f ms in the same loop; %.2f× a back-to-back memcpy of %.3f ms; into a separate buffer %.2f×)",
				a.Ratio, a.InPlaceMs, a.LoopMemcpyMs, a.HotRatio, a.MemcpyMs, a.SeparateRatio)})
	} else {
		ts = append(ts, target{Measure: abiMeasure, Target: "≤ 2× memcpy", Measured: "no scenario measured it (see --scenarios)"})
	}
	// The frame path's allocations: scenarios with level custom, where
	// nothing but frames runs. With the default config the auto-tuner
	// and the memory monitor also run once a second and allocate when
	// they act (config patches, /proc reads): shown per second beside it.
	var w *result
	for _, r := range rs {
		if !r.Defaults && (w == nil || r.AllocsPerFrame > w.AllocsPerFrame) {
			w = r
		}
	}
	if w != nil {
		add("allocations per frame, steady state (worst scenario, level custom)", "0 (< 0.01: whole process)", w, w.AllocsPerFrame,
			fmt.Sprintf("%.3f (%d mallocs / %d frames, %d GC cycles)", w.AllocsPerFrame, w.Mallocs, w.Submitted, w.GCCycles), w.AllocsPerFrame < 0.01)
	}
	var wd *result
	for _, r := range rs {
		if r.Defaults && (wd == nil || float64(r.Mallocs)/r.Seconds > float64(wd.Mallocs)/wd.Seconds) {
			wd = r
		}
	}
	if wd != nil {
		ts = append(ts, target{Measure: "allocations with the default config (auto-tuner and memory monitor on; worst scenario)",
			Target: infoTarget, Scenario: wd.Name, Met: true, Value: float64(wd.Mallocs) / wd.Seconds,
			Measured: fmt.Sprintf("%.0f per second, %.2f per frame (%d mallocs, %d GC cycles)", float64(wd.Mallocs)/wd.Seconds,
				wd.AllocsPerFrame, wd.Mallocs, wd.GCCycles)})
	}
	w = worst(func(r *result) float64 { return r.PeakRSSMB })
	add("RSS with ONNX Runtime and dlib loaded (worst scenario)", "≤ 400 MB", w, w.PeakRSSMB,
		fmt.Sprintf("%.0f MB (model cache %.0f MB)", w.PeakRSSMB, w.ModelCacheMB), w.PeakRSSMB <= 400)
	w = worst(func(r *result) float64 { return r.InitToFirstMs })
	cold := ""
	if w.ColdStart {
		cold = ", cold: models loaded from disk"
	}
	add("facelive_init → first processed frame with a face (worst scenario)", "≤ 1.5 s", w, w.InitToFirstMs/1000,
		fmt.Sprintf("%.3f s%s", w.InitToFirstMs/1000, cold), w.InitToFirstMs <= 1500)

	// The slow-model pair, when it ran (--quick leaves it out).
	base, slow := find(benchSlowBase), find(benchSlowModel)
	if slow != nil && slow.LivePath != nil {
		l := slow.LivePath
		add(fmt.Sprintf("live path beside a slow model (decoupled), 720p BGRA 30 fps: frames back within %d ms", l.AwaitMs),
			"≥ 98 %", slow, l.WithinPct, fmt.Sprintf("%.1f %% (%d of %d; p50 %.2f, p90 %.2f, p99 %.2f ms; model %.0f ms a run)",
				l.WithinPct, l.Within, slow.Submitted, l.P50, l.P90, l.P99, slow.StageMs["swap"]), l.WithinPct >= 98)
	}
	if base != nil && slow != nil && base.LivePath != nil && slow.LivePath != nil && base.LivePath.P90 > 0 {
		ratio := slow.LivePath.P90 / base.LivePath.P90
		add("live path p90 latency, slow model ÷ quick model (both decoupled), 720p BGRA 30 fps", "≤ 1.3", slow, ratio,
			fmt.Sprintf("%.2f× (p90 %.2f ms vs %.2f ms)", ratio, slow.LivePath.P90, base.LivePath.P90), ratio <= 1.3)
	}
	return ts
}

// faceTargets are the realistic face's targets: the 260 px face at 1080p
// NV12 with the default config, batch and live 60 fps; the stage budgets
// that make them possible; the merge against DeepFaceLive's.
func faceTargets(rs []*result, merges []mergeVsDFL) []target {
	find := func(name string) *result { return findResult(rs, name) }
	var ts []target
	add := func(measure, goal string, r *result, value float64, measured string, met bool) {
		ts = append(ts, measuredTarget(measure, goal, r, value, measured, met))
	}
	b, l := find(benchFaceBatchTarget), find(benchFaceRealtimeTarget)
	fps := func(r *result) float64 { return r.ThroughputFPS }
	if b == nil {
		fps = func(*result) float64 { return 0 }
	}
	add("throughput, 1080p NV12, 260 px face, default config, batch", "≥ 250 fps", b, fps(b),
		fmt.Sprintf("%.1f fps (box %.0f px)", fps(b), box(b)), b != nil && b.ThroughputFPS >= 250 && b.Faces == 1)
	p50, p99 := 0.0, 0.0
	if l != nil {
		p50, p99 = l.LatencyMs.P50, l.LatencyMs.P99
	}
	add("added latency, 1080p NV12, 260 px face, default config, realtime 60 fps", "p50 ≤ 6 ms, p99 ≤ 10 ms", l, p99,
		fmt.Sprintf("p50 %.2f ms, p99 %.2f ms (drops %.2f %%)", p50, p99, drops(l)), l != nil && p50 <= 6 && p99 <= 10 && l.Faces == 1)
	for _, st := range []struct {
		name string
		max  float64
	}{{"landmarks", 2}, {"merge", 1.5}, {"align", 0.5}} {
		v := 0.0
		if l != nil {
			v = l.StageMs[st.name]
		}
		add(fmt.Sprintf("stage %s per frame, 1080p NV12, 260 px face, realtime 60 fps", st.name), fmt.Sprintf("≤ %g ms", st.max), l, v,
			fmt.Sprintf("%.3f ms", v), l != nil && v <= st.max)
	}
	// Detection, zoom windows and tiles for small faces included, on every
	// realistic scene: the worst.
	var wd *result
	for _, r := range rs {
		if r.FaceBox > 0 && (wd == nil || r.StageMs["detect"] > wd.StageMs["detect"]) {
			wd = r
		}
	}
	dv := 0.0
	if wd != nil {
		dv = wd.StageMs["detect"]
	}
	add("stage detect per frame (small-face search included), worst realistic 1080p scene", "≤ 1 ms", wd, dv,
		fmt.Sprintf("%.3f ms", dv), wd != nil && dv <= 1)
	for _, m := range merges {
		if m.Scene == "1080p NV12 face 260 px" || m.Scene == "1080p BGRA face 260 px" {
			ts = append(ts, target{Measure: "merge vs DeepFaceLive's CPU merge algorithm, " + m.Scene, Target: "≥ 10×", Value: m.Ratio,
				Scenario: m.Scene, Met: m.Ratio >= 10, Measured: fmt.Sprintf("%.1f× (%.3f ms vs %.3f ms)", m.Ratio, m.OursMs, m.DFLMs)})
		}
	}
	return ts
}

func box(r *result) float64 {
	if r == nil {
		return 0
	}
	return r.FaceBoxPx
}

func drops(r *result) float64 {
	if r == nil {
		return 0
	}
	return r.DropPct
}

// machineInfo says where the numbers come from.
type machineInfo struct {
	CPUModel  string  `json:"cpu_model"`
	Cores     int     `json:"cores"`
	RAMGiB    float64 `json:"ram_gib"`
	OS        string  `json:"os"`
	GoVersion string  `json:"go_version"`
}

func (m machineInfo) String() string {
	return fmt.Sprintf("%s, %d cores, %.1f GiB RAM, %s, %s", m.CPUModel, m.Cores, m.RAMGiB, m.OS, m.GoVersion)
}

func thisMachine() machineInfo {
	m := machineInfo{CPUModel: "unknown CPU", Cores: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.RAMGiB = float64(kb) / (1 << 20)
		}
	}
	return m
}

// gitCommit is the source's commit, "-dirty" when tracked files differ
// (read only: no index refresh); "" outside a git checkout.
func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += "-dirty"
	}
	return c
}

// benchMethod says how every number is taken (results.json and the page).
var benchMethod = []string{
	"Path: every frame goes through package bridge exactly as the exported facelive_* functions call it (export.go's descriptor cast and recover), with the facelive_frame descriptors and the planes in C memory (malloc); only the cgo transition itself is left out (a Go program cannot load libfacelive.so: two Go runtimes cannot share a process).",
	"Frames: the astronaut photo's head (crop 110,12,232,232) 0.6 of the frame high on a grey gradient, in three positions 3 px right and 2 px down of each other, cycling 0 1 2 1 (one real face that moves a little).",
	"Config: {\"mode\":…, \"level\":\"custom\", \"swapper\":{\"kind\":…}} (dfm: the DFM-signature model tools/testmodels generates, 224×224); every other key at its default; no auto-tuner.",
	"realtime N fps: one frame submitted per tick of a wall clock at N fps; then facelive_get_frame with a timeout until the next tick, again while it returns an older frame. batch: frames submitted as fast as the pipeline takes them (FACELIVE_EAGAIN is back-pressure: one frame is fetched and the same frame submitted again), ready frames fetched with timeout 0, everything drained at the end.",
	"Each scenario: a new handle; frames at the scenario's rate (batch: 60 fps) until the first swapped frame; a warm-up of a quarter of --duration (at most 1 s); then the measuring span of --duration, which every number but init → first frame covers.",
	"throughput: frames fetched / wall time of the span (batch: the drain included). fps_out: the engine's fps_out, mean of samples every 250 ms. drop %: the engine's frames_dropped / frames_submitted over the span (a frame a newer result superseded counts as dropped).",
	"added latency: per frame, from the facelive_submit_frame call to the facelive_get_frame that returned that frame (matched by pts), percentiles over the span. engine_latency_ms in results.json is the engine's own latency_ms (its last 1024 frames, warm-up included).",
	"per-stage ms: the engine's stage_ms (each smoothed over recent frames), mean of the 250 ms samples; other = process − the face stages.",
	"allocations per frame: runtime.MemStats.Mallocs over the span, whole process (every goroutine), less the bench's own metrics sampling, / frames submitted; measured after engine.WaitLoads.",
	"RSS: the engine's rss_mb (the process's resident set), highest sample of the span. The Go heap is returned to the OS before each scenario (debug.FreeOSMemory); the process-wide model cache keeps earlier scenarios' models (model_cache_mb); the bench's own frames (3 positions + 1 output, C memory) are included.",
	"init → first processed frame: from calling facelive_init to the return of the first facelive_get_frame after which the metrics say face_pipeline ready and faces ≥ 1. cold_start marks the run's first scenario (ONNX Runtime, BlazeFace, dlib and the swapper loaded from disk); later scenarios take models from the process-wide cache.",
	"other CPU %: the share of the machine's CPU (all cores; hypervisor steal included) that other processes took during the span, from /proc/stat less this process's /proc/self/stat: above a few % the numbers are not this engine's alone.",
	"slow model, 30 fps camera: 720p BGRA, realtime at 30 fps, frames composed before the clock starts; after each submit the host waits for that frame at most 25 ms (an OBS filter that calls get right after submit), then moves on. Both with a DFM-signature test model and decouple on: once the quick one (~1 ms a run), once the slow one (tools/testmodels/gen.py --slow-rounds, far slower than the camera), so that the live path does the same work in both and only the slow model running beside it differs. live path: per frame, submit → get of that same frame, p50/p90/p99 over the frames that came back; within 25 ms: the share of submitted frames that came back as themselves within 25 ms of their submit; the ratio: p90 with the slow model ÷ p90 with the quick one.",
	"Realistic faces (\"1080p NV12 face 260 px …\"): the astronaut's head scaled so that BlazeFace's box in the first frame is 160, 260 or 400 px wide (composed, detected, rescaled until within 5 %; the measured box is face_box_px), its face centre at 45 % of the frame height, three positions as in the bench scene. Config: {\"mode\":…} only, i.e. the defaults a user gets (profile auto, level balanced, the photo swapper, auto-tuner on).",
	"merge vs DeepFaceLive: on each realistic scene's first frame, merge.Paste with the default options (erode 5, blur 25, rct, opacity 1) of a 224 px face aligned from the detection, an elliptical mask, the aligned crop as the colour target (as the pipeline passes it), one thread; against DeepFaceLive's CPU merge algorithm (FaceMerger._merge_on_cpu) written with OpenCV calls on the same face, mask and frame in BGR: frame to float32, mask eroded and blurred with a fade to the border, Reinhard transfer in Lab over the mask, face and mask warped to the whole frame, the whole frame blended in float32 and back to 8 bits, with OpenCV's default threads (every core). DeepFaceLive does these steps in numpy/numexpr: this is its algorithm, not its code (it cannot be installed here). Medians of 15 runs after 3 warm-up runs.",
	"ABI × memcpy: per frame size and format, a host loop on the bench scene with its face blurred (realtime, 1 worker): each iteration writes the camera's frame into the host's buffer, memcpy's that buffer into another (the reference, timed), then times facelive_submit_frame plus the facelive_get_frame that returns the frame once processed (get(0) polled until it is ready; the empty polls not counted). Timing the reference in the same iterations puts it under the same cache conditions as the ABI calls (the face work between frames evicts the caches). in place: get into the buffer submitted from with FACELIVE_FRAME_HOLDS_INPUT, so only what the pipeline changed is written (changed % = the share of the frame's bytes the blur changed); separate: get into another buffer (two full copies). hot memcpy: the same memcpy back to back in a tight loop (both buffers in cache), shown for comparison; round trip: submit + get(wait) back to back with swapper none, the hand-off to a worker and back included, over the hot memcpy. Alternating rounds, medians.",
}

// benchDoc is results.json.
type benchDoc struct {
	Date      string       `json:"date"`
	Commit    string       `json:"commit,omitempty"`
	Machine   machineInfo  `json:"machine"`
	LoadAvg   [2]float64   `json:"loadavg_1min_start_end"` // other processes on the CPU make the numbers noisy
	Args      []string     `json:"args"`
	DurationS float64      `json:"duration_per_scenario_s"`
	WarmupS   float64      `json:"warmup_s"`
	TotalS    float64      `json:"total_s"`
	Targets   []target     `json:"targets"`
	ABI       []abiCost    `json:"abi"`
	Scenarios []*result    `json:"scenarios"`
	Merges    []mergeVsDFL `json:"merge_vs_deepfacelive,omitempty"`
	Skipped   []string     `json:"skipped,omitempty"` // scenarios that could not run, and why
	Method    []string     `json:"method"`
}

// loadAvg is the 1-minute load average (0 when unknown).
func loadAvg() float64 {
	var l float64
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Sscanf(string(b), "%f", &l)
	}
	return l
}

func newBenchDoc(rs []*result, abis []abiCost, ts []target, o benchOpts, total time.Duration, args []string, load0 float64) *benchDoc {
	return &benchDoc{Date: time.Now().Format(time.RFC3339), Commit: gitCommit(), Machine: thisMachine(), LoadAvg: [2]float64{load0, loadAvg()},
		Args: append([]string{"bench"}, args...), DurationS: o.duration.Seconds(), WarmupS: o.warmup.Seconds(),
		TotalS: total.Seconds(), Targets: ts, ABI: abis, Scenarios: rs, Method: benchMethod}
}

// stageOrder is how the per-stage bars stack; "other" is process less the
// face stages (queueing, bookkeeping).
var stageOrder = []string{"copy_in", "detect", "landmarks", "align", "swap", "merge", "other", "copy_out"}

// stageColors: one distinct colour per stage (plotutil's palette has 7).
var stageColors = []color.Color{
	color.RGBA{R: 0x4e, G: 0x79, B: 0xa7, A: 255}, color.RGBA{R: 0xf2, G: 0x8e, B: 0x2b, A: 255},
	color.RGBA{R: 0xe1, G: 0x57, B: 0x59, A: 255}, color.RGBA{R: 0x76, G: 0xb7, B: 0xb2, A: 255},
	color.RGBA{R: 0x59, G: 0xa1, B: 0x4f, A: 255}, color.RGBA{R: 0xed, G: 0xc9, B: 0x48, A: 255},
	color.RGBA{R: 0xb0, G: 0x7a, B: 0xa1, A: 255}, color.RGBA{R: 0x9c, G: 0x75, B: 0x5f, A: 255},
}

func stageValue(r *result, st string) float64 {
	if st != "other" {
		return r.StageMs[st]
	}
	v := r.StageMs["process"]
	for _, s := range []string{"detect", "landmarks", "align", "swap", "merge"} {
		v -= r.StageMs[s]
	}
	return max(0, v)
}

func printBenchSummary(w io.Writer, d *benchDoc) {
	fmt.Fprintf(w, "facelive bench · %s · %s", d.Date, d.Machine)
	if d.Commit != "" {
		fmt.Fprintf(w, " · commit %s", d.Commit)
	}
	fmt.Fprintf(w, " · %gs per scenario · load average %.2f → %.2f\n", d.DurationS, d.LoadAvg[0], d.LoadAvg[1])
	worst := 0.0
	for _, r := range d.Scenarios {
		worst = max(worst, r.OtherCPUPct)
	}
	if worst > 10 {
		fmt.Fprintf(w, "note: other processes took up to %.0f%% of the CPU during a scenario (column other%%): those numbers are noisy\n", worst)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-40s %7s %7s %6s %7s %7s %7s %8s %6s %7s %5s %6s %8s\n", "scenario", "fps", "fps_out", "drop%",
		"p50 ms", "p95 ms", "p99 ms", "allocs/f", "RSS MB", "init ms", "ABI×", "other%", "quality")
	for _, r := range d.Scenarios {
		q := r.Quality
		if r.Decoupled {
			q += "+dec"
		}
		fmt.Fprintf(w, "%-40s %7.1f %7.1f %6.2f %7.2f %7.2f %7.2f %8.3f %6.0f %7.0f %5.2f %6.0f %8s\n", r.Name, r.ThroughputFPS,
			r.OutputFPS, r.DropPct, r.LatencyMs.P50, r.LatencyMs.P95, r.LatencyMs.P99, r.AllocsPerFrame, r.PeakRSSMB,
			r.InitToFirstMs, r.ABIRatio, r.OtherCPUPct, q)
	}
	fmt.Fprintf(w, "\n%-40s", "per-stage ms")
	for _, st := range stageOrder {
		fmt.Fprintf(w, " %9s", st)
	}
	fmt.Fprintln(w)
	for _, r := range d.Scenarios {
		fmt.Fprintf(w, "%-40s", r.Name)
		for _, st := range stageOrder {
			fmt.Fprintf(w, " %9.3f", stageValue(r, st))
		}
		fmt.Fprintln(w)
	}
	if len(d.Merges) > 0 {
		fmt.Fprintf(w, "\n%-40s %8s %9s %9s %7s  %s\n", "merge vs DeepFaceLive's algorithm", "face px", "ours ms", "DFL ms", "ratio", "frame region")
		for _, m := range d.Merges {
			fmt.Fprintf(w, "%-40s %8.0f %9.3f %9.3f %6.1f×  %s\n", m.Scene, m.FaceBox, m.OursMs, m.DFLMs, m.Ratio, m.ROI)
		}
	}
	if slices.ContainsFunc(d.Scenarios, func(r *result) bool { return r.LivePath != nil }) {
		fmt.Fprintf(w, "\n%-40s %7s %7s %7s %9s %8s %8s\n", "live path (submit → same frame back)", "p50 ms", "p90 ms", "p99 ms",
			"within", "swap fps", "model ms")
		for _, r := range d.Scenarios {
			if l := r.LivePath; l != nil {
				fmt.Fprintf(w, "%-40s %7.2f %7.2f %7.2f %8.1f%% %8.1f %8.1f\n", r.Name, l.P50, l.P90, l.P99, l.WithinPct, r.SwapFPS, r.StageMs["swap"])
			}
		}
	}
	fmt.Fprintf(w, "\n%-12s %10s %10s %11s %8s %7s %10s %7s %10s %7s %11s\n", "ABI frame", "bytes", "memcpy ms", "in place ms",
		"changed", "ratio", "separate", "ratio", "hot memcpy", "ratio", "round trip")
	for _, a := range d.ABI {
		fmt.Fprintf(w, "%-12s %10d %10.3f %11.3f %7.1f%% %6.2f× %10.3f %6.2f× %10.3f %6.2f× %10.2f×\n", a.Frame, a.Bytes, a.LoopMemcpyMs,
			a.InPlaceMs, a.ChangedPct, a.Ratio, a.ABIMs, a.SeparateRatio, a.MemcpyMs, a.HotRatio, a.RoundTripRatio)
	}
	fmt.Fprintln(w)
	for _, sk := range d.Skipped {
		fmt.Fprintf(w, "skipped: %s\n", sk)
	}
	for _, t := range d.Targets {
		fmt.Fprintf(w, "target: %-68s %-26s %-8s %s\n", t.Measure, t.Target, verdict(t), t.Measured)
	}
}

func verdict(t target) string {
	switch {
	case t.Target == infoTarget:
		return "info"
	case t.Met:
		return "met"
	case t.Scenario == "":
		return "not run"
	}
	return "MISSED"
}

// writeBenchReport writes results.json, the plots and report.html into dir.
func writeBenchReport(dir string, d *benchDoc) error {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: results.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	plots, err := writeBenchPlots(dir, d.Scenarios)
	if err != nil {
		return fmt.Errorf("bench: plots: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.html"), benchHTML(d, plots), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

type benchPlot struct{ file, caption string }

func writeBenchPlots(dir string, rs []*result) ([]benchPlot, error) {
	var out []benchPlot
	save := func(p *plot.Plot, file, caption string, w, h vg.Length) error {
		if err := p.Save(w, h, filepath.Join(dir, file)); err != nil {
			return err
		}
		out = append(out, benchPlot{file, caption})
		return nil
	}
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = strings.NewReplacer("realtime", "rt", " fps", "").Replace(r.Name)
	}
	barW := vg.Points(min(24, max(4, 420/float64(len(rs)))))
	wide := vg.Length(max(7, min(14, 2+0.32*float64(len(rs))))) * vg.Inch
	nominal := func(p *plot.Plot) {
		p.NominalX(names...)
		p.X.Min, p.X.Max = -0.7, float64(len(names))-0.3
		p.X.Tick.Label.Rotation = 1.1
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
	}

	// 1. Latency histogram of the realtime target scenario (else the first realtime one).
	var live *result
	for _, r := range rs {
		if r.Mode == "realtime" && (live == nil || r.Name == benchRealtimeTarget) && len(r.latencies) > 0 {
			live = r
		}
	}
	if live != nil {
		p := plot.New()
		p.Title.Text = "Added latency (submit → get of the same frame): " + live.Name
		p.X.Label.Text = "ms"
		p.Y.Label.Text = "frames"
		h, err := plotter.NewHist(plotter.Values(live.latencies), 40)
		if err != nil {
			return nil, err
		}
		h.FillColor = color.RGBA{R: 90, G: 130, B: 200, A: 255}
		p.Add(h)
		top := 1.0
		for _, bin := range h.Bins {
			top = max(top, bin.Weight)
		}
		for _, v := range []struct {
			x   float64
			lbl string
			c   color.Color
		}{{live.LatencyMs.P99, "p99", color.RGBA{R: 200, A: 255}}, {10, "target p99 ≤ 10 ms", color.RGBA{G: 140, A: 255}}} {
			l, err := plotter.NewLine(plotter.XYs{{X: v.x, Y: 0}, {X: v.x, Y: top}})
			if err != nil {
				return nil, err
			}
			l.Color, l.Width = v.c, vg.Points(1.5)
			if v.lbl != "p99" {
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			}
			p.Add(l)
			p.Legend.Add(v.lbl, l)
		}
		p.Legend.Top = true
		if err := save(p, "latency_histogram.png", "Added latency per frame, "+live.Name, 8*vg.Inch, 4*vg.Inch); err != nil {
			return nil, err
		}
	}

	// 2. fps_out and quality level over time, the realtime scenarios of the
	// target's size and format (or all realtime ones when it did not run).
	var rt []*result
	for _, r := range rs {
		if r.Mode == "realtime" && r.geometry() == "1080p NV12" {
			rt = append(rt, r)
		}
	}
	if len(rt) == 0 {
		for _, r := range rs {
			if r.Mode == "realtime" {
				rt = append(rt, r)
			}
		}
	}
	if len(rt) > 0 {
		pf, pq := plot.New(), plot.New()
		pf.Title.Text = "Output fps over time (from facelive_init)"
		pf.Y.Label.Text = "fps_out"
		pq.Title.Text = "Quality level over time (0 = full; higher = cheaper rungs)"
		pq.X.Label.Text = "s since facelive_init"
		pq.Y.Label.Text = "quality_level"
		var fl, ql []any
		for _, r := range rt {
			f, q := make(plotter.XYs, len(r.Timeline)), make(plotter.XYs, len(r.Timeline))
			for i, s := range r.Timeline {
				f[i], q[i] = plotter.XY{X: s.T, Y: s.FPSOut}, plotter.XY{X: s.T, Y: float64(s.Quality)}
			}
			fl, ql = append(fl, r.Name, f), append(ql, r.Name, q)
		}
		if err := plotutil.AddLines(pf, fl...); err != nil {
			return nil, err
		}
		if err := plotutil.AddLines(pq, ql...); err != nil {
			return nil, err
		}
		pf.Legend.Top, pf.Legend.Left = false, false
		pq.Y.Min, pq.Y.Max = -0.5, max(pq.Y.Max, 3)+0.5
		pq.Legend.Top = true
		img := vgimg.New(9*vg.Inch, 7*vg.Inch)
		dc := draw.New(img)
		tiles := draw.Tiles{Rows: 2, Cols: 1, PadX: vg.Millimeter, PadY: 6 * vg.Millimeter, PadTop: 2 * vg.Millimeter,
			PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 2 * vg.Millimeter}
		cs := plot.Align([][]*plot.Plot{{pf}, {pq}}, tiles, dc)
		pf.Draw(cs[0][0])
		pq.Draw(cs[1][0])
		f, err := os.Create(filepath.Join(dir, "fps_quality_over_time.png"))
		if err != nil {
			return nil, err
		}
		_, err = vgimg.PngCanvas{Canvas: img}.WriteTo(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		out = append(out, benchPlot{"fps_quality_over_time.png", "Output fps and quality level from facelive_init on (init, warm-up, measuring span)"})
	}

	// 3. Per-stage time, stacked.
	p := plot.New()
	p.Title.Text = "Per-stage time per frame (the engine's stage_ms)"
	p.Y.Label.Text = "ms"
	var prev *plotter.BarChart
	for i, st := range stageOrder {
		vals := make(plotter.Values, len(rs))
		for j, r := range rs {
			vals[j] = stageValue(r, st)
		}
		bars, err := plotter.NewBarChart(vals, barW)
		if err != nil {
			return nil, err
		}
		bars.Color = stageColors[i%len(stageColors)]
		bars.LineStyle.Width = 0
		if prev != nil {
			bars.StackOn(prev)
		}
		p.Add(bars)
		p.Legend.Add(st, bars)
		prev = bars
	}
	nominal(p)
	p.Legend.Top = true
	top := 0.0
	for _, r := range rs {
		sum := 0.0
		for _, st := range stageOrder {
			sum += stageValue(r, st)
		}
		top = max(top, sum)
	}
	p.Y.Min, p.Y.Max = 0, max(1, top)*1.45 // room for the legend above the bars
	if err := save(p, "stages.png", "Per-stage ms per scenario, stacked", wide, 5*vg.Inch); err != nil {
		return nil, err
	}

	// 4. Drops and 5. throughput per scenario.
	for _, c := range []struct {
		file, title, y, caption string
		v                       func(*result) float64
	}{
		{"drops.png", "Frames dropped per scenario", "%", "Drop % per scenario", func(r *result) float64 { return r.DropPct }},
		{"throughput.png", "Frames out per second of wall time", "fps", "Throughput per scenario", func(r *result) float64 { return r.ThroughputFPS }},
	} {
		p := plot.New()
		p.Title.Text = c.title
		p.Y.Label.Text = c.y
		vals := make(plotter.Values, len(rs))
		for i, r := range rs {
			vals[i] = c.v(r)
		}
		bars, err := plotter.NewBarChart(vals, barW)
		if err != nil {
			return nil, err
		}
		bars.Color = color.RGBA{R: 90, G: 130, B: 200, A: 255}
		bars.LineStyle.Width = 0
		p.Add(bars)
		p.Y.Min = 0
		if c.file == "drops.png" {
			p.Y.Max = max(p.Y.Max, 1) // all zero still draws an axis
		}
		nominal(p)
		if err := save(p, c.file, c.caption, wide, 4.5*vg.Inch); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func benchHTML(d *benchDoc, plots []benchPlot) []byte {
	e := html.EscapeString
	var sb strings.Builder
	sb.WriteString("<!doctype html><meta charset=utf-8><title>facelive bench</title>\n<style>" +
		"body{font:14px sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;margin-bottom:1em}" +
		"td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td:first-child,th:first-child{text-align:left}" +
		".missed{color:#b00;font-weight:bold}.met{color:#070;font-weight:bold}.notrun{color:#777}img{max-width:100%}" +
		"li{margin-bottom:.3em}</style>\n")
	fmt.Fprintf(&sb, "<h1>facelive bench</h1>\n<p>%s · %s", e(d.Date), e(d.Machine.String()))
	if d.Commit != "" {
		fmt.Fprintf(&sb, " · commit %s", e(d.Commit))
	}
	fmt.Fprintf(&sb, " · load average %.2f → %.2f", d.LoadAvg[0], d.LoadAvg[1])
	fmt.Fprintf(&sb, " · <code>facelive %s</code> · %d scenarios, %gs each (after a %gs warm-up), %.0f s in all</p>\n",
		e(strings.Join(d.Args, " ")), len(d.Scenarios), d.DurationS, d.WarmupS, d.TotalS)

	sb.WriteString("<h2>Targets</h2>\n<table><tr><th>measure</th><th>target</th><th>measured</th><th>scenario</th><th></th></tr>\n")
	for _, t := range d.Targets {
		cls := map[string]string{"met": "met", "MISSED": "missed", "not run": "notrun", "info": "notrun"}[verdict(t)]
		fmt.Fprintf(&sb, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class=%s>%s</td></tr>\n", e(t.Measure),
			e(t.Target), e(t.Measured), e(t.Scenario), cls, strings.ToLower(verdict(t)))
	}
	sb.WriteString("</table>\n")
	for _, sk := range d.Skipped {
		fmt.Fprintf(&sb, "<p>Skipped: %s</p>\n", e(sk))
	}
	sb.WriteString("<h2>Scenarios</h2>\n<table><tr><th>scenario</th><th>fps</th><th>fps_out</th><th>drop %</th>" +
		"<th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>allocs/frame</th><th>RSS MB</th><th>init → first ms</th>" +
		"<th>ABI × copy</th><th>other CPU %</th><th>faces</th><th>quality</th><th>frames out</th></tr>\n")
	for _, r := range d.Scenarios {
		q := r.Quality
		if r.Decoupled {
			q += fmt.Sprintf(", decoupled (swap %.1f fps)", r.SwapFPS)
		}
		fmt.Fprintf(&sb, "<tr><td>%s</td><td>%.1f</td><td>%.1f</td><td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%.2f</td>"+
			"<td>%.3f</td><td>%.0f</td><td>%.0f%s</td><td>%.2f</td><td>%.0f</td><td>%d</td><td>%s</td><td>%d</td></tr>\n", e(r.Name),
			r.ThroughputFPS, r.OutputFPS, r.DropPct, r.LatencyMs.P50, r.LatencyMs.P95, r.LatencyMs.P99, r.AllocsPerFrame,
			r.PeakRSSMB, r.InitToFirstMs, map[bool]string{true: " (cold)"}[r.ColdStart], r.ABIRatio, r.OtherCPUPct, r.Faces, e(q), r.Frames)
	}
	sb.WriteString("</table>\n<h2>Per-stage ms</h2>\n<table><tr><th>scenario</th>")
	for _, st := range stageOrder {
		fmt.Fprintf(&sb, "<th>%s</th>", st)
	}
	sb.WriteString("</tr>\n")
	for _, r := range d.Scenarios {
		fmt.Fprintf(&sb, "<tr><td>%s</td>", e(r.Name))
		for _, st := range stageOrder {
			fmt.Fprintf(&sb, "<td>%.3f</td>", stageValue(r, st))
		}
		sb.WriteString("</tr>\n")
	}
	sb.WriteString("</table>\n")
	if slices.ContainsFunc(d.Scenarios, func(r *result) bool { return r.LivePath != nil }) {
		sb.WriteString("<h2>Live path beside a slow model</h2>\n<table><tr><th>scenario</th><th>p50 ms</th><th>p90 ms</th>" +
			"<th>p99 ms</th><th>back within the wait</th><th>wait ms</th><th>swap fps</th><th>model ms</th></tr>\n")
		for _, r := range d.Scenarios {
			if l := r.LivePath; l != nil {
				fmt.Fprintf(&sb, "<tr><td>%s</td><td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%.1f %%</td><td>%d</td><td>%.1f</td><td>%.1f</td></tr>\n",
					e(r.Name), l.P50, l.P90, l.P99, l.WithinPct, l.AwaitMs, r.SwapFPS, r.StageMs["swap"])
			}
		}
		sb.WriteString("</table>\n")
	}
	if len(d.Merges) > 0 {
		sb.WriteString("<h2>Merge vs DeepFaceLive's algorithm</h2>\n<table><tr><th>scene</th><th>face box px</th><th>ours ms</th>" +
			"<th>DeepFaceLive's algorithm ms</th><th>ratio</th><th>frame region</th></tr>\n")
		for _, m := range d.Merges {
			fmt.Fprintf(&sb, "<tr><td>%s</td><td>%.0f</td><td>%.3f</td><td>%.3f</td><td>%.1f×</td><td>%s</td></tr>\n",
				e(m.Scene), m.FaceBox, m.OursMs, m.DFLMs, m.Ratio, e(m.ROI))
		}
		sb.WriteString("</table>\n")
	}
	sb.WriteString("<h2>ABI copy cost</h2>\n<table><tr><th>frame</th><th>bytes</th><th>memcpy ms (same loop)</th>" +
		"<th>in place ms</th><th>changed</th><th>ratio</th><th>separate buffer ms</th><th>ratio</th><th>hot memcpy ms</th><th>in place ÷ hot</th>" +
		"<th>hot copy() ms</th><th>round trip ms</th><th>÷ hot memcpy</th></tr>\n")
	for _, a := range d.ABI {
		fmt.Fprintf(&sb, "<tr><td>%s</td><td>%d</td><td>%.3f</td><td>%.3f</td><td>%.1f %%</td><td>%.2f×</td><td>%.3f</td><td>%.2f×</td>"+
			"<td>%.3f</td><td>%.2f×</td><td>%.3f</td><td>%.3f</td><td>%.2f×</td></tr>\n",
			e(a.Frame), a.Bytes, a.LoopMemcpyMs, a.InPlaceMs, a.ChangedPct, a.Ratio, a.ABIMs, a.SeparateRatio, a.MemcpyMs, a.HotRatio,
			a.CopyMs, a.RoundTripMs, a.RoundTripRatio)
	}
	sb.WriteString("</table>\n<h2>Plots</h2>\n")
	for _, p := range plots {
		fmt.Fprintf(&sb, "<figure><img src=%q alt=%q><figcaption>%s</figcaption></figure>\n", p.file, e(p.caption), e(p.caption))
	}
	sb.WriteString("<h2>How it is measured</h2>\n<ul>\n")
	for _, m := range d.Method {
		fmt.Fprintf(&sb, "<li>%s</li>\n", e(m))
	}
	sb.WriteString("</ul>\n<p>Raw numbers, timelines included: <a href=\"results.json\">results.json</a>.</p>\n")
	return []byte(sb.String())
}
