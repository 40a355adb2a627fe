// Package kservetest is the stand-in for NVIDIA Triton in facelive's
// tests: a small KServe v2 gRPC server, in the test's own process, that
// runs one ONNX model with ONNX Runtime (Triton's onnxruntime backend does
// the same), answers over loopback, and can be told to misbehave: answer
// late, send wrong shapes or garbage, or die. It is not a server to deploy.
package kservetest

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	pb "facelive/engine/kserve/kservepb"
)

// Fault is how the server misbehaves.
type Fault int

const (
	// Healthy answers with the model's outputs.
	Healthy Fault = iota
	// WrongShape reports every output with its first two dimensions
	// swapped for 7 and 5, contents unchanged.
	WrongShape
	// Garbage sends 12 meaningless bytes per output instead of its data.
	Garbage
	// NotReady says the model is not ready.
	NotReady
)

// Server serves one ONNX model under a name.
type Server struct {
	name      string
	addr      string
	gs        *grpc.Server
	lis       net.Listener
	sess      *ort.DynamicAdvancedSession
	ins, outs []ort.InputOutputInfo

	runMu    sync.Mutex // one session run at a time
	delay    atomic.Int64
	fault    atomic.Int32
	requests atomic.Uint64
	wg       sync.WaitGroup
	stopOnce sync.Once

	pb.UnimplementedGRPCInferenceServiceServer
}

// Options for Start.
type Options struct {
	// TLS, when set, serves TLS with this certificate.
	TLS *tls.Config
}

// Start serves the ONNX model at path as name on addr ("127.0.0.1:0": any
// free port). ONNX Runtime must be initialised (package ortenv).
func Start(addr, name, path string, o Options) (*Server, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(data)
	if err != nil {
		return nil, err
	}
	names := func(infos []ort.InputOutputInfo) []string {
		n := make([]string, len(infos))
		for i, info := range infos {
			n[i] = info.Name
		}
		return n
	}
	sess, err := ort.NewDynamicAdvancedSessionWithONNXData(data, names(ins), names(outs), nil)
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		sess.Destroy()
		return nil, err
	}
	var opts []grpc.ServerOption
	if o.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(o.TLS)))
	}
	s := &Server{name: name, addr: lis.Addr().String(), gs: grpc.NewServer(opts...), lis: lis, sess: sess, ins: ins, outs: outs}
	pb.RegisterGRPCInferenceServiceServer(s.gs, s)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.gs.Serve(lis)
	}()
	return s, nil
}

// Addr is host:port the server listens on.
func (s *Server) Addr() string { return s.addr }

// SetDelay makes every inference answer no sooner than d after it came.
func (s *Server) SetDelay(d time.Duration) { s.delay.Store(int64(d)) }

// SetFault makes the server misbehave from the next request on.
func (s *Server) SetFault(f Fault) { s.fault.Store(int32(f)) }

// Requests counts the inference requests received.
func (s *Server) Requests() uint64 { return s.requests.Load() }

// Kill stops the server at once, as a crash would: open connections drop,
// requests out fail. The port is free again when it returns.
func (s *Server) Kill() {
	s.stopOnce.Do(func() {
		s.gs.Stop()
		s.wg.Wait()
		s.runMu.Lock()
		s.sess.Destroy()
		s.runMu.Unlock()
	})
}

func (s *Server) ServerLive(context.Context, *pb.ServerLiveRequest) (*pb.ServerLiveResponse, error) {
	return &pb.ServerLiveResponse{Live: true}, nil
}

func (s *Server) ServerReady(context.Context, *pb.ServerReadyRequest) (*pb.ServerReadyResponse, error) {
	return &pb.ServerReadyResponse{Ready: true}, nil
}

func (s *Server) ModelReady(_ context.Context, r *pb.ModelReadyRequest) (*pb.ModelReadyResponse, error) {
	return &pb.ModelReadyResponse{Ready: r.GetName() == s.name && Fault(s.fault.Load()) != NotReady}, nil
}

