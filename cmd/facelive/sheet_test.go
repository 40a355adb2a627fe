package main

import (
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gocv.io/x/gocv"
)

// The sheet test's clips: frame k of "before" is one flat colour that
// encodes k; "after" is the same, except that the frames in sheetDiffers
// carry a white box over their middle.
const (
	sheetClipFrames = 12
	sheetClipFPS    = 10
	sheetClipW      = 160
	sheetClipH      = 90
)

var sheetDiffers = map[int]bool{1: true, 6: true, 7: true, 11: true}

func sheetColour(k int) gocv.Scalar { return gocv.NewScalar(float64(20*k+10), 100, 60, 0) } // B encodes k

// writeSheetClip writes n frames of the test pattern to dir/name (MJPG
// AVI: nearly lossless), the white boxes only if after.
func writeSheetClip(t *testing.T, dir, name string, n int, after bool) string {
	t.Helper()
	path := filepath.Join(dir, name)
	w, _, err := openWriter(path, sheetClipFPS, sheetClipW, sheetClipH)
	if err != nil {
		t.Fatal(err)
	}
	m := gocv.NewMatWithSize(sheetClipH, sheetClipW, gocv.MatTypeCV8UC3)
	defer m.Close()
	for k := 0; k < n; k++ {
		m.SetTo(sheetColour(k))
		if after && sheetDiffers[k] {
			gocv.Rectangle(&m, image.Rect(sheetClipW/5, sheetClipH/5, 4*sheetClipW/5, 4*sheetClipH/5), color.RGBA{255, 255, 255, 0}, -1)
		}
		if err := w.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// regionMean returns the per-channel (B, G, R) mean of r in m.
func regionMean(m gocv.Mat, r image.Rectangle) [3]float64 {
	sub := m.Region(r)
	defer sub.Close()
	s := sub.Mean()
	return [3]float64{s.Val1, s.Val2, s.Val3}
}

// hasLabel reports whether r of m holds both white text and its black
// outline (the clips themselves are neither).
func hasLabel(m gocv.Mat, r image.Rectangle) bool {
	white, black := false, false
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			v := m.GetVecbAt(y, x)
			white = white || v[0] > 220 && v[1] > 220 && v[2] > 220
			black = black || v[0] < 35 && v[1] < 35 && v[2] < 35
		}
	}
	return white && black
}

