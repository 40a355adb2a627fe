// Package config is the strict JSON configuration of the facelive engine.
//
// Every key, its type and its allowed values live in one schema table
// (schema.go). Unknown keys, wrong types, null and out-of-range values are
// errors that name the dotted key ("detector.threshold") and say what is
// allowed, because a typo in a live stream's config must never be silently
// ignored.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Config is the complete engine configuration. The zero value is not valid;
// start from Default or Parse.
type Config struct {
	Mode               string    `json:"mode"`    // realtime|balanced|quality|batch
	Profile            string    `json:"profile"` // auto|low|medium|high|workstation
	Level              string    `json:"level"`   // conservative|balanced|aggressive|custom
	Swapper            Swapper   `json:"swapper"`
	Detector           Detector  `json:"detector"`
	Landmarks          Landmarks `json:"landmarks"`
	Merge              Merge     `json:"merge"`
	Skip               string    `json:"skip"`                // drop_oldest|drop_newest|adaptive|none
	Decouple           string    `json:"decouple"`            // auto|on|off: swap model at its own rate (live modes)
	Unprocessed        string    `json:"unprocessed"`         // auto|pass|hold|hide: a frame the models did not process
	TargetFPS          float64   `json:"target_fps"`          // 0 (= measured input rate) to 240
	Workers            int       `json:"workers"`             // 0 (= auto) to 64
	ExecutionProvider  string    `json:"execution_provider"`  // auto|cpu|cuda|tensorrt
	VRAMBudgetMB       int       `json:"vram_budget_mb"`      // 0 (= auto) to 1048576
	ONNXRuntimeLibrary string    `json:"onnxruntime_library"` // file path, "" = auto
	AssetsDir          string    `json:"assets_dir"`          // directory path or ""
	Metrics            Metrics   `json:"metrics"`
	Overlay            Overlay   `json:"overlay"`
}

// Swapper selects what replaces each face.
type Swapper struct {
	Kind         string      `json:"kind"`          // photo|dfm|inswapper|blur|pixelate|none
	Face         string      `json:"face"`          // source photo (photo, inswapper)
	Model        string      `json:"model"`         // .dfm or InSwapper .onnx
	ArcFaceModel string      `json:"arcface_model"` // ArcFace .onnx for inswapper, and for faces matched by reference
	Morph        float64     `json:"morph"`         // 0 to 1, DFM morph_value
	Faces        FaceSources `json:"faces"`         // a source per person (photo, inswapper); see FaceSources
	Unlisted     string      `json:"unlisted"`      // default|pass: a face no entry of Faces takes
	Backend      string      `json:"backend"`       // local|kserve: where the dfm/inswapper model runs
	Server       Server      `json:"server"`        // the inference server, for backend kserve
}

// Server is a KServe v2 inference server (NVIDIA Triton, KServe, OpenVINO
// Model Server, Seldon MLServer) that runs the swap model over gRPC.
type Server struct {
	URL         string `json:"url"`           // host:port of the gRPC endpoint
	Model       string `json:"model"`         // the model's name in the server's repository
	Version     string `json:"version"`       // "" = the server's version policy
	TimeoutMS   int    `json:"timeout_ms"`    // per request, 1 to 60000
	MaxInFlight int    `json:"max_in_flight"` // requests pipelined, 1 to 16
	TLS         TLS    `json:"tls"`
	// Fallback is a local model file of the swapper's kind (a .dfm for
	// dfm, inswapper_128.onnx for inswapper) that swaps the faces while
	// the server has no fresh answer; "" = none (the unprocessed policy).
	Fallback string `json:"fallback"`
}

// TLS secures the connection to the server: all empty = plaintext; ca alone
// = TLS checked against that CA; cert and key too = mutual TLS.
type TLS struct {
	CA   string `json:"ca"`   // PEM file of the CA that signed the server's certificate
	Cert string `json:"cert"` // PEM client certificate
	Key  string `json:"key"`  // PEM client key
}

// MaxFaceSources bounds swapper.faces: one entry per face the detector may
// follow (detector.max_faces is at most 16).
const MaxFaceSources = 16

// FaceSources lists which source photo each person wears: the used entries
// first, the rest zero (Match ""). An array, not a slice, so that Config
// stays comparable with ==: the loader compares configs to decide what to
// reload.
type FaceSources [MaxFaceSources]FaceSource

// FaceSource is one entry of swapper.faces: the photo a face wears and
// which face takes it. A face takes the entry when its track starts and
// keeps it while the track lives.
type FaceSource struct {
	Face      string // the photo this person wears
	Match     string // position (Index 0 = leftmost) | size (Index 0 = largest) | reference
	Index     int    // 0 to MaxFaceSources-1, for position and size
	Reference string // match reference: a photo of the person (needs swapper.arcface_model)
}

