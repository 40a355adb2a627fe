// Package logging holds the one log-level type every package logs with.
// The values equal the C ABI's FACELIVE_LOG_*, so a level crosses to a host
// (OBS's blog) unchanged.
package logging

// Level is a log level.
type Level int

// The levels, most severe first.
const (
	Error Level = 1
	Warn  Level = 2
	Info  Level = 3
	Debug Level = 4
)

// Func receives log lines. It may be called from any goroutine.
type Func func(level Level, msg string)
