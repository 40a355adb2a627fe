package engine

import (
	"sync"

	"facelive/engine/config"
	"facelive/engine/frame"
)

// unprocessedPolicy resolves the unprocessed key: auto hides the whole
// frame for the privacy swappers (a privacy filter never shows the face it
// hides, not even while its models load) and passes it for the others.
func unprocessedPolicy(cfg config.Config) string {
	if cfg.Unprocessed != "auto" {
		return cfg.Unprocessed
	}
	if cfg.Swapper.Kind == "blur" || cfg.Swapper.Kind == "pixelate" {
		return "hide"
	}
	return "pass"
}

// UnprocessedText says, for messages, what happens to the frames the
// models do not process under p's config.
func (p *Pipeline) UnprocessedText() string {
	switch unprocessedPolicy(p.Config()) {
	case "hide":
		return "frames stay hidden (whole-frame pixelation)"
	case "hold":
		return "the last processed frame is shown again"
	}
	return "frames pass through unmodified"
}

// heldFrame keeps a copy of the last processed frame for unprocessed =
// hold. It copies only under that policy: the other policies cost nothing.
type heldFrame struct {
	mu   sync.Mutex // guards buf
	buf  *frame.Buffer
	pool *frame.Pool
}

// keep copies f when the policy is hold, and lets go of the copy otherwise.
func (h *heldFrame) keep(f *frame.Frame, policy string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if policy != "hold" {
		h.releaseLocked()
		return
	}
	if h.buf != nil && !frame.SameGeometry(&h.buf.Frame, f) {
		h.releaseLocked()
	}
	if h.buf == nil {
		if h.pool == nil {
			h.pool = frame.NewPool(1)
		}
		h.buf = h.pool.Get(f.Format, f.Width, f.Height)
	}
	frame.Copy(&h.buf.Frame, f)
}

// restore writes the held frame's pixels into f (keeping f's pts), and
// reports whether it had one of f's format and size.
func (h *heldFrame) restore(f *frame.Frame) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.buf == nil || !frame.SameGeometry(&h.buf.Frame, f) {
		return false
	}
	pts := f.PTS
	frame.Copy(f, &h.buf.Frame)
	f.PTS = pts
	return true
}

func (h *heldFrame) drop() {
	h.mu.Lock()
	h.releaseLocked()
	h.mu.Unlock()
}

func (h *heldFrame) releaseLocked() {
	if h.buf != nil {
		h.buf.Release()
		h.buf = nil
	}
}
