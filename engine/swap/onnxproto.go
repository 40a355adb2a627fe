package swap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// A minimal reader of the protobuf wire format, just enough to find an ONNX
// model's last graph initializer (InSwapper's "emap", which insightface reads
// with numpy_helper.to_array(model.graph.initializer[-1])). ONNX Runtime
// does not expose initializers, so we read the file ourselves.
//
// The fields used (onnx/onnx.proto):
//
//	ModelProto  7 graph (GraphProto)
//	GraphProto  5 initializer (repeated TensorProto)
//	TensorProto 1 dims (repeated int64, packed or not)
//	            2 data_type (int32; 1 = FLOAT)
//	            4 float_data (repeated float, packed or not)
//	            8 name (string)
//	            9 raw_data (bytes, little-endian)
//	           14 data_location (enum; 1 = EXTERNAL, unsupported)
//
// Every length and count is checked against the bytes that remain, so a
// truncated or corrupt file is an error, never a panic or a huge allocation.

// onnxFloat is TensorProto.DataType FLOAT.
const onnxFloat = 1

// onnxTensor is the part of a TensorProto we read.
type onnxTensor struct {
	name     string
	dims     []int64
	dataType int32
	data     []float32 // only for FLOAT tensors with their data inside the file
}

var errTruncated = errors.New("truncated or corrupt protobuf")

// wire types
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// pbField is one decoded field: its number, wire type, and value (varint
// and fixed values in v, length-delimited bytes in b).
type pbField struct {
	num  uint64
	wire int
	v    uint64
	b    []byte
}

// pbReader walks the fields of one message.
type pbReader struct{ buf []byte }

func (r *pbReader) varint() (uint64, error) {
	var x uint64
	for i := 0; i < 10; i++ {
		if i >= len(r.buf) {
			return 0, errTruncated
		}
		c := r.buf[i]
		if i == 9 && c > 1 { // more than 64 bits
			return 0, errTruncated
		}
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			r.buf = r.buf[i+1:]
			return x, nil
		}
	}
	return 0, errTruncated
}

// next reads the next field; ok is false at the end of the message.
func (r *pbReader) next() (f pbField, ok bool, err error) {
	if len(r.buf) == 0 {
		return f, false, nil
	}
	key, err := r.varint()
	if err != nil {
		return f, false, err
	}
	f.num, f.wire = key>>3, int(key&7)
	if f.num == 0 {
		return f, false, fmt.Errorf("%w: field number 0", errTruncated)
	}
	switch f.wire {
	case wireVarint:
		f.v, err = r.varint()
	case wireFixed64:
		if len(r.buf) < 8 {
			return f, false, errTruncated
		}
		f.v, r.buf = binary.LittleEndian.Uint64(r.buf), r.buf[8:]
	case wireFixed32:
		if len(r.buf) < 4 {
			return f, false, errTruncated
		}
		f.v, r.buf = uint64(binary.LittleEndian.Uint32(r.buf)), r.buf[4:]
	case wireBytes:
		var n uint64
		n, err = r.varint()
		if err == nil && n > uint64(len(r.buf)) {
			err = fmt.Errorf("%w: a field of %d bytes with %d left", errTruncated, n, len(r.buf))
		}
		if err == nil {
			f.b, r.buf = r.buf[:n], r.buf[n:]
		}
	default: // 3, 4: groups (unused by ONNX); 6, 7: invalid
		return f, false, fmt.Errorf("%w: wire type %d", errTruncated, f.wire)
	}
	if err != nil {
		return f, false, err
	}
	return f, true, nil
}

// lastInitializer returns the last initializer of the graph of the ONNX
// model in data (a serialised ModelProto). Its data is decoded only for
// FLOAT tensors stored in the file (raw_data or float_data).
func lastInitializer(data []byte) (*onnxTensor, error) {
	var last []byte
	found := false
	model := pbReader{data}
	for {
		f, ok, err := model.next()
		if err != nil {
			return nil, fmt.Errorf("not an ONNX model: %w", err)
		}
		if !ok {
			break
		}
		if f.num != 7 {
			continue
		}
		if f.wire != wireBytes {
			return nil, fmt.Errorf("not an ONNX model: graph has wire type %d", f.wire)
		}
		// A message may be split over several occurrences of its field;
		// repeated fields inside then concatenate, so the last initializer
		// of the last graph occurrence that has one is the last of all.
		graph := pbReader{f.b}
		for {
			g, ok, err := graph.next()
			if err != nil {
				return nil, fmt.Errorf("not an ONNX model: graph: %w", err)
			}
			if !ok {
				break
			}
			if g.num == 5 {
				if g.wire != wireBytes {
					return nil, fmt.Errorf("not an ONNX model: initializer has wire type %d", g.wire)
				}
				last, found = g.b, true
			}
		}
	}
	if !found {
		return nil, errors.New("the model's graph has no initializers")
	}
	t, err := parseTensor(last)
	if err != nil {
		return nil, fmt.Errorf("last initializer: %w", err)
	}
	return t, nil
}

