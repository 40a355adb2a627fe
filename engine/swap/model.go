package swap

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	ort "github.com/yalue/onnxruntime_go"

	"facelive/engine/ortenv"
)

// Errors callers may test for with errors.Is.
var (
	// ErrModel wraps every failure to use a model file: missing, corrupt,
	// or with inputs and outputs other than the swapper needs. The pipeline
	// reports it as FACELIVE_EMODEL.
	ErrModel = errors.New("unusable swapper model")
	// ErrRuntime wraps failures to load the ONNX Runtime library.
	ErrRuntime = errors.New("ONNX Runtime unavailable")
	// ErrClosed is returned by Swap after Close.
	ErrClosed = errors.New("swapper is closed")
	// ErrNoFace is what a Locate returns (wrapped) when an image shows no
	// face; LoadPhoto wraps it too.
	ErrNoFace = errors.New("no face found")
)

// Config keys that name the model files, used in error messages so that a
// user knows which setting to fix.
const (
	keyModel   = "swapper.model"
	keyArcFace = "swapper.arcface_model"
	keyFace    = "swapper.face"
)

// causedError is an error with its own message that still matches its
// causes with errors.Is and errors.As.
type causedError struct {
	msg    string
	causes []error
}

func (e *causedError) Error() string   { return e.msg }
func (e *causedError) Unwrap() []error { return e.causes }

// modelError returns an error with the given message that wraps ErrModel
// and cause (which may be nil).
func modelError(cause error, format string, args ...any) error {
	causes := []error{ErrModel}
	if cause != nil {
		causes = append(causes, cause)
	}
	return &causedError{msg: fmt.Sprintf(format, args...), causes: causes}
}

// readModel reads a model file; errors name the config key and the path.
func readModel(key, path, what string) ([]byte, error) {
	if path == "" {
		return nil, modelError(nil, "%s is empty; set it to %s", key, what)
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, modelError(err, "%s %q does not exist; expected %s", key, path, what)
	case err != nil:
		return nil, modelError(err, "%s %q: %v; expected %s", key, path, err, what)
	case st.IsDir():
		return nil, modelError(nil, "%s %q is a directory; expected %s", key, path, what)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, modelError(err, "%s %q cannot be read: %v", key, path, err)
	}
	return data, nil
}

// initRuntime makes sure the process-wide ONNX Runtime environment exists.
// The engine initialises it with the configured library before it builds
// a swapper; then this is free. Alone, it loads ortenv.DefaultLibrary("").
func initRuntime() error {
	if err := ortenv.Init(""); err != nil {
		return &causedError{msg: "swap: " + err.Error(), causes: []error{ErrRuntime, err}}
	}
	return nil
}

// modelInfo returns a model's inputs and outputs, or an error naming the
// file when ONNX Runtime cannot parse it.
func modelInfo(key, path, what string, data []byte) (ins, outs []ort.InputOutputInfo, err error) {
	ins, outs, err = ort.GetInputOutputInfoWithONNXData(data)
	if err != nil {
		return nil, nil, modelError(err, "%s %q is not a loadable ONNX model (%v); expected %s", key, path, err, what)
	}
	return ins, outs, nil
}

// Option tunes how a model-based swapper creates its ONNX Runtime sessions.
type Option func(*sessionConf)

type sessionConf struct {
	key      string       // the config key that names the model file, in messages
	provider string       // ortenv.CPU, CUDA or TensorRT
	note     func(string) // told when a GPU provider falls back to the CPU
	used     string       // the provider the last session runs on
}

// WithProvider runs the model on an execution provider ("cpu", "cuda",
// "tensorrt"). A GPU provider that fails falls back to the CPU and note is
// told why (note may be nil).
func WithProvider(provider string, note func(string)) Option {
	return func(c *sessionConf) { c.provider, c.note = provider, note }
}

// WithModelKey names the config key of the model file in error messages
// ("swapper.server.fallback"); the default is swapper.model.
func WithModelKey(key string) Option {
	return func(c *sessionConf) { c.key = key }
}

func newConf(opts []Option) *sessionConf {
	c := &sessionConf{key: keyModel, provider: ortenv.CPU}
	for _, o := range opts {
		o(c)
	}
	return c
}

// newSession creates a session whose inputs and outputs are the given
// preallocated tensors, on the configured provider. These models are heavy
// and would take every core, but they run beside the live path (decoupled,
// tracking and pasting every frame): they get every core but one, without
// spinning, so the live path keeps a core.
func newSession(c *sessionConf, key, path string, data []byte, inNames, outNames []string, ins, outs []ort.Value) (*ort.AdvancedSession, error) {
	var s *ort.AdvancedSession
	used, note, err := ortenv.NewSession(c.provider, ortenv.BesideLivePath(), func(o *ort.SessionOptions) error {
		var err error
		s, err = ort.NewAdvancedSessionWithONNXData(data, inNames, outNames, ins, outs, o)
		return err
	})
	c.used = used
	if note != "" && c.note != nil {
		c.note(fmt.Sprintf("%s %q: %s", key, path, note))
	}
	if err != nil {
		return nil, modelError(err, "%s %q: cannot create an ONNX Runtime session: %v", key, path, err)
	}
	return s, nil
}

// destroyTensors releases tensors, skipping nil ones, and clears them.
func destroyTensors(ts ...**ort.Tensor[float32]) {
	for _, t := range ts {
		if *t != nil {
			(*t).Destroy()
			*t = nil
		}
	}
}

// byteToUnit maps a byte to [0, 1] exactly as b/255 in float32.
var byteToUnit = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

// unitToByte maps v in [0, 1] to a byte, rounding; out of range and NaN
// clamp (NaN to 0).
func unitToByte(v float32) byte {
	v = v*255 + 0.5
	if !(v > 0) {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return byte(v)
}

// unitClamp clamps v to [0, 1]; NaN gives 0.
func unitClamp(v float32) float32 {
	if !(v > 0) {
		return 0
	}
	if v > 1 {
		return 1
	}
	return v
}
