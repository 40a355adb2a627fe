package swap

import (
	"fmt"
	"math"
	"strings"
	"sync/atomic"

	"facelive/engine/ortenv"

	ort "github.com/yalue/onnxruntime_go"
)

// DefaultMorph is DeepFaceLive's default morph factor (swapper.morph).
const DefaultMorph = 0.75

// DFM signature (DeepFaceLive's DFMModel: inputs by name, outputs by
// position).
const (
	dfmInput = "in_face:0"
	dfmMorph = "morph_value:0"
	dfmWant  = "want input in_face:0 N×H×W×3 float32 (+ optional morph_value:0) and 3 outputs (face mask, celeb face, celeb mask)"
	dfmWhat  = "a DeepFaceLive .dfm model (ONNX)"
	// Face sizes a DFM may have; DeepFaceLab trains 64 to 640.
	dfmMinSize, dfmMaxSize = 16, 1024
)

// DFM runs a DeepFaceLive .dfm model: a DeepFaceLab face model exported to
// ONNX that turns any aligned face into one trained celebrity.
//
// Model: input in_face:0 N×H×W×3 float32 BGR in [0, 1] (H = W = Size(); N
// is run as 1), optional morph_value:0 (1,) float32; outputs, by position,
// out_face_mask (N×H×W×1), out_celeb_face (N×H×W×3, BGR) and
// out_celeb_face_mask (N×H×W×1), all in [0, 1]. Swap writes the celeb face
// and the product of the two masks.
//
// Swap is not safe for concurrent use (one session with preallocated
// tensors): give each worker its own DFM. SetMorph may be called at any
// time from any goroutine.
type DFM struct {
	path     string
	size     int
	morph    atomic.Uint64 // math.Float64bits of the morph factor
	hasMorph bool

	session *ort.AdvancedSession
	in      *ort.Tensor[float32]
	morphT  *ort.Tensor[float32]
	outs    [3]*ort.Tensor[float32] // face mask, celeb face, celeb mask
}

// NewDFM loads a DeepFaceLive .dfm model and prepares one ONNX Runtime
// session (CPU, ONNX Runtime's default threads). morph (0..1; DefaultMorph
// is DeepFaceLive's default) feeds morph_value:0 when the model has it and
// is ignored otherwise. Errors wrap ErrModel (missing, corrupt or
// wrong-signature file; the message names it and says what was found
// against what is wanted) or ErrRuntime. The model runs once on a grey face
// before NewDFM returns, so a model that loads but cannot run fails here,
// and the first frame does not pay ONNX Runtime's first-run cost.
//
// ONNX Runtime must be initialised (package ortenv) with the configured
// library before; otherwise NewDFM loads ortenv.DefaultLibrary("").
func NewDFM(path string, morph float64, opts ...Option) (*DFM, error) {
	if !(morph >= 0 && morph <= 1) {
		return nil, fmt.Errorf("swap: %s %v out of range; allowed 0..1 (DeepFaceLive's default is %v)", "swapper.morph", morph, DefaultMorph)
	}
	conf := newConf(opts)
	key := conf.key
	data, err := readModel(key, path, dfmWhat)
	if err != nil {
		return nil, err
	}
	if err := initRuntime(); err != nil {
		return nil, err
	}
	ins, outs, err := modelInfo(key, path, dfmWhat, data)
	if err != nil {
		return nil, err
	}
	size, hasMorph, problem := checkDFM(ins, outs)
	if problem != "" {
		return nil, modelError(nil, "%s %q is not a DeepFaceLive DFM model: found inputs [%s] outputs [%s], %s: %s",
			key, path, ortenv.Describe(ins), ortenv.Describe(outs), dfmWant, problem)
	}

	d := &DFM{path: path, size: size, hasMorph: hasMorph}
	d.morph.Store(math.Float64bits(morph))
	fail := func(err error) (*DFM, error) {
		d.Close()
		return nil, err
	}
	if d.in, err = ort.NewEmptyTensor[float32](ort.NewShape(1, int64(size), int64(size), 3)); err != nil {
		return fail(fmt.Errorf("swap: DFM input tensor: %w", err))
	}
	inNames, inVals := []string{dfmInput}, []ort.Value{d.in}
	if hasMorph {
		if d.morphT, err = ort.NewEmptyTensor[float32](ort.NewShape(1)); err != nil {
			return fail(fmt.Errorf("swap: DFM morph tensor: %w", err))
		}
		inNames, inVals = append(inNames, dfmMorph), append(inVals, d.morphT)
	}
	outNames, outVals := make([]string, 3), make([]ort.Value, 3)
	for i, c := range [3]int64{1, 3, 1} {
		if d.outs[i], err = ort.NewEmptyTensor[float32](ort.NewShape(1, int64(size), int64(size), c)); err != nil {
			return fail(fmt.Errorf("swap: DFM output tensor: %w", err))
		}
		outNames[i], outVals[i] = outs[i].Name, d.outs[i]
	}
	if d.session, err = newSession(conf, key, path, data, inNames, outNames, inVals, outVals); err != nil {
		return fail(err)
	}
	grey := d.in.GetData()
	for i := range grey {
		grey[i] = 0.5
	}
	if err := d.run(); err != nil {
		return fail(modelError(err, "%s %q: the model fails on a %dx%d face: %v", key, path, size, size, err))
	}
	return d, nil
}