// People is how many faces the detector must follow for every entry to be
// able to take one: the entries, or the highest position or size index
// plus one.
func (fs *FaceSources) People() int {
	n := fs.Len()
	need := n
	for i := range n {
		if fs[i].Match != "reference" {
			need = max(need, fs[i].Index+1)
		}
	}
	return need
}

// Len is the number of entries in use.
func (fs *FaceSources) Len() int {
	n := 0
	for n < len(fs) && fs[n].Match != "" {
		n++
	}
	return n
}

// Detector configures face detection.
type Detector struct {
	Kind      string  `json:"kind"`      // blazeface|haar
	Threshold float64 `json:"threshold"` // 0 to 1
	Interval  int     `json:"interval"`  // frames between full detections, 0 = adaptive, up to 1000
	MaxFaces  int     `json:"max_faces"` // 1 to 16
}

// Landmarks configures landmark fitting.
type Landmarks struct {
	Kind      string  `json:"kind"`      // dlib68|keypoints
	Smoothing float64 `json:"smoothing"` // 0 to 1
}

// Merge configures how the swapped face is blended back.
type Merge struct {
	Erode         int     `json:"erode"`          // 0 to 64 px
	Blur          int     `json:"blur"`           // 0 to 255 px
	ColorTransfer string  `json:"color_transfer"` // rct|none
	Opacity       float64 `json:"opacity"`        // 0 to 1
	// LiveEyes and LiveMouth keep the person's own eyes and inner mouth
	// (blinks and speech show through the swapped face): "on" (JSON true),
	// "off" (false) or "auto", on for the photo swapper, off for the
	// models (dfm, inswapper). LiveFeatures resolves them.
	LiveEyes  string `json:"live_eyes"`
	LiveMouth string `json:"live_mouth"`
}

// LiveFeatures says whether the live eyes and live mouth are on for m's
// settings with swapper kind.
func (m Merge) LiveFeatures(kind string) (eyes, mouth bool) {
	on := func(v string) bool { return v == "on" || (v == "auto" && kind == "photo") }
	return on(m.LiveEyes), on(m.LiveMouth)
}

// Metrics configures metric export.
type Metrics struct {
	PrometheusAddr string `json:"prometheus_addr"` // "" = off, else host:port
}

// Overlay configures what is drawn onto output frames.
type Overlay struct {
	Stats      bool `json:"stats"`
	Disclosure bool `json:"disclosure"`
}

// ErrFileMissing is wrapped by errors for a named file or directory that does
// not exist (or is not of the required kind).
var ErrFileMissing = errors.New("file not found")

// Error is the type of every error this package returns.
type Error struct {
	Key string // dotted key such as "detector.threshold"; "" for syntax, file and whole-document errors
	Msg string
	Err error // underlying cause for errors.Is / errors.As, may be nil
}

func (e *Error) Error() string { return "config: " + e.Msg }

func (e *Error) Unwrap() error { return e.Err }

// Default returns the built-in configuration.
func Default() Config {
	return Config{
		Mode:    "realtime",
		Profile: "auto",
		Level:   "balanced",
		Swapper: Swapper{Kind: "photo", Morph: 0.75, Unlisted: "default", // face "" = the default face in the assets
			Backend: "local", Server: Server{TimeoutMS: 1000, MaxInFlight: 4}},
		Detector:          Detector{Kind: "blazeface", Threshold: 0.5, MaxFaces: 4},
		Landmarks:         Landmarks{Kind: "dlib68", Smoothing: 0.5},
		Merge:             Merge{Erode: 5, Blur: 25, ColorTransfer: "rct", Opacity: 1, LiveEyes: "auto", LiveMouth: "auto"},
		Skip:              "adaptive",
		Decouple:          "auto",
		Unprocessed:       "auto",
		ExecutionProvider: "auto",
	}
}

// Parse returns Default() with the JSON object in data merged in. It checks
// keys, types and ranges but not the build's swappers or the file system;
// Validate does that. Empty input (including nil) is an error: callers map a
// C NULL to the defaults themselves.
func Parse(data []byte) (Config, error) {
	return Default().apply(data)
}

// Patch returns c with the partial JSON object applied; keys absent from
// partial keep c's values. The result is validated. On error the returned
// Config is the zero value; c itself is never modified.
func (c Config) Patch(partial []byte) (Config, error) {
	out, err := c.apply(partial)
	if err == nil {
		err = out.Validate()
	}
	if err != nil {
		return Config{}, err
	}
	return out, nil
}

