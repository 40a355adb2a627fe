package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

const barWidth = 10

// formatProgress renders one progress line, e.g.
//
//	[#####.....]  45%  540/1200 frames  87.3 fps  ETA 0:07
//
// from the frames done, the expected total (<= 0: unknown) and the time spent
// so far. It reads no clock, so it is a pure function of its arguments.
func formatProgress(done, total int, elapsed time.Duration) string {
	fps := 0.0
	if elapsed > 0 {
		fps = float64(done) / elapsed.Seconds()
	}
	if total <= 0 {
		return fmt.Sprintf("%d frames  %.1f fps", done, fps)
	}
	shown := min(max(done, 0), total)
	filled := (shown*barWidth + total/2) / total
	pct := shown * 100 / total
	eta := "--:--"
	switch {
	case shown == total:
		eta = "0:00"
	case fps > 0:
		eta = formatClock(time.Duration(float64(total-shown) / fps * float64(time.Second)))
	}
	return fmt.Sprintf("[%s%s] %3d%%  %d/%d frames  %.1f fps  ETA %s",
		strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled), pct, done, total, fps, eta)
}

// formatClock writes d as m:ss, or h:mm:ss from an hour on, rounded down to
// whole seconds.
func formatClock(d time.Duration) string {
	s := int64(d / time.Second)
	if s < 0 {
		s = 0
	}
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// progress draws formatProgress lines on stderr: on a terminal it redraws one
// line in place (at most every 100 ms); otherwise (a log file, CI) it prints a
// line each time another 10% is done, or every 500 frames when the total is
// unknown.
type progress struct {
	w        io.Writer
	tty      bool
	off      bool
	total    int
	start    time.Time
	lastDraw time.Time
	lastStep int // tenths (or 500-frame steps) already printed
	lineLen  int
}

func newProgress(w io.Writer, total int, quiet bool, start time.Time) *progress {
	return &progress{w: w, tty: isTerminal(w), off: quiet, total: total, start: start}
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) update(done int, now time.Time) {
	if p.off {
		return
	}
	if p.tty {
		if now.Sub(p.lastDraw) < 100*time.Millisecond {
			return
		}
		p.lastDraw = now
		p.redraw(formatProgress(done, p.total, now.Sub(p.start)))
		return
	}
	step := done / 500
	if p.total > 0 {
		step = min(done, p.total) * 10 / p.total
	}
	if step > p.lastStep {
		p.lastStep = step
		fmt.Fprintln(p.w, formatProgress(done, p.total, now.Sub(p.start)))
	}
}

// finish draws the final state and ends the line.
func (p *progress) finish(done int, now time.Time) {
	if p.off {
		return
	}
	line := formatProgress(done, p.total, now.Sub(p.start))
	if p.tty {
		p.redraw(line)
		fmt.Fprintln(p.w)
		return
	}
	if p.total <= 0 || p.lastStep < 10 || done != p.total { // the 100% line is not out yet
		fmt.Fprintln(p.w, line)
	}
}

// clear erases the in-place line so that a message can be printed.
func (p *progress) clear() {
	if !p.off && p.tty && p.lineLen > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.lineLen))
		p.lineLen = 0
	}
}

func (p *progress) redraw(line string) {
	pad := ""
	if n := p.lineLen - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.lineLen = len(line)
}
