package swap

import (
	"fmt"
	"math"
	"strings"

	"facelive/engine/ortenv"

	ort "github.com/yalue/onnxruntime_go"

	"facelive/engine/align"
	"facelive/engine/face"
)

// InSwapper and ArcFace geometry (insightface's inswapper_128.onnx and
// w600k_r50.onnx).
const (
	inSwapSize   = 128
	arcFaceSize  = 112
	embeddingLen = 512
	inSwapWhat   = "insightface's inswapper_128.onnx"
	arcFaceWhat  = "an ArcFace embedding model such as insightface's w600k_r50.onnx"
	inSwapWant   = "want inputs target 1×3×128×128 float32 and source 1×512 float32, output 1×3×128×128 float32"
	arcFaceWant  = "want input 1×3×112×112 float32 and output 1×512 float32"
)

// InSwapper runs insightface's InSwapper (inswapper_128.onnx): a one-shot
// swapper that puts the identity of one source photo on any face.
//
// At construction the source face is cropped to 112×112 on the ArcFace
// template (ArcFaceTransform), embedded with the ArcFace model, and the
// embedding projected with the InSwapper model's "emap" (its last
// initializer) into the model's 1×512 source input, which then stays fixed.
// Per frame, Swap feeds the target face (1×3×128×128 RGB in [0, 1]) and
// reads the swapped face (same layout). The model gives no mask: Swap
// writes a soft ellipse over the face.
//
// InSwapper is trained on faces aligned on the ArcFace template, not on
// the whole-face crop: it implements Aligner, and the pipeline must crop
// the target with Align (ArcFaceTransform at 128).
//
// Swap is not safe for concurrent use (one session with preallocated
// tensors): give each worker its own InSwapper.
type InSwapper struct {
	path    string
	session *ort.AdvancedSession
	target  *ort.Tensor[float32] // 1×3×128×128 RGB [0, 1]
	source  *ort.Tensor[float32] // 1×512, the projected embedding
	output  *ort.Tensor[float32] // 1×3×128×128 RGB [0, 1]
	mask    []float32
	latent  [embeddingLen]float32 // what source holds: normalise(embed · emap)
	embed   [embeddingLen]float32 // the L2-normalised ArcFace embedding
}

// NewInSwapper loads the InSwapper model and the ArcFace model, embeds src
// and prepares one ONNX Runtime session (CPU, default threads; the ArcFace
// session is closed before NewInSwapper returns). Errors wrap ErrModel
// (missing or corrupt files, wrong inputs or outputs, no 512×512 emap; the
// message names the file and says what was found against what is wanted)
// or ErrRuntime.
//
// ArcFace input normalisation is insightface's for w600k_r50 (the
// buffalo_l recognition model): RGB, (x − 127.5) / 127.5, NCHW. The crop
// repeats edge pixels where the face runs out of the photo (insightface
// pads with black; the difference is immaterial for a face well inside).
//
// ONNX Runtime must be initialised (package ortenv) with the configured
// library before; otherwise NewInSwapper loads ortenv.DefaultLibrary("").
func NewInSwapper(model, arcface string, src *SourceFace, opts ...Option) (*InSwapper, error) {
	conf := newConf(opts)
	key := conf.key
	if src == nil {
		return nil, fmt.Errorf("swap: InSwapper needs a source face")
	}
	data, err := readModel(key, model, inSwapWhat)
	if err != nil {
		return nil, err
	}
	arcData, err := readModel(keyArcFace, arcface, arcFaceWhat)
	if err != nil {
		return nil, err
	}
	if err := initRuntime(); err != nil {
		return nil, err
	}
	ins, outs, err := modelInfo(key, model, inSwapWhat, data)
	if err != nil {
		return nil, err
	}
	targetName, sourceName, problem := checkInSwapper(ins, outs)
	if problem != "" {
		return nil, modelError(nil, "%s %q is not an InSwapper model: found inputs [%s] outputs [%s], %s: %s",
			key, model, ortenv.Describe(ins), ortenv.Describe(outs), inSwapWant, problem)
	}
	emap, err := readEmap(key, model, data)
	if err != nil {
		return nil, err
	}

	s := &InSwapper{path: model, mask: make([]float32, inSwapSize*inSwapSize)}
	if err := s.embedSource(arcface, arcData, src); err != nil {
		return nil, err
	}
	if err := project(s.latent[:], s.embed[:], emap); err != nil {
		return nil, modelError(nil, "%s %q: its emap projects the source embedding to a vector %v", key, model, err)
	}
	ellipseMask(inSwapSize, s.mask)

	fail := func(err error) (*InSwapper, error) {
		s.Close()
		return nil, err
	}
	img := ort.NewShape(1, 3, inSwapSize, inSwapSize)
	if s.target, err = ort.NewEmptyTensor[float32](img); err != nil {
		return fail(fmt.Errorf("swap: InSwapper target tensor: %w", err))
	}
	if s.source, err = ort.NewEmptyTensor[float32](ort.NewShape(1, embeddingLen)); err != nil {
		return fail(fmt.Errorf("swap: InSwapper source tensor: %w", err))
	}
	copy(s.source.GetData(), s.latent[:])
	if s.output, err = ort.NewEmptyTensor[float32](img); err != nil {
		return fail(fmt.Errorf("swap: InSwapper output tensor: %w", err))
	}
	s.session, err = newSession(conf, key, model, data, []string{targetName, sourceName}, []string{outs[0].Name},
		[]ort.Value{s.target, s.source}, []ort.Value{s.output})
	if err != nil {
		return fail(err)
	}
	t := s.target.GetData()
	for i := range t {
		t[i] = 0.5
	}
	if err := s.session.Run(); err != nil { // fail early, and warm up
		return fail(modelError(err, "%s %q: the model fails on a 128x128 face: %v", key, model, err))
	}
	return s, nil
}

