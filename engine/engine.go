// Package engine is the frame pipeline: intake → processing stages → output.
// It copies each submitted frame into a pooled buffer, hands it to worker
// goroutines that run the stages, and keeps processed frames until the caller
// fetches them, following the mode (how frames queue and in which order they
// come out) and the skip strategy (what happens when the pipeline is full).
//
// Nothing here blocks the submitting caller beyond one copy, nothing
// allocates per frame in steady state, and a panic inside a stage poisons the
// pipeline instead of crashing the host: from then on frames leave
// unprocessed (config unprocessed: unchanged, or hidden for blur/pixelate).
package engine

import (
	"errors"

	"facelive/engine/frame"
	"facelive/internal/clock"
	"facelive/internal/logging"
)

// Errors returned by the Pipeline's methods; test with errors.Is.
var (
	// ErrDropped: the skip strategy dropped the submitted frame (counted).
	ErrDropped = errors.New("frame dropped by the skip policy")
	// ErrBusy: back-pressure; the frame was not taken, submit it again later.
	ErrBusy = errors.New("pipeline full; submit the frame again later")
	// ErrNoFrame: no processed frame was ready in time.
	ErrNoFrame = errors.New("no processed frame ready")
	// ErrClosed: the pipeline was closed.
	ErrClosed = errors.New("pipeline closed")
	// ErrPoisoned: an internal fault poisoned the pipeline; the call still
	// carried its frame through unmodified where it had one.
	ErrPoisoned = errors.New("pipeline poisoned by an internal fault")
	// ErrMismatch: the output frame's format or size differs from the next
	// processed frame's; that frame is kept for the next call.
	ErrMismatch = errors.New("output frame does not match the stream")
)

// Stage is one processing step. Process changes the frame in place and must
// touch only the pixels it means to change.
type Stage interface {
	Name() string
	Process(f *frame.Frame) error
}

// Clock tells the time; tests inject a fake one.
type Clock = clock.Clock

// Level is a log level; the values equal the C ABI's FACELIVE_LOG_*.
type Level = logging.Level

// Log levels.
const (
	LevelError = logging.Error
	LevelWarn  = logging.Warn
	LevelInfo  = logging.Info
	LevelDebug = logging.Debug
)

// Logger receives the pipeline's log lines. It may be called from any
// goroutine.
type Logger func(level Level, msg string)

// Option configures a Pipeline at construction.
type Option func(*options)

type options struct {
	clock    Clock
	logger   Logger
	stages   []Stage
	explicit map[string]bool // nil: take the config as given, tune nothing
}

// WithClock injects the clock used for timestamps, rates and latencies.
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithLogger sets where log lines go.
func WithLogger(l Logger) Option { return func(o *options) { o.logger = l } }

// WithStages appends stages after the configured ones. Tests use it to inject
// faults and known edits; hosts never need it.
func WithStages(s ...Stage) Option { return func(o *options) { o.stages = append(o.stages, s...) } }
