package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#include <stdlib.h>
#include <malloc.h>
#include <string.h>
#include "facelive.h"

static void bench_memcpy(void *dst, const void *src, size_t n) { memcpy(dst, src, n); }

// bench_fix_mmap_threshold: see fixMmapThreshold.
static int bench_fix_mmap_threshold(void) {
#ifdef __GLIBC__
	return mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#else
	return 1;
#endif
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"slices"
	"time"
	"unsafe"

	"facelive/bridge"
	"facelive/engine/frame"
)

// cFrame is a frame as a C host holds it: the facelive_frame descriptor and
// every plane are C memory (malloc), so the Go collector never sees them
// and the bridge reads them through the same pointers export.go hands it.
type cFrame struct {
	desc   *C.facelive_frame
	planes [4][]byte // views of the C planes
	lens   [4]int
	bytes  int // all planes, strides included
}

// newCFrame copies src (planes and strides) into C memory.
func newCFrame(src *frame.Frame) *cFrame {
	f := &cFrame{desc: (*C.facelive_frame)(C.calloc(1, C.sizeof_facelive_frame))}
	f.desc.struct_size = C.uint32_t(C.sizeof_facelive_frame)
	f.desc.format = C.uint32_t(src.Format)
	f.desc.width, f.desc.height = C.uint32_t(src.Width), C.uint32_t(src.Height)
	f.desc.pts_ns = C.int64_t(src.PTS)
	for i := 0; i < src.Format.Planes(); i++ {
		n := len(src.Planes[i])
		p := C.malloc(C.size_t(n))
		f.planes[i] = unsafe.Slice((*byte)(p), n)
		copy(f.planes[i], src.Planes[i])
		f.lens[i] = n
		f.bytes += n
		f.desc.data[i] = (*C.uint8_t)(p)
		f.desc.linesize[i] = C.uint32_t(src.Stride[i])
	}
	return f
}

// abi is the descriptor as export.go's frameOf passes it to the bridge.
func (f *cFrame) abi() *bridge.Frame { return (*bridge.Frame)(unsafe.Pointer(f.desc)) }

func (f *cFrame) setPTS(pts int64) { f.desc.pts_ns = C.int64_t(pts) }

func (f *cFrame) pts() int64 { return int64(f.desc.pts_ns) }

func (f *cFrame) free() {
	if f == nil || f.desc == nil {
		return
	}
	for i := range f.planes {
		if f.desc.data[i] != nil {
			C.free(unsafe.Pointer(f.desc.data[i]))
		}
	}
	C.free(unsafe.Pointer(f.desc))
	*f = cFrame{}
}

// memcpyFrom copies every plane of src into f with C's memcpy.
func (f *cFrame) memcpyFrom(src *cFrame) {
	for i := range f.lens {
		if f.lens[i] > 0 {
			C.bench_memcpy(unsafe.Pointer(f.desc.data[i]), unsafe.Pointer(src.desc.data[i]), C.size_t(f.lens[i]))
		}
	}
}

// copyFrom copies every plane of src into f with Go's copy.
func (f *cFrame) copyFrom(src *cFrame) {
	for i := range f.planes {
		copy(f.planes[i], src.planes[i])
	}
}

// abiSubmit and abiGet are facelive_submit_frame and facelive_get_frame as
// export.go implements them, less the cgo transition: the same descriptor
// cast, the same recover into a status code.
func abiSubmit(h uint64, f *cFrame) (st int) {
	defer func() {
		if r := recover(); r != nil {
			st = bridge.Recovered("facelive_submit_frame", h, r)
		}
	}()
	return bridge.Submit(h, f.abi())
}

func abiGet(h uint64, out *cFrame, timeoutMs uint32) (st int) {
	defer func() {
		if r := recover(); r != nil {
			st = bridge.Recovered("facelive_get_frame", h, r)
		}
	}()
	return bridge.Get(h, out.abi(), timeoutMs)
}