// checkInSwapper returns the names of the target and source inputs, or what
// is wrong with the model.
func checkInSwapper(ins, outs []ort.InputOutputInfo) (target, source, problem string) {
	var problems []string
	if len(ins) != 2 {
		problems = append(problems, fmt.Sprintf("%d inputs instead of 2", len(ins)))
	}
	for _, in := range ins {
		switch {
		case !ortenv.IsFloatTensor(in):
		case target == "" && ortenv.DimsMatch(in.Dimensions, 1, 3, inSwapSize, inSwapSize):
			target = in.Name
		case source == "" && ortenv.DimsMatch(in.Dimensions, 1, embeddingLen):
			source = in.Name
		}
	}
	if target == "" {
		problems = append(problems, "no 1×3×128×128 float32 target input")
	}
	if source == "" {
		problems = append(problems, "no 1×512 float32 source input")
	}
	if len(outs) != 1 {
		problems = append(problems, fmt.Sprintf("%d outputs instead of 1", len(outs)))
	} else if !ortenv.IsFloatTensor(outs[0]) || !ortenv.DimsMatch(outs[0].Dimensions, 1, 3, inSwapSize, inSwapSize) {
		problems = append(problems, fmt.Sprintf("output is %s, want 1×3×128×128 float32", ortenv.DescribeOne(outs[0])))
	}
	return target, source, strings.Join(problems, "; ")
}

// readEmap returns the 512×512 emap, the model's last initializer.
func readEmap(key, path string, data []byte) ([]float32, error) {
	t, err := lastInitializer(data)
	if err != nil {
		return nil, modelError(err, "%s %q: cannot read its last initializer, the 512×512 emap (%v); expected %s",
			key, path, err, inSwapWhat)
	}
	if t.dataType != onnxFloat || len(t.dims) != 2 || t.dims[0] != embeddingLen || t.dims[1] != embeddingLen {
		return nil, modelError(nil, "%s %q: its last initializer %q is %v of data type %d, want the 512×512 float32 emap of %s",
			key, path, t.name, t.dims, t.dataType, inSwapWhat)
	}
	return t.data, nil
}

// checkArcFace returns what is wrong with an ArcFace model, or "".
func checkArcFace(ins, outs []ort.InputOutputInfo) string {
	var problems []string
	if len(ins) != 1 {
		problems = append(problems, fmt.Sprintf("%d inputs instead of 1", len(ins)))
	} else if !ortenv.IsFloatTensor(ins[0]) || !ortenv.DimsMatch(ins[0].Dimensions, 1, 3, arcFaceSize, arcFaceSize) {
		problems = append(problems, fmt.Sprintf("input is %s, want 1×3×112×112 float32", ortenv.DescribeOne(ins[0])))
	}
	if len(outs) != 1 {
		problems = append(problems, fmt.Sprintf("%d outputs instead of 1", len(outs)))
	} else if !ortenv.IsFloatTensor(outs[0]) || !ortenv.DimsMatch(outs[0].Dimensions, 1, embeddingLen) {
		problems = append(problems, fmt.Sprintf("output is %s, want 1×512 float32", ortenv.DescribeOne(outs[0])))
	}
	return strings.Join(problems, "; ")
}

// embedSource crops src on the ArcFace template, runs the ArcFace model
// once and stores the L2-normalised embedding in s.embed.
func (s *InSwapper) embedSource(path string, data []byte, src *SourceFace) error {
	ins, outs, err := modelInfo(keyArcFace, path, arcFaceWhat, data)
	if err != nil {
		return err
	}
	if p := checkArcFace(ins, outs); p != "" {
		return modelError(nil, "%s %q is not an ArcFace embedding model: found inputs [%s] outputs [%s], %s: %s",
			keyArcFace, path, ortenv.Describe(ins), ortenv.Describe(outs), arcFaceWant, p)
	}
	crop, err := arcFaceCrop(src)
	if err != nil {
		return err
	}
	in, err := ort.NewTensor(ort.NewShape(1, 3, arcFaceSize, arcFaceSize), arcFaceBlob(crop))
	if err != nil {
		return fmt.Errorf("swap: ArcFace input tensor: %w", err)
	}
	defer in.Destroy()
	out, err := ort.NewEmptyTensor[float32](ort.NewShape(1, embeddingLen))
	if err != nil {
		return fmt.Errorf("swap: ArcFace output tensor: %w", err)
	}
	defer out.Destroy()
	sess, err := newSession(newConf(nil), keyArcFace, path, data, []string{ins[0].Name}, []string{outs[0].Name},
		[]ort.Value{in}, []ort.Value{out})
	if err != nil {
		return err
	}
	defer sess.Destroy()
	if err := sess.Run(); err != nil {
		return modelError(err, "%s %q: the model fails on a 112x112 face: %v", keyArcFace, path, err)
	}
	var norm float64
	for i, v := range out.GetData() {
		s.embed[i] = v
		norm += float64(v) * float64(v)
	}
	if err := normalise(s.embed[:], norm); err != nil {
		return modelError(nil, "%s %q: the source face's embedding is %v", keyArcFace, path, err)
	}
	return nil
}

