package main

import (
	"encoding/json"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// writeBenchReport writes results.json, the plots and report.html into dir.
func writeBenchReport(dir string, rs []*result, ts []target) error {
	machine := machineLine()
	commit := ""
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
	}
	doc := struct {
		Date      string    `json:"date"`
		Machine   string    `json:"machine"`
		Commit    string    `json:"commit,omitempty"`
		Scenarios []*result `json:"scenarios"`
		Targets   []target  `json:"targets"`
	}{time.Now().Format(time.RFC3339), machine, commit, rs, ts}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), b, 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}

	// The realtime scenario the plots over time and the histogram follow: the
	// 60 fps 1080p NV12 photo one when it ran, else the first realtime one.
	var live *result
	for _, r := range rs {
		if r.Mode == "realtime" && (live == nil || r.Name == "1080p NV12 photo realtime 60 fps") {
			live = r
		}
	}
	var plots []string
	save := func(p *plot.Plot, name string, w vg.Length) error {
		if err := p.Save(w, 4*vg.Inch, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("bench: plot %s: %w", name, err)
		}
		plots = append(plots, name)
		return nil
	}
	if live != nil && len(live.latencies) > 0 {
		p := plot.New()
		p.Title.Text = "Added latency, submit → get: " + live.Name
		p.X.Label.Text = "ms"
		p.Y.Label.Text = "frames"
		h, err := plotter.NewHist(plotter.Values(live.latencies), 40)
		if err != nil {
			return err
		}
		p.Add(h)
		if err := save(p, "latency_histogram.png", 7*vg.Inch); err != nil {
			return err
		}

		p = plot.New()
		p.Title.Text = "Output fps and quality level over time: " + live.Name
		p.X.Label.Text = "s"
		fps, q := make(plotter.XYs, len(live.Timeline)), make(plotter.XYs, len(live.Timeline))
		for i, s := range live.Timeline {
			fps[i], q[i] = plotter.XY{X: s.T, Y: s.FPS}, plotter.XY{X: s.T, Y: float64(s.Quality) * 10}
		}
		if err := plotutil.AddLines(p, "fps_out", fps, "quality level × 10 (0 = full)", q); err != nil {
			return err
		}
		if err := save(p, "fps_quality_over_time.png", 7*vg.Inch); err != nil {
			return err
		}
	}

	p := plot.New()
	p.Title.Text = "Per-stage time per frame (ms)"
	p.Y.Label.Text = "ms"
	var names []string
	var prev *plotter.BarChart
	w := vg.Points(max(4, 300/float64(len(rs))))
	for i, st := range stageOrder {
		vals := make(plotter.Values, len(rs))
		for j, r := range rs {
			vals[j] = r.StageMs[st]
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		bars.Color = plotutil.Color(i)
		bars.LineStyle.Width = 0
		if prev != nil {
			bars.StackOn(prev)
		}
		p.Add(bars)
		p.Legend.Add(st, bars)
		prev = bars
	}
	for _, r := range rs {
		names = append(names, shortName(r.Name))
	}
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = 1.2
	p.X.Tick.Label.XAlign = -1
	p.Legend.Top = true
	if err := save(p, "stages.png", 10*vg.Inch); err != nil {
		return err
	}

	p = plot.New()
	p.Title.Text = "Frames dropped per scenario (%)"
	p.Y.Label.Text = "%"
	vals := make(plotter.Values, len(rs))
	for i, r := range rs {
		vals[i] = r.DropPct
	}
	bars, err := plotter.NewBarChart(vals, w)
	if err != nil {
		return err
	}
	p.Add(bars)
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = 1.2
	p.X.Tick.Label.XAlign = -1
	if err := save(p, "drops.png", 10*vg.Inch); err != nil {
		return err
	}

	var sb strings.Builder
	fmt.Fprintf(&sb, "<!doctype html><meta charset=utf-8><title>facelive bench</title>\n"+
		"<style>body{font:14px sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"+
		"td:first-child,th:first-child{text-align:left}.missed{color:#b00}.met{color:#070}</style>\n")
	fmt.Fprintf(&sb, "<h1>facelive bench</h1><p>%s · %s%s</p>\n", html.EscapeString(doc.Date), html.EscapeString(machine),
		html.EscapeString(map[bool]string{true: " · commit " + commit, false: ""}[commit != ""]))
	sb.WriteString("<h2>Targets</h2><table><tr><th>measure</th><th>target</th><th>measured</th><th></th></tr>\n")
	for _, t := range ts {
		cls, v := "missed", "missed"
		if t.Met {
			cls, v = "met", "met"
		}
		fmt.Fprintf(&sb, "<tr><td>%s</td><td>%s</td><td>%s</td><td class=%s>%s</td></tr>\n", html.EscapeString(t.Measure),
			html.EscapeString(t.Target), html.EscapeString(t.Measured), cls, v)
	}
	sb.WriteString("</table><h2>Scenarios</h2><table><tr><th>scenario</th><th>fps</th><th>fps_out</th><th>drop %</th>" +
		"<th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>allocs/frame</th><th>RSS MB</th><th>init → first ms</th><th>ABI × memcpy</th></tr>\n")
	for _, r := range rs {
		fmt.Fprintf(&sb, "<tr><td>%s</td><td>%.1f</td><td>%.1f</td><td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%.2f</td>"+
			"<td>%.2f</td><td>%.0f</td><td>%.0f</td><td>%.2f</td></tr>\n", html.EscapeString(r.Name), r.ThroughputFPS, r.OutputFPS,
			r.DropPct, r.LatencyMs.P50, r.LatencyMs.P95, r.LatencyMs.P99, r.AllocsPerFrame, r.RSSMB, r.InitToFirstMs, r.ABIRatio)
	}
	sb.WriteString("</table>\n")
	for _, name := range plots {
		fmt.Fprintf(&sb, "<p><img src=%q alt=%q></p>\n", name, name)
	}
	sb.WriteString("<p>Every scenario runs through package bridge, the code behind the exported facelive_* functions, with " +
		"level custom (no auto-tuner). fps: frames out per second of wall time; latency: the engine's submit → get; " +
		"allocations: all mallocs in the process per frame submitted; ABI ×: submit + get of one frame over one copy of it.</p>\n")
	if err := os.WriteFile(filepath.Join(dir, "report.html"), []byte(sb.String()), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

func shortName(n string) string {
	n = strings.ReplaceAll(n, "realtime", "rt")
	return strings.ReplaceAll(n, " fps", "")
}

// machineLine says where the numbers come from: CPU model, cores, RAM.
func machineLine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	ram := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			ram = fmt.Sprintf(", %.1f GiB RAM", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("%s, %d cores%s, %s/%s", cpu, runtime.NumCPU(), ram, runtime.GOOS, runtime.GOARCH)
}
