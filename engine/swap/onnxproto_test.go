package swap

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

// pb is a tiny protobuf encoder for hand-made test messages.
type pb []byte

func (b pb) varint(v uint64) pb { return binary.AppendUvarint(b, v) }
func (b pb) key(num, wire int) pb {
	return b.varint(uint64(num)<<3 | uint64(wire))
}
func (b pb) bytes(num int, v []byte) pb {
	return append(b.key(num, wireBytes).varint(uint64(len(v))), v...)
}
func (b pb) uint(num int, v uint64) pb { return b.key(num, wireVarint).varint(v) }
func (b pb) fixed32(num int, v uint32) pb {
	return binary.LittleEndian.AppendUint32(b.key(num, wireFixed32), v)
}

// tensorMsg encodes a FLOAT TensorProto with unpacked dims and either
// packed float_data, unpacked float_data or raw_data.
func tensorMsg(name string, dims []int64, vals []float32, how string) pb {
	var t pb
	for _, d := range dims {
		t = t.uint(1, uint64(d))
	}
	t = t.uint(2, onnxFloat)
	var raw []byte
	for _, v := range vals {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	switch how {
	case "packed":
		t = t.bytes(4, raw)
	case "unpacked":
		for _, v := range vals {
			t = t.fixed32(4, math.Float32bits(v))
		}
	default:
		t = t.bytes(9, raw)
	}
	return t.bytes(8, []byte(name))
}

// modelMsg wraps initializers into GraphProto and ModelProto (with the
// ir_version and an opset around the graph, as onnx.save writes).
func modelMsg(inits ...pb) pb {
	var g pb
	g = g.bytes(1, pb(nil).bytes(1, []byte("x"))) // a node
	for _, t := range inits {
		g = g.bytes(5, t)
	}
	g = g.bytes(2, []byte("graph"))
	var m pb
	m = m.uint(1, 8).bytes(2, []byte("facelive")).bytes(7, g)
	return m.bytes(8, pb(nil).uint(2, 17))
}

func TestLastInitializer(t *testing.T) {
	vals := []float32{1, -2.5, 3, float32(math.Inf(1)), 0, 7}
	for _, how := range []string{"raw", "packed", "unpacked"} {
		data := modelMsg(tensorMsg("first", []int64{1}, []float32{9}, "raw"), tensorMsg("emap", []int64{2, 3}, vals, how))
		ti, err := lastInitializer(data)
		if err != nil {
			t.Fatalf("%s: %v", how, err)
		}
		if ti.name != "emap" || len(ti.dims) != 2 || ti.dims[0] != 2 || ti.dims[1] != 3 || ti.dataType != onnxFloat {
			t.Fatalf("%s: got %q %v type %d", how, ti.name, ti.dims, ti.dataType)
		}
		for i := range vals {
			if ti.data[i] != vals[i] {
				t.Fatalf("%s: data %v, want %v", how, ti.data, vals)
			}
		}
	}
	// Packed dims, as some writers emit.
	var packed pb
	packed = packed.varint(4).varint(1)
	tm := pb(nil).bytes(1, packed).uint(2, onnxFloat).bytes(9, make([]byte, 16)).bytes(8, []byte("p"))
	if ti, err := lastInitializer(modelMsg(tm)); err != nil || len(ti.dims) != 2 || ti.dims[0] != 4 || len(ti.data) != 4 {
		t.Fatalf("packed dims: %+v %v", ti, err)
	}

	for name, c := range map[string]struct {
		data pb
		want string
	}{
		"no graph":         {pb(nil).uint(1, 8), "no initializers"},
		"no initializers":  {modelMsg(), "no initializers"},
		"wrong count":      {modelMsg(tensorMsg("e", []int64{2, 2}, []float32{1, 2, 3}, "raw")), "dims [2 2] need more data"},
		"huge dims":        {modelMsg(tensorMsg("e", []int64{1 << 40, 1 << 40, 1 << 40}, []float32{1}, "raw")), "need more data"},
		"external":         {modelMsg(pb(nil).uint(2, onnxFloat).uint(14, 1).bytes(8, []byte("e"))), "external"},
		"raw and floats":   {modelMsg(tensorMsg("e", []int64{1}, []float32{1}, "raw").fixed32(4, 0)), "both"},
		"group wire type":  {pb(nil).key(7, 3), "wire type 3"},
		"field zero":       {pb{0x00}, "field number 0"},
		"long varint":      {pb{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, "truncated"},
		"length past end":  {pb(nil).key(7, wireBytes).varint(1000).bytes(1, []byte("x")), "bytes with"},
		"graph as varint":  {pb(nil).uint(7, 3), "graph has wire type 0"},
		"negative dim":     {modelMsg(pb(nil).uint(1, math.MaxUint64).uint(2, onnxFloat)), "negative"},
		"odd packed float": {modelMsg(pb(nil).uint(2, onnxFloat).bytes(4, []byte{1, 2, 3})), "packed float_data of 3 bytes"},
	} {
		if _, err := lastInitializer(c.data); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one containing %q", name, err, c.want)
		}
	}
	// A non-float tensor is returned without data (the caller rejects it).
	ti, err := lastInitializer(modelMsg(pb(nil).uint(1, 3).uint(2, 7).bytes(9, make([]byte, 24)).bytes(8, []byte("i64"))))
	if err != nil || ti.dataType != 7 || ti.data != nil {
		t.Errorf("int64 tensor: %+v %v", ti, err)
	}
}

// Every truncation of the real (test) InSwapper model inside its graph is
// an error, never a panic; cuts after the graph leave a valid message.
func TestLastInitializerTruncated(t *testing.T) {
	data := readFile(t, testModel(t, "inswapper.onnx"))
	if _, err := lastInitializer(data); err != nil {
		t.Fatal(err)
	}
	// Where the graph field ends.
	r := pbReader{data}
	graphEnd := 0
	for {
		f, ok, err := r.next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if f.num == 7 {
			graphEnd = len(data) - len(r.buf)
		}
	}
	if graphEnd == 0 {
		t.Fatal("no graph in the model")
	}
	cuts := 0
	for n := 0; n < len(data); n += 1 + n/64 {
		ti, err := lastInitializer(data[:n])
		cuts++
		if n < graphEnd {
			if err == nil {
				t.Fatalf("cut at %d of %d (graph ends at %d): no error", n, len(data), graphEnd)
			}
			continue
		}
		if err == nil && len(ti.data) != 512*512 {
			t.Fatalf("cut at %d after the graph: %d values", n, len(ti.data))
		}
	}
	t.Logf("%d truncations checked", cuts)
}

// FuzzLastInitializer: no input makes the reader panic, and what it returns
// is consistent: data holds exactly the elements the dims promise, never
// more floats than the input had bytes for.
func FuzzLastInitializer(f *testing.F) {
	// The generated models (the small ones; inswapper.onnx's 1 MiB emap
	// would make each execution slow, so only its first KiB).
	for _, name := range []string{"arcface.onnx", "wrong.onnx"} {
		f.Add(readFile(f, testModel(f, name)))
	}
	big := readFile(f, testModel(f, "inswapper.onnx"))
	f.Add(big[:1024])
	f.Add([]byte(modelMsg(tensorMsg("emap", []int64{2, 2}, []float32{1, 0, 0, 1}, "packed"))))
	f.Add([]byte(modelMsg(tensorMsg("emap", []int64{3}, []float32{1, 2, 3}, "unpacked"))))
	f.Fuzz(func(t *testing.T, data []byte) {
		ti, err := lastInitializer(data)
		if err != nil {
			return
		}
		if ti.dataType != onnxFloat {
			if ti.data != nil {
				t.Fatalf("non-float tensor with data")
			}
			return
		}
		n := 1
		for _, d := range ti.dims {
			if d < 0 {
				t.Fatalf("negative dim %v accepted", ti.dims)
			}
			n *= int(d)
		}
		if len(ti.data) != n || 4*len(ti.data) > len(data) {
			t.Fatalf("dims %v, %d values from %d bytes", ti.dims, len(ti.data), len(data))
		}
	})
}
