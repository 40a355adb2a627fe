package bridge

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"facelive/engine"
	"facelive/engine/config"
	"facelive/engine/frame"
)

// Frame mirrors the C struct facelive_frame field for field, so export.go
// can hand us the caller's struct without copying it (abi_test.go checks the
// layout against the header).
type Frame struct {
	StructSize uint32
	Format     uint32
	Width      uint32
	Height     uint32
	Data       [4]unsafe.Pointer
	Linesize   [4]uint32
	PtsNs      int64
	Flags      uint32 // read only when StructSize covers it
	Reserved   uint32
	// Read by submit only when StructSize covers them.
	ColorMatrix uint32
	ColorRange  uint32
}

// frameV1Size is sizeof(facelive_frame) before flags were appended: the
// smallest struct_size we accept. frameFlagsSize is the size that has them,
// frameColorSize the size with color_matrix and color_range.
const (
	frameV1Size    = uint32(unsafe.Offsetof(Frame{}.Flags))
	frameFlagsSize = uint32(unsafe.Offsetof(Frame{}.ColorMatrix))
	frameColorSize = uint32(unsafe.Sizeof(Frame{}))
)

// The header's FACELIVE_COLOR_MATRIX_* and FACELIVE_COLOR_RANGE_* values.
const (
	ColorMatrixBT601  = 0
	ColorMatrixBT709  = 1
	ColorRangeLimited = 0
	ColorRangeFull    = 1
)

// FrameHoldsInput is FACELIVE_FRAME_HOLDS_INPUT: out already holds the
// input frame with pts out->pts_ns, so only changed pixels need writing.
const FrameHoldsInput = 1

// FrameProcessed is FACELIVE_FRAME_PROCESSED, an output bit: get sets it
// when the face models processed the frame written, and clears it when the
// frame left unprocessed (models loading or failed, a fault), as the
// config key unprocessed says. Ignored in what the caller passes in, so a
// host may hand the same struct back.
const FrameProcessed = 2

// knownFlags are the flag bits this library understands.
const knownFlags = FrameHoldsInput | FrameProcessed

// maxLinesize is FACELIVE_MAX_LINESIZE: it rejects garbage strides before we
// compute spans from them; a real row is at most 16384*4 bytes.
const maxLinesize = 1 << 20

// view checks a C frame description and returns a frame.Frame whose planes
// point at the caller's memory. It copies no pixels and allocates nothing.
func view(f *Frame, dst *frame.Frame) error {
	if f == nil {
		return fmt.Errorf("%w: frame pointer is NULL", frame.ErrFrame)
	}
	if f.StructSize < frameV1Size {
		return fmt.Errorf("%w: struct_size is %d; set it to sizeof(facelive_frame) (%d)", frame.ErrFrame, f.StructSize, frameV1Size)
	}
	format := frame.Format(f.Format)
	w, h := int(f.Width), int(f.Height)
	if err := frame.CheckGeometry(format, w, h); err != nil {
		return err
	}
	*dst = frame.Frame{Format: format, Width: w, Height: h, PTS: f.PtsNs}
	if f.StructSize >= frameColorSize {
		switch f.ColorMatrix {
		case ColorMatrixBT601:
			dst.Color.Matrix = frame.BT601
		case ColorMatrixBT709:
			dst.Color.Matrix = frame.BT709
		default:
			return fmt.Errorf("%w: color_matrix is %d; use FACELIVE_COLOR_MATRIX_BT601 (0) or FACELIVE_COLOR_MATRIX_BT709 (1)", frame.ErrFrame, f.ColorMatrix)
		}
		switch f.ColorRange {
		case ColorRangeLimited, ColorRangeFull:
			dst.Color.Full = f.ColorRange == ColorRangeFull
		default:
			return fmt.Errorf("%w: color_range is %d; use FACELIVE_COLOR_RANGE_LIMITED (0) or FACELIVE_COLOR_RANGE_FULL (1)", frame.ErrFrame, f.ColorRange)
		}
	}
	for i := 0; i < format.Planes(); i++ {
		if f.Data[i] == nil {
			return fmt.Errorf("%w: data[%d] is NULL; a %s frame has %d plane(s)", frame.ErrFrame, i, format, format.Planes())
		}
		stride := int(f.Linesize[i])
		if row := format.RowBytes(i, w); stride < row || stride > maxLinesize {
			return fmt.Errorf("%w: linesize[%d] is %d; a %s row of width %d needs %d to %d bytes", frame.ErrFrame, i, stride, format, w, row, maxLinesize)
		}
		dst.Planes[i] = unsafe.Slice((*byte)(f.Data[i]), frame.PlaneLen(format, i, w, h, stride))
		dst.Stride[i] = stride
	}
	return nil
}

// Bytes views a caller's buffer as a slice. A NULL pointer gives nil. The
// length is clamped to what we could ever write, so a caller's wrong size
// cannot make us write further than the data needs.
func Bytes(p unsafe.Pointer, n uintptr) []byte {
	if p == nil {
		return nil
	}
	return unsafe.Slice((*byte)(p), min(n, 1<<24))
}