func (s *Server) ModelMetadata(_ context.Context, r *pb.ModelMetadataRequest) (*pb.ModelMetadataResponse, error) {
	if r.GetName() != s.name {
		return nil, status.Errorf(codes.NotFound, "no model %q", r.GetName())
	}
	meta := func(infos []ort.InputOutputInfo) []*pb.ModelMetadataResponse_TensorMetadata {
		out := make([]*pb.ModelMetadataResponse_TensorMetadata, len(infos))
		for i, info := range infos {
			out[i] = &pb.ModelMetadataResponse_TensorMetadata{Name: info.Name, Datatype: Datatype(info.DataType), Shape: info.Dimensions}
		}
		return out
	}
	return &pb.ModelMetadataResponse{Name: s.name, Versions: []string{"1"}, Platform: "onnxruntime_onnx",
		Inputs: meta(s.ins), Outputs: meta(s.outs)}, nil
}

// Datatype is the protocol's name of an ONNX element type.
func Datatype(t ort.TensorElementDataType) string {
	switch t {
	case ort.TensorElementDataTypeFloat:
		return "FP32"
	case ort.TensorElementDataTypeFloat16:
		return "FP16"
	case ort.TensorElementDataTypeDouble:
		return "FP64"
	case ort.TensorElementDataTypeUint8:
		return "UINT8"
	case ort.TensorElementDataTypeInt8:
		return "INT8"
	case ort.TensorElementDataTypeInt32:
		return "INT32"
	case ort.TensorElementDataTypeInt64:
		return "INT64"
	case ort.TensorElementDataTypeBool:
		return "BOOL"
	}
	return fmt.Sprintf("TYPE%d", t)
}

func (s *Server) ModelInfer(ctx context.Context, r *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	s.requests.Add(1)
	if r.GetModelName() != s.name {
		return nil, status.Errorf(codes.NotFound, "no model %q", r.GetModelName())
	}
	if d := time.Duration(s.delay.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	if len(r.GetRawInputContents()) != len(r.GetInputs()) {
		return nil, status.Errorf(codes.InvalidArgument, "want raw_input_contents for every input")
	}
	inputs := make([]ort.Value, len(s.ins))
	defer func() {
		for _, v := range inputs {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	for i, info := range s.ins {
		k := -1
		for j, in := range r.GetInputs() {
			if in.GetName() == info.Name {
				k = j
			}
		}
		if k < 0 {
			return nil, status.Errorf(codes.InvalidArgument, "missing input %q", info.Name)
		}
		raw := r.GetRawInputContents()[k]
		vals := make([]float32, len(raw)/4)
		for j := range vals {
			vals[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
		}
		t, err := ort.NewTensor(ort.NewShape(r.GetInputs()[k].GetShape()...), vals)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "input %q: %v", info.Name, err)
		}
		inputs[i] = t
	}
	outputs := make([]ort.Value, len(s.outs))
	s.runMu.Lock()
	err := s.sess.Run(inputs, outputs)
	s.runMu.Unlock()
	defer func() {
		for _, v := range outputs {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "run: %v", err)
	}
	resp := &pb.ModelInferResponse{ModelName: s.name, ModelVersion: "1", Id: r.GetId()}
	fault := Fault(s.fault.Load())
	for i, info := range s.outs {
		t, ok := outputs[i].(*ort.Tensor[float32])
		if !ok {
			return nil, status.Errorf(codes.Internal, "output %q is not float32", info.Name)
		}
		shape := []int64(t.GetShape().Clone())
		data := t.GetData()
		raw := make([]byte, 4*len(data))
		for j, v := range data {
			binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(v))
		}
		switch fault {
		case WrongShape:
			if len(shape) >= 2 {
				shape[0], shape[1] = 7, 5
			}
		case Garbage:
			raw = []byte("\xde\xad\xbe\xef garbage")
		}
		resp.Outputs = append(resp.Outputs, &pb.ModelInferResponse_InferOutputTensor{Name: info.Name, Datatype: "FP32", Shape: shape})
		resp.RawOutputContents = append(resp.RawOutputContents, raw)
	}
	return resp, nil
}
