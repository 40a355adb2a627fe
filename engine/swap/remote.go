package swap

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"facelive/engine/align"
	"facelive/engine/face"
	"facelive/engine/kserve"
	"facelive/engine/ortenv"
)

// Remote is a Swapper whose model runs on a KServe v2 inference server
// (swapper.backend kserve). Unlike a local one, Swap is safe for
// concurrent use: each call is one request, and up to MaxInFlight may be
// out at once. Swap never waits for a connection: while the server is
// away it fails at once (kserve.ErrUnavailable) and the client retries
// after a back-off.
type Remote interface {
	Swapper
	// Server is the client, for its metrics.
	Server() *kserve.Client
}

// remoteModel is what both remote swappers share: the client and the
// check of the server's model against the swapper's signature, made at
// load when the server answers, else before the first request that finds
// it up.
type remoteModel struct {
	client *kserve.Client
	what   string // for messages

	mu      sync.Mutex
	checked bool
	wrong   error // the server's model is not the swapper's: every Swap fails with it
	verify  func(kserve.Metadata) error
}

// keyServerModel names the config key of a wrong model on the server.
const keyServerModel = "swapper.server.model"

// check asks the server once it answers; a model of the wrong signature is
// an ErrModel for good, an absent server an error for now.
func (r *remoteModel) check() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.checked {
		return r.wrong
	}
	md, err := r.client.Check(context.Background())
	if err != nil {
		return err
	}
	r.checked = true
	r.wrong = r.verify(md)
	return r.wrong
}

// Server implements Remote.
func (r *remoteModel) Server() *kserve.Client { return r.client }

// checkAtLoad runs check with the server expected up; an unreachable one
// is fine (logged by the caller: frames leave unprocessed until it is up)
// unless mustAnswer, when the swapper cannot work without its metadata.
func (r *remoteModel) checkAtLoad(mustAnswer bool) error {
	err := r.check()
	if err == nil || errors.Is(err, ErrModel) {
		return err
	}
	if mustAnswer {
		return fmt.Errorf("swap: %s: %w; the face size comes from the server's metadata (or set swapper.model to the same .dfm, and facelive starts before the server)", r.client.Where(), err)
	}
	return nil
}

// metaInfos turns the server's tensor metadata into ONNX Runtime's
// description, so that the checks of a local model file apply unchanged.
func metaInfos(ts []kserve.TensorMeta) []ort.InputOutputInfo {
	infos := make([]ort.InputOutputInfo, len(ts))
	for i, t := range ts {
		dt := ort.TensorElementDataType(ort.TensorElementDataTypeUndefined)
		switch t.Datatype {
		case "FP32":
			dt = ort.TensorElementDataTypeFloat
		case "FP16":
			dt = ort.TensorElementDataTypeFloat16
		case "FP64":
			dt = ort.TensorElementDataTypeDouble
		case "UINT8":
			dt = ort.TensorElementDataTypeUint8
		case "INT64":
			dt = ort.TensorElementDataTypeInt64
		case "INT32":
			dt = ort.TensorElementDataTypeInt32
		}
		infos[i] = ort.InputOutputInfo{Name: t.Name, OrtValueType: ort.ONNXTypeTensor, DataType: dt, Dimensions: ort.Shape(t.Shape)}
	}
	return infos
}

// Float32 tensors travel as little-endian bytes.
func putFloats(dst []byte, src []float32) {
	for i, v := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
	}
}

func getFloat(b []byte, i int) float32 {
	return math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
}

// RemoteOptions say which server runs the model.
type RemoteOptions = kserve.Options

// RemoteDFM runs a DeepFaceLive .dfm model on a KServe v2 server (Triton
// serves it as model.onnx): the same tensors as DFM, over the network.
type RemoteDFM struct {
	remoteModel
	localKey string // the config key of the local file the size came from
	size     int
	hasMorph bool
	outNames [3]string
	morph    atomic.Uint64
	bufs     sync.Pool // *dfmBufs
}

type dfmBufs struct{ in, morph, fm, face, cm []byte }

// NewRemoteDFM connects to the server and checks its model against the
// DFM signature (a wrong one is an ErrModel naming what was found against
// what is wanted, as a local file's). local, when not empty, is a .dfm of
// the same face size on this machine (the same model, or the local
// fallback: WithModelKey names its key in messages): its face size lets
// facelive start before the server does; without it the server must
// answer at load. Of opts only WithModelKey applies.
func NewRemoteDFM(o RemoteOptions, local string, morph float64, opts ...Option) (*RemoteDFM, error) {
	if !(morph >= 0 && morph <= 1) {
		return nil, fmt.Errorf("swap: %s %v out of range; allowed 0..1 (DeepFaceLive's default is %v)", "swapper.morph", morph, DefaultMorph)
	}
	d := &RemoteDFM{localKey: newConf(opts).key}
	d.morph.Store(math.Float64bits(morph))
	if local != "" {
		key := d.localKey
		data, err := readModel(key, local, dfmWhat)
		if err != nil {
			return nil, err
		}
		if err := initRuntime(); err != nil {
			return nil, err
		}
		ins, outs, err := modelInfo(key, local, dfmWhat, data)
		if err != nil {
			return nil, err
		}
		size, _, problem := checkDFM(ins, outs)
		if problem != "" {
			return nil, modelError(nil, "%s %q is not a DeepFaceLive DFM model: found inputs [%s] outputs [%s], %s: %s",
				key, local, ortenv.Describe(ins), ortenv.Describe(outs), dfmWant, problem)
		}
		d.size = size
	}
	c, err := kserve.New(o)
	if err != nil {
		return nil, fmt.Errorf("swap: %w", err)
	}
	d.client, d.what = c, c.Where()
	d.verify = d.verifyMeta
	if err := d.checkAtLoad(d.size == 0); err != nil {
		c.Close()
		return nil, err
	}
	return d, nil
}