// maxDims bounds a tensor's rank: ONNX tensors have a handful.
const maxDims = 64

func parseTensor(b []byte) (*onnxTensor, error) {
	t := &onnxTensor{}
	var raw, floats []byte // floats: packed float_data (concatenated)
	var nUnpacked int      // float_data values not packed
	external := false
	r := pbReader{b}
	for {
		f, ok, err := r.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		switch f.num {
		case 1: // dims
			switch f.wire {
			case wireVarint:
				if len(t.dims) >= maxDims {
					return nil, fmt.Errorf("more than %d dims", maxDims)
				}
				t.dims = append(t.dims, int64(f.v))
			case wireBytes:
				p := pbReader{f.b}
				for len(p.buf) > 0 {
					v, err := p.varint()
					if err != nil {
						return nil, fmt.Errorf("dims: %w", err)
					}
					if len(t.dims) >= maxDims {
						return nil, fmt.Errorf("more than %d dims", maxDims)
					}
					t.dims = append(t.dims, int64(v))
				}
			default:
				return nil, fmt.Errorf("dims have wire type %d", f.wire)
			}
		case 2: // data_type
			if f.wire != wireVarint {
				return nil, fmt.Errorf("data_type has wire type %d", f.wire)
			}
			t.dataType = int32(f.v)
		case 4: // float_data
			switch f.wire {
			case wireBytes:
				if len(f.b)%4 != 0 {
					return nil, fmt.Errorf("packed float_data of %d bytes", len(f.b))
				}
				if nUnpacked > 0 {
					return nil, errors.New("float_data both packed and unpacked")
				}
				floats = append(floats, f.b...)
			case wireFixed32:
				if len(floats) > 0 && nUnpacked == 0 {
					return nil, errors.New("float_data both packed and unpacked")
				}
				floats = binary.LittleEndian.AppendUint32(floats, uint32(f.v))
				nUnpacked++
			default:
				return nil, fmt.Errorf("float_data has wire type %d", f.wire)
			}
		case 8: // name
			if f.wire != wireBytes {
				return nil, fmt.Errorf("name has wire type %d", f.wire)
			}
			t.name = string(f.b)
		case 9: // raw_data
			if f.wire != wireBytes {
				return nil, fmt.Errorf("raw_data has wire type %d", f.wire)
			}
			raw = f.b
		case 14: // data_location
			external = f.wire == wireVarint && f.v == 1
		}
	}
	for i, d := range t.dims {
		if d < 0 {
			return nil, fmt.Errorf("tensor %q: dimension %d is negative (%d)", t.name, i, d)
		}
	}
	if t.dataType != onnxFloat {
		return t, nil
	}
	if external {
		return nil, fmt.Errorf("tensor %q keeps its data in an external file, which is not supported", t.name)
	}
	src := raw
	if src == nil {
		src = floats
	} else if len(floats) > 0 {
		return nil, fmt.Errorf("tensor %q has both raw_data and float_data", t.name)
	}
	// The element count must match the bytes; compute it without overflow.
	n := uint64(1)
	limit := uint64(len(src) / 4)
	if slices.Contains(t.dims, 0) {
		n = 0
	}
	for _, d := range t.dims {
		if n == 0 {
			break
		}
		if n > limit/uint64(d) { // n·d > limit: more than there is
			return nil, fmt.Errorf("tensor %q: dims %v need more data than its %d bytes", t.name, t.dims, len(src))
		}
		n *= uint64(d)
	}
	if n*4 != uint64(len(src)) {
		return nil, fmt.Errorf("tensor %q: dims %v hold %d floats, but its data has %d bytes", t.name, t.dims, n, len(src))
	}
	t.data = make([]float32, n)
	for i := range t.data {
		t.data[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
	return t, nil
}
