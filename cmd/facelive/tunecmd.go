package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"facelive/engine"
	"facelive/engine/config"
	"facelive/engine/ortenv"
	"facelive/internal/assets"
	"facelive/tune"
	"facelive/vram"
)

const tuneSynopsis = "tune [--profile auto|low|medium|high|workstation] [--level conservative|balanced|aggressive|custom] [--config FILE] [--output FILE]"

// levelGloss says in a few words what each optimisation level puts first.
var levelGloss = map[string]string{
	tune.Conservative: "a stream that never stalls comes first",
	tune.Balanced:     "keep up, then look good",
	tune.Aggressive:   "quality first; the auto-tuner takes back what the machine cannot hold",
	tune.Custom:       "your own values; nothing is set or tuned",
}

// profileNames lists the values --profile accepts: auto, then every profile.
func profileNames() []string {
	names := []string{"auto"}
	for _, p := range tune.Profiles() {
		names = append(names, string(p))
	}
	return names
}

// tuneBase is the config tune starts from and the keys the user set in it.
type tuneBase struct {
	cfg  config.Config
	keys []string // config.Keys of the file; nil without --config
	from string   // where cfg came from, for messages: "the defaults" or the file
}

// loadTuneBase reads --config (or takes the defaults). A file that cannot be
// read or does not validate is a runtime error (exit 1), as in run and
// config check.
func loadTuneBase(path string) (tuneBase, error) {
	if path == "" {
		return tuneBase{cfg: config.Default(), from: "the defaults"}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return tuneBase{}, fmt.Errorf("tune: --config %s cannot be read (%v); name an existing JSON config file, or leave --config out to start from the defaults",
			path, errors.Unwrap(err))
	}
	cfg, err := config.Load(path) // messages name the file and the key
	if err == nil {
		var keys []string
		if keys, err = config.Keys(data); err == nil {
			return tuneBase{cfg: cfg, keys: keys, from: path}, nil
		}
	}
	return tuneBase{}, fmt.Errorf("tune: --config: %v; fix the file ('facelive config check %s' shows the effective config once it loads)", err, path)
}

