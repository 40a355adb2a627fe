package vram

import (
	"fmt"
	"time"
)

// Budget rules. Free GPU memory is not all ours to take: CUDA contexts,
// cuDNN workspaces and the display (OBS draws on the same GPU) need headroom,
// hence 80 %. System RAM is shared with the whole desktop, hence half, with a
// floor so a busy machine can still hold the small CPU models.
const (
	gpuPercent = 80
	ramPercent = 50
	minRAMMB   = 256
)

// Budget is how much memory models may use, and where that number came from.
//
// With Source "gpu" the limit is a share of the memory free right now, which
// already excludes what facelive's own models hold; a caller that feeds it to
// [Cache.SetBudget] should add back the cache's ActiveBytes+IdleBytes, or the
// budget shrinks every time a model loads.
type Budget struct {
	Source         string // "gpu" | "ram" | "config"
	Reason         string // one sentence a user can read
	LimitMB        uint64
	GPUs           []GPU
	RAMTotalMB     uint64
	RAMAvailableMB uint64
	At             time.Time // when it was measured (zero from Probe; Monitor stamps it with its clock)
}

// Probe computes a budget: overrideMB > 0 wins (Source "config"); else the
// first GPU (gpus may be nil when NVML is absent; nvmlErr explains why) gives
// 80 % of its free memory; else 50 % of available RAM, at least 256 MB. GPU
// and RAM figures are filled in whichever rule wins, for the metrics.
func Probe(gpus GPUSource, nvmlErr error, ram RAMSource, overrideMB int) Budget {
	var b Budget
	gpuErr := nvmlErr
	if gpus != nil {
		list, err := gpus.GPUs()
		if err != nil {
			gpuErr = err
		} else {
			b.GPUs = list
		}
	}
	var ramErr error
	if ram != nil {
		b.RAMTotalMB, b.RAMAvailableMB, ramErr = ram.RAM()
	} else {
		ramErr = fmt.Errorf("no RAM source")
	}

	switch {
	case overrideMB > 0:
		b.Source = "config"
		b.LimitMB = uint64(overrideMB)
		b.Reason = fmt.Sprintf("vram_budget_mb = %d", overrideMB)
	case len(b.GPUs) > 0:
		g := b.GPUs[0]
		b.Source = "gpu"
		b.LimitMB = g.FreeMB * gpuPercent / 100
		b.Reason = fmt.Sprintf("GPU %d %s: %d MB total, %d MB free; models may use %d%% of free",
			g.Index, g.Name, g.TotalMB, g.FreeMB, gpuPercent)
	default:
		why := "NVML lists no GPU"
		if gpuErr != nil {
			why = noGPUCause(gpuErr)
		}
		b.Source = "ram"
		if ramErr != nil {
			b.LimitMB = minRAMMB
			b.Reason = fmt.Sprintf("no GPU (%s) and system RAM unknown (%v): %d MB minimum", why, ramErr, minRAMMB)
			break
		}
		b.LimitMB = max(b.RAMAvailableMB*ramPercent/100, minRAMMB)
		b.Reason = fmt.Sprintf("no GPU (%s): %d%% of available RAM (%d of %d MB available)",
			why, ramPercent, b.RAMAvailableMB, b.RAMTotalMB)
		if b.LimitMB == minRAMMB && b.RAMAvailableMB*ramPercent/100 < minRAMMB {
			b.Reason += fmt.Sprintf(", raised to the %d MB minimum", minRAMMB)
		}
	}
	return b
}
