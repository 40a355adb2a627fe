// Package kserve is a client of the KServe v2 open inference protocol over
// gRPC: the protocol of NVIDIA Triton, KServe, OpenVINO Model Server and
// Seldon MLServer. It knows tensors, not faces: package swap turns faces
// into tensors and back.
//
// Made for live video: a request never waits for a connection (it fails at
// once while the server is away), at most MaxInFlight requests are out, and
// after a failure the client backs off (100 ms doubling to 5 s) before it
// lets the next request through, so a server that is down or too slow is
// asked again without being hammered. gRPC reconnects the channel itself,
// with its own back-off.
package kserve

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "facelive/engine/kserve/kservepb"
)

// Errors callers may test for with errors.Is.
var (
	// ErrUnavailable: the server is not there, refused the request or did
	// not answer in time; the client retries after its back-off.
	ErrUnavailable = errors.New("inference server unavailable")
	// ErrBusy: MaxInFlight requests are already out.
	ErrBusy = errors.New("inference server: max_in_flight requests already out")
	// ErrResponse: the server answered with tensors other than asked for.
	ErrResponse = errors.New("inference server sent an unusable response")
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("inference client is closed")
)

// Back-off after a failure: the first retry waits minBackoff, each further
// failure doubles the wait up to maxBackoff.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// TLSFiles are PEM files; all empty means plaintext.
type TLSFiles struct {
	CA   string // the CA that signed the server's certificate
	Cert string // client certificate (mutual TLS), with Key
	Key  string
}

// Options say which server and model to use.
type Options struct {
	Addr        string // host:port of the gRPC endpoint
	Model       string
	Version     string // "" = the server's version policy
	Timeout     time.Duration
	MaxInFlight int
	TLS         TLSFiles
	// Now is the clock of the back-off (nil: time.Now).
	Now func() time.Time
}

// TensorMeta describes one tensor of a model.
type TensorMeta struct {
	Name     string
	Datatype string  // "FP32", "UINT8", ...
	Shape    []int64 // -1 = any size
}

// Metadata describes a model as the server reports it.
type Metadata struct {
	Name, Platform  string
	Versions        []string
	Inputs, Outputs []TensorMeta
}

// Tensor is one tensor of a request or a response: Data holds its elements
// row-major, little-endian. For an output, Data is the caller's buffer and
// must have the exact size the server's answer must fill; Shape may hold -1
// for a dimension of any size.
type Tensor struct {
	Name     string
	Datatype string
	Shape    []int64
	Data     []byte
}

// Stats are the client's counters.
type Stats struct {
	Requests  uint64  // inference requests sent
	Errors    uint64  // requests and checks that failed (server errors, timeouts, bad answers)
	InFlight  int     // requests out now
	RTTP50Ms  float64 // round trip of the recent successful requests
	RTTP99Ms  float64
	Up        bool   // the last request or check succeeded
	LastError string // why the last one failed; "" once one succeeds again
}

// Client talks to one model on one server. It is safe for concurrent use.
type Client struct {
	opts Options
	conn *grpc.ClientConn
	api  pb.GRPCInferenceServiceClient
	sem  chan struct{}

	requests, errs atomic.Uint64
	inFlight       atomic.Int64

	mu       sync.Mutex
	fails    int       // consecutive failures
	retryAt  time.Time // no request before this while fails > 0
	lastErr  error
	rtt      [256]float32 // ms, ring
	rttN     int
	closed   bool
	upNotice func(up bool, err error)
}

// New prepares a client; it does not wait for the server (the connection
// is made on first use and remade by gRPC when it drops). Errors are about
// the options: unreadable TLS files, a bad address.
func New(o Options) (*Client, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Timeout = max(o.Timeout, time.Millisecond)
	o.MaxInFlight = max(o.MaxInFlight, 1)
	creds, err := transportCredentials(o.TLS)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(o.Addr,
		grpc.WithTransportCredentials(creds),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: minBackoff, Multiplier: 2, Jitter: 0.2, MaxDelay: maxBackoff},
			MinConnectTimeout: max(o.Timeout, time.Second),
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20), grpc.MaxCallSendMsgSize(256<<20)))
	if err != nil {
		return nil, fmt.Errorf("swapper.server.url %q: %w", o.Addr, err)
	}
	return &Client{opts: o, conn: conn, api: pb.NewGRPCInferenceServiceClient(conn), sem: make(chan struct{}, o.MaxInFlight)}, nil
}