// cmdTune shows what the engine would choose on this machine: the machine,
// the memory budget, the execution provider auto picks, the profile and the
// settings of the level with a reason each; -o saves the resulting config.
func cmdTune(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("tune", tuneSynopsis, stdout)
	profile := fs.String("profile", "", "machine `PROFILE`: "+strings.Join(profileNames(), ", ")+
		" (default: the config's, auto = measure this machine)")
	level := fs.String("level", "", "optimisation `LEVEL`: "+strings.Join(tune.Levels(), ", ")+" (default: the config's, balanced)")
	cfgPath := fs.String("config", "", "base config JSON `FILE`; every key it sets is yours and is kept (default: the defaults)")
	outPath := outputFlag(fs, "", "save the resulting config to this `FILE` (for run --config and facelive_load_config)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *profile != "" && !slices.Contains(profileNames(), *profile) {
		return usageErrorf("tune: --profile %q is not a profile; use one of: %s", *profile, strings.Join(profileNames(), ", "))
	}
	if *level != "" && !slices.Contains(tune.Levels(), *level) {
		return usageErrorf("tune: --level %q is not a level; use one of: %s", *level, strings.Join(tune.Levels(), ", "))
	}
	if *outPath != "" {
		if st, err := os.Stat(*outPath); err == nil && st.IsDir() {
			return usageErrorf("tune: --output %s is a directory; name a file such as %s", *outPath, filepath.Join(*outPath, "facelive.json"))
		}
	}
	base, err := loadTuneBase(*cfgPath)
	if err != nil {
		return err
	}
	cfg := base.cfg
	profileFrom, levelFrom := "set in "+base.from, "set in "+base.from
	if !slices.Contains(base.keys, "profile") {
		profileFrom = "the default"
	}
	if !slices.Contains(base.keys, "level") {
		levelFrom = "the default"
	}
	if *profile != "" {
		cfg.Profile, profileFrom = *profile, "set with --profile"
	}
	if *level != "" {
		cfg.Level, levelFrom = *level, "set with --level"
	}

	// The machine, measured the way the engine measures it: System and the
	// CPU calibration for the profile (the calibration even for a named
	// profile, to say what auto would pick), NVML and /proc/meminfo for the
	// budget and the provider.
	sys := engine.System()
	calib, calibErr := engine.MachineCalibration()
	sys.CPU = calib
	gpus, closeNVML, nvmlErr := vram.OpenNVML()
	defer closeNVML()
	budget := vram.Probe(gpus, nvmlErr, vram.SystemRAM(), cfg.VRAMBudgetMB)
	assetsDir := cfg.AssetsDir
	if assetsDir == "" {
		assetsDir = assets.Dir()
	}
	ortLib := cfg.ONNXRuntimeLibrary
	if ortLib == "" {
		ortLib = ortenv.DefaultLibrary(assetsDir)
	}
	autoEP := vram.ChooseProvider("auto", budget.GPUs, nvmlErr, filepath.Dir(ortLib))

	explicit := make(map[string]bool, len(base.keys))
	for _, k := range base.keys {
		explicit[k] = true
	}
	out, prof, lines, err := engine.ProfileSettings(cfg, explicit, sys)
	if err != nil {
		return fmt.Errorf("tune: %v", err)
	}

	w := &errWriter{w: stdout}
	w.printf("machine: %s\n", describeMachine(sys, budget, nvmlErr))
	w.printf("memory budget: %d MB (%s: %s)\n", budget.LimitMB, budget.Source, budgetReason(budget, nvmlErr))
	w.printf("execution provider (auto): %s — %s (ONNX Runtime library: %s)\n",
		autoEP.Provider, strings.TrimPrefix(autoEP.Reason, autoEP.Provider+": "), ortLib)
	w.printf("calibration: %s\n", describeCalibration(sys, calibErr))
	autoProf, autoWhy := tune.PickProfile(sys)
	if cfg.Profile == "auto" {
		w.printf("profile: %s — %s\n", prof, autoWhy)
	} else {
		w.printf("profile: %s — %s (auto would pick %s: %s)\n", prof, profileFrom, autoProf, autoWhy)
	}
	w.printf("level: %s — %s (%s)\n", out.Level, levelGloss[out.Level], levelFrom)
	printSettings(w, out, prof, lines, base.from)
	if ep := out.ExecutionProvider; ep != "auto" {
		c := vram.ChooseProvider(ep, budget.GPUs, nvmlErr, filepath.Dir(ortLib))
		w.printf("execution provider (execution_provider = %s): %s — %s\n", ep, c.Provider, strings.TrimPrefix(c.Reason, c.Provider+": "))
	}
	if w.err != nil {
		return w.err
	}
	if *outPath != "" {
		if err := out.Save(*outPath); err != nil {
			return fmt.Errorf("tune: -o: %v; choose a path in a folder you can write to", err)
		}
		w.printf("saved to %s — every key in it counts as yours, so the profile and the auto-tuner leave it as it is; use it with:\n"+
			"  facelive run --input IN --output OUT --config %s   (or facelive_load_config from a host such as OBS)\n",
			*outPath, *outPath)
	}
	return w.err
}

// describeMachine writes cores, RAM and GPUs, and why there is no GPU.
func describeMachine(sys tune.System, b vram.Budget, nvmlErr error) string {
	var s strings.Builder
	s.WriteString(plural(sys.Cores, "core"))
	if sys.RAMMB == 0 {
		s.WriteString(", RAM unknown")
	} else {
		fmt.Fprintf(&s, ", %s RAM", gibString(sys.RAMMB))
		if b.RAMAvailableMB > 0 {
			fmt.Fprintf(&s, " (%s available)", gibString(b.RAMAvailableMB))
		}
	}
	switch {
	case len(sys.GPUs) > 0:
		for _, g := range sys.GPUs {
			fmt.Fprintf(&s, ", GPU %d %s %s (%s free)", g.Index, g.Name, gibString(g.TotalMB), gibString(g.FreeMB))
		}
	case nvmlErr != nil:
		fmt.Fprintf(&s, ", no NVIDIA GPU (%v)", nvmlErr)
	default:
		s.WriteString(", no NVIDIA GPU (NVML lists none)")
	}
	return s.String()
}

