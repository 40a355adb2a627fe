package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"
)

// The test binary runs the command line itself when asked, so that a test
// can run facelive as a process of its own (under xvfb-run for a window).
func TestMain(m *testing.M) {
	if os.Getenv("FACELIVE_CLI_CHILD") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// Every command's help and error paths follow one convention: help on
// stdout with exit 0, "help CMD" equal to "CMD --help", one "Usage:
// facelive CMD" line; errors on stderr behind one "facelive:" prefix with
// exit 2; -o and --output the same flag.
func TestCommandLineConventions(t *testing.T) {
	for _, cmd := range []string{"run", "makeclip", "sheet", "tune", "bench", "config", "version"} {
		t.Run(cmd, func(t *testing.T) {
			code, help, stderr := cli(t, cmd, "--help")
			if code != 0 || stderr != "" {
				t.Fatalf("%s --help: exit %d, stderr %q", cmd, code, stderr)
			}
			if !strings.HasPrefix(help, "Usage: facelive "+cmd) || strings.Contains(help, "facelive facelive") {
				t.Errorf("%s --help does not start with one \"Usage: facelive %s\":\n%s", cmd, cmd, help)
			}
			for _, h := range [][]string{{"help", cmd}, {cmd, "-h"}} {
				code, out, _ := cli(t, h...)
				if code != 0 || out != help {
					t.Errorf("%v: exit %d, and its text differs from %s --help:\n%s", h, code, cmd, out)
				}
			}
			if cmd == "config" {
				return // config's words are subcommands, not flags
			}
			code, out, stderr := cli(t, cmd, "--no-such-flag")
			if code != 2 || out != "" {
				t.Errorf("%s --no-such-flag: exit %d, stdout %q; want 2 and nothing on stdout", cmd, code, out)
			}
			if strings.Count(stderr, "facelive:") != 1 || !strings.HasPrefix(stderr, "facelive: "+cmd+": ") ||
				strings.Contains(stderr, "facelive: facelive") || strings.Count(stderr, "\n") != 1 {
				t.Errorf("%s --no-such-flag: want one line \"facelive: %s: ...\" on stderr, got:\n%s", cmd, cmd, stderr)
			}
			if !strings.Contains(help, "Flags:") {
				return
			}
			if fs := strings.Contains(help, "--output"); fs != strings.Contains(help, "-o, --output") {
				t.Errorf("%s --help lists --output without its short form -o:\n%s", cmd, help)
			}
			if strings.Contains(help, "\n  -") && !strings.Contains(help, "\n  -o, --output") {
				t.Errorf("%s --help lists a flag with one dash:\n%s", cmd, help)
			}
		})
	}
	for _, tc := range []struct {
		args []string
		code int
		want string // in stdout (exit 0) or stderr
	}{
		{[]string{"--version"}, 0, "facelive "},
		{[]string{"-v"}, 0, "facelive "},
		{[]string{"help", "nosuch"}, 2, `facelive: help: unknown command "nosuch"`},
		{[]string{"run", "--output", "x.mp4"}, 2, "facelive: run: --input is required"},
		{[]string{"run", "--input", "/dev/video97", "--output", "window"}, 2, "facelive: run: no camera at /dev/video97"},
		{[]string{"run", "--input", "97", "--output", "window"}, 2, "no camera at /dev/video97"},
		{[]string{"run", "--input", "x.mp4", "--output", "v4l2:/dev/video98"}, 2,
			"facelive: run: no virtual camera at /dev/video98: load the loopback module with 'sudo modprobe v4l2loopback exclusive_caps=1'"},
		{[]string{"run", "--input", "x.mp4", "--output", "v4l2:"}, 2, "v4l2:/dev/videoN"},
		{[]string{"run", "--input", "x.mp4", "--output", "x.xyz"}, 2, `unknown video extension ".xyz"`},
		{[]string{"run", "--input", "x.mp4", "-o", "y.mp4", "--size", "640x480"}, 2, "--size and --fps are for a camera"},
		{[]string{"run", "--input", "/dev/video0", "-o", "window", "--size", "big"}, 2, "WIDTHxHEIGHT"},
	} {
		code, stdout, stderr := cli(t, tc.args...)
		got := stdout
		if tc.code != 0 {
			got = stderr
			if strings.Count(stderr, "\n") != 1 {
				t.Errorf("%v: want one line on stderr, got:\n%s", tc.args, stderr)
			}
		}
		if code != tc.code || !strings.Contains(got, tc.want) {
			t.Errorf("%v: exit %d, output %q; want exit %d and %q", tc.args, code, got, tc.code, tc.want)
		}
	}
}

// run --output window plays a clip through to its end in a window (under
// Xvfb, as a process of its own) and exits 0 with the summary.
func TestRunWindowPlaysTheClip(t *testing.T) {
	xvfb, err := exec.LookPath("xvfb-run")
	if err != nil {
		t.Fatalf("xvfb-run is missing: make deps installs it (apt-get install xvfb xauth)")
	}
	dir := t.TempDir()
	clip := makeClip(t, dir)
	cmd := exec.Command(xvfb, "-a", os.Args[0], "run", "--input", clip, "--output", "window")
	cmd.Env = append(os.Environ(), "FACELIVE_CLI_CHILD=1", "QT_QPA_PLATFORM=xcb")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("run --output window: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	for _, want := range []string{"-> a window", "frames    in 30  out 30  dropped 0  written 30"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("the summary lacks %q:\n%s", want, stderr.String())
		}
	}
}

