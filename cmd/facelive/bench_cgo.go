package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#include <stdlib.h>
#include <string.h>
#include "facelive.h"

static void bench_memcpy(void *dst, const void *src, size_t n) { memcpy(dst, src, n); }
*/
import "C"

import (
	"fmt"
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

// abiCost is facelive_submit_frame + facelive_get_frame of one frame (a
// copy in, the hand-off to a worker and back, a copy out; no face work)
// against a plain copy of the same bytes, measured in this run.
type abiCost struct {
	Frame    string  `json:"frame"`
	Bytes    int     `json:"bytes"`
	ABIMs    float64 `json:"submit_get_ms"`
	CopyMs   float64 `json:"copy_ms"`   // Go copy() of every plane: the reference
	MemcpyMs float64 `json:"memcpy_ms"` // C memcpy of every plane, for comparison
	Ratio    float64 `json:"ratio"`     // ABIMs / CopyMs
}

// measureABI times submit+get, copy() and memcpy in alternating rounds
// and takes each one's median, so a noisy neighbour hits all three alike.
func measureABI(name string, src *cFrame, rounds int, round time.Duration) (abiCost, error) {
	in := newCFrameLike(src)
	defer in.free()
	in.copyFrom(src)
	out := newCFrameLike(src)
	defer out.free()
	cfg := `{"mode":"realtime","workers":1,"level":"custom","swapper":{"kind":"none"}}`
	errBuf := make([]byte, 1024)
	h := bridge.Init(&cfg, errBuf)
	if h == 0 {
		return abiCost{}, fmt.Errorf("facelive_init for the ABI measurement: %s", cString(errBuf))
	}
	defer bridge.Shutdown(h)
	var failed int
	step := func() {
		if abiSubmit(h, in) != bridge.OK || abiGet(h, out, 1000) != bridge.OK {
			failed++
		}
	}
	for range 20 { // warm the buffer pool: steady state is what we measure
		step()
	}
	perCall := func(f func()) float64 {
		n, start := 0, time.Now()
		for time.Since(start) < round {
			f()
			n++
		}
		return float64(time.Since(start).Nanoseconds()) / float64(n) / 1e6
	}
	var abi, cp, mc []float64
	for range rounds {
		abi = append(abi, perCall(step))
		cp = append(cp, perCall(func() { out.copyFrom(in) }))
		mc = append(mc, perCall(func() { out.memcpyFrom(in) }))
	}
	if failed > 0 {
		return abiCost{}, fmt.Errorf("ABI measurement: %d submit/get calls failed: %s", failed, lastError(h))
	}
	c := abiCost{Frame: name, Bytes: in.bytes, ABIMs: median(abi), CopyMs: median(cp), MemcpyMs: median(mc)}
	c.Ratio = c.ABIMs / c.CopyMs
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
