package main

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gocv.io/x/gocv"
)

// Contact sheet layout.
const (
	sheetGap      = 4 // pixels between tiles and between the rows
	maxSheetTiles = 32
	minTileSide   = 16
)

var (
	sheetBackground = color.RGBA{24, 24, 24, 0}
	labelText       = color.RGBA{255, 255, 255, 0}
	labelOutline    = color.RGBA{0, 0, 0, 0}
)

func cmdSheet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("sheet", "sheet --before IN --after OUT --output SHEET.png [--frames 4] [--width 1600]", stdout)
	before := fset.String("before", "", "the video `FILE` before processing, e.g. run's --input (required)")
	after := fset.String("after", "", "the same video `FILE` after processing, e.g. run's --output (required)")
	output := outputFlag(fset, "", "image `FILE` to write, .png or .jpg (required)")
	frames := fset.Int("frames", 4, fmt.Sprintf("how many frames to show, evenly spaced over the videos (1 to %d)", maxSheetTiles))
	width := fset.Int("width", 1600, "width of the sheet in pixels")
	if err := parseFlags(fset, args, "before", "after", "output"); err != nil {
		return err
	}
	switch ext := strings.ToLower(filepath.Ext(*output)); {
	case ext != ".png" && ext != ".jpg" && ext != ".jpeg":
		return usageErrorf("sheet: --output %s: unknown image extension %q; use .png or .jpg", *output, ext)
	case *frames < 1 || *frames > maxSheetTiles:
		return usageErrorf("sheet: --frames %d: must be from 1 to %d", *frames, maxSheetTiles)
	case *width < *frames*(minTileSide+sheetGap) || *width > 16384:
		return usageErrorf("sheet: --width %d: must be from %d (%d px per frame) to 16384", *width,
			*frames*(minTileSide+sheetGap), minTileSide+sheetGap)
	case sameFile(*output, *before) || sameFile(*output, *after):
		return usageErrorf("sheet: --output %s is one of the videos; choose another name", *output)
	}
	if dir := filepath.Dir(*output); dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return fmt.Errorf("cannot write %s: directory %s does not exist", *output, dir)
		}
	}

	// The frame count a container reports can be an estimate: pick the frames
	// from it, count while decoding, and decode again in the rare case the
	// true count picks other frames.
	count, err := reportedFrames(*before)
	if err != nil {
		return err
	}
	var pair *sheetFrames
	defer func() {
		if pair != nil {
			pair.close()
		}
	}()
	for pass := 0; ; pass++ {
		if count > 0 && *frames > count {
			return fmt.Errorf("--frames %d is more than the %d frames of %s", *frames, count, *before)
		}
		idx := sheetIndices(count, *frames)
		if pair != nil {
			pair.close()
		}
		pair, err = readSheetFrames(ctx, *before, *after, idx, *width, *frames)
		if err != nil {
			return err
		}
		if pair.countBefore != pair.countAfter {
			return fmt.Errorf("%s has %d frames but %s has %d: the sheet compares the same frame of both, so they must have the same frame count",
				*before, pair.countBefore, *after, pair.countAfter)
		}
		if *frames > pair.countBefore {
			return fmt.Errorf("--frames %d is more than the %d frames of %s", *frames, pair.countBefore, *before)
		}
		if slices.Equal(sheetIndices(pair.countBefore, *frames), idx) {
			break
		}
		if pass > 0 {
			return fmt.Errorf("%s decodes to a different number of frames each time (%d, then %d)", *before, count, pair.countBefore)
		}
		count = pair.countBefore
	}

	sheet := composeSheet(pair, *width)
	defer sheet.Close()
	if !gocv.IMWrite(*output, sheet) {
		return fmt.Errorf("cannot write %s: OpenCV's image writer failed", *output)
	}
	labels := make([]string, len(pair.idx))
	for i, k := range pair.idx {
		labels[i] = fmt.Sprint(k)
	}
	fmt.Fprintf(stdout, "wrote %s (%dx%d): top row %s, bottom row %s; frames %s of %d\n",
		*output, sheet.Cols(), sheet.Rows(), *before, *after, strings.Join(labels, ", "), pair.countBefore)
	return nil
}

// reportedFrames returns the frame count the container of path reports (0
// when it reports none); it fails if path cannot be opened as a video.
func reportedFrames(path string) (int, error) {
	c, err := openCapture(path)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	n := c.Get(gocv.VideoCaptureFrameCount)
	if !(n > 0 && n < 1e8) {
		return 0, nil
	}
	return int(n), nil
}

// sheetIndices returns n frame indices evenly spaced over count frames: the
// middle frame of each of n equal stretches. count 0 (unknown) gives none.
func sheetIndices(count, n int) []int {
	if count <= 0 {
		return nil
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = min(count-1, (2*i+1)*count/(2*n))
	}
	return idx
}

// sheetLayout places n tiles per row for frames of fw x fh pixels on a
// sheet width pixels wide: the "before" row on top, the "after" row below,
// sheetGap pixels apart. Tile widths differ by at most one pixel.
func sheetLayout(width, n, fw, fh int) (size image.Point, top, bottom []image.Rectangle) {
	avail := width - (n-1)*sheetGap
	th := max(1, int(math.Round(float64(fh)*float64(avail)/float64(n*fw))))
	for i := 0; i < n; i++ {
		x0, x1 := i*avail/n+i*sheetGap, (i+1)*avail/n+i*sheetGap
		top = append(top, image.Rect(x0, 0, x1, th))
		bottom = append(bottom, image.Rect(x0, th+sheetGap, x1, 2*th+sheetGap))
	}
	return image.Pt(width, 2*th+sheetGap), top, bottom
}