// apply merges the JSON object in data into a copy of c.
func (c Config) apply(data []byte) (Config, error) {
	obj, err := decodeObject(data)
	if err != nil {
		return Config{}, err
	}
	if err := applyObject(&c, "", obj); err != nil {
		return Config{}, err
	}
	return c, nil
}

// decodeObject parses data as exactly one JSON object.
func decodeObject(data []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &Error{Msg: "empty; pass {} (or NULL from C) for the defaults"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // keep number text: ints must be integral and messages show what was written
	var v any
	if err := dec.Decode(&v); err != nil {
		var syn *json.SyntaxError
		switch {
		case errors.As(err, &syn):
			return nil, &Error{Msg: fmt.Sprintf("invalid JSON at byte %d: %v", syn.Offset, syn), Err: err}
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, &Error{Msg: fmt.Sprintf("invalid JSON at byte %d: unexpected end of input", len(data)), Err: err}
		default:
			return nil, &Error{Msg: "invalid JSON: " + err.Error(), Err: err}
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &Error{Msg: "unexpected data after the JSON object"}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &Error{Msg: `must be a JSON object such as {"mode": "realtime"}, got ` + describe(v)}
	}
	return obj, nil
}

// applyObject stores the members of obj, the JSON object for group ("" = top
// level), into c. Keys are visited in sorted order so the first error
// reported for a given input is always the same.
func applyObject(c *Config, group string, obj map[string]any) error {
	for _, name := range slices.Sorted(maps.Keys(obj)) {
		raw, key := obj[name], joinKey(group, name)
		switch f := lookup(key); {
		case strings.Contains(name, "."):
			// Docs write keys dotted; in JSON they must be nested.
			msg := fmt.Sprintf("unknown key %q", key)
			if lookup(name) != nil {
				g, n := splitKey(name)
				msg += fmt.Sprintf(`; write it nested: {%q: {%q: ...}}`, g, n)
			}
			return &Error{Key: key, Msg: msg}
		case f != nil:
			v, err := f.decode(raw)
			if err != nil {
				return err
			}
			f.store(c, v)
		case isGroup(key):
			sub, ok := raw.(map[string]any)
			if !ok {
				return &Error{Key: key, Msg: fmt.Sprintf("%q must be an object with keys %s, got %s",
					key, strings.Join(childKeys(key), ", "), describe(raw))}
			}
			if err := applyObject(c, key, sub); err != nil {
				return err
			}
		default:
			return unknownKey(group, key)
		}
	}
	return nil
}

func unknownKey(group, key string) error {
	allowed := "allowed keys: "
	if group != "" {
		allowed = fmt.Sprintf("allowed keys in %q: ", group)
	}
	return &Error{Key: key, Msg: fmt.Sprintf("unknown key %q; %s%s", key, allowed, strings.Join(childKeys(group), ", "))}
}

// Validate checks every value against the schema (a Config built in Go may
// hold anything), that swapper.kind is one this build supports, and that the
// named files and directory exist.
func (c Config) Validate() error {
	for i := range schema {
		if err := schema[i].check(&c); err != nil {
			return err
		}
	}
	// What each kind needs, said before any model is touched.
	switch s := c.Swapper; {
	case s.Kind == "dfm" && s.Model == "" && s.Backend != "kserve":
		return &Error{Key: "swapper.model", Msg: `swapper.kind "dfm" needs "swapper.model": the path of a DeepFaceLive .dfm model`}
	case s.Kind == "inswapper" && (s.Model == "" || s.ArcFaceModel == ""):
		return &Error{Key: "swapper.model", Msg: `swapper.kind "inswapper" needs "swapper.model" (inswapper_128.onnx) and "swapper.arcface_model" (an ArcFace model, 112x112 -> 512); "swapper.face" names the source photo`}
	}
	if err := c.Swapper.checkServer(); err != nil {
		return err
	}
	if err := c.validateFaces(); err != nil {
		return err
	}
	for i := range schema {
		f := &schema[i]
		if f.path == noPath {
			continue
		}
		if err := checkPath(f, f.load(&c).(string)); err != nil {
			return err
		}
	}
	return nil
}

// checkPath checks that a non-empty path key names what it should; every
// failure wraps ErrFileMissing so callers can tell it from a syntax error.
func checkPath(f *field, path string) error {
	if path == "" {
		return nil
	}
	st, err := os.Stat(path)
	problem := ""
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &Error{Key: f.key, Err: ErrFileMissing,
			Msg: fmt.Sprintf("%q names %q, which does not exist; fix the path or remove the key", f.key, path)}
	case err != nil:
		return &Error{Key: f.key, Err: fmt.Errorf("%w: %w", ErrFileMissing, err),
			Msg: fmt.Sprintf("%q names %q, which cannot be read (%v); fix the path or remove the key", f.key, path, cause(err))}
	case f.path == filePath && !st.Mode().IsRegular():
		problem = "a regular file"
	case f.path == dirPath && !st.IsDir():
		problem = "a directory"
	}
	if problem != "" {
		return &Error{Key: f.key, Err: ErrFileMissing,
			Msg: fmt.Sprintf("%q names %q, which is not %s; fix the path or remove the key", f.key, path, problem)}
	}
	return nil
}

// JSON returns the complete config as JSON indented by two spaces, every key
// present, in Config's field order. A non-finite float, which Parse never
// produces, is written as null so that parsing it back fails on that key.
func (c Config) JSON() []byte {
	var b []byte
	b = append(b, '{')
	var open []string // the groups whose objects are being written, outermost first
	first := true
	for i := range schema {
		f := &schema[i]
		path := strings.Split(f.key, ".")
		groups, name := path[:len(path)-1], path[len(path)-1]
		shared := 0
		for shared < len(open) && shared < len(groups) && open[shared] == groups[shared] {
			shared++
		}
		for len(open) > shared {
			b = append(b, '}')
			open = open[:len(open)-1]
			first = false
		}
		for _, g := range groups[shared:] {
			if !first {
				b = append(b, ',')
			}
			b = appendJSON(b, g)
			b = append(b, ':', '{')
			open = append(open, g)
			first = true
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSON(b, name)
		b = append(b, ':')
		b = appendJSON(b, f.load(&c))
	}
	for range open {
		b = append(b, '}')
	}
	b = append(b, '}')
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		panic("config: JSON built invalid output: " + err.Error()) // a bug in this function, not bad input
	}
	return out.Bytes()
}

// appendJSON appends one scalar; strings, ints, bools and finite floats
// cannot fail to marshal.
func appendJSON(b []byte, v any) []byte {
	if x, ok := v.(float64); ok && (math.IsNaN(x) || math.IsInf(x, 0)) {
		return append(b, "null"...)
	}
	enc, _ := json.Marshal(v)
	return append(b, enc...)
}

// Load reads, parses and validates the config file at path. Messages name the
// path.
func Load(path string) (Config, error) {
	c, _, err := load(path)
	return c, err
}

// ReadFile reads the config file at path and validates it as Load does,
// and returns its bytes: what a running engine applies as a set_config,
// so that keys the file leaves out keep their values (a hand-written file
// that sets merge.blur alone does not move the host's assets_dir back to
// the default).
func ReadFile(path string) ([]byte, error) {
	_, data, err := load(path)
	return data, err
}

func load(path string) (Config, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		// Not ErrFileMissing: that means a file named inside the config.
		return Config{}, nil, &Error{Msg: fmt.Sprintf("cannot read %s: %v", path, cause(err)), Err: err}
	}
	c, err := Parse(data)
	if err == nil {
		err = c.Validate()
	}
	if err != nil {
		var e *Error
		errors.As(err, &e)
		return Config{}, nil, &Error{Key: e.Key, Msg: path + ": " + e.Msg, Err: e.Err}
	}
	return c, data, nil
}