// checkDFM returns the face size and whether the model takes a morph
// factor, or what is wrong with it.
func checkDFM(ins, outs []ort.InputOutputInfo) (size int, hasMorph bool, problem string) {
	var problems []string
	var face *ort.InputOutputInfo
	for i := range ins {
		switch in := &ins[i]; in.Name {
		case dfmInput:
			face = in
		case dfmMorph:
			if !ortenv.IsFloatTensor(*in) || !ortenv.DimsMatch(in.Dimensions, 1) {
				problems = append(problems, fmt.Sprintf("%s is %s, want a (1,) float32 tensor", dfmMorph, ortenv.DescribeOne(*in)))
			}
			hasMorph = true
		default:
			problems = append(problems, fmt.Sprintf("unexpected input %s", in.Name))
		}
	}
	switch {
	case face == nil:
		problems = append(problems, "no input named "+dfmInput)
	case !ortenv.IsFloatTensor(*face) || !ortenv.DimsMatch(face.Dimensions, -1, -1, -1, 3):
		problems = append(problems, fmt.Sprintf("%s is %s, want N×H×W×3 float32", dfmInput, ortenv.DescribeOne(*face)))
	case face.Dimensions[0] > 1:
		problems = append(problems, fmt.Sprintf("%s has a batch of %d, want 1 or dynamic", dfmInput, face.Dimensions[0]))
	default:
		h, w := face.Dimensions[1], face.Dimensions[2]
		switch {
		case h < 0 || w < 0:
			problems = append(problems, fmt.Sprintf("%s has a dynamic face size %v", dfmInput, []int64(face.Dimensions)))
		case h != w:
			problems = append(problems, fmt.Sprintf("%s is %dx%d, want a square face", dfmInput, w, h))
		case h < dfmMinSize || h > dfmMaxSize:
			problems = append(problems, fmt.Sprintf("%s face size %d out of range %d..%d", dfmInput, h, dfmMinSize, dfmMaxSize))
		default:
			size = int(h)
		}
	}
	if len(outs) != 3 {
		problems = append(problems, fmt.Sprintf("%d outputs instead of 3", len(outs)))
	} else if size > 0 {
		s := int64(size)
		for i, c := range [3]int64{1, 3, 1} {
			if !ortenv.IsFloatTensor(outs[i]) || !ortenv.DimsMatch(outs[i].Dimensions, -1, s, s, c) {
				problems = append(problems, fmt.Sprintf("output %d (%s) is %s, want N×%d×%d×%d float32",
					i+1, [3]string{"face mask", "celeb face", "celeb mask"}[i], ortenv.DescribeOne(outs[i]), s, s, c))
			}
		}
	}
	if len(problems) > 0 {
		return 0, false, strings.Join(problems, "; ")
	}
	return size, hasMorph, ""
}

// Size implements Swapper: the model's face size.
func (d *DFM) Size() int { return d.size }

// HasMorph reports whether the model takes a morph factor.
func (d *DFM) HasMorph() bool { return d.hasMorph }

// Morph returns the morph factor the next Swap uses.
func (d *DFM) Morph() float64 { return math.Float64frombits(d.morph.Load()) }

// SetMorph changes the morph factor from the next Swap on; values are
// clamped to 0..1 and NaN is ignored. It is safe to call concurrently with
// Swap and does nothing visible for a model without morph_value:0.
func (d *DFM) SetMorph(m float64) {
	if math.IsNaN(m) {
		return
	}
	d.morph.Store(math.Float64bits(min(max(m, 0), 1)))
}

func (d *DFM) run() error {
	if d.morphT != nil {
		d.morphT.GetData()[0] = float32(d.Morph())
	}
	return d.session.Run()
}

// Swap implements Swapper.
func (d *DFM) Swap(target, out []byte, mask []float32) error {
	if err := checkBuffers(d.size, target, out, mask); err != nil {
		return err
	}
	if d.session == nil {
		return ErrClosed
	}
	n := d.size * d.size
	in := d.in.GetData()
	for i, b := range target[:3*n] {
		in[i] = byteToUnit[b]
	}
	if err := d.run(); err != nil {
		return fmt.Errorf("swap: DFM %q inference: %w", d.path, err)
	}
	d.readOutputs(out, mask)
	return nil
}

// readOutputs writes the celeb face (BGR [0, 1] → BGR8) into out and the
// product of the face and celeb masks into mask.
func (d *DFM) readOutputs(out []byte, mask []float32) {
	n := d.size * d.size
	celeb := d.outs[1].GetData()[:3*n]
	for i, v := range celeb {
		out[i] = unitToByte(v)
	}
	fm, cm := d.outs[0].GetData()[:n], d.outs[2].GetData()[:n]
	for i := range mask[:n] {
		mask[i] = unitClamp(fm[i]) * unitClamp(cm[i])
	}
}

// Close releases the session and tensors. It is idempotent; Swap after
// Close returns ErrClosed.
func (d *DFM) Close() error {
	if d.session != nil {
		d.session.Destroy()
		d.session = nil
	}
	destroyTensors(&d.in, &d.morphT, &d.outs[0], &d.outs[1], &d.outs[2])
	return nil
}
