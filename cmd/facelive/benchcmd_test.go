package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBenchQuick(t *testing.T) {
	root, err := filepath.Abs("../..") // bench generates its DFM with tools/testmodels, from the source tree
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if code := run([]string{"bench", "--quick", "-o", dir}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d:\n%s%s", code, out.String(), errOut.String())
	}
	var doc struct {
		Machine   string `json:"machine"`
		Scenarios []struct {
			Name          string  `json:"name"`
			Frames        int     `json:"frames"`
			ThroughputFPS float64 `json:"throughput_fps"`
			ABI           float64 `json:"abi_vs_memcpy"`
			Faces         int     `json:"faces"`
		} `json:"scenarios"`
		Targets []struct {
			Measure, Measured string
		} `json:"targets"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	if len(doc.Scenarios) != 2 || doc.Machine == "" {
		t.Fatalf("results.json: %d scenarios, machine %q", len(doc.Scenarios), doc.Machine)
	}
	for _, s := range doc.Scenarios {
		if s.Frames == 0 || s.ThroughputFPS <= 0 || s.ABI <= 1 || s.Faces != 1 {
			t.Fatalf("scenario %+v: nothing measured, or no face swapped", s)
		}
	}
	if len(doc.Targets) != 7 {
		t.Fatalf("%d targets in results.json, want 7", len(doc.Targets))
	}
	for _, f := range []string{"report.html", "latency_histogram.png", "fps_quality_over_time.png", "stages.png", "drops.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() < 1000 {
			t.Fatalf("%s missing or nearly empty: %v", f, err)
		}
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	for _, want := range []string{"stages.png", "1080p NV12 photo batch", "≥ 200 fps"} {
		if !strings.Contains(string(html), want) {
			t.Fatalf("report.html lacks %q", want)
		}
	}
	if !strings.Contains(out.String(), "target: ") {
		t.Fatalf("no target lines in the summary:\n%s", out.String())
	}
}
