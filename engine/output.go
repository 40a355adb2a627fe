package engine

import (
	"fmt"
	"time"

	"facelive/engine/frame"
)

// Get writes the oldest processed frame not yet returned into dst and
// returns its PTS, waiting at most timeout. dst's format and size must match
// the frame's; otherwise ErrMismatch and the frame stays for the next call
// — unless dst matches the newest frame submitted: the stream changed
// format or size (a camera switched from 720p to 1080p), and the frames of
// the old geometry are dropped (counted in frames_dropped) on the way to
// the first of the new.
func (p *Pipeline) Get(dst *frame.Frame, timeout time.Duration) error {
	return p.get(dst, false, 0, timeout)
}

// GetOver is Get into a dst that already holds, unchanged, the frame
// submitted with PTS holds (a host getting into its own input buffer):
// when that is the frame out, only the rectangles the pipeline wrote are
// copied (frame.CopyDamaged), a small part of the frame; any other frame
// is copied whole.
func (p *Pipeline) GetOver(dst *frame.Frame, holds int64, timeout time.Duration) error {
	return p.get(dst, true, holds, timeout)
}

func (p *Pipeline) get(dst *frame.Frame, over bool, holds int64, timeout time.Duration) error {
	if err := dst.Validate(); err != nil {
		return err
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			p.putTimer(timer)
		}
	}()
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return ErrClosed
		}
		if p.ready.len() > 0 {
			b := p.ready.front()
			if !frame.SameGeometry(dst, &b.Frame) && frame.SameGeometry(dst, &p.stream) {
				p.ready.pop()
				p.mu.Unlock()
				b.Release()
				p.stats.drop()
				continue
			}
			if !frame.SameGeometry(dst, &b.Frame) {
				p.mu.Unlock()
				return fmt.Errorf("%w: output is %dx%d %s, the frame is %dx%d %s; allocate the output to match",
					ErrMismatch, dst.Width, dst.Height, dst.Format, b.Width, b.Height, b.Format)
			}
			p.ready.pop()
			more := p.ready.len() > 0
			p.mu.Unlock()
			if more {
				signal(p.outReady)
			}
			start := p.clock.Now().UnixNano()
			if over && b.PTS == holds {
				frame.CopyDamaged(dst, &b.Frame, &b.Damage)
			} else {
				frame.Copy(dst, &b.Frame)
			}
			dst.Processed = b.Processed
			end := p.clock.Now().UnixNano()
			p.stats.stageTime(2, end-start)
			p.stats.emitted(end, end-b.Submitted)
			b.Release()
			if p.poisoned.Load() {
				return ErrPoisoned
			}
			return nil
		}
		p.mu.Unlock()
		if p.poisoned.Load() && timeout == 0 {
			return ErrPoisoned
		}
		if timeout <= 0 {
			return ErrNoFrame
		}
		if timer == nil {
			timer = p.getTimer(timeout)
		}
		select {
		case <-p.outReady:
		case <-timer.C:
			if p.poisoned.Load() {
				return ErrPoisoned
			}
			return ErrNoFrame
		case <-p.done:
			return ErrClosed
		}
	}
}

// getTimer reuses stopped timers: time.NewTimer allocates, and Get is on the
// per-frame path.
func (p *Pipeline) getTimer(d time.Duration) *time.Timer {
	p.mu.Lock()
	n := len(p.timers)
	if n == 0 {
		p.mu.Unlock()
		return time.NewTimer(d)
	}
	t := p.timers[n-1]
	p.timers = p.timers[:n-1]
	p.mu.Unlock()
	t.Reset(d)
	return t
}

func (p *Pipeline) putTimer(t *time.Timer) {
	t.Stop() // since Go 1.23 a stopped timer never delivers a stale tick
	p.mu.Lock()
	if len(p.timers) < 16 {
		p.timers = append(p.timers, t)
	}
	p.mu.Unlock()
}

// emit hands a processed frame to the output side of the current mode.
func (p *Pipeline) emit(b *frame.Buffer, ok bool) {
	var drop [2]*frame.Buffer // at most the frame itself and one superseded
	n := 0
	p.mu.Lock()
	p.removeActiveLocked(b.Seq)
	if p.closed {
		p.mu.Unlock()
		b.Release()
		return
	}
	if p.pol.Ordered {
		if !ok {
			b.Submitted = -1 // a tombstone: advances the order, never output
		}
		p.reorder.insertOrdered(b)
		for p.reorder.len() > 0 && p.reorder.front().Seq <= p.nextOut {
			r := p.reorder.pop()
			p.nextOut = r.Seq + 1
			if r.Submitted < 0 {
				drop[n] = r
				n++
				p.stats.drop()
				continue
			}
			p.ready.push(r)
		}
	} else {
		switch {
		case !ok || b.Seq < p.lastOut:
			// Failed, or a newer frame is already out: never go back in time.
			drop[n] = b
			n++
			p.stats.drop()
		default:
			p.lastOut = b.Seq
			p.ready.push(b)
			if p.ready.len() > p.pol.OutCap { // the caller is behind: newest wins
				drop[n] = p.ready.pop()
				n++
				p.stats.drop()
			}
		}
	}
	p.mu.Unlock()
	for i := 0; i < n; i++ {
		drop[i].Release()
	}
	signal(p.outReady)
}

func (p *Pipeline) removeActiveLocked(seq uint64) {
	for i, s := range p.active {
		if s == seq {
			last := len(p.active) - 1
			p.active[i] = p.active[last]
			p.active = p.active[:last]
			return
		}
	}
}
