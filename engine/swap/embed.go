package swap

import (
	"fmt"
	"math"

	ort "github.com/yalue/onnxruntime_go"

	"facelive/engine/align"
	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/ortenv"
)

// EmbeddingLen is the length of an ArcFace identity embedding.
const EmbeddingLen = embeddingLen

// Embedder computes ArcFace identity embeddings of faces in frames: what
// swapper.faces compares to recognise a person from a reference photo.
// One session with preallocated tensors: Embed does not allocate, and is
// not safe for concurrent use.
type Embedder struct {
	session *ort.AdvancedSession
	in      *ort.Tensor[float32] // 1×3×112×112 RGB, (x − 127.5) / 127.5
	out     *ort.Tensor[float32] // 1×512
	crop    []byte               // 112×112 BGR8 on the ArcFace template
}

// NewEmbedder loads an ArcFace model (input 1×3×112×112, output 1×512;
// errors wrap ErrModel and name swapper.arcface_model and the file).
func NewEmbedder(path string, opts ...Option) (*Embedder, error) {
	data, err := readModel(keyArcFace, path, arcFaceWhat)
	if err != nil {
		return nil, err
	}
	if err := initRuntime(); err != nil {
		return nil, err
	}
	ins, outs, err := modelInfo(keyArcFace, path, arcFaceWhat, data)
	if err != nil {
		return nil, err
	}
	if p := checkArcFace(ins, outs); p != "" {
		return nil, modelError(nil, "%s %q is not an ArcFace embedding model: found inputs [%s] outputs [%s], %s: %s",
			keyArcFace, path, ortenv.Describe(ins), ortenv.Describe(outs), arcFaceWant, p)
	}
	e := &Embedder{crop: make([]byte, arcFaceSize*arcFaceSize*3)}
	if e.in, err = ort.NewEmptyTensor[float32](ort.NewShape(1, 3, arcFaceSize, arcFaceSize)); err != nil {
		return nil, fmt.Errorf("swap: ArcFace input tensor: %w", err)
	}
	if e.out, err = ort.NewEmptyTensor[float32](ort.NewShape(1, embeddingLen)); err != nil {
		e.Close()
		return nil, fmt.Errorf("swap: ArcFace output tensor: %w", err)
	}
	e.session, err = newSession(newConf(opts), keyArcFace, path, data, []string{ins[0].Name}, []string{outs[0].Name},
		[]ort.Value{e.in}, []ort.Value{e.out})
	if err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Embed writes the L2-normalised embedding of the face with landmarks lm
// in img into dst (EmbeddingLen values).
func (e *Embedder) Embed(img *frame.Frame, lm *face.Landmarks, dst []float32) error {
	if len(dst) < embeddingLen {
		return fmt.Errorf("swap: embedding buffer of %d, want %d", len(dst), embeddingLen)
	}
	t, err := ArcFaceTransform(lm, arcFaceSize)
	if err != nil {
		return err
	}
	if err := align.Crop(img, t, e.crop); err != nil {
		return fmt.Errorf("swap: ArcFace crop: %w", err)
	}
	blob, n := e.in.GetData(), arcFaceSize*arcFaceSize
	for p := range n { // as arcFaceBlob, into the tensor
		for c := range 3 {
			blob[c*n+p] = (float32(e.crop[3*p+2-c]) - 127.5) / 127.5
		}
	}
	if err := e.session.Run(); err != nil {
		return modelError(err, "%s: the model fails on a 112x112 face: %v", keyArcFace, err)
	}
	var norm float64
	for i, v := range e.out.GetData() {
		dst[i] = v
		norm += float64(v) * float64(v)
	}
	return normalise(dst[:embeddingLen], norm)
}

// Close frees the session and tensors.
func (e *Embedder) Close() error {
	if e.session != nil {
		e.session.Destroy()
	}
	if e.in != nil {
		e.in.Destroy()
	}
	if e.out != nil {
		e.out.Destroy()
	}
	return nil
}

// Similarity is the cosine of two L2-normalised embeddings: about 0 for
// different people, higher the more alike.
func Similarity(a, b []float32) float64 {
	var s float64
	for i := range min(len(a), len(b)) {
		s += float64(a[i]) * float64(b[i])
	}
	if math.IsNaN(s) {
		return -1
	}
	return s
}
