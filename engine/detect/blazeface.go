package detect

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"slices"
	"strings"

	ort "github.com/yalue/onnxruntime_go"

	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/ortenv"
)

// BlazeFace model geometry (MediaPipe face_detection_front, verified with
// ort.GetInputOutputInfo on face_detection_front_128x128_barracuda.onnx).
const (
	inputSize  = 128
	numAnchors = 16*16*2 + 8*8*6 // 896
	numRegs    = 16              // box cx, cy, w, h, then 6 keypoints x, y
	nmsIoU     = 0.3             // MediaPipe's min_suppression_threshold
)

// tensorSpec is one named input or output the detector needs.
type tensorSpec struct {
	name  string
	shape ort.Shape
}

func (t tensorSpec) String() string { return fmt.Sprintf("%s %v float32", t.name, []int64(t.shape)) }

var (
	blazeInput   = tensorSpec{"input:0", ort.NewShape(1, inputSize, inputSize, 3)}
	blazeOutputs = [4]tensorSpec{
		{"Identity:0", ort.NewShape(1, 512, 1)},    // 16×16×2 anchor logits
		{"Identity_1:0", ort.NewShape(1, 384, 1)},  // 8×8×6 anchor logits
		{"Identity_2:0", ort.NewShape(1, 512, 16)}, // 16×16×2 regressors
		{"Identity_3:0", ort.NewShape(1, 384, 16)}, // 8×8×6 regressors
	}
)

// BlazeFace detects faces with MediaPipe's BlazeFace short-range (front)
// model. It holds one ONNX Runtime session with its input and output tensors
// and every scratch buffer, all reused across frames; Detect allocates
// nothing once dst has room for the result.
//
// Per frame it samples the frame into the 128×128 RGB input (letterboxed:
// aspect ratio kept, mid-grey bars), runs the model, decodes the 896 anchors,
// merges overlapping candidates with MediaPipe's weighted non-maximum
// suppression and maps the result back to frame pixels. Boxes are clipped to
// the frame; keypoints are not (an ear may be outside it).
type BlazeFace struct {
	opts    Options
	session *ort.AdvancedSession
	input   *ort.Tensor[float32]
	outputs [4]*ort.Tensor[float32]

	minLogit float32      // logit of opts.Threshold: cheaper than a sigmoid per anchor
	anchors  [][2]float32 // anchor centres in input pixels
	cands    []candidate  // scratch: anchors above threshold
	merged   []candidate  // scratch: after NMS
	dets     []face.Detection
	sm       sampler
}

// candidate is one anchor's decoded detection in input pixels.
type candidate struct {
	score float32
	box   [4]float32 // x0, y0, x1, y1
	kp    [2 * face.NumKeypoints]float32
}

// NewBlazeFace loads ONNX Runtime (see package ortenv) and the model, checks
// that the model has exactly the inputs and outputs BlazeFace front has, and
// prepares one session. Errors wrap ErrRuntime (library) or ErrModel (model
// file missing, corrupt, or with other inputs/outputs; the message names the
// file and what was found against what is wanted).
func NewBlazeFace(o Options) (*BlazeFace, error) {
	o = o.withDefaults()
	data, err := os.ReadFile(o.Model)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &causedError{
				msg: fmt.Sprintf("detect: %v: BlazeFace model %q does not exist; run `make deps` to fetch it "+
					"into third_party/models, or set the model path", ErrModel, o.Model),
				causes: []error{ErrModel, err},
			}
		}
		return nil, fmt.Errorf("detect: %w: cannot read BlazeFace model %q: %v", ErrModel, o.Model, err)
	}
	if err := initRuntime(o.ORTLibrary); err != nil {
		return nil, fmt.Errorf("detect: BlazeFace needs ONNX Runtime: %w", err)
	}
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(data)
	if err != nil {
		return nil, fmt.Errorf("detect: %w: %q is not a loadable ONNX model (%v); run `make deps` to refetch %s",
			ErrModel, o.Model, err, ModelFile)
	}
	if err := checkSignature(o.Model, ins, outs); err != nil {
		return nil, err
	}

	d := &BlazeFace{opts: o}
	d.minLogit = logit(o.Threshold)
	d.anchors = makeAnchors()
	d.cands = make([]candidate, 0, numAnchors)
	d.merged = make([]candidate, 0, numAnchors)
	d.dets = make([]face.Detection, 0, numAnchors)
	d.sm.outW, d.sm.outH = inputSize, inputSize

	if d.input, err = ort.NewEmptyTensor[float32](blazeInput.shape); err != nil {
		return nil, fmt.Errorf("detect: BlazeFace input tensor: %w", err)
	}
	outVals := make([]ort.Value, len(blazeOutputs))
	outNames := make([]string, len(blazeOutputs))
	for i, spec := range blazeOutputs {
		if d.outputs[i], err = ort.NewEmptyTensor[float32](spec.shape); err != nil {
			d.Close()
			return nil, fmt.Errorf("detect: BlazeFace output tensor %s: %w", spec.name, err)
		}
		outVals[i], outNames[i] = d.outputs[i], spec.name
	}
	// The model is tiny: on one core it runs in about 1 ms; ONNX Runtime's
	// default thread pool (one thread per core) made it 2 ms on a 2-core
	// machine through synchronisation, and it takes cores other stages need.
	// The pipeline runs detection concurrently with the other stages instead.
	// ortenv turns spinning off with it: a spinning thread between frames
	// would hold a core the live path needs.
	var createErr error
	_, _, err = ortenv.NewSession(ortenv.CPU, 1, func(opts *ort.SessionOptions) error {
		d.session, createErr = ort.NewAdvancedSessionWithONNXData(data, []string{blazeInput.name}, outNames,
			[]ort.Value{d.input}, outVals, opts)
		return createErr
	})
	switch {
	case createErr != nil:
		d.Close()
		return nil, fmt.Errorf("detect: %w: cannot create an ONNX Runtime session for %q: %v", ErrModel, o.Model, createErr)
	case err != nil:
		d.Close()
		return nil, fmt.Errorf("detect: ONNX Runtime %w", err)
	}
	return d, nil
}