// sheetFrames holds the chosen frames of both videos, already scaled to
// their tiles.
type sheetFrames struct {
	idx                     []int
	fpsBefore, fpsAfter     float64
	countBefore, countAfter int
	size                    image.Point // of the sheet
	top, bottom             []image.Rectangle
	before, after           []gocv.Mat // per index, the tile's size
}

func (s *sheetFrames) close() {
	for _, m := range append(s.before, s.after...) {
		m.Close()
	}
	s.before, s.after = nil, nil
}

// readSheetFrames decodes both videos to the end, side by side, counting
// their frames and keeping the frames at idx (scaled to their tiles, which
// follow the first "before" frame's size). idx nil (count unknown) keeps
// none: the caller then knows the count and reads again.
func readSheetFrames(ctx context.Context, beforePath, afterPath string, idx []int, width, n int) (*sheetFrames, error) {
	cb, err := openCapture(beforePath)
	if err != nil {
		return nil, err
	}
	defer cb.Close()
	ca, err := openCapture(afterPath)
	if err != nil {
		return nil, err
	}
	defer ca.Close()
	s := &sheetFrames{idx: idx, fpsBefore: cb.Get(gocv.VideoCaptureFPS), fpsAfter: ca.Get(gocv.VideoCaptureFPS)}
	mb, ma := gocv.NewMat(), gocv.NewMat()
	defer mb.Close()
	defer ma.Close()
	okB, okA := true, true
	next := 0 // position in idx of the next frame to keep
	for k := 0; okB || okA; k++ {
		if ctx.Err() != nil {
			s.close()
			return nil, fmt.Errorf("interrupted while reading frame %d", k)
		}
		if okB = okB && cb.Read(&mb) && !mb.Empty(); okB {
			s.countBefore++
		}
		if okA = okA && ca.Read(&ma) && !ma.Empty(); okA {
			s.countAfter++
		}
		if k == 0 {
			if !okB {
				return nil, fmt.Errorf("%s has no video frames OpenCV can decode", beforePath)
			}
			if !okA {
				return nil, fmt.Errorf("%s has no video frames OpenCV can decode", afterPath)
			}
			s.size, s.top, s.bottom = sheetLayout(width, n, mb.Cols(), mb.Rows())
		}
		if next < len(idx) && idx[next] == k && okB && okA {
			r := s.top[next]
			s.before = append(s.before, toTile(mb, r.Size()))
			s.after = append(s.after, toTile(ma, r.Size()))
			next++
		}
	}
	return s, nil
}

// toTile returns m scaled to size as a new 8-bit BGR Mat.
func toTile(m gocv.Mat, size image.Point) gocv.Mat {
	src := m
	if m.Type() != gocv.MatTypeCV8UC3 {
		src = gocv.NewMat()
		defer src.Close()
		switch m.Channels() {
		case 1:
			gocv.CvtColor(m, &src, gocv.ColorGrayToBGR)
		case 4:
			gocv.CvtColor(m, &src, gocv.ColorBGRAToBGR)
		default:
			m.ConvertTo(&src, gocv.MatTypeCV8UC3)
		}
	}
	interp := gocv.InterpolationArea
	if size.X > src.Cols() {
		interp = gocv.InterpolationCubic
	}
	t := gocv.NewMat()
	gocv.Resize(src, &t, size, 0, 0, interp)
	return t
}

// composeSheet draws the tiles and their labels onto a new sheet.
func composeSheet(s *sheetFrames, width int) gocv.Mat {
	sheet := gocv.NewMatWithSize(s.size.Y, width, gocv.MatTypeCV8UC3)
	sheet.SetTo(gocv.NewScalar(float64(sheetBackground.B), float64(sheetBackground.G), float64(sheetBackground.R), 0))
	for i, k := range s.idx {
		for _, t := range []struct {
			m     gocv.Mat
			r     image.Rectangle
			label string
		}{
			{s.before[i], s.top[i], "before " + frameTime(k, s.fpsBefore)},
			{s.after[i], s.bottom[i], "after " + frameTime(k, s.fpsAfter)},
		} {
			dst := sheet.Region(t.r)
			t.m.CopyTo(&dst)
			drawLabel(&dst, t.label)
			dst.Close()
		}
	}
	return sheet
}

// drawLabel writes text in the top left corner of tile, white with a dark
// outline so it reads on any picture; its size follows the tile's.
func drawLabel(tile *gocv.Mat, text string) {
	scale := max(0.35, float64(tile.Rows())/400)
	thick := max(1, int(math.Round(scale*1.6)))
	sz, _ := gocv.GetTextSizeWithBaseline(text, gocv.FontHersheySimplex, scale, thick)
	margin := max(4, int(math.Round(8*scale)))
	org := image.Pt(margin, margin+sz.Y)
	gocv.PutTextWithParams(tile, text, org, gocv.FontHersheySimplex, scale, labelOutline, thick+max(2, thick*2), gocv.LineAA, false)
	gocv.PutTextWithParams(tile, text, org, gocv.FontHersheySimplex, scale, labelText, thick, gocv.LineAA, false)
}

// frameTime labels frame k of a video at fps frames per second as
// "m:ss.d" (its presentation time), or "frame k" without a usable rate.
func frameTime(k int, fps float64) string {
	if !(fps > 0 && fps <= 1000) {
		return fmt.Sprintf("frame %d", k)
	}
	tenths := int(math.Round(float64(k) * 10 / fps))
	return fmt.Sprintf("%d:%02d.%d", tenths/600, tenths%600/10, tenths%10)
}