// verifyMeta checks the server's model against the DFM signature and the
// local file's size, and learns the output names (outputs go by position).
func (d *RemoteDFM) verifyMeta(md kserve.Metadata) error {
	ins, outs := metaInfos(md.Inputs), metaInfos(md.Outputs)
	size, hasMorph, problem := checkDFM(ins, outs)
	if problem == "" && d.size != 0 && size != d.size {
		problem = fmt.Sprintf("its face is %dx%d, the local %s's is %dx%d", size, size, d.localKey, d.size, d.size)
	}
	if problem != "" {
		return modelError(nil, "%s %s is not a DeepFaceLive DFM model: found inputs [%s] outputs [%s], %s: %s",
			keyServerModel, d.what, ortenv.Describe(ins), ortenv.Describe(outs), dfmWant, problem)
	}
	if d.size == 0 {
		d.size = size
	}
	d.hasMorph = hasMorph
	for i := range d.outNames {
		d.outNames[i] = outs[i].Name
	}
	n := 4 * size * size
	d.bufs.New = func() any {
		return &dfmBufs{in: make([]byte, 3*n), morph: make([]byte, 4), fm: make([]byte, n), face: make([]byte, 3*n), cm: make([]byte, n)}
	}
	return nil
}

// Size implements Swapper.
func (d *RemoteDFM) Size() int { return d.size }

// SetMorph changes the morph factor from the next Swap on (clamped to
// 0..1, NaN ignored); safe with Swap running.
func (d *RemoteDFM) SetMorph(m float64) {
	if !math.IsNaN(m) {
		d.morph.Store(math.Float64bits(min(max(m, 0), 1)))
	}
}

// Swap implements Swapper: one request.
func (d *RemoteDFM) Swap(target, out []byte, mask []float32) error {
	if err := checkBuffers(d.size, target, out, mask); err != nil {
		return err
	}
	if err := d.check(); err != nil {
		return err
	}
	b := d.bufs.Get().(*dfmBufs)
	defer d.bufs.Put(b)
	s := int64(d.size)
	n := d.size * d.size
	for i, v := range target[:3*n] {
		binary.LittleEndian.PutUint32(b.in[4*i:], math.Float32bits(byteToUnit[v]))
	}
	in := []kserve.Tensor{{Name: dfmInput, Datatype: "FP32", Shape: []int64{1, s, s, 3}, Data: b.in}}
	if d.hasMorph {
		putFloats(b.morph, []float32{float32(math.Float64frombits(d.morph.Load()))})
		in = append(in, kserve.Tensor{Name: dfmMorph, Datatype: "FP32", Shape: []int64{1}, Data: b.morph})
	}
	outs := []kserve.Tensor{
		{Name: d.outNames[0], Datatype: "FP32", Shape: []int64{1, s, s, 1}, Data: b.fm},
		{Name: d.outNames[1], Datatype: "FP32", Shape: []int64{1, s, s, 3}, Data: b.face},
		{Name: d.outNames[2], Datatype: "FP32", Shape: []int64{1, s, s, 1}, Data: b.cm},
	}
	if err := d.client.Infer(context.Background(), in, outs); err != nil {
		return fmt.Errorf("swap: DFM on %s: %w", d.what, err)
	}
	for i := range out[:3*n] {
		out[i] = unitToByte(getFloat(b.face, i))
	}
	for i := range mask[:n] {
		mask[i] = unitClamp(getFloat(b.fm, i)) * unitClamp(getFloat(b.cm, i))
	}
	return nil
}

// Close ends the connection. Idempotent.
func (d *RemoteDFM) Close() error { return d.client.Close() }

// RemoteInSwapper runs inswapper_128 on a KServe v2 server. The source
// photo is embedded here, as for InSwapper: the ArcFace model and
// swapper.model (inswapper_128.onnx, for its emap) stay local; only the
// per-frame model runs on the server.
type RemoteInSwapper struct {
	remoteModel
	targetName, sourceName, outName string
	latent                          []byte // the source input, fixed
	mask                            []float32
	bufs                            sync.Pool // *[2][]byte: target, output
}