// run --output v4l2:PATH writes whole YUYV (or NV12) frames; a regular
// file takes them without the device's VIDIOC_S_FMT, so the bytes can be
// checked here (no v4l2loopback module can be loaded on a test machine).
func TestRunV4L2WritesFrames(t *testing.T) {
	dir := t.TempDir()
	clip := makeClip(t, dir)
	for _, tc := range []struct {
		format   string
		perFrame int
	}{{"yuyv", clipW * clipH * 2}, {"nv12", clipW * clipH * 3 / 2}} {
		t.Run(tc.format, func(t *testing.T) {
			dev := filepath.Join(dir, "frames."+tc.format)
			if err := os.WriteFile(dev, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			code, _, stderr := cli(t, "run", "--input", clip, "--output", "v4l2:"+dev, "--v4l2-format", tc.format)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			data, err := os.ReadFile(dev)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) != clipFrames*tc.perFrame {
				t.Fatalf("%d bytes, want %d frames of %d", len(data), clipFrames, tc.perFrame)
			}
			// The clip's first frame, converted here with OpenCV, against
			// the writer's bytes: Y within 2 levels on average.
			frames := readFrames(t, clip)
			grey := gocv.NewMat()
			defer grey.Close()
			gocv.CvtColor(frames[0], &grey, gocv.ColorBGRToGray)
			var diff float64
			for y := range clipH {
				for x := range clipW {
					want := 16 + float64(grey.GetUCharAt(y, x))*219/255
					var got byte
					if tc.format == "yuyv" {
						got = data[(y*clipW+x)*2]
					} else {
						got = data[y*clipW+x]
					}
					diff += abs(float64(got) - want)
				}
			}
			if mean := diff / (clipW * clipH); mean > 2 {
				t.Errorf("first frame's luma differs from the clip's by %.2f levels on average", mean)
			}
		})
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// makeclip --expressions makes the astronaut talk and blink: the motion
// file says how open the mouth is and where the 68 landmarks are, and the
// inner lips part by a good share of the eye distance when the mouth is
// open, and the lids close on a blink.
func TestMakeclipExpressions(t *testing.T) {
	tp := os.Getenv("FACELIVE_THIRD_PARTY")
	if tp == "" {
		tp = thirdParty(t)
	}
	clip := filepath.Join(t.TempDir(), "talk.mp4")
	code, _, stderr := cli(t, "makeclip", "--photo", filepath.Join(tp, "faces", "astronaut.png"), "--crop", "110,12,232,232",
		"--height", "0.7", "--seconds", "2", "--expressions", "--output", clip)
	if code != 0 {
		t.Fatalf("makeclip exit %d\n%s", code, stderr)
	}
	data, err := os.ReadFile(clip + ".motion.json")
	if err != nil {
		t.Fatal(err)
	}
	var mo clipMotion
	if err := json.Unmarshal(data, &mo); err != nil {
		t.Fatal(err)
	}
	dist := func(a, b [2]float64) float64 { return math.Hypot(a[0]-b[0], a[1]-b[1]) }
	var open, shut, blinked, closedLids, openLids float64
	for _, f := range mo.Frames {
		if len(f.Landmarks) != 68 {
			t.Fatalf("frame %d has %d landmarks, want 68", f.Index, len(f.Landmarks))
		}
		io := dist(f.Landmarks[36], f.Landmarks[45])
		lips := dist(f.Landmarks[62], f.Landmarks[66]) / io
		lids := dist(f.Landmarks[37], f.Landmarks[41]) / io
		switch {
		case f.MouthOpen > 0.9:
			open = max(open, lips)
		case f.MouthOpen == 0:
			shut = max(shut, lips)
		}
		if f.EyesClosed > 0.9 {
			blinked++
			closedLids = max(closedLids, lids)
		} else if f.EyesClosed == 0 {
			openLids = max(openLids, lids)
		}
	}
	if open < shut+0.25 {
		t.Errorf("inner lips apart %.2f of the eye distance with the mouth open, %.2f shut; want 0.25 more open", open, shut)
	}
	if blinked == 0 || closedLids > 0.5*openLids {
		t.Errorf("%v frames blink; lids %.3f apart closed, %.3f open (of the eye distance)", blinked, closedLids, openLids)
	}
}
