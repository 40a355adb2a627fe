package tune

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// GPU is one graphics card as the memory monitor reports it. It mirrors
// vram.GPU field for field, so the engine converts with tune.GPU(g).
type GPU struct {
	Index                   int
	Name                    string
	TotalMB, FreeMB, UsedMB uint64
}

// System is what PickProfile looks at. Zero values mean "unknown" and count
// as not meeting a threshold, so an unreadable machine is treated as small;
// a zero CPU calibration means "not measured" and leaves the core-count rules.
type System struct {
	Cores int    // logical CPUs (runtime.NumCPU)
	RAMMB uint64 // total system memory in MiB
	GPUs  []GPU
	CPU   Calibration // a timing of the CPU stages (engine.Calibrate)
}

// Calibration is a short timing of CPU work every face frame does, taken on
// the machine itself: a core count says nothing of how fast each core is.
type Calibration struct {
	Stage string  // what was timed, for the reason: "1080p face frame align+merge"
	Ms    float64 // median wall time of one run; 0 = not measured
	Runs  int     // timed runs behind the median
}

// Measured reports whether c holds a usable figure.
func (c Calibration) Measured() bool { return c.Ms > 0 && !math.IsInf(c.Ms, 0) }

// FrameWorkPerCalibration is k, a whole 1080p one-face frame's CPU time
// (copy in, detect/track, landmarks, align, swap, merge, copy out) divided by
// the calibration's align+merge time. Measured on the 2-core AMD EPYC on
// 2026-12-07, after the merge got faster (which lowers the calibration more
// than the whole frame): `facelive bench --scenarios "1080p NV12 photo
// batch"` gave 306.8 fps on 2 cores, 6.52 core-ms a frame, and `facelive
// tune` right before and after measured 2.3 ms: k = 2.8. Swap models cost
// more; the thresholds leave room for that.
const FrameWorkPerCalibration = 2.8

// CapacityFPS estimates the 1080p one-face frames per second the machine's
// CPU holds with every core busy: cores × 1000 / (k × measured ms). It is 0
// when the cores are unknown or nothing was measured.
func (s System) CapacityFPS() float64 {
	if s.Cores <= 0 || !s.CPU.Measured() {
		return 0
	}
	return float64(s.Cores) * 1000 / (FrameWorkPerCalibration * s.CPU.Ms)
}

// Profile is a class of machine: low, medium, high or workstation. The
// config's "auto" is not a Profile; resolve it with PickProfile or Resolve.
type Profile string

const (
	Low         Profile = "low"
	Medium      Profile = "medium"
	High        Profile = "high"
	Workstation Profile = "workstation"
)

// Profiles lists every profile from the smallest machine to the largest.
func Profiles() []Profile { return []Profile{Low, Medium, High, Workstation} }

// Thresholds of the profile table. Memory thresholds sit under the marketed
// size because drivers and kernels report less than the box says: a "16 GB"
// card reports 15–16 GiB (a T4 shows 15 GiB), a "6 GB" card 5.8–6 GiB and an
// "8 GB" machine 7.5–7.8 GiB of RAM.
const (
	workstationCores  = 12
	workstationVRAMMB = 15 * 1024 // "16 GB" cards
	highCores         = 12
	highVRAMMB        = 5632 // 5.5 GiB: "6 GB" cards
	mediumCores       = 4
	mediumRAMMB       = 7 * 1024 // "8 GB" machines

	// Measured capacity (CapacityFPS), twice what a profile's balanced level
	// asks for, since the host (OBS encodes on the same machine), detection
	// spikes and a swap model heavier than the photo one need the rest:
	// medium is 30 fps × 2 faces, high 60 fps × 4 faces.
	mediumCapacityFPS = 2 * 30 * 2
	highCapacityFPS   = 2 * 60 * 4
	highCapacityCores = 4 // high's levels run up to 4 workers; live modes leave the host a core
)

// PickProfile classifies a machine and says why in one sentence, such as
// "2 cores, 24 GiB RAM, no GPU, 1080p face frame align+merge 2.6 ms (≈ 370
// fps on 2 cores) → medium: ...". Only the GPU with the most memory counts:
// the pipeline runs its models on one device. The table, first match wins:
//
//	workstation  a GPU with ≥ 16 GB VRAM and ≥ 12 cores
//	high         a GPU with ≥ 6 GB VRAM
//
// then, with a CPU calibration (capacity = CapacityFPS):
//
//	high         capacity ≥ 480 fps, ≥ 4 cores and ≥ 8 GB RAM
//	medium       capacity ≥ 120 fps and ≥ 8 GB RAM
//	low          everything else
//
// and without one, by core count:
//
//	high         ≥ 12 cores
//	medium       ≥ 4 cores and ≥ 8 GB RAM
//	low          everything else
//
// (GB as marketed; see the thresholds above for what is compared.)
func PickProfile(s System) (Profile, string) {
	gpu, hasGPU := bestGPU(s.GPUs)
	vram := uint64(0)
	if hasGPU {
		vram = gpu.TotalMB
	}
	fps := s.CapacityFPS()
	var p Profile
	var why string
	switch {
	case vram >= workstationVRAMMB && s.Cores >= workstationCores:
		p, why = Workstation, "a GPU with 16 GB or more and 12+ cores run the largest models and detect every frame"
	case vram >= highVRAMMB:
		p, why = High, "a GPU with 6 GB or more runs the swap models off the CPU"
	case fps > 0:
		p, why = byCapacity(s, fps)
	case s.Cores >= highCores:
		p, why = High, "12+ cores run several model runs per frame on the CPU"
	case s.Cores >= mediumCores && s.RAMMB >= mediumRAMMB:
		p, why = Medium, "4+ cores and 8 GB RAM keep two model runs per frame going on the CPU"
	case s.Cores < mediumCores:
		p, why = Low, "under 4 cores the CPU path keeps one model run per frame at most"
	default:
		p, why = Low, "under 8 GB RAM there is room for one copy of each model and little else"
	}
	return p, describe(s, gpu, hasGPU) + " → " + string(p) + ": " + why
}

