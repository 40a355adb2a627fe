package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"

	"gocv.io/x/gocv"
)

// Makeclip's photo size and motion ranges.
const (
	photoHeightFrac = 0.45 // default --height: photo height at scale 1, as a fraction of the frame height
	maxPhotoWidth   = 0.6  // ... unless that makes it wider than this fraction of the frame width
	sweepX          = 0.20 // horizontal sweep amplitude, fraction of the frame width (at most: see sweepFit)
	sweepY          = 0.10 // vertical sweep amplitude, fraction of the frame height (likewise)
	maxAngleDeg     = 12
	scaleSwing      = 0.15 // scale 0.85 .. 1.15
	brightMid       = 0.95 // brightness 0.70 .. 1.20
	brightSwing     = 0.25
)

// pose is where the photo is at one instant.
type pose struct {
	cx, cy     float64 // frame position of the photo's centre
	angleDeg   float64 // counter-clockwise on screen, as OpenCV's getRotationMatrix2D
	scale      float64 // relative to the base size
	brightness float64 // factor on the photo's pixel values
}

// poseAt is makeclip's known motion: smooth sines of t (seconds) with
// different periods, so translation, rotation, scale and light change
// independently. sweep (0..1 each) scales the horizontal and vertical
// translation amplitudes.
func poseAt(t float64, width, height int, sweep [2]float64) pose {
	s := func(period, phase float64) float64 { return math.Sin(2*math.Pi*t/period + phase) }
	return pose{
		cx:         float64(width-1)/2 + sweep[0]*sweepX*float64(width)*s(6, 0),
		cy:         float64(height-1)/2 + sweep[1]*sweepY*float64(height)*s(5, 0.7),
		angleDeg:   maxAngleDeg * s(4, 0),
		scale:      1 + scaleSwing*s(5.5, 1.3),
		brightness: brightMid + brightSwing*s(3.5, 0.4),
	}
}

// clipMotion is the F.motion.json file written next to a clip.
type clipMotion struct {
	Clip       string        `json:"clip"`
	Photo      string        `json:"photo"`
	PhotoSize  [2]int        `json:"photo_size"` // width, height of the photo file
	Crop       [4]int        `json:"crop"`       // x, y, width, height: the part of the photo that moves (default: all of it)
	Sweep      [2]float64    `json:"sweep"`      // horizontal, vertical translation amplitude used, as fractions of the full sweep (below 1 keeps a large photo inside the frame)
	FrameSize  [2]int        `json:"frame_size"` // width, height of the clip
	FPS        float64       `json:"fps"`
	FrameCount int           `json:"frame_count"`
	Codec      string        `json:"codec"`
	Convention string        `json:"convention"`
	Frames     []frameMotion `json:"frames,omitempty"` // encodeMotion writes it one frame per line
}

type frameMotion struct {
	Index      int           `json:"index"`
	PTSNs      int64         `json:"pts_ns"`
	Affine     [2][3]float64 `json:"affine"`
	Brightness float64       `json:"brightness"`
	AngleDeg   float64       `json:"angle_deg"`
	Scale      float64       `json:"scale"`  // photo pixels to frame pixels (includes the base size)
	Center     [2]float64    `json:"center"` // frame position of the centre of the crop (the whole photo by default)
	// With --expressions: how far the mouth is open and the eyes closed
	// (0..1), and the face's 68 landmarks in frame pixels.
	MouthOpen  float64      `json:"mouth_open,omitempty"`
	EyesClosed float64      `json:"eyes_closed,omitempty"`
	Landmarks  [][2]float64 `json:"landmarks,omitempty"`
}

const motionConvention = "affine maps photo pixel coordinates to frame pixel coordinates: " +
	"[x', y'] = affine · [x, y, 1], x right, y down, pixel centres at integers (OpenCV's convention), " +
	"x, y in the whole photo file even when only the crop is shown; " +
	"brightness multiplies the photo's pixel values (saturating at 255) before it is placed; " +
	"frame k is at pts_ns = k·1e9/fps"

