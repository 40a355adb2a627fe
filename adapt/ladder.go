package adapt

import (
	"strconv"
	"strings"
)

// Level is one rung of quality; index 0 is the best. The engine maps each
// field onto its stages; a stage that cannot honour a field (a swap model with
// a fixed input size) ignores it.
type Level struct {
	Name           string
	DetectorInput  int    // BlazeFace input side in px (the front model is 128)
	DetectInterval int    // frames between detections; 0 adaptive (detect whenever tracking is unsure)
	Landmarks      string // "dlib68" or "keypoints"
	SwapSize       int    // aligned face side in px
	ORTThreads     int    // ONNX Runtime intra-op threads; 0 leaves it to the runtime (and tune)
}

// DefaultLadder is the ladder the engine uses when the config names none.
// Rungs give up quality in order of how visible the loss is, and each saves
// enough time to be worth the two seconds a step down costs:
//
//	0 full       detector adaptive, dlib68, swap 224 px — nothing given up
//	1 detect-3   detector every 3 frames: between detections the face is
//	             tracked from its landmarks, so a still talker sees no change;
//	             only a newly entering face shows up ~100 ms later
//	2 swap-192   detector every 5 frames and a 192 px swap: 3→5 alone saves too
//	             little for a rung of its own; 192 px loses fine skin detail
//	             that a webcam at 720p barely resolves
//	3 swap-160   swap at 160 px (half of 224's pixels): visibly softer face
//	4 swap-128   swap at 128 px (a third of 224's pixels): soft, but the face
//	             still follows every expression
//	5 keypoints  BlazeFace's 6 keypoints instead of dlib's 68 points: the mask
//	             loses the jaw line and alignment jitters, the most visible
//	             loss, so it comes last (it saves dlib's ~1.5 ms per face)
//
// ORTThreads stays 0 on every rung: threads trade throughput against the
// host's cores, not quality, and tune owns that knob.
func DefaultLadder() []Level {
	return []Level{
		{Name: "full", DetectorInput: 128, DetectInterval: 0, Landmarks: "dlib68", SwapSize: 224},
		{Name: "detect-3", DetectorInput: 128, DetectInterval: 3, Landmarks: "dlib68", SwapSize: 224},
		{Name: "swap-192", DetectorInput: 128, DetectInterval: 5, Landmarks: "dlib68", SwapSize: 192},
		{Name: "swap-160", DetectorInput: 128, DetectInterval: 5, Landmarks: "dlib68", SwapSize: 160},
		{Name: "swap-128", DetectorInput: 128, DetectInterval: 5, Landmarks: "dlib68", SwapSize: 128},
		{Name: "keypoints", DetectorInput: 128, DetectInterval: 5, Landmarks: "keypoints", SwapSize: 128},
	}
}

// FixedSwap is ladder for a pipeline whose swap size cannot change (a
// loaded model's input is fixed): every rung swaps at the top rung's size,
// and rungs that then differ from the one above in nothing else are left
// out. A rung that no longer changes the swap size is named after what it
// does change ("detect-5").
func FixedSwap(ladder []Level) []Level {
	var out []Level
	for _, l := range ladder {
		if len(out) > 0 {
			l.SwapSize = out[0].SwapSize
			prev := out[len(out)-1]
			if l.DetectorInput == prev.DetectorInput && l.DetectInterval == prev.DetectInterval &&
				l.Landmarks == prev.Landmarks && l.ORTThreads == prev.ORTThreads {
				continue
			}
			if strings.HasPrefix(l.Name, "swap-") {
				l.Name = "detect-" + strconv.Itoa(l.DetectInterval)
			}
		}
		out = append(out, l)
	}
	return out
}

// describeChange says what to's settings are where they differ from from's,
// in words a user reads in a log line: "detector every 3 frames, swap at 192 px".
func describeChange(from, to Level) string {
	var parts []string
	if to.DetectorInput != from.DetectorInput {
		parts = append(parts, "detector input "+strconv.Itoa(to.DetectorInput)+" px")
	}
	if to.DetectInterval != from.DetectInterval {
		switch {
		case to.DetectInterval <= 0:
			parts = append(parts, "detector adaptive")
		case to.DetectInterval == 1:
			parts = append(parts, "detector every frame")
		default:
			parts = append(parts, "detector every "+strconv.Itoa(to.DetectInterval)+" frames")
		}
	}
	if to.Landmarks != from.Landmarks {
		parts = append(parts, to.Landmarks+" landmarks")
	}
	if to.SwapSize != from.SwapSize {
		parts = append(parts, "swap at "+strconv.Itoa(to.SwapSize)+" px")
	}
	if to.ORTThreads != from.ORTThreads {
		if to.ORTThreads <= 0 {
			parts = append(parts, "ORT threads auto")
		} else {
			parts = append(parts, strconv.Itoa(to.ORTThreads)+" ORT threads")
		}
	}
	if len(parts) == 0 {
		return "level " + to.Name
	}
	return strings.Join(parts, ", ")
}