// byCapacity is the CPU part of the table for a measured machine.
func byCapacity(s System, fps float64) (Profile, string) {
	switch {
	case fps < mediumCapacityFPS:
		return Low, "the CPU holds less than twice 30 fps with 2 faces, so one face at a lower rate"
	case s.RAMMB < mediumRAMMB:
		return Low, "under 8 GB RAM there is room for one copy of each model and little else"
	case fps >= highCapacityFPS && s.Cores >= highCapacityCores:
		return High, "the CPU holds 60 fps with 4 faces twice over and 8 GB RAM keep the models"
	}
	return Medium, "the CPU holds 30 fps with 2 faces twice over and 8 GB RAM keep the models"
}

// bestGPU returns the GPU with the most memory.
func bestGPU(gpus []GPU) (GPU, bool) {
	if len(gpus) == 0 {
		return GPU{}, false
	}
	best := gpus[0]
	for _, g := range gpus[1:] {
		if g.TotalMB > best.TotalMB {
			best = g
		}
	}
	return best, true
}

// describe writes the machine the way the reason sentence shows it:
// "8 cores, 16 GiB RAM, GPU NVIDIA T4 15 GiB".
func describe(s System, gpu GPU, hasGPU bool) string {
	var b strings.Builder
	switch {
	case s.Cores <= 0:
		b.WriteString("unknown cores")
	case s.Cores == 1:
		b.WriteString("1 core")
	default:
		b.WriteString(strconv.Itoa(s.Cores) + " cores")
	}
	if s.RAMMB == 0 {
		b.WriteString(", unknown RAM")
	} else {
		b.WriteString(", " + gib(s.RAMMB) + " RAM")
	}
	switch {
	case !hasGPU:
		b.WriteString(", no GPU")
	default:
		b.WriteString(", GPU ")
		if gpu.Name != "" {
			b.WriteString(gpu.Name + " ")
		}
		b.WriteString(gib(gpu.TotalMB))
		if n := len(s.GPUs); n > 1 {
			fmt.Fprintf(&b, " (largest of %d)", n)
		}
	}
	if s.CPU.Measured() {
		b.WriteString(", " + s.CPU.Describe(s.Cores, s.CapacityFPS()))
	}
	return b.String()
}

// Describe writes the figure as the reason shows it: "1080p face frame
// align+merge 2.6 ms (≈ 370 fps on 2 cores)"; without a capacity (cores
// unknown) the part in brackets is left out.
func (c Calibration) Describe(cores int, fps float64) string {
	stage := c.Stage
	if stage == "" {
		stage = "CPU calibration"
	}
	out := stage + " " + FormatMs(c.Ms) + " ms"
	if fps > 0 {
		out += " (≈ " + FormatFPS(fps) + " fps on " + plural(cores, "core") + ")"
	}
	return out
}

// FormatMs writes milliseconds with two significant digits or whole ones:
// 1.94 → "1.9", 0.456 → "0.46", 12.3 → "12".
func FormatMs(ms float64) string {
	switch {
	case ms >= 9.95: // would print as "10.0"
		return strconv.FormatFloat(ms, 'f', 0, 64)
	case ms >= 0.995:
		return strconv.FormatFloat(ms, 'f', 1, 64)
	}
	return strconv.FormatFloat(ms, 'f', 2, 64)
}

// FormatFPS writes an estimate without false precision: whole frames under
// 100, tens above (287 → "290").
func FormatFPS(fps float64) string {
	if fps >= 100 {
		fps = math.Round(fps/10) * 10
	}
	return strconv.FormatFloat(math.Round(fps), 'f', 0, 64)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// gib formats MiB as GiB with at most one decimal: 24576 → "24 GiB",
// 7900 → "7.7 GiB", 16376 → "16 GiB".
func gib(mb uint64) string {
	return strconv.FormatFloat(math.Round(float64(mb)/1024*10)/10, 'f', -1, 64) + " GiB"
}

// ParseProfile checks a profile name from the config or the command line.
// "auto" is an error here: it names no profile until a machine is looked at
// (use Resolve, or PickProfile).
func ParseProfile(s string) (Profile, error) {
	switch p := Profile(s); p {
	case Low, Medium, High, Workstation:
		return p, nil
	case "auto":
		return "", fmt.Errorf(`tune: profile "auto" names no profile by itself; resolve it with PickProfile`)
	}
	return "", fmt.Errorf("tune: unknown profile %q; allowed: auto, low, medium, high, workstation", s)
}

// Resolve is ParseProfile that also accepts "auto", which it turns into
// PickProfile(sys). The reason says where the profile came from.
func Resolve(name string, sys System) (Profile, string, error) {
	if name == "auto" {
		p, why := PickProfile(sys)
		return p, why, nil
	}
	p, err := ParseProfile(name)
	if err != nil {
		return "", "", err
	}
	return p, "profile " + name + " set in the config", nil
}
