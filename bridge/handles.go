package bridge

import (
	"fmt"
	"sync"

	"facelive/engine"
)

// entry is one live handle.
type entry struct {
	id uint64
	p  *engine.Pipeline

	errMu   sync.Mutex
	lastErr string
}

func (e *entry) setErr(msg string) {
	e.errMu.Lock()
	e.lastErr = msg
	e.errMu.Unlock()
}

func (e *entry) err() string {
	e.errMu.Lock()
	defer e.errMu.Unlock()
	return e.lastErr
}

// The handle table. Handles count up from 1 and are never reused, so a
// stale handle can only miss the table: it is an error code, never a crash
// and never somebody else's pipeline.
var table = struct {
	sync.Mutex
	m    map[uint64]*entry
	last uint64
}{m: map[uint64]*entry{}}

// globalErr is the last failure of a call without a valid handle.
var globalErr struct {
	sync.Mutex
	msg string
}

func setGlobalErr(msg string) {
	globalErr.Lock()
	globalErr.msg = msg
	globalErr.Unlock()
}

func globalErrMsg() string {
	globalErr.Lock()
	defer globalErr.Unlock()
	return globalErr.msg
}

// reserve issues a new handle number; it is never issued again, even if
// the pipeline then fails to start.
func reserve() uint64 {
	table.Lock()
	defer table.Unlock()
	table.last++
	return table.last
}

func register(id uint64, p *engine.Pipeline) {
	table.Lock()
	defer table.Unlock()
	table.m[id] = &entry{id: id, p: p}
}

// lookup finds a live handle, or says precisely why h is not one.
func lookup(h uint64) (*entry, string) {
	table.Lock()
	defer table.Unlock()
	if e, ok := table.m[h]; ok {
		return e, ""
	}
	return nil, badHandleMsg(h, table.last)
}

func badHandleMsg(h, last uint64) string {
	switch {
	case h == 0:
		return "handle is 0: facelive_init failed or was not called (see facelive_last_error(0, ...))"
	case h <= last:
		return fmt.Sprintf("handle %d was shut down; create a new one with facelive_init", h)
	default:
		return fmt.Sprintf("handle %d was never issued by facelive_init", h)
	}
}

// remove takes h out of the table; later lookups report it as shut down.
func remove(h uint64) (*entry, string) {
	table.Lock()
	defer table.Unlock()
	e, ok := table.m[h]
	if !ok {
		return nil, badHandleMsg(h, table.last)
	}
	delete(table.m, h)
	return e, ""
}

// LiveHandles returns how many handles are open (for tests and leaks).
func LiveHandles() int {
	table.Lock()
	defer table.Unlock()
	return len(table.m)
}