// abiCost is what facelive_submit_frame + facelive_get_frame of one frame
// cost, against a memcpy of the same bytes measured in this run.
type abiCost struct {
	Frame string `json:"frame"`
	Bytes int    `json:"bytes"`
	// C memcpy of the host's frame into another host buffer, timed in the
	// same loop iterations as the ABI calls, so under the same cache
	// conditions (the face work between frames evicts caches): the
	// reference of the ratios.
	LoopMemcpyMs float64 `json:"loop_memcpy_ms"`
	// The host thread's time inside the submit call plus the get call that
	// returns that frame once processed (face blurred), output into a
	// separate buffer: a copy in and a copy out.
	ABIMs float64 `json:"submit_get_ms"`
	// The same, getting into the buffer submitted from with
	// FACELIVE_FRAME_HOLDS_INPUT: a copy in, and out only what changed.
	InPlaceMs  float64 `json:"in_place_ms"`
	ChangedPct float64 `json:"changed_pct"` // the share of the frame's bytes the blur changed
	// submit + get(wait) back to back, swapper none: both copies and the
	// hand-off to a worker and back.
	RoundTripMs    float64 `json:"round_trip_ms"`
	CopyMs         float64 `json:"hot_copy_ms"`   // Go copy() of every plane, back to back (caches hot)
	MemcpyMs       float64 `json:"hot_memcpy_ms"` // C memcpy of every plane, back to back
	Ratio          float64 `json:"ratio"`         // InPlaceMs / LoopMemcpyMs: the target's measure
	HotRatio       float64 `json:"hot_ratio"`     // InPlaceMs / MemcpyMs
	SeparateRatio  float64 `json:"separate_ratio"`
	RoundTripRatio float64 `json:"round_trip_ratio"` // over MemcpyMs
}

// holdsInput sets FACELIVE_FRAME_HOLDS_INPUT (or clears the flags).
func (f *cFrame) holdsInput(on bool) {
	f.desc.flags = 0
	if on {
		f.desc.flags = C.FACELIVE_FRAME_HOLDS_INPUT
	}
}

// abiHost drives one handle the way a host thread does: submit a frame,
// then get it back once processed. Only the time inside the two calls
// that move the frame counts: get(0) is polled until the worker is done,
// and those EAGAIN polls are not counted (they are the host's choice).
type abiHost struct {
	h       uint64
	src     *cFrame // the camera's frame
	in, out *cFrame
	scratch *cFrame       // where the reference memcpy writes
	memcpy  time.Duration // the reference memcpy of the last frame
	pts     int64
	failed  int
	changed float64 // bytes the last in-place get wrote, as a share of the frame
	metrics []byte
}

func (a *abiHost) once(inPlace bool) time.Duration {
	a.in.memcpyFrom(a.src) // the camera's next frame (the host's cost, not the ABI's)
	a.pts++
	a.in.setPTS(a.pts)
	a.in.holdsInput(false)
	t0 := time.Now()
	a.scratch.memcpyFrom(a.in)
	a.memcpy = time.Since(t0)
	t0 = time.Now()
	st := abiSubmit(a.h, a.in)
	took := time.Since(t0)
	if st != bridge.OK {
		a.failed++
		return took
	}
	dst := a.out
	if inPlace {
		dst = a.in
		dst.holdsInput(true)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if inPlace {
			dst.setPTS(a.pts) // a get that writes nothing sets pts_ns to FACELIVE_PTS_NONE
		}
		t1 := time.Now()
		st = abiGet(a.h, dst, 0)
		if st == bridge.OK {
			took += time.Since(t1)
			break
		}
		if st != bridge.EAGAIN {
			break
		}
		runtime.Gosched()
	}
	a.in.holdsInput(false)
	if st != bridge.OK || dst.pts() != a.pts {
		a.failed++
	}
	if inPlace {
		a.changed = a.in.changedShare(a.src)
	}
	return took
}

// changedShare is the share of f's bytes that differ from src.
func (f *cFrame) changedShare(src *cFrame) float64 {
	n := 0
	for i := range f.planes {
		for k, b := range f.planes[i] {
			if b != src.planes[i][k] {
				n++
			}
		}
	}
	return float64(n) / float64(f.bytes)
}

// medianOf runs f n times and returns the median time in ms.
func medianOf(n int, f func() time.Duration) float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = float64(f().Nanoseconds()) / 1e6
	}
	return median(v)
}

