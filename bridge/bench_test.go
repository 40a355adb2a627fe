package bridge

import (
	"fmt"
	"testing"
	"time"

	"facelive/engine/frame"
)

// BenchmarkSubmitGet measures one frame through the ABI path (copy in,
// worker hand-off, copy out) and reports it as a ratio to a plain copy of
// the same frame measured in the same run: the ratio is what we promise,
// not the absolute time. "separate" gets into another buffer (a whole-frame
// copy out); "in-place" gets into the buffer submitted from with
// FACELIVE_FRAME_HOLDS_INPUT, so only what the pipeline changed (here the
// disclosure label) is copied out.
func BenchmarkSubmitGet(b *testing.B) {
	for _, size := range [][2]int{{1280, 720}, {1920, 1080}} {
		for _, f := range []frame.Format{frame.NV12, frame.BGRA} {
			for _, inPlace := range []bool{false, true} {
				name := fmt.Sprintf("%s/%dp/separate", f, size[1])
				if inPlace {
					name = fmt.Sprintf("%s/%dp/in-place", f, size[1])
				}
				b.Run(name, func(b *testing.B) { benchSubmitGet(b, f, size[0], size[1], inPlace) })
			}
		}
	}
}

func benchSubmitGet(b *testing.B, f frame.Format, w, h int, inPlace bool) {
	src := testFrame(f, w, h, 0, 1)
	dst := testFrame(f, w, h, 0, 0)
	frameBytes := 0
	for i := 0; i < f.Planes(); i++ {
		frameBytes += len(src.Planes[i])
	}
	copyNs := memcpyNs(src, dst)
	cfg := `{"mode":"realtime","workers":1,"swapper":{"kind":"none"},"overlay":{"disclosure":true}}`
	handle := Init(&cfg, nil)
	defer Shutdown(handle)
	in, out := cFrame(src), cFrame(dst)
	if inPlace {
		out = in
	}
	pts := int64(0)
	step := func() {
		pts++
		in.PtsNs, in.Flags = pts, 0
		if Submit(handle, in) != OK {
			b.Fatal(lastErr(handle))
		}
		if inPlace {
			out.PtsNs, out.Flags = pts, FrameHoldsInput
		}
		if Get(handle, out, 1000) != OK || out.PtsNs != pts {
			b.Fatal(lastErr(handle))
		}
	}
	for range 3 { // warm the buffer pool: steady state is what we measure
		step()
	}
	b.SetBytes(int64(frameBytes))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		step()
	}
	b.StopTimer()
	perFrame := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(copyNs, "memcpy-ns")
	b.ReportMetric(perFrame/copyNs, "x-memcpy")
}

// memcpyNs times a plain copy of every plane of src into dst for about
// 200 ms. (testing.Benchmark cannot be nested inside a running benchmark:
// it waits on the lock the outer one holds.)
func memcpyNs(src, dst *frame.Frame) float64 {
	n, start := 0, time.Now()
	for time.Since(start) < 200*time.Millisecond {
		for i := 0; i < src.Format.Planes(); i++ {
			copy(dst.Planes[i], src.Planes[i])
		}
		n++
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}
