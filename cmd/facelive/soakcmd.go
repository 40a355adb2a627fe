package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"gocv.io/x/gocv"

	"facelive/bridge"
	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
	"facelive/internal/assets"
)

const soakSynopsis = "facelive soak [--frames N] [--config JSON] [--every N]"

// soakDefault swaps the astronaut's face with the default photo, live: the
// whole face pipeline runs on every frame.
const soakDefault = `{"mode":"realtime","level":"custom","swapper":{"kind":"photo"}}`

// cmdSoak pushes many 720p NV12 frames through the C ABI's Go side (package
// bridge: the code the exported facelive_* functions call, with Go memory
// standing in for the host's) in realtime mode, and prints how resident
// memory and the goroutine count move: a leak of a few bytes a frame shows
// up over 200,000 frames.
func cmdSoak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("soak", soakSynopsis, stderr)
	frames := fs.Int("frames", 200000, "frames to push through")
	cfgJSON := fs.String("config", soakDefault, "engine config (JSON)")
	every := fs.Int("every", 10000, "print a sample every N frames")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *frames < 2**every || *every < 1 {
		return usageErrorf("soak: --frames must be at least twice --every (%d), and --every at least 1", *every)
	}
	photo := filepath.Join(assets.Dir(), "faces", "astronaut.png")
	img := gocv.IMRead(photo, gocv.IMReadColor)
	if img.Empty() {
		return fmt.Errorf("soak: cannot read %s: run make deps (it fetches the test photos)", photo)
	}
	defer img.Close()
	scaled := gocv.NewMat()
	defer scaled.Close()
	gocv.Resize(img, &scaled, image.Pt(1280, 720), 0, 0, gocv.InterpolationArea)
	pix, _ := scaled.DataPtrUint8()
	src := frametest.FromBGR(pix, 1280, 720, frame.NV12, 0)
	dst := frametest.Blank(src)
	in, out := abiFrame(src), abiFrame(dst)

	errBuf := make([]byte, 1024)
	h := bridge.Init(cfgJSON, errBuf)
	if h == 0 {
		return fmt.Errorf("soak: facelive_init: %s", cString(errBuf))
	}
	defer bridge.Shutdown(h)
	metrics := make([]byte, 1<<16)
	if !waitReady(ctx, h, metrics) {
		return fmt.Errorf("soak: the face pipeline did not get ready: %s", lastError(h))
	}

	fmt.Fprintf(stdout, "soak: %d frames of 1280x720 NV12 through the ABI, config %s\n", *frames, *cfgJSON)
	start := time.Now()
	var baseRSS, firstRSS float64
	var baseG int
	got, dropped := 0, 0
	for i := 1; i <= *frames; i++ {
		if ctx.Err() != nil {
			return errors.New("soak: interrupted")
		}
		src.PTS = int64(i) * 33_333_333
		in.PtsNs = src.PTS
		switch st := bridge.Submit(h, in); st {
		case bridge.OK:
		case bridge.EAGAIN:
			dropped++
		default:
			return fmt.Errorf("soak: facelive_submit_frame returned %d at frame %d: %s", st, i, lastError(h))
		}
		switch st := bridge.Get(h, out, 20); st {
		case bridge.OK:
			got++
		case bridge.EAGAIN: // none ready in 20 ms: counted by the engine
		default:
			return fmt.Errorf("soak: facelive_get_frame returned %d at frame %d: %s", st, i, lastError(h))
		}
		if i == 1 {
			firstRSS = rssMiB()
		}
		if i%*every == 0 {
			rss, g := rssMiB(), runtime.NumGoroutine()
			if i == *every { // warm: pools, caches and the runtime have settled
				baseRSS, baseG = rss, g
			}
			el := time.Since(start)
			eta := time.Duration(float64(el) / float64(i) * float64(*frames-i))
			fmt.Fprintf(stdout, "soak: %7d frames  %6.1f fps  RSS %7.1f MiB  goroutines %3d  out %d  dropped %d  ETA %v\n",
				i, float64(i)/el.Seconds(), rss, g, got, dropped, eta.Round(time.Second))
		}
	}
	rss, g := rssMiB(), runtime.NumGoroutine()
	bridge.GetMetrics(h, metrics)
	fmt.Fprintf(stdout, "soak: %d frames in %v; RSS %.1f MiB after the first frame, %.1f MiB warm (frame %d) -> %.1f MiB at the end: growth %+.1f MiB warm, %+.1f MiB from the start; goroutines %d -> %d\n",
		*frames, time.Since(start).Round(time.Second), firstRSS, baseRSS, *every, rss, rss-baseRSS, rss-firstRSS, baseG, g)
	fmt.Fprintf(stdout, "soak: metrics %s\n", cString(metrics))
	return nil
}

// abiFrame describes a frame as a C host would (facelive_frame).
func abiFrame(fr *frame.Frame) *bridge.Frame {
	f := &bridge.Frame{StructSize: uint32(unsafe.Sizeof(bridge.Frame{})), Format: uint32(fr.Format),
		Width: uint32(fr.Width), Height: uint32(fr.Height), PtsNs: fr.PTS}
	for i := 0; i < fr.Format.Planes(); i++ {
		f.Data[i] = unsafe.Pointer(&fr.Planes[i][0])
		f.Linesize[i] = uint32(fr.Stride[i])
	}
	return f
}

func waitReady(ctx context.Context, h uint64, buf []byte) bool {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if bridge.GetMetrics(h, buf) == bridge.OK {
			m := cString(buf)
			if strings.Contains(m, `"face_pipeline":"ready"`) || strings.Contains(m, `"face_pipeline":"off"`) {
				return true
			}
			if strings.Contains(m, `"face_pipeline":"failed"`) {
				return false
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

func lastError(h uint64) string {
	buf := make([]byte, 2048)
	bridge.LastError(h, buf)
	return cString(buf)
}

func cString(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

// rssMiB is the resident set size, from /proc/self/statm.
func rssMiB() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return float64(pages*int64(os.Getpagesize())) / (1 << 20)
}
