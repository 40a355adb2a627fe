package tune

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Optimisation levels, the config's "level" key.
const (
	Conservative = "conservative" // a stream that never stalls comes first
	Balanced     = "balanced"     // the default: keep up, then look good
	Aggressive   = "aggressive"   // quality first; the tuner takes back what the machine cannot hold
	Custom       = "custom"       // the user's own values; nothing is set or tuned
)

// Levels lists every level from the most careful to the least.
func Levels() []string { return []string{Conservative, Balanced, Aggressive, Custom} }

// Settings are concrete values for config keys. A zero value means "leave as
// it is": no level needs a key's zero (workers 0 = auto, detector.interval 0
// = adaptive, target_fps 0 = input rate), and every level of a profile sets
// the same keys, so switching level overwrites all of them.
type Settings struct {
	Mode              string  // mode
	Workers           int     // workers
	DetectorInterval  int     // detector.interval
	MaxFaces          int     // detector.max_faces
	Smoothing         float64 // landmarks.smoothing
	MergeBlur         int     // merge.blur
	MergeErode        int     // merge.erode
	ExecutionProvider string  // execution_provider
	TargetFPS         int     // target_fps
}

// levels holds, per profile, the settings for conservative, balanced and
// aggressive in that order. Why each column moves the way it does:
//
//   - mode: realtime everywhere (newest frame wins, nothing queues) except
//     aggressive on a workstation, which can drain balanced's short queue.
//   - workers: conservative leaves cores to the host (OBS encodes on the
//     same machine); aggressive adds workers for throughput and the tuner
//     takes them back where they slow things down.
//   - detector.interval: frames between full detections, tracking in
//     between; aggressive detects every frame on high and workstation.
//   - detector.max_faces: every face is another swap and merge per frame.
//   - landmarks.smoothing: sparse detection leaves jitter that smoothing
//     hides; detecting often allows less smoothing and less lag.
//   - merge.blur / merge.erode: a wider kernel hides the seam better and
//     costs more per face.
//   - execution_provider: only a workstation is sure to have a big GPU, so
//     only there is cuda named (not tensorrt: its engine build stalls the
//     start for minutes); conservative keeps auto, which falls back to the
//     CPU instead of failing when CUDA is missing.
//   - target_fps: the output rate asked for; a lower one leaves headroom.
var levels = map[Profile][3]Settings{
	Low: {
		{Mode: "realtime", Workers: 1, DetectorInterval: 5, MaxFaces: 1, Smoothing: 0.7, MergeBlur: 15, MergeErode: 3, ExecutionProvider: "auto", TargetFPS: 15},
		{Mode: "realtime", Workers: 1, DetectorInterval: 3, MaxFaces: 1, Smoothing: 0.6, MergeBlur: 21, MergeErode: 5, ExecutionProvider: "auto", TargetFPS: 20},
		{Mode: "realtime", Workers: 2, DetectorInterval: 2, MaxFaces: 2, Smoothing: 0.5, MergeBlur: 25, MergeErode: 5, ExecutionProvider: "auto", TargetFPS: 30},
	},
	Medium: {
		{Mode: "realtime", Workers: 1, DetectorInterval: 4, MaxFaces: 2, Smoothing: 0.6, MergeBlur: 21, MergeErode: 5, ExecutionProvider: "auto", TargetFPS: 24},
		{Mode: "realtime", Workers: 2, DetectorInterval: 3, MaxFaces: 2, Smoothing: 0.5, MergeBlur: 25, MergeErode: 5, ExecutionProvider: "auto", TargetFPS: 30},
		{Mode: "realtime", Workers: 3, DetectorInterval: 2, MaxFaces: 4, Smoothing: 0.5, MergeBlur: 25, MergeErode: 5, ExecutionProvider: "auto", TargetFPS: 30},
	},
	High: {
		{Mode: "realtime", Workers: 2, DetectorInterval: 3, MaxFaces: 2, Smoothing: 0.6, MergeBlur: 25, MergeErode: 5, ExecutionProvider: "auto", TargetFPS: 30},
		{Mode: "realtime", Workers: 2, DetectorInterval: 2, MaxFaces: 4, Smoothing: 0.5, MergeBlur: 25, MergeErode: 5, ExecutionProvider: "auto", TargetFPS: 60},
		{Mode: "realtime", Workers: 4, DetectorInterval: 1, MaxFaces: 4, Smoothing: 0.4, MergeBlur: 31, MergeErode: 5, ExecutionProvider: "auto", TargetFPS: 60},
	},
	Workstation: {
		{Mode: "realtime", Workers: 2, DetectorInterval: 2, MaxFaces: 4, Smoothing: 0.5, MergeBlur: 25, MergeErode: 5, ExecutionProvider: "auto", TargetFPS: 30},
		{Mode: "realtime", Workers: 3, DetectorInterval: 1, MaxFaces: 4, Smoothing: 0.5, MergeBlur: 31, MergeErode: 5, ExecutionProvider: "cuda", TargetFPS: 60},
		{Mode: "balanced", Workers: 4, DetectorInterval: 1, MaxFaces: 8, Smoothing: 0.4, MergeBlur: 35, MergeErode: 7, ExecutionProvider: "cuda", TargetFPS: 60},
	},
}