// checkSignature compares a model's inputs and outputs with BlazeFace's.
func checkSignature(path string, ins, outs []ort.InputOutputInfo) error {
	var problems []string
	if len(ins) != 1 {
		problems = append(problems, fmt.Sprintf("%d inputs instead of 1", len(ins)))
	}
	if p := findTensor(ins, blazeInput); p != "" {
		problems = append(problems, p)
	}
	for _, spec := range blazeOutputs {
		if p := findTensor(outs, spec); p != "" {
			problems = append(problems, p)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	want := []string{blazeInput.String()}
	for _, s := range blazeOutputs {
		want = append(want, s.String())
	}
	return fmt.Errorf("detect: %w: %q is not a BlazeFace front 128x128 model: %s; "+
		"found inputs [%s] outputs [%s]; wanted input [%s] outputs [%s]",
		ErrModel, path, strings.Join(problems, "; "), ortenv.Describe(ins), ortenv.Describe(outs),
		want[0], strings.Join(want[1:], ", "))
}

// findTensor reports what is wrong with spec among infos, or "".
func findTensor(infos []ort.InputOutputInfo, spec tensorSpec) string {
	for _, in := range infos {
		if in.Name != spec.name {
			continue
		}
		if in.OrtValueType != ort.ONNXTypeTensor || in.DataType != ort.TensorElementDataTypeFloat {
			return fmt.Sprintf("%s is %s, want a float32 tensor", spec.name, ortenv.DescribeOne(in))
		}
		if !ortenv.DimsMatch(in.Dimensions, spec.shape...) {
			return fmt.Sprintf("%s has shape %v, want %v", spec.name, []int64(in.Dimensions), []int64(spec.shape))
		}
		return ""
	}
	return fmt.Sprintf("no tensor named %s", spec.name)
}

// makeAnchors returns the 896 anchor centres in input pixels, in the model's
// output order: the 16×16 grid with 2 anchors per cell, then the 8×8 grid with
// 6 per cell; centre = (cell + 0.5) / grid. The front model uses fixed-size
// anchors, so width and height regress directly in input pixels.
func makeAnchors() [][2]float32 {
	a := make([][2]float32, 0, numAnchors)
	for _, layer := range [...]struct{ grid, per int }{{16, 2}, {8, 6}} {
		for y := 0; y < layer.grid; y++ {
			for x := 0; x < layer.grid; x++ {
				c := [2]float32{
					(float32(x) + 0.5) / float32(layer.grid) * inputSize,
					(float32(y) + 0.5) / float32(layer.grid) * inputSize,
				}
				for range layer.per {
					a = append(a, c)
				}
			}
		}
	}
	return a
}

func logit(p float64) float32 {
	p = min(max(p, 1e-6), 1-1e-6)
	return float32(math.Log(p / (1 - p)))
}

func sigmoid(x float32) float32 {
	x = min(max(x, -100), 100) // MediaPipe clips raw scores to ±100
	return float32(1 / (1 + math.Exp(-float64(x))))
}

// Detect implements Detector.
func (d *BlazeFace) Detect(f *frame.Frame, dst []face.Detection) ([]face.Detection, error) {
	dst = dst[:0]
	if d.session == nil {
		return dst, ErrClosed
	}
	if err := f.Validate(); err != nil {
		return dst, fmt.Errorf("detect: %w", err)
	}
	d.sm.rgbTensor(f, d.input.GetData())
	if err := d.session.Run(); err != nil {
		return dst, fmt.Errorf("detect: BlazeFace inference: %w", err)
	}
	d.decode()
	d.nms()
	return d.toFrame(f, dst), nil
}

// decode turns the anchors scoring at least the threshold into candidates.
func (d *BlazeFace) decode() {
	d.cands = d.cands[:0]
	base := 0
	for layer := 0; layer < 2; layer++ {
		scores := d.outputs[layer].GetData()
		regs := d.outputs[layer+2].GetData()
		for i, raw := range scores {
			if raw < d.minLogit {
				continue
			}
			r := regs[i*numRegs : (i+1)*numRegs]
			a := d.anchors[base+i]
			w, h := r[2], r[3]
			if !(w > 0 && h > 0) {
				continue
			}
			cx, cy := a[0]+r[0], a[1]+r[1]
			c := candidate{
				score: sigmoid(raw),
				box:   [4]float32{cx - w/2, cy - h/2, cx + w/2, cy + h/2},
			}
			for k := 0; k < face.NumKeypoints; k++ {
				c.kp[2*k] = a[0] + r[4+2*k]
				c.kp[2*k+1] = a[1] + r[5+2*k]
			}
			d.cands = append(d.cands, c)
		}
		base += len(scores)
	}
}

// nms is MediaPipe's weighted non-maximum suppression: take the best
// remaining candidate, gather every remaining one overlapping it by IoU >
// nmsIoU, and emit their score-weighted average box and keypoints with the
// best one's score.
func (d *BlazeFace) nms() {
	slices.SortFunc(d.cands, func(a, b candidate) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0
	})
	d.merged = d.merged[:0]
	rest := d.cands
	for len(rest) > 0 {
		best := rest[0]
		var sum candidate
		var wsum float32
		keep := rest[:0]
		for i := range rest {
			c := rest[i]
			if i == 0 || iou(best.box, c.box) > nmsIoU {
				for j := range sum.box {
					sum.box[j] += c.score * c.box[j]
				}
				for j := range sum.kp {
					sum.kp[j] += c.score * c.kp[j]
				}
				wsum += c.score
				continue
			}
			keep = append(keep, c) // in place: keep trails i
		}
		for j := range sum.box {
			sum.box[j] /= wsum
		}
		for j := range sum.kp {
			sum.kp[j] /= wsum
		}
		sum.score = best.score
		d.merged = append(d.merged, sum)
		rest = keep
	}
}

func iou(a, b [4]float32) float32 {
	iw := min(a[2], b[2]) - max(a[0], b[0])
	ih := min(a[3], b[3]) - max(a[1], b[1])
	if iw <= 0 || ih <= 0 {
		return 0
	}
	inter := iw * ih
	union := (a[2]-a[0])*(a[3]-a[1]) + (b[2]-b[0])*(b[3]-b[1]) - inter
	return inter / union
}

// toFrame maps merged candidates from input to frame pixels through the
// letterbox, clips boxes, drops those left with (almost) nothing inside the
// frame, and keeps the MaxFaces largest.
func (d *BlazeFace) toFrame(f *frame.Frame, dst []face.Detection) []face.Detection {
	s, ox, oy := d.sm.s, d.sm.ox, d.sm.oy
	d.dets = d.dets[:0]
	for _, c := range d.merged {
		var det face.Detection
		det.Score = float64(c.score)
		full := face.Rect{
			X0: (float64(c.box[0]) - ox) / s, Y0: (float64(c.box[1]) - oy) / s,
			X1: (float64(c.box[2]) - ox) / s, Y1: (float64(c.box[3]) - oy) / s,
		}
		det.Box = clipRect(full, f.Width, f.Height)
		// A box mostly in the letterbox bars is a false positive of the
		// grey padding; a face cut by the frame edge keeps a good part.
		if det.Box.W() < 1 || det.Box.H() < 1 || area(det.Box) < 0.25*area(full) {
			continue
		}
		for k := 0; k < face.NumKeypoints; k++ {
			// Keypoints are continuous input coordinates; frame points put
			// pixel centres at integers, hence the -0.5.
			det.Keypoints[k] = face.Point{
				X: (float64(c.kp[2*k])-ox)/s - 0.5,
				Y: (float64(c.kp[2*k+1])-oy)/s - 0.5,
			}
		}
		det.HasKeypoints = true
		d.dets = append(d.dets, det)
	}
	sortBySize(d.dets)
	return append(dst, d.dets[:min(len(d.dets), d.opts.MaxFaces)]...)
}

// Close releases the session and tensors. It is idempotent.
func (d *BlazeFace) Close() error {
	if d.session != nil {
		d.session.Destroy()
		d.session = nil
	}
	if d.input != nil {
		d.input.Destroy()
		d.input = nil
	}
	for i, t := range d.outputs {
		if t != nil {
			t.Destroy()
			d.outputs[i] = nil
		}
	}
	return nil
}
