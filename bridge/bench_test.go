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
// not the absolute time.
func BenchmarkSubmitGet(b *testing.B) {
	for _, size := range [][2]int{{1280, 720}, {1920, 1080}} {
		for _, f := range []frame.Format{frame.NV12, frame.BGRA} {
			b.Run(fmt.Sprintf("%s/%dp", f, size[1]), func(b *testing.B) {
				src := testFrame(f, size[0], size[1], 0, 1)
				dst := testFrame(f, size[0], size[1], 0, 0)
				frameBytes := 0
				for i := 0; i < f.Planes(); i++ {
					frameBytes += len(src.Planes[i])
				}
				copyNs := memcpyNs(src, dst)
				cfg := `{"mode":"realtime","workers":1,"swapper":{"kind":"none"}}`
				h := Init(&cfg, nil)
				defer Shutdown(h)
				in, out := cFrame(src), cFrame(dst)
				for range 3 { // warm the buffer pool: steady state is what we measure
					Submit(h, in)
					Get(h, out, 1000)
				}
				b.SetBytes(int64(frameBytes))
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if Submit(h, in) != OK || Get(h, out, 1000) != OK {
						b.Fatal(lastErr(h))
					}
				}
				b.StopTimer()
				perFrame := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				b.ReportMetric(copyNs, "memcpy-ns")
				b.ReportMetric(perFrame/copyNs, "x-memcpy")
			})
		}
	}
}

// BenchmarkSubmitGetInPlace is BenchmarkSubmitGet for a host that gets
// into the buffer it submitted from (FACELIVE_FRAME_HOLDS_INPUT): the copy
// in, the hand-off, and out only what the pipeline changed (here the
// disclosure label).
func BenchmarkSubmitGetInPlace(b *testing.B) {
	for _, size := range [][2]int{{1280, 720}, {1920, 1080}} {
		for _, f := range []frame.Format{frame.NV12, frame.BGRA} {
			b.Run(fmt.Sprintf("%s/%dp", f, size[1]), func(b *testing.B) {
				src := testFrame(f, size[0], size[1], 0, 1)
				frameBytes := 0
				for i := 0; i < f.Planes(); i++ {
					frameBytes += len(src.Planes[i])
				}
				copyNs := memcpyNs(src, testFrame(f, size[0], size[1], 0, 0))
				cfg := `{"mode":"realtime","workers":1,"swapper":{"kind":"none"},"overlay":{"disclosure":true}}`
				h := Init(&cfg, nil)
				defer Shutdown(h)
				in := cFrame(src)
				pts := int64(0)
				step := func() {
					pts++
					in.PtsNs, in.Flags = pts, 0
					if Submit(h, in) != OK {
						b.Fatal(lastErr(h))
					}
					in.PtsNs, in.Flags = pts, FrameHoldsInput
					if Get(h, in, 1000) != OK || in.PtsNs != pts {
						b.Fatal(lastErr(h))
					}
				}
				for range 3 {
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
			})
		}
	}
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