// transportCredentials builds plaintext, TLS or mutual TLS from the files;
// messages name the config key of the file that failed.
func transportCredentials(t TLSFiles) (credentials.TransportCredentials, error) {
	if t == (TLSFiles{}) {
		return insecure.NewCredentials(), nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("swapper.server.tls.ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("swapper.server.tls.ca %q holds no PEM certificate", t.CA)
		}
	}
	if t.Cert != "" || t.Key != "" {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("swapper.server.tls.cert %q / tls.key %q: %w", t.Cert, t.Key, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return credentials.NewTLS(cfg), nil
}

// Where names the model and server for messages.
func (c *Client) Where() string {
	v := ""
	if c.opts.Version != "" {
		v = " version " + c.opts.Version
	}
	return fmt.Sprintf("model %q%s on %s", c.opts.Model, v, c.opts.Addr)
}

// Check asks whether the server and the model are ready and returns the
// model's metadata. It waits for the connection up to the timeout (it is
// for loading, not for the live path) and goes through the back-off like
// a request.
func (c *Client) Check(ctx context.Context) (Metadata, error) {
	if err := c.admit(); err != nil {
		return Metadata{}, err
	}
	md, err := c.check(ctx)
	c.record(-1, err)
	return md, err
}

func (c *Client) check(ctx context.Context) (Metadata, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	wait := grpc.WaitForReady(true)
	sr, err := c.api.ServerReady(ctx, &pb.ServerReadyRequest{}, wait)
	if err != nil {
		return Metadata{}, c.rpcError("ServerReady", err)
	}
	if !sr.GetReady() {
		return Metadata{}, fmt.Errorf("%w: %s says it is not ready", ErrUnavailable, c.opts.Addr)
	}
	mr, err := c.api.ModelReady(ctx, &pb.ModelReadyRequest{Name: c.opts.Model, Version: c.opts.Version}, wait)
	if err != nil {
		return Metadata{}, c.rpcError("ModelReady", err)
	}
	if !mr.GetReady() {
		return Metadata{}, fmt.Errorf("%w: %s is not ready (not in the server's repository, or still loading)", ErrUnavailable, c.Where())
	}
	r, err := c.api.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: c.opts.Model, Version: c.opts.Version}, wait)
	if err != nil {
		return Metadata{}, c.rpcError("ModelMetadata", err)
	}
	md := Metadata{Name: r.GetName(), Platform: r.GetPlatform(), Versions: r.GetVersions()}
	for _, t := range r.GetInputs() {
		md.Inputs = append(md.Inputs, TensorMeta{Name: t.GetName(), Datatype: t.GetDatatype(), Shape: t.GetShape()})
	}
	for _, t := range r.GetOutputs() {
		md.Outputs = append(md.Outputs, TensorMeta{Name: t.GetName(), Datatype: t.GetDatatype(), Shape: t.GetShape()})
	}
	return md, nil
}

// Infer runs the model on inputs and fills outputs (by name). It never
// waits for a connection or a free slot: while the server is away, inside
// the back-off, or with MaxInFlight requests out, it fails at once.
func (c *Client) Infer(ctx context.Context, inputs, outputs []Tensor) error {
	if err := c.admit(); err != nil {
		return err
	}
	select {
	case c.sem <- struct{}{}:
	default:
		return ErrBusy
	}
	c.inFlight.Add(1)
	defer func() {
		c.inFlight.Add(-1)
		<-c.sem
	}()
	req := &pb.ModelInferRequest{ModelName: c.opts.Model, ModelVersion: c.opts.Version,
		Inputs:           make([]*pb.ModelInferRequest_InferInputTensor, len(inputs)),
		Outputs:          make([]*pb.ModelInferRequest_InferRequestedOutputTensor, len(outputs)),
		RawInputContents: make([][]byte, len(inputs))}
	for i, t := range inputs {
		req.Inputs[i] = &pb.ModelInferRequest_InferInputTensor{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape}
		req.RawInputContents[i] = t.Data
	}
	for i, t := range outputs {
		req.Outputs[i] = &pb.ModelInferRequest_InferRequestedOutputTensor{Name: t.Name}
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	c.requests.Add(1)
	start := c.opts.Now()
	resp, err := c.api.ModelInfer(ctx, req)
	rtt := c.opts.Now().Sub(start)
	if err != nil {
		err = c.rpcError("ModelInfer", err)
	} else {
		err = c.decode(resp, outputs)
	}
	c.record(rtt, err)
	return err
}

// decode copies the response's raw contents into outputs, checking each
// one's name, data type, shape and size.
func (c *Client) decode(resp *pb.ModelInferResponse, outputs []Tensor) error {
	raw := resp.GetRawOutputContents()
	for _, want := range outputs {
		i := slices.IndexFunc(resp.GetOutputs(), func(o *pb.ModelInferResponse_InferOutputTensor) bool { return o.GetName() == want.Name })
		if i < 0 {
			return fmt.Errorf("%w: %s answered without output %q", ErrResponse, c.Where(), want.Name)
		}
		got := resp.GetOutputs()[i]
		if got.GetDatatype() != want.Datatype || !ShapeMatches(got.GetShape(), want.Shape) {
			return fmt.Errorf("%w: %s output %q is %s %v, want %s %v", ErrResponse, c.Where(), want.Name,
				got.GetDatatype(), got.GetShape(), want.Datatype, want.Shape)
		}
		var data []byte
		switch {
		case i < len(raw):
			data = raw[i]
		case want.Datatype == "FP32" && got.GetContents() != nil: // typed contents, from a server that ignores raw
			fp := got.GetContents().GetFp32Contents()
			data = make([]byte, 4*len(fp))
			for k, v := range fp {
				binary.LittleEndian.PutUint32(data[4*k:], math.Float32bits(v))
			}
		}
		if len(data) != len(want.Data) {
			return fmt.Errorf("%w: %s output %q holds %d bytes, want %d", ErrResponse, c.Where(), want.Name, len(data), len(want.Data))
		}
		copy(want.Data, data)
	}
	return nil
}

// ShapeMatches reports whether got has want's rank and sizes; -1 in want
// (or in got, as metadata has it) matches any size.
func ShapeMatches(got, want []int64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] && got[i] != -1 && want[i] != -1 {
			return false
		}
	}
	return true
}