// measureABI times, in alternating rounds so a noisy neighbour hits all
// alike, and takes each one's median: submit + get into a separate buffer
// and into the input (both with the face blurred on src, the bench scene),
// the back-to-back round trip with no face work, Go copy() and C memcpy.
func measureABI(name string, src *cFrame, rounds int, round time.Duration) (abiCost, error) {
	errBuf := make([]byte, 1024)
	newHandle := func(cfg string) (uint64, error) {
		h := bridge.Init(&cfg, errBuf)
		if h == 0 {
			return 0, fmt.Errorf("facelive_init for the ABI measurement: %s", cString(errBuf))
		}
		return h, nil
	}
	face, err := newHandle(`{"mode":"realtime","workers":1,"level":"custom","swapper":{"kind":"blur"}}`)
	if err != nil {
		return abiCost{}, err
	}
	defer bridge.Shutdown(face)
	plain, err := newHandle(`{"mode":"realtime","workers":1,"level":"custom","swapper":{"kind":"none"}}`)
	if err != nil {
		return abiCost{}, err
	}
	defer bridge.Shutdown(plain)
	in, out, scratch := newCFrameLike(src), newCFrameLike(src), newCFrameLike(src)
	defer in.free()
	defer out.free()
	defer scratch.free()
	host := &abiHost{h: face, src: src, in: in, out: out, scratch: scratch, metrics: make([]byte, 1<<16)}
	for deadline := time.Now().Add(30 * time.Second); ; { // until the face is blurred
		host.once(true)
		if m, err := readMetrics(face, host.metrics); err == nil && m.FacePipeline == "ready" && m.Faces > 0 {
			break
		}
		if time.Now().After(deadline) {
			return abiCost{}, fmt.Errorf("ABI measurement: no face blurred 30 s after init: %s", lastError(face))
		}
	}
	host.failed = 0
	in.memcpyFrom(src)
	roundTrip := func() {
		if abiSubmit(plain, in) != bridge.OK || abiGet(plain, out, 1000) != bridge.OK {
			host.failed++
		}
	}
	for range 20 { // warm the buffer pools: steady state is what we measure
		roundTrip()
		host.once(false)
	}
	perCall := func(f func()) float64 {
		n, start := 0, time.Now()
		for time.Since(start) < round {
			f()
			n++
		}
		return float64(time.Since(start).Nanoseconds()) / float64(n) / 1e6
	}
	samples := max(5, int(round/(4*time.Millisecond)))
	var sep, inPlace, loop, rt, cp, mc []float64
	for range rounds {
		sep = append(sep, medianOf(samples, func() time.Duration { return host.once(false) }))
		inPlace = append(inPlace, medianOf(samples, func() time.Duration {
			d := host.once(true)
			loop = append(loop, float64(host.memcpy.Nanoseconds())/1e6)
			return d
		}))
		in.memcpyFrom(src)
		rt = append(rt, perCall(roundTrip))
		cp = append(cp, perCall(func() { out.copyFrom(in) }))
		mc = append(mc, perCall(func() { out.memcpyFrom(in) }))
	}
	if host.failed > 0 {
		return abiCost{}, fmt.Errorf("ABI measurement: %d submit/get calls failed: %s %s", host.failed, lastError(face), lastError(plain))
	}
	c := abiCost{Frame: name, Bytes: in.bytes, LoopMemcpyMs: median(loop), ABIMs: median(sep), InPlaceMs: median(inPlace),
		ChangedPct: 100 * host.changed, RoundTripMs: median(rt), CopyMs: median(cp), MemcpyMs: median(mc)}
	c.Ratio, c.HotRatio = c.InPlaceMs/c.LoopMemcpyMs, c.InPlaceMs/c.MemcpyMs
	c.SeparateRatio, c.RoundTripRatio = c.ABIMs/c.LoopMemcpyMs, c.RoundTripMs/c.MemcpyMs
	return c, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// goFrame is a frame.Frame over f's C planes (no copy): for code that takes
// engine frames directly.
func (f *cFrame) goFrame() *frame.Frame {
	fr := &frame.Frame{Format: frame.Format(f.desc.format), Width: int(f.desc.width), Height: int(f.desc.height), PTS: f.pts()}
	for i := range f.planes {
		if f.lens[i] > 0 {
			fr.Planes[i], fr.Stride[i] = f.planes[i], int(f.desc.linesize[i])
		}
	}
	return fr
}

// fixMmapThreshold pins glibc's mmap threshold at its initial 128 KB, from
// the first run of the bench's OpenCV reference on (the DeepFaceLive merge,
// whose full-frame float Mats are 25 MB each). glibc raises the threshold
// to the size of every large block freed (up to 32 MB), so after the
// reference every large block came from the fragmented heap instead, and
// everything measured after it in a full run, our stages and the reference
// alike, ran 25–50 % slower than in a fresh process (the 260 px live p99
// 8.6–11.7 ms instead of 5.7–6.9; RSS 505 MB instead of 369). A pipeline
// created and closed 40 times in one process does not slow down: this is
// the bench's own doing, so the bench undoes it, and after its cold-start
// scenario (pinned from the start, loading the models read 1.6–1.7 s
// instead of 1.2). The library never touches its host's allocator.
func fixMmapThreshold() bool { return C.bench_fix_mmap_threshold() == 1 }

// trimCHeap gives the C heap's free memory back to the OS. The bench's own
// OpenCV reference (the DeepFaceLive merge: ~140 MB of full-frame float
// Mats) is freed after each measurement, but glibc keeps such blocks in
// the heap, and RSS is measured for the whole process.
func trimCHeap() { C.malloc_trim(0) }
