package engine

import (
	"sync"
	"time"

	"facelive/engine/frame"
	"facelive/engine/overlay"
)

// overlayStage draws the labels onto a frame: the stats line (when
// overlay.stats) and the disclosure that the video is modified (when
// overlay.disclosure). The labels re-render only when their text or the
// frame's height changes.
type overlayStage struct {
	text func(now int64) string // the stats line

	mu         sync.Mutex // guards everything below
	disclosure *overlay.Label
	stats      *overlay.Label
	statsAt    int64 // when the stats text was last updated
}

func newOverlayStage(text func(now int64) string) *overlayStage {
	return &overlayStage{text: text, disclosure: overlay.NewLabel(overlay.DisclosureText), stats: overlay.NewTopLabel("")}
}

// draw draws what o asks for into f and records where in dmg.
func (s *overlayStage) draw(f *frame.Frame, dmg *frame.Damage, o *faceOptions, now int64) {
	if !o.disclosure && !o.stats {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.stats {
		// New numbers twice a second: each new text renders the label once.
		if now-s.statsAt >= int64(500*time.Millisecond) || s.statsAt == 0 {
			s.statsAt = now
			s.stats.SetText(s.text(now))
		}
		s.stats.Draw(f)
		dmg.Add(s.stats.Rect(f.Width, f.Height))
	}
	if o.disclosure {
		s.disclosure.Draw(f)
		dmg.Add(s.disclosure.Rect(f.Width, f.Height))
	}
}
