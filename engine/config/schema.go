package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxString bounds every string value so a config cannot smuggle megabytes
// through the C ABI into messages, logs and file names.
const maxString = 4096

type fieldType int

const (
	typeEnum fieldType = iota
	typeInt
	typeFloat
	typeBool
	typeString
	typeFaces // swapper.faces: a list of objects (faces.go)
)

// pathRule says what Validate requires of a non-empty string key.
type pathRule int

const (
	noPath pathRule = iota
	filePath
	dirPath
)

// field is one leaf key of the config: its JSON name, its rules and where it
// lives in Config.
type field struct {
	key    string // dotted: "detector.threshold"
	typ    fieldType
	values []string // typeEnum
	// switches: a typeEnum of auto|on|off that also takes JSON true
	// (stored "on") and false ("off").
	switches bool
	min      float64 // typeInt, typeFloat
	max      float64
	path     pathRule           // typeString
	rule     func(string) error // typeString: extra syntax rule, nil for none
	ref      func(*Config) any  // pointer to the field inside c
}

// schema is the single description of the config: unknown-key checks, type
// and range checks, allowed-key lists, JSON() and Validate all read it. Its
// order is Config's field order, which is the order JSON() writes.
var schema = []field{
	enumKey("mode", func(c *Config) *string { return &c.Mode }, "realtime", "balanced", "quality", "batch"),
	enumKey("profile", func(c *Config) *string { return &c.Profile }, "auto", "low", "medium", "high", "workstation"),
	enumKey("level", func(c *Config) *string { return &c.Level }, "conservative", "balanced", "aggressive", "custom"),
	enumKey("swapper.kind", func(c *Config) *string { return &c.Swapper.Kind }, "photo", "dfm", "inswapper", "blur", "pixelate", "none"),
	pathKey("swapper.face", filePath, func(c *Config) *string { return &c.Swapper.Face }),
	pathKey("swapper.model", filePath, func(c *Config) *string { return &c.Swapper.Model }),
	pathKey("swapper.arcface_model", filePath, func(c *Config) *string { return &c.Swapper.ArcFaceModel }),
	floatKey("swapper.morph", 0, 1, func(c *Config) *float64 { return &c.Swapper.Morph }),
	{key: "swapper.faces", typ: typeFaces, ref: func(c *Config) any { return &c.Swapper.Faces }},
	enumKey("swapper.unlisted", func(c *Config) *string { return &c.Swapper.Unlisted }, "default", "pass"),
	enumKey("swapper.backend", func(c *Config) *string { return &c.Swapper.Backend }, "local", "kserve"),
	{key: "swapper.server.url", typ: typeString, rule: checkDialAddr, ref: func(c *Config) any { return &c.Swapper.Server.URL }},
	{key: "swapper.server.model", typ: typeString, ref: func(c *Config) any { return &c.Swapper.Server.Model }},
	{key: "swapper.server.version", typ: typeString, ref: func(c *Config) any { return &c.Swapper.Server.Version }},
	intKey("swapper.server.timeout_ms", 1, 60000, func(c *Config) *int { return &c.Swapper.Server.TimeoutMS }),
	intKey("swapper.server.max_in_flight", 1, 16, func(c *Config) *int { return &c.Swapper.Server.MaxInFlight }),
	pathKey("swapper.server.tls.ca", filePath, func(c *Config) *string { return &c.Swapper.Server.TLS.CA }),
	pathKey("swapper.server.tls.cert", filePath, func(c *Config) *string { return &c.Swapper.Server.TLS.Cert }),
	pathKey("swapper.server.tls.key", filePath, func(c *Config) *string { return &c.Swapper.Server.TLS.Key }),
	pathKey("swapper.server.fallback", filePath, func(c *Config) *string { return &c.Swapper.Server.Fallback }),
	enumKey("detector.kind", func(c *Config) *string { return &c.Detector.Kind }, "blazeface", "haar"),
	floatKey("detector.threshold", 0, 1, func(c *Config) *float64 { return &c.Detector.Threshold }),
	intKey("detector.interval", 0, 1000, func(c *Config) *int { return &c.Detector.Interval }),
	intKey("detector.max_faces", 1, 16, func(c *Config) *int { return &c.Detector.MaxFaces }),
	enumKey("landmarks.kind", func(c *Config) *string { return &c.Landmarks.Kind }, "dlib68", "keypoints"),
	floatKey("landmarks.smoothing", 0, 1, func(c *Config) *float64 { return &c.Landmarks.Smoothing }),
	intKey("merge.erode", 0, 64, func(c *Config) *int { return &c.Merge.Erode }),
	intKey("merge.blur", 0, 255, func(c *Config) *int { return &c.Merge.Blur }),
	enumKey("merge.color_transfer", func(c *Config) *string { return &c.Merge.ColorTransfer }, "rct", "none"),
	floatKey("merge.opacity", 0, 1, func(c *Config) *float64 { return &c.Merge.Opacity }),
	switchKey("merge.live_eyes", func(c *Config) *string { return &c.Merge.LiveEyes }),
	switchKey("merge.live_mouth", func(c *Config) *string { return &c.Merge.LiveMouth }),
	enumKey("skip", func(c *Config) *string { return &c.Skip }, "drop_oldest", "drop_newest", "adaptive", "none"),
	enumKey("decouple", func(c *Config) *string { return &c.Decouple }, "auto", "on", "off"),
	enumKey("unprocessed", func(c *Config) *string { return &c.Unprocessed }, "auto", "pass", "hold", "hide"),
	floatKey("target_fps", 0, 240, func(c *Config) *float64 { return &c.TargetFPS }),
	intKey("workers", 0, 64, func(c *Config) *int { return &c.Workers }),
	enumKey("execution_provider", func(c *Config) *string { return &c.ExecutionProvider }, "auto", "cpu", "cuda", "tensorrt"),
	intKey("vram_budget_mb", 0, 1048576, func(c *Config) *int { return &c.VRAMBudgetMB }),
	pathKey("onnxruntime_library", filePath, func(c *Config) *string { return &c.ONNXRuntimeLibrary }),
	pathKey("assets_dir", dirPath, func(c *Config) *string { return &c.AssetsDir }),
	{key: "metrics.prometheus_addr", typ: typeString, rule: checkListenAddr,
		ref: func(c *Config) any { return &c.Metrics.PrometheusAddr }},
	boolKey("overlay.stats", func(c *Config) *bool { return &c.Overlay.Stats }),
	boolKey("overlay.disclosure", func(c *Config) *bool { return &c.Overlay.Disclosure }),
}