func cmdMakeclip(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("makeclip", "makeclip --photo FILE --output FILE [--crop X,Y,W,H] [--height 0.45] [--seconds 4] [--size 1280x720] [--fps 30] [--expressions]", stdout)
	photoPath := fset.String("photo", "", "face photo `FILE` to move around (required)")
	output := outputFlag(fset, "", "clip `FILE` to write, .mp4, .mkv or .avi (required); the motion goes to OUTPUT.motion.json")
	cropFlag := fset.String("crop", "", "move only the region `X,Y,W,H` of the photo, in photo pixels (default: the whole photo)")
	heightFrac := fset.Float64("height", photoHeightFrac, "height of the (cropped) photo at scale 1 as a fraction of the frame height, "+
		"capped so its width is at most 0.6 of the frame width; the sweep shrinks to keep a large photo inside the frame")
	seconds := fset.Float64("seconds", 4, "clip length in seconds")
	size := fset.String("size", "1280x720", "frame size `WIDTHxHEIGHT`")
	fps := fset.Float64("fps", 30, "frames per second")
	talk := fset.Bool("expressions", false, "the face also talks and blinks: the mouth opens and closes, the eyes blink "+
		"(the photo warped from its own 68 landmarks; the motion file gets each frame's landmarks)")
	if err := parseFlags(fset, args, "photo", "output"); err != nil {
		return err
	}
	var crop image.Rectangle
	if *cropFlag != "" {
		var err error
		if crop, err = parseCrop(*cropFlag); err != nil {
			return usageErrorf("makeclip: --crop: %v", err)
		}
	}
	width, height, err := parseSize(*size)
	switch {
	case err != nil:
		return usageErrorf("makeclip: --size: %v", err)
	case !(*heightFrac > 0 && *heightFrac <= 1):
		return usageErrorf("makeclip: --height %g: must be above 0 and at most 1 (a fraction of the frame height)", *heightFrac)
	case width < 64 || height < 64 || width > 7680 || height > 4320 || width%2 != 0 || height%2 != 0:
		return usageErrorf("makeclip: --size %s: width and height must be even, from 64x64 to 7680x4320", *size)
	case !(*fps > 0 && *fps <= 240):
		return usageErrorf("makeclip: --fps %g: must be above 0 and at most 240", *fps)
	case !(*seconds > 0 && *seconds <= 600):
		return usageErrorf("makeclip: --seconds %g: must be above 0 and at most 600", *seconds)
	}
	n := max(1, int(math.Round(*seconds**fps)))
	if _, err := codecsFor(*output); err != nil {
		return usageErrorf("makeclip: %v", err)
	}

	if _, err := os.Stat(*photoPath); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cannot read photo %s: no such file", *photoPath)
		}
		return fmt.Errorf("cannot read photo %s: %v", *photoPath, err)
	}
	photo := gocv.IMRead(*photoPath, gocv.IMReadColor)
	defer photo.Close()
	if photo.Empty() {
		return fmt.Errorf("cannot read photo %s: not an image OpenCV can decode", *photoPath)
	}
	pw, ph := photo.Cols(), photo.Rows()
	if *cropFlag == "" {
		crop = image.Rect(0, 0, pw, ph)
	} else if !crop.In(image.Rect(0, 0, pw, ph)) {
		return usageErrorf("makeclip: --crop %s: the region (%d,%d)-(%d,%d) reaches outside the %dx%d photo %s",
			*cropFlag, crop.Min.X, crop.Min.Y, crop.Max.X, crop.Max.Y, pw, ph, *photoPath)
	}
	cw, ch := crop.Dx(), crop.Dy()
	cropped := photo.Region(crop)
	defer cropped.Close()

	// Scale the (cropped) photo to its base size once (area averaging when
	// shrinking, so a large photo does not alias); the warp then only moves it.
	r := *heightFrac * float64(height) / float64(ch)
	if float64(cw)*r > maxPhotoWidth*float64(width) {
		r = maxPhotoWidth * float64(width) / float64(cw)
	}
	rw, rh := max(1, int(math.Round(float64(cw)*r))), max(1, int(math.Round(float64(ch)*r)))
	interp := gocv.InterpolationArea
	if rw > cw {
		interp = gocv.InterpolationCubic
	}
	base := gocv.NewMat()
	defer base.Close()
	gocv.Resize(cropped, &base, image.Pt(rw, rh), 0, 0, interp)
	// resize maps pixel centres: x_r = sx·(x − crop x) + (sx-1)/2 (likewise y)
	sx, sy := float64(rw)/float64(cw), float64(rh)/float64(ch)
	ox, oy := (sx-1)/2-sx*float64(crop.Min.X), (sy-1)/2-sy*float64(crop.Min.Y)
	bcx, bcy := float64(rw-1)/2, float64(rh-1)/2
	sweep := sweepFit(n, *fps, width, height, rw, rh)

	var expr *expressions
	var talking gocv.Mat // base with this frame's expression
	if *talk {
		if expr, err = newExpressions(&base); err != nil {
			return err
		}
		talking = gocv.NewMatWithSize(rh, rw, gocv.MatTypeCV8UC3)
		defer talking.Close()
	}

	bg := makeBackground(width, height)
	defer bg.Close()
	img := gocv.NewMatWithSize(height, width, gocv.MatTypeCV8UC3)
	defer img.Close()
	lit := gocv.NewMatWithSize(rh, rw, gocv.MatTypeCV8UC3)
	defer lit.Close()
	warp := gocv.NewMatWithSize(2, 3, gocv.MatTypeCV64F)
	defer warp.Close()

	w, codec, err := openWriter(*output, *fps, width, height)
	if err != nil {
		return err
	}
	defer w.Close()

	mo := clipMotion{
		Clip: *output, Photo: *photoPath, PhotoSize: [2]int{pw, ph}, Crop: [4]int{crop.Min.X, crop.Min.Y, cw, ch},
		Sweep: [2]float64{round6(sweep[0]), round6(sweep[1])}, FrameSize: [2]int{width, height}, FPS: *fps, FrameCount: n, Codec: codec,
		Convention: motionConvention, Frames: make([]frameMotion, n),
	}
	for k := 0; k < n; k++ {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted after %d of %d frames; %s is incomplete", k, n, *output)
		}
		ps := poseAt(float64(k) / *fps, width, height, sweep)
		aw := baseAffine(ps, bcx, bcy)
		for i := 0; i < 2; i++ {
			for j := 0; j < 3; j++ {
				warp.SetDoubleAt(i, j, aw[i][j])
			}
		}
		// Photo file → frame: the same after the crop and the resize.
		full := [2][3]float64{
			{aw[0][0] * sx, aw[0][1] * sy, aw[0][0]*ox + aw[0][1]*oy + aw[0][2]},
			{aw[1][0] * sx, aw[1][1] * sy, aw[1][0]*ox + aw[1][1]*oy + aw[1][2]},
		}
		for i := range full {
			for j := range full[i] {
				full[i][j] = round6(full[i][j])
			}
		}
		mo.Frames[k] = frameMotion{
			Index: k, PTSNs: ptsOf(k, *fps), Affine: full, Brightness: round6(ps.brightness),
			AngleDeg: round6(ps.angleDeg), Scale: round6(ps.scale * r), Center: [2]float64{round6(ps.cx), round6(ps.cy)},
		}

		src := &base
		if expr != nil {
			mouth, blink := expressionAt(float64(k) / *fps)
			lm, err := expr.apply(&talking, &base, mouth, blink)
			if err != nil {
				return err
			}
			src = &talking
			fm := &mo.Frames[k]
			fm.MouthOpen, fm.EyesClosed = round6(mouth), round6(blink)
			fm.Landmarks = make([][2]float64, len(lm))
			for i, p := range lm { // base-image pixels → frame pixels
				fm.Landmarks[i] = [2]float64{round6(aw[0][0]*p.X + aw[0][1]*p.Y + aw[0][2]), round6(aw[1][0]*p.X + aw[1][1]*p.Y + aw[1][2])}
			}
		}
		bg.CopyTo(&img)
		src.ConvertToWithParams(&lit, gocv.MatTypeCV8UC3, float32(ps.brightness), 0)
		// BORDER_TRANSPARENT leaves every frame pixel outside the warped
		// photo as it was: the background.
		gocv.WarpAffineWithParams(lit, &img, warp, image.Pt(width, height), gocv.InterpolationLinear, gocv.BorderTransparent, color.RGBA{})
		w.Write(img)
	}
	w.Close()

	motionPath := *output + ".motion.json"
	if err := os.WriteFile(motionPath, encodeMotion(&mo), 0o644); err != nil {
		return fmt.Errorf("cannot write %s: %v", motionPath, err)
	}
	fmt.Fprintf(stdout, "wrote %s (%d frames, %dx%d, %s fps, codec %s)\n", *output, n, width, height, trimFloat(*fps), codec)
	fmt.Fprintf(stdout, "  photo %s region (%d,%d) %dx%d shown at %dx%d (scale 1), x%.2f..x%.2f as it moves",
		*photoPath, crop.Min.X, crop.Min.Y, cw, ch, rw, rh, 1-scaleSwing, 1+scaleSwing)
	if sweep != [2]float64{1, 1} {
		fmt.Fprintf(stdout, "; sweep %.0f%% across, %.0f%% up and down (of the full amplitude) to keep it inside the frame",
			100*sweep[0], 100*sweep[1])
		if sweep[0] == 0 || sweep[1] == 0 {
			fmt.Fprintf(stdout, " (where 0%%, it does not fit even unmoved: it is cut at the edges)")
		}
	}
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "wrote %s (per frame: photo-to-frame affine matrix and brightness)\n", motionPath)
	return nil
}