func TestSheet(t *testing.T) {
	dir := t.TempDir()
	before := writeSheetClip(t, dir, "before.avi", sheetClipFrames, false)
	after := writeSheetClip(t, dir, "after.avi", sheetClipFrames, true)
	tests := []struct {
		frames, width int
		want          []int // frame indices shown
	}{
		{4, 1600, []int{1, 4, 7, 10}}, // the defaults
		{3, 301, []int{2, 6, 10}},
		{1, 200, []int{6}},
		{12, 1000, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
	}
	for _, tc := range tests {
		t.Run(strings.Join([]string{strconv.Itoa(tc.frames), "frames", strconv.Itoa(tc.width), "px"}, "_"), func(t *testing.T) {
			out := filepath.Join(dir, "sheet.png")
			args := []string{"sheet", "--before", before, "--after", after, "--output", out}
			if tc.frames != 4 || tc.width != 1600 {
				args = append(args, "--frames", strconv.Itoa(tc.frames), "--width", strconv.Itoa(tc.width))
			}
			code, stdout, stderr := cli(t, args...)
			if code != 0 {
				t.Fatalf("sheet exit %d\n%s", code, stderr)
			}
			if !strings.Contains(stdout, "wrote "+out) {
				t.Errorf("sheet does not say what it wrote:\n%s", stdout)
			}
			sheet := gocv.IMRead(out, gocv.IMReadColor)
			defer sheet.Close()
			// Tiles keep the clips' aspect: (width - gaps) / frames wide.
			th := int(math.Round(float64(tc.width-(tc.frames-1)*sheetGap) / float64(tc.frames) * sheetClipH / sheetClipW))
			if sheet.Cols() != tc.width || sheet.Rows() != 2*th+sheetGap {
				t.Fatalf("sheet is %dx%d, want %dx%d", sheet.Cols(), sheet.Rows(), tc.width, 2*th+sheetGap)
			}
			if got := sheetIndices(sheetClipFrames, tc.frames); !slices.Equal(got, tc.want) {
				t.Fatalf("frames %v, want %v", got, tc.want)
			}
			_, top, bottom := sheetLayout(tc.width, tc.frames, sheetClipW, sheetClipH)
			for i, k := range tc.want {
				tr, br := top[i], bottom[i]
				if tr.Dy() != th || tr.Dx() < tc.width/tc.frames-sheetGap-1 || br.Size() != tr.Size() || tr.Max.X > tc.width {
					t.Fatalf("tile %d: top %v bottom %v", i, tr, br)
				}
				// Compare the right half of the tiles' lower halves: no label
				// there, and it covers part of the white box.
				probe := func(r image.Rectangle) image.Rectangle {
					return image.Rect(r.Min.X+r.Dx()/2, r.Min.Y+r.Dy()/2, r.Max.X-1, r.Max.Y-1)
				}
				mt, mb := regionMean(sheet, probe(tr)), regionMean(sheet, probe(br))
				if want := sheetColour(k).Val1; math.Abs(mt[0]-want) > 6 {
					t.Errorf("tile %d: top row shows blue %.1f, want frame %d's %.0f", i, mt[0], k, want)
				}
				d := 0.0
				for c := range mt {
					d = max(d, math.Abs(mt[c]-mb[c]))
				}
				if sheetDiffers[k] && d < 40 || !sheetDiffers[k] && d > 4 {
					t.Errorf("tile %d (frame %d): top and bottom differ by %.1f; the videos differ there: %v", i, k, d, sheetDiffers[k])
				}
				for _, r := range []image.Rectangle{tr, br} {
					corner := image.Rect(r.Min.X, r.Min.Y, r.Min.X+r.Dx()*3/4, r.Min.Y+max(r.Dy()/3, 20)).Intersect(r)
					if !hasLabel(sheet, corner) {
						t.Errorf("tile %d (frame %d) at %v has no label in its top left corner", i, k, r)
					}
				}
			}
			if tc.frames == 4 && !strings.Contains(stdout, "frames 1, 4, 7, 10 of 12") {
				t.Errorf("sheet does not list the frames:\n%s", stdout)
			}
		})
	}
}

func TestSheetErrors(t *testing.T) {
	dir := t.TempDir()
	before := writeSheetClip(t, dir, "before.avi", sheetClipFrames, false)
	after := writeSheetClip(t, dir, "after.avi", sheetClipFrames, true)
	short := writeSheetClip(t, dir, "short.avi", sheetClipFrames-2, true)
	missing := filepath.Join(dir, "no-such.mp4")
	notVideo := filepath.Join(dir, "not-a-video.mp4")
	if err := os.WriteFile(notVideo, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "sheet.png")
	tests := []struct {
		name string
		args []string
		code int
		want []string // in stderr
	}{
		{"frame counts differ", []string{"--before", before, "--after", short, "--output", out}, 1,
			[]string{before + " has 12 frames but " + short + " has 10", "same frame count"}},
		{"before missing", []string{"--before", missing, "--after", after, "--output", out}, 1, []string{missing, "no such file"}},
		{"after not a video", []string{"--before", before, "--after", notVideo, "--output", out}, 1, []string{notVideo, "decode"}},
		{"more frames than the clip", []string{"--before", before, "--after", after, "--output", out, "--frames", "13"}, 1,
			[]string{"--frames 13 is more than the 12 frames"}},
		{"no output", []string{"--before", before, "--after", after}, 2, []string{"--output is required"}},
		{"output not an image", []string{"--before", before, "--after", after, "--output", filepath.Join(dir, "s.mp4")}, 2, []string{".mp4", ".png"}},
		{"output folder missing", []string{"--before", before, "--after", after, "--output", filepath.Join(dir, "no", "s.png")}, 1, []string{"does not exist"}},
		{"zero frames", []string{"--before", before, "--after", after, "--output", out, "--frames", "0"}, 2, []string{"--frames 0"}},
		{"too narrow", []string{"--before", before, "--after", after, "--output", out, "--frames", "8", "--width", "100"}, 2, []string{"--width 100"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := cli(t, append([]string{"sheet"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if tc.code != 0 {
				if _, err := os.Stat(out); err == nil {
					t.Errorf("a failed sheet left %s behind", out)
				}
			}
		})
	}
}

func TestSheetHelpers(t *testing.T) {
	for _, tc := range []struct {
		count, n int
		want     []int
	}{
		{120, 4, []int{15, 45, 75, 105}},
		{12, 3, []int{2, 6, 10}},
		{1, 1, []int{0}},
		{5, 5, []int{0, 1, 2, 3, 4}},
		{0, 4, nil},
	} {
		if got := sheetIndices(tc.count, tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("sheetIndices(%d, %d) = %v, want %v", tc.count, tc.n, got, tc.want)
		}
	}
	for _, tc := range []struct {
		k    int
		fps  float64
		want string
	}{
		{0, 30, "0:00.0"}, {36, 30, "0:01.2"}, {1799, 30, "1:00.0"}, {4500, 25, "3:00.0"}, {5, 0, "frame 5"},
	} {
		if got := frameTime(tc.k, tc.fps); got != tc.want {
			t.Errorf("frameTime(%d, %g) = %q, want %q", tc.k, tc.fps, got, tc.want)
		}
	}
}