// The constructors take typed accessors so a key cannot point at a field of
// the wrong Go type.

func enumKey(key string, ref func(*Config) *string, values ...string) field {
	return field{key: key, typ: typeEnum, values: values, ref: func(c *Config) any { return ref(c) }}
}

// switchKey is a feature switch: true, false, or "auto" (the default
// that depends on other keys); JSON() writes "on" and "off" for the
// booleans.
func switchKey(key string, ref func(*Config) *string) field {
	f := enumKey(key, ref, "auto", "on", "off")
	f.switches = true
	return f
}

func pathKey(key string, rule pathRule, ref func(*Config) *string) field {
	return field{key: key, typ: typeString, path: rule, ref: func(c *Config) any { return ref(c) }}
}

func intKey(key string, min, max int, ref func(*Config) *int) field {
	return field{key: key, typ: typeInt, min: float64(min), max: float64(max), ref: func(c *Config) any { return ref(c) }}
}

func floatKey(key string, min, max float64, ref func(*Config) *float64) field {
	return field{key: key, typ: typeFloat, min: min, max: max, ref: func(c *Config) any { return ref(c) }}
}

func boolKey(key string, ref func(*Config) *bool) field {
	return field{key: key, typ: typeBool, ref: func(c *Config) any { return ref(c) }}
}

// lookup returns the leaf with the dotted key, or nil.
func lookup(key string) *field {
	for i := range schema {
		if schema[i].key == key {
			return &schema[i]
		}
	}
	return nil
}

// splitKey splits "swapper.kind" into ("swapper", "kind") and "mode" into ("", "mode").
func splitKey(key string) (group, name string) {
	if i := strings.IndexByte(key, '.'); i >= 0 {
		return key[:i], key[i+1:]
	}
	return "", key
}

func joinKey(group, name string) string {
	if group == "" {
		return name
	}
	return group + "." + name
}

// isGroup reports whether key names an object of the config, such as
// "swapper" or "swapper.server".
func isGroup(key string) bool {
	for _, f := range schema {
		if strings.HasPrefix(f.key, key+".") {
			return true
		}
	}
	return false
}

// childKeys lists the keys allowed directly inside group ("" = top level,
// else dotted such as "swapper.server"), in schema order.
func childKeys(group string) []string {
	var keys []string
	for _, f := range schema {
		rest, ok := f.key, group == ""
		if !ok {
			rest, ok = strings.CutPrefix(f.key, group+".")
		}
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, ".")
		if !slices.Contains(keys, name) {
			keys = append(keys, name)
		}
	}
	return keys
}

// expect says, for messages, what a key accepts.
func (f *field) expect() string {
	switch f.typ {
	case typeEnum:
		if f.switches {
			return "must be true, false or one of " + strings.Join(f.values, ", ")
		}
		return "must be one of " + strings.Join(f.values, ", ")
	case typeInt:
		return "must be an integer"
	case typeFloat:
		return "must be a number"
	case typeBool:
		return "must be true or false"
	case typeFaces:
		return "must be a list of objects such as " + facesExample
	default:
		return "must be a string"
	}
}