// writeCString writes s NUL-terminated into buf, truncating; it reports
// whether all of s fit.
func writeCString(buf []byte, s string) bool {
	if len(buf) == 0 {
		return false
	}
	n := copy(buf[:len(buf)-1], s)
	buf[n] = 0
	return n == len(s)
}

// Init parses the config, starts a pipeline and returns its handle, or 0
// with the message written to errOut and kept as the global last error.
// configJSON nil means defaults.
func Init(configJSON *string, errOut []byte, opts ...engine.Option) uint64 {
	cfg := config.Default()
	var keys []string // what the user set; the profile fills in the rest
	if configJSON != nil {
		var err error
		if cfg, err = config.Parse([]byte(*configJSON)); err == nil {
			err = cfg.Validate()
		}
		if err == nil {
			keys, err = config.Keys([]byte(*configJSON))
		}
		if err != nil {
			return initFailed(errOut, err.Error())
		}
	}
	opts = append([]engine.Option{engine.WithExplicit(keys)}, opts...)
	id := reserve() // first, so the pipeline's first log lines name its handle
	logger := func(level engine.Level, msg string) {
		Log(int(level), fmt.Sprintf("[handle %d] %s", id, msg))
	}
	p, err := engine.New(cfg, append([]engine.Option{engine.WithLogger(logger)}, opts...)...)
	if err != nil {
		return initFailed(errOut, err.Error())
	}
	register(id, p)
	return id
}

func initFailed(errOut []byte, msg string) uint64 {
	msg = "facelive_init: " + msg
	setGlobalErr(msg)
	writeCString(errOut, msg)
	return 0
}

// call looks up h and runs fn on its entry; fn's error becomes the status
// and, unless it is EAGAIN, the handle's last error prefixed with the
// function's name.
func call(fn string, h uint64, do func(e *entry) error) int {
	e, why := lookup(h)
	if e == nil {
		setGlobalErr(fn + ": " + why)
		return EBADHANDLE
	}
	err := do(e)
	st := statusOf(err)
	switch {
	case st == ECLOSED:
		// Shut down under our feet: the handle is gone, so the message goes
		// where calls without a valid handle report. Only get_frame documents
		// ECLOSED (it waits); for the others this is just a stale handle.
		setGlobalErr(fmt.Sprintf("%s: handle %d was shut down during the call", fn, h))
		if fn != "facelive_get_frame" {
			st = EBADHANDLE
		}
	case st < 0:
		e.setErr(fn + ": " + err.Error())
	}
	return st
}

// Submit copies a frame into handle h's pipeline.
func Submit(h uint64, f *Frame) int {
	return call("facelive_submit_frame", h, func(e *entry) error {
		var src frame.Frame
		if err := view(f, &src); err != nil {
			return err
		}
		if err := e.p.Submit(&src); err != nil {
			return poisonedErr(e, err)
		}
		return modelErr(e)
	})
}

// Get writes the next processed frame into out.
func Get(h uint64, out *Frame, timeoutMs uint32) int {
	var flags uint32
	holds := int64(PTSNone) // the pts of the input out holds (FrameHoldsInput)
	if out != nil && out.StructSize >= frameV1Size {
		if out.StructSize >= frameFlagsSize {
			flags, holds = out.Flags, out.PtsNs
		}
		out.PtsNs = PTSNone // stays so unless a frame is written, whatever fails
	}
	return call("facelive_get_frame", h, func(e *entry) error {
		var dst frame.Frame
		if err := view(out, &dst); err != nil {
			return err
		}
		if flags&^knownFlags != 0 {
			return fmt.Errorf("%w: out->flags is %#x; the known bits are FACELIVE_FRAME_HOLDS_INPUT (%#x) and FACELIVE_FRAME_PROCESSED (%#x): clear the others",
				frame.ErrFrame, flags, FrameHoldsInput, FrameProcessed)
		}
		dst.PTS = PTSNone // stays so unless a frame is written
		timeout := time.Duration(timeoutMs) * time.Millisecond
		var err error
		if flags&FrameHoldsInput != 0 {
			err = e.p.GetOver(&dst, holds, timeout)
		} else {
			err = e.p.Get(&dst, timeout)
		}
		out.PtsNs = dst.PTS
		if out.StructSize >= frameFlagsSize {
			out.Flags &^= FrameProcessed
			if err == nil && dst.Processed {
				out.Flags |= FrameProcessed
			}
		}
		return poisonedErr(e, err)
	})
}

// errModel is reported as EMODEL.
var errModel = errors.New("the face models failed to load")

// modelErr turns a failed model load into EMODEL on every submit: the frame
// was taken and leaves unprocessed (config unprocessed), and the host hears why until
// the config is fixed.
func modelErr(e *entry) error {
	if state, why := e.p.FaceStatus(); state == engine.FaceFailed {
		return fmt.Errorf("%w (%s); %s until the config is fixed", errModel, why, e.p.UnprocessedText())
	}
	return nil
}