// For maps a profile and a level to settings and one reason per key set, in
// the order Values and Patch use ("workers=1: ..."). Custom returns empty
// Settings: the user's own values stand.
func For(p Profile, level string) (Settings, []string, error) {
	row, ok := levels[p]
	if !ok {
		return Settings{}, nil, fmt.Errorf("tune: unknown profile %q; allowed: low, medium, high, workstation", p)
	}
	var s Settings
	switch level {
	case Conservative:
		s = row[0]
	case Balanced:
		s = row[1]
	case Aggressive:
		s = row[2]
	case Custom:
		return Settings{}, nil, nil
	default:
		return Settings{}, nil, fmt.Errorf("tune: unknown level %q; allowed: %s", level, strings.Join(Levels(), ", "))
	}
	var why []string
	for _, e := range s.entries() {
		why = append(why, e.key+"="+e.text()+": "+reason(p, level, e))
	}
	return s, why, nil
}

// ForMode is For with the worker count fitted to the mode that will run and
// the machine's cores (FitWorkers), its reason rewritten where that moved
// it. mode is the user's own mode, or "" for the level's.
func ForMode(p Profile, level, mode string, cores int) (Settings, []string, error) {
	s, why, err := For(p, level)
	if err != nil || s.Workers == 0 {
		return s, why, err
	}
	if mode == "" {
		mode = s.Mode
	}
	n, reason := FitWorkers(s.Workers, mode, cores)
	if reason == "" {
		return s, why, nil
	}
	s.Workers = n
	for i, r := range why {
		if strings.HasPrefix(r, "workers=") {
			why[i] = "workers=" + strconv.Itoa(n) + ": " + reason
		}
	}
	return s, why, nil
}

// MaxWorkers is the most workers mode can use on cores, the bound that
// adapt.AutoWorkers also keeps: the ordered modes (batch, quality) wait for
// every frame, so throughput is all that counts and every core works; the
// live modes (realtime, balanced) leave the host one core where there is
// more than one (OBS renders and encodes on the same machine).
func MaxWorkers(mode string, cores int) int {
	if Ordered(mode) {
		return max(1, cores)
	}
	return max(1, cores-1)
}

// Ordered reports whether mode outputs every frame in order.
func Ordered(mode string) bool { return mode == "batch" || mode == "quality" }

// FitWorkers applies a level's worker count n to mode on cores: an ordered
// mode uses every core whatever the level says (fewer only slow it down; the
// auto-tuner takes one back if more do), a live mode at most MaxWorkers.
// The reason is "" when n stands as the level set it; cores ≤ 0 (unknown)
// leaves n as it is.
func FitWorkers(n int, mode string, cores int) (int, string) {
	if cores <= 0 {
		return n, ""
	}
	m := MaxWorkers(mode, cores)
	switch {
	case Ordered(mode):
		return m, mode + " uses every core: every frame is kept in order, so throughput is all that counts"
	case n <= m:
		return n, ""
	case cores == 1:
		return m, mode + " on 1 core: one worker"
	}
	return m, mode + " leaves the host one of its " + strconv.Itoa(cores) + " cores: OBS encodes on the same machine"
}

