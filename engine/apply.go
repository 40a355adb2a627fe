package engine

import (
	"fmt"

	"facelive/adapt"
	"facelive/engine/config"
)

// Config returns the current config.
func (p *Pipeline) Config() config.Config {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfg
}

// SetConfig merges a partial JSON config into the current one and applies it
// live. On error nothing changes, and the metrics' "error" says which key
// was refused and what fixes it until a config is taken.
func (p *Pipeline) SetConfig(partial []byte) (err error) {
	p.cfgMu.Lock()
	defer p.cfgMu.Unlock()
	defer func() { p.configErr.Store(refusal(err)) }()
	next, err := p.Config().Patch(partial)
	if err != nil {
		return err
	}
	if p.tun == nil {
		return p.Apply(next)
	}
	if next, err = p.tun.userChanged(partial, next); err != nil {
		return err
	}
	if err := p.Apply(next); err != nil {
		return err
	}
	p.mu.Lock()
	workers := p.pol.Workers
	p.mu.Unlock()
	p.tun.reset(next, workers) // the tuner starts over from the user's values
	return nil
}

// Apply replaces the whole config (already validated) and applies it live.
func (p *Pipeline) Apply(cfg config.Config) error {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if err := p.applyProm(cfg.Metrics.PrometheusAddr); err != nil {
		return err // nothing changed
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	before := p.pol
	p.applyLocked(cfg)
	after := p.pol
	p.mu.Unlock()
	if before != after {
		p.log(LevelInfo, fmt.Sprintf("config applied: mode %s, skip %s, %d workers", after.Mode, after.Skip, after.Workers))
	}
	p.face.configure(cfg, p.pinned("detector.interval")) // outside the lock: it may wait for the frame in progress
	setBudgetOverride(p, cfg.VRAMBudgetMB)
	return nil
}

// applyLocked installs cfg: queue bounds, output order and worker count
// change in place, so frames in flight carry on.
func (p *Pipeline) applyLocked(cfg config.Config) {
	was := p.pol
	p.cfg = cfg
	p.pol = adapt.NewPolicy(cfg.Mode, cfg.Skip, cfg.Workers)
	p.stats.setMode(cfg.Mode)
	p.ctl.SetTarget(cfg.TargetFPS)
	live := p.pol.Mode == "realtime" || p.pol.Mode == "balanced"
	if was := p.adaptive.Swap(live && cfg.Level != "custom"); was && !p.adaptive.Load() {
		p.face.setLevel(0, ladder[0]) // back to full quality
	}

	// Shrunk queue: the oldest waiting frames go first.
	for p.waiting.len() > p.pol.InCap {
		p.releaseLater(p.waiting.pop())
	}
	switch {
	case p.pol.Ordered && !was.Ordered:
		// From here on release in order, starting with the oldest frame still
		// being processed.
		p.nextOut = p.nextSeq
		for _, s := range p.active {
			p.nextOut = min(p.nextOut, s)
		}
	case !p.pol.Ordered && was.Ordered:
		for p.reorder.len() > 0 { // nothing waits for order any more
			r := p.reorder.pop()
			if r.Submitted < 0 {
				p.releaseLater(r)
				continue
			}
			p.lastOut = r.Seq
			p.ready.push(r)
		}
	}
	if p.pol.Ordered != was.Ordered {
		// Live workers run below the host's priority, ordered ones at it, and
		// a thread's priority cannot be raised back: new workers on fresh
		// threads. The old ones finish the frame they hold.
		for _, q := range p.quits {
			close(q)
		}
		p.quits = p.quits[:0]
	}
	for len(p.quits) < p.pol.Workers {
		q := make(chan struct{})
		p.quits = append(p.quits, q)
		p.wg.Add(1)
		go p.worker(q, !p.pol.Ordered)
	}
	for len(p.quits) > p.pol.Workers {
		last := len(p.quits) - 1
		close(p.quits[last])
		p.quits = p.quits[:last]
	}
	signal(p.wake)
}