// arcFaceCrop returns the source face cropped to 112×112 BGR8 on the
// ArcFace template.
func arcFaceCrop(src *SourceFace) ([]byte, error) {
	t, err := ArcFaceTransform(&src.Landmarks, arcFaceSize)
	if err != nil {
		return nil, fmt.Errorf("swap: source face: %w", err)
	}
	crop := make([]byte, arcFaceSize*arcFaceSize*3)
	if err := align.Crop(&src.Image, t, crop); err != nil {
		return nil, fmt.Errorf("swap: cropping the source face: %w", err)
	}
	return crop, nil
}

// arcFaceBlob turns a BGR8 crop into ArcFace's input: NCHW RGB,
// (x − 127.5) / 127.5 (cv2.dnn.blobFromImage with swapRB, as insightface).
func arcFaceBlob(bgr []byte) []float32 {
	n := len(bgr) / 3
	blob := make([]float32, 3*n)
	for p := 0; p < n; p++ {
		for c := 0; c < 3; c++ { // c: R, G, B planes
			blob[c*n+p] = (float32(bgr[3*p+2-c]) - 127.5) / 127.5
		}
	}
	return blob
}

// project writes normalise(embed · emap) into dst, as insightface's
// INSwapper.get: latent = np.dot(embedding, emap); latent /= norm(latent).
// emap is n×n row-major for n = len(embed) = len(dst).
func project(dst, embed, emap []float32) error {
	n := len(embed)
	var norm float64
	for j := range dst {
		var v float64
		for i, e := range embed {
			v += float64(e) * float64(emap[i*n+j])
		}
		dst[j] = float32(v)
		norm += v * v
	}
	return normalise(dst, norm)
}

// normalise divides v by sqrt(sumSq), failing when that is 0 or not finite.
func normalise(v []float32, sumSq float64) error {
	norm := math.Sqrt(sumSq)
	if !(norm > 1e-12) || math.IsInf(norm, 0) {
		return fmt.Errorf("not normalisable (L2 norm %v)", norm)
	}
	for i := range v {
		v[i] = float32(float64(v[i]) / norm)
	}
	return nil
}

// Size implements Swapper: 128.
func (s *InSwapper) Size() int { return inSwapSize }

// Align implements Aligner: the target crop InSwapper was trained on
// (insightface's norm_crop at 128).
func (s *InSwapper) Align(lm *face.Landmarks) (align.Transform, error) {
	return ArcFaceTransform(lm, inSwapSize)
}

// Swap implements Swapper.
func (s *InSwapper) Swap(target, out []byte, mask []float32) error {
	if err := checkBuffers(inSwapSize, target, out, mask); err != nil {
		return err
	}
	if s.session == nil {
		return ErrClosed
	}
	s.writeInput(target)
	if err := s.session.Run(); err != nil {
		return fmt.Errorf("swap: InSwapper %q inference: %w", s.path, err)
	}
	s.readOutput(out)
	copy(mask, s.mask)
	return nil
}

// writeInput converts the BGR8 target into the planar RGB [0, 1] tensor.
func (s *InSwapper) writeInput(target []byte) {
	const n = inSwapSize * inSwapSize
	t := s.target.GetData()
	r, g, b := t[:n], t[n:2*n], t[2*n:3*n]
	for p := range r {
		q := target[3*p : 3*p+3]
		b[p], g[p], r[p] = byteToUnit[q[0]], byteToUnit[q[1]], byteToUnit[q[2]]
	}
}

// readOutput converts the planar RGB [0, 1] output into BGR8.
func (s *InSwapper) readOutput(out []byte) {
	const n = inSwapSize * inSwapSize
	o := s.output.GetData()
	r, g, b := o[:n], o[n:2*n], o[2*n:3*n]
	for p := range r {
		q := out[3*p : 3*p+3]
		q[0], q[1], q[2] = unitToByte(b[p]), unitToByte(g[p]), unitToByte(r[p])
	}
}

// Close releases the session and tensors. It is idempotent; Swap after
// Close returns ErrClosed.
func (s *InSwapper) Close() error {
	if s.session != nil {
		s.session.Destroy()
		s.session = nil
	}
	destroyTensors(&s.target, &s.source, &s.output)
	return nil
}