// reason says why a level sets a key to its value on a profile.
func reason(p Profile, level string, e entry) string {
	on := "a " + string(p) + " machine"
	switch e.key {
	case "mode":
		if e.val == "balanced" {
			return "a short queue smooths jitter and " + on + " drains it"
		}
		return "the newest frame wins and nothing queues, so a live stream never stalls"
	case "workers":
		switch level {
		case Conservative:
			return "few workers leave cores to the host (OBS encodes on the same machine)"
		case Balanced:
			return "enough workers to keep up on " + on + " without crowding the host"
		}
		return "more workers for throughput; the tuner takes one back if it slows things down"
	case "detector.interval":
		if e.val == 1 {
			return "detect every frame for the tightest fit, which " + on + " affords"
		}
		if level == Conservative {
			return "detect every " + e.text() + " frames and track in between to save CPU"
		}
		return "detect every " + e.text() + " frames, as often as " + on + " affords; tracking covers the rest"
	case "detector.max_faces":
		return "swap at most " + e.text() + " face(s): every face is another model run per frame"
	case "landmarks.smoothing":
		switch level {
		case Conservative:
			return "stronger smoothing hides the jitter that sparse detection leaves"
		case Balanced:
			return "steady landmarks with little lag at this detection rate"
		}
		return "frequent detection keeps points steady, so less smoothing and less lag"
	case "merge.blur":
		switch level {
		case Conservative:
			return "a smaller blur kernel costs less per face"
		case Balanced:
			return "a soft seam at moderate cost"
		}
		return "a wider blur hides the seam best"
	case "merge.erode":
		return "shrink the mask so the seam falls inside the face"
	case "execution_provider":
		if e.val == "cuda" {
			return "the workstation's GPU runs the models (tensorrt would stall the start building its engine)"
		}
		return "use a GPU when the runtime finds one, else the CPU, never failing for a missing driver"
	case "target_fps":
		switch level {
		case Conservative:
			return "a rate " + on + " holds with room to spare"
		case Balanced:
			return "the rate " + on + " keeps up with"
		}
		return "up to the camera's rate; the skip policy drops what the machine cannot hold"
	}
	return ""
}

// entry is one key that Settings sets.
type entry struct {
	key string // dotted
	val any    // string, int or float64
}

func (e entry) text() string {
	switch v := e.val.(type) {
	case int:
		return strconv.Itoa(v)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// entries lists the keys s sets in the config's own key order (schema.go),
// so reasons and patches read like the config file.
func (s Settings) entries() []entry {
	var out []entry
	add := func(key string, val any, set bool) {
		if set {
			out = append(out, entry{key, val})
		}
	}
	add("mode", s.Mode, s.Mode != "")
	add("detector.interval", s.DetectorInterval, s.DetectorInterval != 0)
	add("detector.max_faces", s.MaxFaces, s.MaxFaces != 0)
	add("landmarks.smoothing", s.Smoothing, s.Smoothing != 0)
	add("merge.erode", s.MergeErode, s.MergeErode != 0)
	add("merge.blur", s.MergeBlur, s.MergeBlur != 0)
	add("target_fps", s.TargetFPS, s.TargetFPS != 0)
	add("workers", s.Workers, s.Workers != 0)
	add("execution_provider", s.ExecutionProvider, s.ExecutionProvider != "")
	return out
}

// Values returns the keys s sets, dotted ("detector.interval"), with their
// values (string, int or float64).
func (s Settings) Values() map[string]any {
	m := make(map[string]any)
	for _, e := range s.entries() {
		m[e.key] = e.val
	}
	return m
}

// Patch returns a partial config JSON object with nested groups, such as
// {"detector":{"interval":3},"workers":2}, for the keys s sets. A key named
// in explicit (dotted, or its whole group such as "detector") is left out:
// what the user set is never overridden. Nothing set gives {}.
func (s Settings) Patch(explicit map[string]bool) []byte {
	obj := make(map[string]any)
	for _, e := range s.entries() {
		if isExplicit(explicit, e.key) {
			continue
		}
		group, name, nested := strings.Cut(e.key, ".")
		if !nested {
			obj[e.key] = e.val
			continue
		}
		sub, _ := obj[group].(map[string]any)
		if sub == nil {
			sub = make(map[string]any)
			obj[group] = sub
		}
		sub[name] = e.val
	}
	// Strings, ints and finite floats in maps cannot fail to marshal.
	b, _ := json.Marshal(obj)
	return b
}

// isExplicit reports whether the user set key, or its whole group.
func isExplicit(explicit map[string]bool, key string) bool {
	if explicit[key] {
		return true
	}
	group, _, nested := strings.Cut(key, ".")
	return nested && explicit[group]
}