// Save writes c.JSON() to path atomically: a temporary file in the same
// directory is written, synced and renamed over path, so readers see either
// the old file or the complete new one.
func (c Config) Save(path string) error {
	fail := func(err error) error {
		return &Error{Msg: fmt.Sprintf("cannot save %s: %v", path, cause(err)), Err: err}
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fail(err)
	}
	data := append(c.JSON(), '\n')
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o644) // CreateTemp makes 0600; a config is ordinary readable data
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fail(err)
	}
	// Make the rename itself durable. Best effort: some file systems refuse
	// to sync a directory, and the new file is already complete.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// cause strips the operation and path that *fs.PathError and *os.LinkError
// repeat, since the message names the path itself.
func cause(err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &le):
		return le.Err
	}
	return err
}

// Keys returns the dotted leaf keys a JSON config object sets, such as
// "mode" and "detector.interval": what a user chose, as opposed to what the
// profile may fill in. A group set as a whole ("detector": {...}) yields its
// leaves. Unknown keys are returned too; Parse reports them.
func Keys(data []byte) ([]string, error) {
	obj, err := decodeObject(data)
	if err != nil {
		return nil, err
	}
	var keys []string
	var walk func(prefix string, o map[string]any)
	walk = func(prefix string, o map[string]any) {
		for k, v := range o {
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+k+".", sub)
				continue
			}
			keys = append(keys, prefix+k)
		}
	}
	walk("", obj)
	slices.Sort(keys)
	return keys, nil
}
