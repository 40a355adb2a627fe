package engine

import (
	"errors"
	"strings"

	"facelive/engine/config"
)

// KeyError is an error that names the config key that caused it and what
// to do about it, so that a host shows them as they are instead of parsing
// English (the metrics' "error" object; the OBS plugin's info line).
type KeyError struct {
	Key  string // the config key to change ("swapper.model"), or "" when it is no key's
	Hint string // what fixes it, in a user's words
	Err  error
}

func (e *KeyError) Error() string { return e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

// keyed wraps err with key and hint; nil stays nil.
func keyed(key, hint string, err error) error {
	if err == nil {
		return nil
	}
	return &KeyError{Key: key, Hint: hint, Err: err}
}

// The hints of the load failures, by what was being loaded.
const (
	hintAssets = "reinstall facelive (the package, or make install) so that its data folder holds models/ and faces/, " +
		"or set assets_dir to that folder"
	hintRuntime = "reinstall facelive so that its private libonnxruntime.so.1 is in place, or set onnxruntime_library"
	hintPhoto   = "choose a clear, front-facing photo of one face, or leave swapper.face empty for the default face"
	hintModel   = "choose a valid model: a DeepFaceLive .dfm for swapper kind dfm, inswapper_128.onnx for inswapper"
	hintArcFace = "choose the ArcFace model (.onnx) InSwapper needs in swapper.arcface_model"
	hintUnknown = "check the settings; the host's log has the details"
	hintFaces   = "fix or remove the swapper.faces entry named: each needs a clear, front-facing photo of one face in \"face\" (README: A face for each person)"
)

// ErrorInfo is the metrics' "error" object: the face pipeline's load
// failure, or the fault that poisoned the pipeline.
type ErrorInfo struct {
	Message string `json:"message"`
	Key     string `json:"key,omitempty"`
	Hint    string `json:"hint"`
}

// refusal describes a refused config for the metrics (nil for nil): the
// key config names, and the hint for it.
func refusal(err error) *ErrorInfo {
	if err == nil {
		return nil
	}
	info := &ErrorInfo{Message: err.Error(), Hint: hintUnknown}
	var ce *config.Error
	if errors.As(err, &ce) && ce.Key != "" {
		info.Key, info.Hint = ce.Key, hintForKey(ce.Key)
	}
	return info
}

// hintForKey is what fixes a refused value of key.
func hintForKey(key string) string {
	switch key {
	case "swapper.model":
		return hintModel
	case "swapper.face":
		return hintPhoto
	case "swapper.arcface_model":
		return hintArcFace
	case "onnxruntime_library":
		return hintRuntime
	case "assets_dir":
		return hintAssets
	}
	if strings.HasPrefix(key, "swapper.faces") {
		return hintFaces
	}
	return "set " + key + " to a value the config documentation lists (facelive config default shows them)"
}

// errorInfo describes err for the metrics (nil for nil).
func errorInfo(err error) *ErrorInfo {
	if err == nil {
		return nil
	}
	info := &ErrorInfo{Message: err.Error(), Hint: hintUnknown}
	var ke *KeyError
	if errors.As(err, &ke) {
		info.Key, info.Hint = ke.Key, ke.Hint
	}
	return info
}