// describeCalibration writes what was timed, the figure and the capacity
// estimate the profile is picked by: "1080p face frame align+merge 3.0 ms
// (median of 9 runs: align.Crop + ...) → ≈ 320 fps at 1080p with one face on
// 2 cores (a whole frame ≈ 2.8 × this)".
func describeCalibration(sys tune.System, err error) string {
	if err != nil {
		return fmt.Sprintf("failed (%v); the profile falls back to the core count", err)
	}
	c := sys.CPU
	if !c.Measured() {
		return "no figure; the profile falls back to the core count"
	}
	out := fmt.Sprintf("%s %s ms (median of %d runs: %s)", c.Stage, tune.FormatMs(c.Ms), c.Runs, engine.CalibrationSetup)
	if fps := sys.CapacityFPS(); fps > 0 {
		out += fmt.Sprintf(" → ≈ %s fps at 1080p with one face on %s (a whole frame ≈ %g × this)",
			tune.FormatFPS(fps), plural(sys.Cores, "core"), tune.FrameWorkPerCalibration)
	}
	return out
}

// budgetReason is the budget's reason without the "no GPU (why): " that
// the machine line has already said.
func budgetReason(b vram.Budget, nvmlErr error) string {
	if b.Source != "ram" || len(b.GPUs) > 0 {
		return b.Reason
	}
	why := "NVML lists no GPU"
	if nvmlErr != nil {
		why = strings.TrimSuffix(nvmlErr.Error(), ": using the system RAM budget")
	}
	return strings.TrimPrefix(b.Reason, "no GPU ("+why+"): ")
}

// gibString formats MiB as GiB with one decimal: 24064 → "23.5 GiB".
func gibString(mb uint64) string {
	return strconv.FormatFloat(float64(mb)/1024, 'f', 1, 64) + " GiB"
}

// printSettings writes the keys the profile and level cover, one a line,
// "key = value  (reason)", from ProfileSettings' lines: "key=value: reason",
// "key: yours, kept" or, for level custom, one line saying so.
func printSettings(w *errWriter, out config.Config, prof tune.Profile, lines []string, from string) {
	type row struct{ key, reason string }
	var rows []row
	if out.Level == tune.Custom {
		w.printf("settings: level custom: every setting is yours; the profile sets nothing and the auto-tuner moves nothing\n")
		// Show the keys a level would set, with the values that stand.
		_, reasons, _ := tune.For(prof, tune.Balanced)
		for _, r := range reasons {
			key, _, _ := strings.Cut(r, "=")
			reason := "yours, from " + from
			if z := zeroMeaning[key]; z != "" && out.Level == tune.Custom && configValues(out)[key] == "0" {
				reason += "; 0 = " + z
			}
			rows = append(rows, row{key, reason})
		}
	} else {
		w.printf("settings:\n")
		for _, l := range lines[1:] { // lines[0] names the profile
			head, reason, _ := strings.Cut(l, ": ")
			key, _, _ := strings.Cut(head, "=")
			if reason == "yours, kept" {
				reason = "yours, kept: set in " + from
			}
			rows = append(rows, row{key, reason})
		}
	}
	values := configValues(out)
	width := 0
	for _, r := range rows {
		width = max(width, len(r.key+" = "+values[r.key]))
	}
	for _, r := range rows {
		w.printf("  %-*s  (%s)\n", width, r.key+" = "+values[r.key], r.reason)
	}
}

// zeroMeaning says what 0 means for the keys where it is not a number of
// things but "decide for me".
var zeroMeaning = map[string]string{
	"workers":           "chosen by the engine for the mode and the cores",
	"detector.interval": "adaptive",
	"target_fps":        "the input's own rate",
}

// configValues returns every leaf of c as dotted key → value as the config
// file writes it (strings without quotes).
func configValues(c config.Config) map[string]string {
	dec := json.NewDecoder(bytes.NewReader(c.JSON()))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil
	}
	vals := make(map[string]string)
	var walk func(prefix string, o map[string]any)
	walk = func(prefix string, o map[string]any) {
		for k, v := range o {
			switch v := v.(type) {
			case map[string]any:
				walk(prefix+k+".", v)
			case string:
				vals[prefix+k] = v
			default:
				vals[prefix+k] = fmt.Sprint(v)
			}
		}
	}
	walk("", obj)
	return vals
}

// errWriter keeps the first write error, so a long report checks once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