// poisonedErr explains a poisoned pipeline: what happened and what to do.
func poisonedErr(e *entry, err error) error {
	if errors.Is(err, engine.ErrPoisoned) {
		msg, _ := e.p.Poisoned()
		return fmt.Errorf("%w (%s); %s: shut this handle down and create a new one", err, msg, e.p.UnprocessedText())
	}
	return err
}

// SetConfig merges a partial JSON config into h's and applies it live.
func SetConfig(h uint64, js *string) int {
	return call("facelive_set_config", h, func(e *entry) error {
		if err := poisonedErr(e, checkPoison(e)); err != nil {
			return err
		}
		if js == nil {
			return fmt.Errorf("%w: JSON is NULL; pass a JSON object such as {\"mode\": \"balanced\"}", errArg)
		}
		return e.p.SetConfig([]byte(*js))
	})
}

func checkPoison(e *entry) error {
	if _, ok := e.p.Poisoned(); ok {
		return engine.ErrPoisoned
	}
	return nil
}

// GetConfig writes h's config as JSON into buf.
func GetConfig(h uint64, buf []byte) int {
	return call("facelive_get_config", h, func(e *entry) error {
		return writeJSON(buf, string(e.p.Config().JSON()))
	})
}

// GetMetrics writes h's metrics as JSON into buf.
func GetMetrics(h uint64, buf []byte) int {
	return call("facelive_get_metrics", h, func(e *entry) error {
		m := e.p.Metrics()
		if m.LastError == "" {
			m.LastError = e.err()
		}
		return writeJSON(buf, string(m.JSON()))
	})
}

// Errors of the bridge's own checks.
var (
	errRange = errors.New("buffer too small") // ERANGE
	errArg   = errors.New("invalid argument") // EINVAL
)

func writeJSON(buf []byte, js string) error {
	if len(buf) == 0 {
		return fmt.Errorf("%w: buffer is NULL or its length is 0", errArg)
	}
	if len(buf) <= len(js) {
		if len(buf) > 0 {
			buf[0] = 0
		}
		return fmt.Errorf("%w: %d bytes given, %d needed (JSON plus NUL)", errRange, len(buf), len(js)+1)
	}
	writeCString(buf, js)
	return nil
}

// SaveConfig writes h's config to path.
func SaveConfig(h uint64, path *string) int {
	return call("facelive_save_config", h, func(e *entry) error {
		if path == nil || *path == "" {
			return fmt.Errorf("%w: path is NULL or empty; pass a file path", errArg)
		}
		return e.p.Config().Save(*path)
	})
}

// LoadConfig reads, validates and applies a config file.
func LoadConfig(h uint64, path *string) int {
	return call("facelive_load_config", h, func(e *entry) error {
		if err := poisonedErr(e, checkPoison(e)); err != nil {
			return err
		}
		if path == nil || *path == "" {
			return fmt.Errorf("%w: path is NULL or empty; pass a file path", errArg)
		}
		data, err := config.ReadFile(*path)
		if err != nil {
			return err
		}
		// As a set_config of the file: every key it sets is the user's, so
		// neither the profile nor the tuner overrides it; the keys it
		// leaves out keep their values (a file save_config wrote sets
		// them all).
		return e.p.SetConfig(data)
	})
}

// LastError writes the last error of h (0: of calls without a valid
// handle) into buf.
func LastError(h uint64, buf []byte) int {
	if len(buf) == 0 {
		setGlobalErr("facelive_last_error: buffer is NULL or its length is 0")
		return EINVAL
	}
	msg, st := "", OK
	if h == 0 {
		msg = globalErrMsg()
	} else if e, why := lookup(h); e != nil {
		msg = e.err()
	} else {
		msg, st = "facelive_last_error: "+why, EBADHANDLE
	}
	if !writeCString(buf, msg) && st == OK {
		st = ERANGE
	}
	return st
}

// Shutdown stops h's pipeline and invalidates the handle.
func Shutdown(h uint64) int {
	e, why := remove(h)
	if e == nil {
		setGlobalErr("facelive_shutdown: " + why)
		return EBADHANDLE
	}
	e.p.Close()
	return OK
}

// Recovered turns a panic caught in an export into EINTERNAL: it poisons h
// (if h is live) so that the handle's frames leave unprocessed from now on,
// and records the fault. fn names the export.
func Recovered(fn string, h uint64, r any) int {
	msg := fmt.Sprintf("%s: internal error (%v); shut this handle down and create a new one", fn, r)
	if e, _ := lookup(h); e != nil {
		e.p.Poison(fmt.Sprintf("panic in %s: %v", fn, r))
		msg = fmt.Sprintf("%s: internal error (%v); %s: shut this handle down and create a new one", fn, r, e.p.UnprocessedText())
		e.setErr(msg)
	} else {
		setGlobalErr(msg)
	}
	Log(int(engine.LevelError), msg)
	return EINTERNAL
}
