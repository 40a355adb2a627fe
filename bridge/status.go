// Package bridge turns C ABI calls into engine calls: it owns the handle
// table, converts C frame descriptions into frame views (copying nothing
// itself), maps errors to status codes, keeps each handle's last error, and
// calls the host's log callback through a C trampoline. Only export.go
// imports it.
package bridge

import (
	"errors"

	"facelive/engine"
	"facelive/engine/config"
	"facelive/engine/frame"
)

// Status codes; the values are the C ABI's FACELIVE_* (checked by a test
// against the header).
const (
	OK         = 0
	EAGAIN     = 1
	EINVAL     = -1
	EBADHANDLE = -2
	ENOMEM     = -3
	EMODEL     = -4
	ECLOSED    = -5
	EINTERNAL  = -6
	ERANGE     = -7
	EFORMAT    = -8
)

// ABIVersion is FACELIVE_ABI_VERSION of include/facelive.h.
const ABIVersion = 1

// PTSNone is written to an output frame's pts_ns when no frame was written.
const PTSNone = -1 << 63

// statusOf maps an engine, frame or config error to its status code.
// EAGAIN outcomes are not errors and carry no message.
func statusOf(err error) int {
	switch {
	case err == nil: // the per-frame path: nothing below may run (errors.As allocates)
		return OK
	case errors.Is(err, engine.ErrDropped), errors.Is(err, engine.ErrBusy), errors.Is(err, engine.ErrNoFrame):
		return EAGAIN
	case errors.Is(err, engine.ErrPoisoned):
		return EINTERNAL
	case errors.Is(err, engine.ErrClosed):
		return ECLOSED
	case errors.Is(err, engine.ErrMismatch), errors.Is(err, frame.ErrFormat):
		return EFORMAT
	case errors.Is(err, errRange):
		return ERANGE
	case errors.Is(err, config.ErrFileMissing), errors.Is(err, errModel):
		return EMODEL
	}
	return EINVAL // frame.ErrFrame, *config.Error and the bridge's own argument checks
}