// rpcError turns a gRPC failure into ErrUnavailable (nothing there, too
// slow, overloaded: retry later) or a plain error (the server refused the
// request: a bug or a wrong model), with the server's message.
func (c *Client) rpcError(call string, err error) error {
	st := status.Convert(err)
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted, codes.Canceled:
		return fmt.Errorf("%w: %s %s: %s (%s)", ErrUnavailable, call, c.Where(), st.Message(), st.Code())
	}
	return fmt.Errorf("inference server: %s %s: %s (%s)", call, c.Where(), st.Message(), st.Code())
}

// admit fails while the back-off after a failure runs; the first call
// after it goes through and pushes the next retry on, so one request
// probes the server at a time.
func (c *Client) admit() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.fails == 0 {
		return nil
	}
	now := c.opts.Now()
	if now.Before(c.retryAt) {
		return fmt.Errorf("%w (retrying in %v): %v", ErrUnavailable, c.retryAt.Sub(now).Round(time.Millisecond), c.lastErr)
	}
	c.retryAt = now.Add(backoffAfter(c.fails))
	return nil
}

// backoffAfter is the wait after n consecutive failures.
func backoffAfter(n int) time.Duration {
	d := minBackoff << min(n-1, 10)
	return min(d, maxBackoff)
}

func (c *Client) record(rtt time.Duration, err error) {
	c.mu.Lock()
	was := c.fails == 0
	if err == nil {
		c.fails, c.lastErr = 0, nil
		if rtt >= 0 { // -1: a check, not a request
			c.rtt[c.rttN%len(c.rtt)] = float32(rtt.Seconds() * 1e3)
			c.rttN++
		}
	} else {
		c.errs.Add(1)
		c.fails++
		c.lastErr = err
		c.retryAt = c.opts.Now().Add(backoffAfter(c.fails))
	}
	notice := c.upNotice
	c.mu.Unlock()
	if now := err == nil; now != was && notice != nil {
		notice(now, err)
	}
}

// OnChange has fn told when the server goes from answering to failing and
// back (fn must not call back into the client).
func (c *Client) OnChange(fn func(up bool, err error)) {
	c.mu.Lock()
	c.upNotice = fn
	c.mu.Unlock()
}

// Stats returns the counters; round trips over the last 256 answers.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	n := min(c.rttN, len(c.rtt))
	rtt := slices.Clone(c.rtt[:n])
	s := Stats{Up: c.fails == 0 && (c.rttN > 0 || c.errs.Load() == 0)}
	if c.lastErr != nil {
		s.LastError = c.lastErr.Error()
	}
	c.mu.Unlock()
	slices.Sort(rtt)
	s.RTTP50Ms, s.RTTP99Ms = percentile(rtt, 0.50), percentile(rtt, 0.99)
	s.Requests, s.Errors, s.InFlight = c.requests.Load(), c.errs.Load(), int(c.inFlight.Load())
	return s
}

func percentile(sorted []float32, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[int(q*float64(len(sorted)-1)+0.5)])
}

// MaxInFlight is the most requests the client has out at once.
func (c *Client) MaxInFlight() int { return c.opts.MaxInFlight }

// Timeout is the limit of one request.
func (c *Client) Timeout() time.Duration { return c.opts.Timeout }

// Close ends the connection; requests out fail, later ones get ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	return c.conn.Close()
}
