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
// as not meeting a threshold, so an unreadable machine is treated as small.
type System struct {
	Cores int    // logical CPUs (runtime.NumCPU)
	RAMMB uint64 // total system memory in MiB
	GPUs  []GPU
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
)

// PickProfile classifies a machine and says why in one sentence, such as
// "2 cores, 24 GiB RAM, no GPU → low: under 4 cores the CPU path keeps one
// model run per frame at most". Only the GPU with the most memory counts:
// the pipeline runs its models on one device. The table, first match wins:
//
//	workstation  a GPU with ≥ 16 GB VRAM and ≥ 12 cores
//	high         a GPU with ≥ 6 GB VRAM, or ≥ 12 cores
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
	var p Profile
	var why string
	switch {
	case vram >= workstationVRAMMB && s.Cores >= workstationCores:
		p, why = Workstation, "a GPU with 16 GB or more and 12+ cores run the largest models and detect every frame"
	case vram >= highVRAMMB:
		p, why = High, "a GPU with 6 GB or more runs the swap models off the CPU"
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
	return b.String()
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