// NewRemoteInSwapper embeds src with the local models, as NewInSwapper,
// then connects to the server and checks its model (once it answers: the
// face size is InSwapper's 128 either way, so facelive starts before the
// server does).
func NewRemoteInSwapper(o RemoteOptions, model, arcface string, src *SourceFace) (*RemoteInSwapper, error) {
	latent, err := inSwapperLatent(model, arcface, src)
	if err != nil {
		return nil, err
	}
	s := &RemoteInSwapper{latent: make([]byte, 4*embeddingLen), mask: make([]float32, inSwapSize*inSwapSize)}
	putFloats(s.latent, latent[:])
	ellipseMask(inSwapSize, s.mask)
	s.bufs.New = func() any {
		return &[2][]byte{make([]byte, 4*3*inSwapSize*inSwapSize), make([]byte, 4*3*inSwapSize*inSwapSize)}
	}
	c, err := kserve.New(o)
	if err != nil {
		return nil, fmt.Errorf("swap: %w", err)
	}
	s.client, s.what = c, c.Where()
	s.verify = s.verifyMeta
	if err := s.checkAtLoad(false); err != nil {
		c.Close()
		return nil, err
	}
	return s, nil
}

// inSwapperLatent is the source input InSwapper feeds: the ArcFace
// embedding of src projected with the model's emap.
func inSwapperLatent(model, arcface string, src *SourceFace) ([embeddingLen]float32, error) {
	var s InSwapper
	if src == nil {
		return s.latent, fmt.Errorf("swap: InSwapper needs a source face")
	}
	data, err := readModel(keyModel, model, inSwapWhat)
	if err != nil {
		return s.latent, err
	}
	arcData, err := readModel(keyArcFace, arcface, arcFaceWhat)
	if err != nil {
		return s.latent, err
	}
	if err := initRuntime(); err != nil {
		return s.latent, err
	}
	emap, err := readEmap(keyModel, model, data)
	if err != nil {
		return s.latent, err
	}
	if err := s.embedSource(arcface, arcData, src); err != nil {
		return s.latent, err
	}
	if err := project(s.latent[:], s.embed[:], emap); err != nil {
		return s.latent, modelError(nil, "%s %q: its emap projects the source embedding to a vector %v", keyModel, model, err)
	}
	return s.latent, nil
}

func (s *RemoteInSwapper) verifyMeta(md kserve.Metadata) error {
	ins, outs := metaInfos(md.Inputs), metaInfos(md.Outputs)
	target, source, problem := checkInSwapper(ins, outs)
	if problem != "" {
		return modelError(nil, "%s %s is not an InSwapper model: found inputs [%s] outputs [%s], %s: %s",
			keyServerModel, s.what, ortenv.Describe(ins), ortenv.Describe(outs), inSwapWant, problem)
	}
	s.targetName, s.sourceName, s.outName = target, source, outs[0].Name
	return nil
}

// Size implements Swapper: 128.
func (s *RemoteInSwapper) Size() int { return inSwapSize }

// Align implements Aligner, as InSwapper.
func (s *RemoteInSwapper) Align(lm *face.Landmarks) (align.Transform, error) {
	return ArcFaceTransform(lm, inSwapSize)
}

// Swap implements Swapper: one request.
func (s *RemoteInSwapper) Swap(target, out []byte, mask []float32) error {
	if err := checkBuffers(inSwapSize, target, out, mask); err != nil {
		return err
	}
	if err := s.check(); err != nil {
		return err
	}
	b := s.bufs.Get().(*[2][]byte)
	defer s.bufs.Put(b)
	const n = inSwapSize * inSwapSize
	in, o := b[0], b[1]
	for p := 0; p < n; p++ { // BGR8 → planar RGB [0, 1]
		q := target[3*p : 3*p+3]
		binary.LittleEndian.PutUint32(in[4*p:], math.Float32bits(byteToUnit[q[2]]))
		binary.LittleEndian.PutUint32(in[4*(n+p):], math.Float32bits(byteToUnit[q[1]]))
		binary.LittleEndian.PutUint32(in[4*(2*n+p):], math.Float32bits(byteToUnit[q[0]]))
	}
	img := []int64{1, 3, inSwapSize, inSwapSize}
	err := s.client.Infer(context.Background(),
		[]kserve.Tensor{{Name: s.targetName, Datatype: "FP32", Shape: img, Data: in},
			{Name: s.sourceName, Datatype: "FP32", Shape: []int64{1, embeddingLen}, Data: s.latent}},
		[]kserve.Tensor{{Name: s.outName, Datatype: "FP32", Shape: img, Data: o}})
	if err != nil {
		return fmt.Errorf("swap: InSwapper on %s: %w", s.what, err)
	}
	for p := 0; p < n; p++ {
		q := out[3*p : 3*p+3]
		q[0], q[1], q[2] = unitToByte(getFloat(o, 2*n+p)), unitToByte(getFloat(o, n+p)), unitToByte(getFloat(o, p))
	}
	copy(mask, s.mask)
	return nil
}

// Close ends the connection. Idempotent.
func (s *RemoteInSwapper) Close() error { return s.client.Close() }

// Timeout is how long one request may take; the engine stops pasting a
// result older than a few of these.
func (r *remoteModel) Timeout() time.Duration { return r.client.Timeout() }
