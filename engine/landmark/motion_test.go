package landmark

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"

	"facelive/engine/face"
	"facelive/engine/frame"
)

// clipMotion is the part of makeclip's OUTPUT.motion.json this test reads.
type clipMotion struct {
	FrameCount int `json:"frame_count"`
	Frames     []struct {
		Index  int           `json:"index"`
		Affine [2][3]float64 `json:"affine"` // photo pixels → frame pixels
	} `json:"frames"`
}

func applyAffine(a [2][3]float64, p face.Point) face.Point {
	return face.Point{X: a[0][0]*p.X + a[0][1]*p.Y + a[0][2], Y: a[1][0]*p.X + a[1][1]*p.Y + a[1][2]}
}

func invertAffine(a [2][3]float64) [2][3]float64 {
	det := a[0][0]*a[1][1] - a[0][1]*a[1][0]
	i00, i01 := a[1][1]/det, -a[0][1]/det
	i10, i11 := -a[1][0]/det, a[0][0]/det
	return [2][3]float64{
		{i00, i01, -(i00*a[0][2] + i01*a[1][2])},
		{i10, i11, -(i10*a[0][2] + i11*a[1][2])},
	}
}

// TestFitFollowsMotion makes a 2 s clip of the astronaut moving with known
// affine motion (facelive makeclip), fits landmarks on frames 0, 10, 20, ...
// and checks that frame 0's landmarks carried by the known motion land on
// frame k's fitted landmarks.
func TestFitFollowsMotion(t *testing.T) {
	const maxErrIOD = 0.05
	d := testDlib(t)
	root := repoRoot(t)
	photo := asset(t, "faces/astronaut.png")
	clip := filepath.Join(t.TempDir(), "clip.mp4")
	cmd := exec.Command("go", "run", "./cmd/facelive", "makeclip", "--photo", photo, "--output", clip, "--seconds", "2")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./cmd/facelive makeclip: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(clip + ".motion.json")
	if err != nil {
		t.Fatal(err)
	}
	var mo clipMotion
	if err := json.Unmarshal(raw, &mo); err != nil {
		t.Fatalf("motion file: %v", err)
	}
	if len(mo.Frames) != mo.FrameCount || mo.FrameCount < 51 {
		t.Fatalf("motion file has %d frames (frame_count %d), want 60", len(mo.Frames), mo.FrameCount)
	}

	vc, err := gocv.VideoCaptureFile(clip)
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	img := gocv.NewMat()
	defer img.Close()

	var l0 face.Landmarks
	var inv0 [2][3]float64
	var sum float64
	var n int
	worst := 0.0
	for k := 0; k < mo.FrameCount; k++ {
		if !vc.Read(&img) || img.Empty() {
			t.Fatalf("cannot read frame %d of %s", k, clip)
		}
		if k%10 != 0 {
			continue
		}
		boxes := haarFaces(t, img, 30)
		if len(boxes) == 0 {
			t.Fatalf("frame %d: Haar found no face", k)
		}
		fr := toFrame(t, img, frame.NV12, 16) // what a camera would deliver
		var l face.Landmarks
		if err := d.Fit(fr, boxes[0], &l); err != nil {
			t.Fatalf("frame %d: %v", k, err)
		}
		if k == 0 {
			l0, inv0 = l, invertAffine(mo.Frames[0].Affine)
			drawLandmarks(t, img, boxes[0], &l, "motion_frame0.png")
			continue
		}
		var e, still float64
		for i := range l {
			want := applyAffine(mo.Frames[k].Affine, applyAffine(inv0, l0[i]))
			e += dist(want, l[i])
			still += dist(l0[i], l[i])
		}
		e /= float64(len(l))
		still /= float64(len(l))
		iod := l.InterOcular()
		t.Logf("frame %2d: box %.0fx%.0f, inter-ocular %.1f px, mean error %.2f px = %.2f%% of it (the face moved %.0f px)",
			k, boxes[0].W(), boxes[0].H(), iod, e, 100*e/iod, still)
		// The check can fail: had the landmarks not moved, the error would
		// be far above the limit.
		if still < 4*maxErrIOD*iod {
			t.Errorf("frame %d: the face moved only %.1f px since frame 0; the test cannot tell", k, still)
		}
		sum += e / iod
		n++
		worst = max(worst, e/iod)
		if k == 30 {
			drawLandmarks(t, img, boxes[0], &l, "motion_frame30.png")
		}
	}
	mean := sum / float64(n)
	t.Logf("mean error over %d frames: %.2f%% of the inter-ocular distance (worst frame %.2f%%)", n, 100*mean, 100*worst)
	if !(mean < maxErrIOD) || math.IsNaN(mean) {
		t.Errorf("landmarks do not follow the known motion: mean error %.2f%% of the inter-ocular distance, want < %.0f%%", 100*mean, 100*maxErrIOD)
	}
}