// encodeMotion writes the motion file readably: header fields indented, one
// frame per line.
func encodeMotion(mo *clipMotion) []byte {
	frames := mo.Frames
	head := *mo
	head.Frames = nil
	hb, _ := json.MarshalIndent(head, "", "  ") // plain values: cannot fail
	var buf bytes.Buffer
	buf.Write(hb[:len(hb)-2]) // drop "\n}"
	buf.WriteString(",\n  \"frames\": [\n")
	for i := range frames {
		fb, _ := json.Marshal(frames[i])
		buf.WriteString("    ")
		buf.Write(fb)
		if i < len(frames)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("  ]\n}\n")
	return buf.Bytes()
}

// baseAffine maps base-photo pixels (the resized crop, centre bcx, bcy) to
// frame pixels at pose ps: rotate and scale about the photo's centre, then
// move that centre to (cx, cy).
func baseAffine(ps pose, bcx, bcy float64) [2][3]float64 {
	th := ps.angleDeg * math.Pi / 180
	a, b := ps.scale*math.Cos(th), ps.scale*math.Sin(th)
	return [2][3]float64{
		{a, b, ps.cx - a*bcx - b*bcy},
		{-b, a, ps.cy + b*bcx - a*bcy},
	}
}

// sweepFit returns the largest horizontal and vertical translation amplitude
// factors in [0, 1] with which a base photo of rw x rh pixels stays entirely
// inside the frame in all n frames of the motion (0 on an axis where it
// cannot, even unmoved). Small photos get the full sweep.
func sweepFit(n int, fps float64, width, height, rw, rh int) [2]float64 {
	f := [2]float64{1, 1}
	bcx, bcy := float64(rw-1)/2, float64(rh-1)/2
	corners := [4][2]float64{{-0.5, -0.5}, {float64(rw) - 0.5, -0.5}, {-0.5, float64(rh) - 0.5}, {float64(rw) - 0.5, float64(rh) - 0.5}}
	limit := [2]float64{float64(width) - 0.5, float64(height) - 0.5} // frame edges: -0.5 .. limit
	for k := 0; k < n; k++ {
		still := poseAt(float64(k)/fps, width, height, [2]float64{0, 0})
		moved := poseAt(float64(k)/fps, width, height, [2]float64{1, 1})
		aw := baseAffine(still, bcx, bcy)
		lo, hi := [2]float64{math.Inf(1), math.Inf(1)}, [2]float64{math.Inf(-1), math.Inf(-1)}
		for _, c := range corners {
			for i := 0; i < 2; i++ {
				v := aw[i][0]*c[0] + aw[i][1]*c[1] + aw[i][2]
				lo[i], hi[i] = min(lo[i], v), max(hi[i], v)
			}
		}
		d := [2]float64{moved.cx - still.cx, moved.cy - still.cy} // the full sweep's offset now
		for i := 0; i < 2; i++ {
			switch {
			case lo[i] < -0.5 || hi[i] > limit[i]:
				f[i] = 0
			case d[i] > 0:
				f[i] = min(f[i], (limit[i]-hi[i])/d[i])
			case d[i] < 0:
				f[i] = min(f[i], (lo[i]+0.5)/-d[i])
			}
		}
	}
	return [2]float64{max(0, f[0]), max(0, f[1])}
}

// parseCrop parses "X,Y,W,H" (pixels, W and H above 0).
func parseCrop(s string) (image.Rectangle, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return image.Rectangle{}, fmt.Errorf("%q is not X,Y,W,H (photo pixels, e.g. 96,16,320,320)", s)
	}
	var v [4]int
	for i, p := range parts {
		x, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return image.Rectangle{}, fmt.Errorf("%q is not X,Y,W,H (photo pixels, e.g. 96,16,320,320)", s)
		}
		v[i] = x
	}
	if v[0] < 0 || v[1] < 0 || v[2] < 1 || v[3] < 1 {
		return image.Rectangle{}, fmt.Errorf("%q: X and Y must be at least 0, W and H at least 1", s)
	}
	return image.Rect(v[0], v[1], v[0]+v[2], v[1]+v[3]), nil
}

func round6(x float64) float64 { return math.Round(x*1e6)/1e6 + 0 } // + 0: no "-0" in the file

// makeBackground returns a neutral grey gradient (values 70..150, darker at
// the top left), dim enough that a brightened photo stands out.
func makeBackground(width, height int) gocv.Mat {
	m := gocv.NewMatWithSize(height, width, gocv.MatTypeCV8UC3)
	data, _ := m.DataPtrUint8() // a new Mat is continuous
	step := m.Step()
	for y := 0; y < height; y++ {
		row := data[y*step : y*step+3*width]
		for x := 0; x < width; x++ {
			v := byte(70 + 60*y/max(1, height-1) + 20*x/max(1, width-1))
			row[3*x], row[3*x+1], row[3*x+2] = v, v, v
		}
	}
	return m
}