// decode converts a value from encoding/json (decoded with UseNumber) to the
// Go value stored in Config, checking its type and rules.
func (f *field) decode(raw any) (any, error) {
	switch f.typ {
	case typeInt, typeFloat:
		n, ok := raw.(json.Number)
		if !ok {
			return nil, f.typeError(raw)
		}
		// json has checked the syntax; an overflow parses to ±Inf, which the
		// range check rejects before any int conversion.
		x, _ := strconv.ParseFloat(string(n), 64)
		if f.typ == typeInt && x != math.Trunc(x) {
			return nil, f.typeError(raw)
		}
		if err := f.checkNumber(x, string(n)); err != nil {
			return nil, err
		}
		if f.typ == typeInt {
			return int(x), nil
		}
		return x, nil
	case typeBool:
		b, ok := raw.(bool)
		if !ok {
			return nil, f.typeError(raw)
		}
		return b, nil
	case typeFaces:
		return decodeFaces(f, raw)
	default:
		if b, ok := raw.(bool); ok && f.switches {
			if b {
				return "on", nil
			}
			return "off", nil
		}
		s, ok := raw.(string)
		if !ok {
			return nil, f.typeError(raw)
		}
		return s, f.checkString(s)
	}
}

// check applies the key's rules to the value held in c; Validate uses it for
// configs built in Go rather than parsed.
func (f *field) check(c *Config) error {
	switch p := f.ref(c).(type) {
	case *string:
		return f.checkString(*p)
	case *int:
		return f.checkNumber(float64(*p), strconv.Itoa(*p))
	case *float64:
		return f.checkNumber(*p, strconv.FormatFloat(*p, 'g', -1, 64))
	case *FaceSources:
		return checkFaces(f.key, p)
	}
	return nil
}

// checkNumber shows the value as the user wrote it; the negated comparison
// also rejects NaN.
func (f *field) checkNumber(x float64, shown string) error {
	if !(x >= f.min && x <= f.max) {
		return f.errorf("%q is %s; allowed: %s to %s", f.key, shorten(shown), formatBound(f.min), formatBound(f.max))
	}
	return nil
}

func (f *field) checkString(s string) error {
	if f.typ == typeEnum {
		if !slices.Contains(f.values, s) {
			allowed := strings.Join(f.values, ", ")
			if f.switches {
				allowed = "true, false, " + allowed
			}
			return f.errorf("%q is %q; allowed: %s", f.key, shorten(s), allowed)
		}
		return nil
	}
	if len(s) > maxString {
		return f.errorf("%q is %d bytes long; allowed: at most %d bytes", f.key, len(s), maxString)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return f.errorf("%q contains a NUL byte; allowed: text without NUL bytes", f.key)
	}
	if f.rule != nil {
		if err := f.rule(s); err != nil {
			return f.errorf("%q is %q; %v", f.key, shorten(s), err)
		}
	}
	return nil
}

// checkListenAddr accepts "" (metrics off) or host:port with a numeric port.
func checkListenAddr(s string) error {
	if s == "" {
		return nil
	}
	if _, port, err := net.SplitHostPort(s); err == nil {
		if p, err := strconv.Atoi(port); err == nil && p >= 1 && p <= 65535 {
			return nil
		}
	}
	return errors.New(`allowed: "" (off) or host:port with port 1 to 65535, such as ":9090" or "127.0.0.1:9090"`)
}

// checkDialAddr accepts "" (no server) or host:port with a numeric port.
func checkDialAddr(s string) error {
	if s == "" {
		return nil
	}
	if host, port, err := net.SplitHostPort(s); err == nil && host != "" {
		if p, err := strconv.Atoi(port); err == nil && p >= 1 && p <= 65535 {
			return nil
		}
	}
	return errors.New(`allowed: host:port of the server's gRPC endpoint, such as "gpu-box:8001" or "10.0.0.5:8001" (Triton's gRPC port is 8001); no scheme`)
}

func (f *field) store(c *Config, v any) {
	switch p := f.ref(c).(type) {
	case *string:
		*p = v.(string)
	case *int:
		*p = v.(int)
	case *float64:
		*p = v.(float64)
	case *bool:
		*p = v.(bool)
	case *FaceSources:
		*p = v.(FaceSources)
	}
}

func (f *field) load(c *Config) any {
	switch p := f.ref(c).(type) {
	case *string:
		return *p
	case *int:
		return *p
	case *float64:
		return *p
	case *FaceSources:
		return *p
	default:
		return *p.(*bool)
	}
}

func (f *field) typeError(raw any) error {
	return f.errorf("%q %s, got %s", f.key, f.expect(), describe(raw))
}

func (f *field) errorf(format string, args ...any) error {
	return &Error{Key: f.key, Msg: fmt.Sprintf(format, args...)}
}

// describe names a decoded JSON value for "got ..." in messages.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return "string " + strconv.Quote(shorten(v))
	case json.Number:
		return "number " + shorten(string(v))
	case bool:
		return "boolean " + strconv.FormatBool(v)
	case []any:
		return "array"
	default:
		return "object"
	}
}

// shorten keeps messages readable when a value is long (up to maxString bytes).
func shorten(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func formatBound(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
