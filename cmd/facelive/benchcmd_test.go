package main

import (
	"bytes"
	"encoding/json"
	htmlpkg "html"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchQuick runs the two quick scenarios (the ones the targets need)
// and checks what the report is made of; it asserts no timing.
func TestBenchQuick(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if code := run([]string{"bench", "--quick", "-o", dir}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d:\n%s%s", code, out.String(), errOut.String())
	}
	var doc struct {
		Machine struct {
			CPUModel string  `json:"cpu_model"`
			Cores    int     `json:"cores"`
			RAMGiB   float64 `json:"ram_gib"`
		} `json:"machine"`
		Date      string `json:"date"`
		Scenarios []struct {
			Name          string             `json:"name"`
			Frames        int                `json:"frames_out"`
			ThroughputFPS float64            `json:"throughput_fps"`
			Latency       map[string]float64 `json:"latency_ms"`
			StageMs       map[string]float64 `json:"stage_ms"`
			ABI           float64            `json:"abi_vs_memcpy"`
			Faces         int                `json:"faces"`
			InitMs        float64            `json:"init_to_first_frame_ms"`
			RSS           float64            `json:"peak_rss_mb"`
			Timeline      []json.RawMessage  `json:"timeline"`
		} `json:"scenarios"`
		ABI     []struct{ Frame string } `json:"abi"`
		Targets []struct {
			Measure, Target, Measured, Scenario string
			Met                                 bool
		} `json:"targets"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	if doc.Machine.CPUModel == "" || doc.Machine.Cores == 0 || doc.Machine.RAMGiB == 0 || doc.Date == "" {
		t.Fatalf("results.json: machine %+v, date %q", doc.Machine, doc.Date)
	}
	var names []string
	for _, s := range doc.Scenarios {
		names = append(names, s.Name)
		if s.Frames == 0 || s.ThroughputFPS <= 0 || s.ABI <= 0 || s.Faces != 1 || s.InitMs <= 0 || s.RSS <= 0 ||
			s.Latency["p99"] <= 0 || s.StageMs["landmarks"] <= 0 || len(s.Timeline) == 0 {
			t.Fatalf("scenario %+v: something was not measured, or no face was swapped", s)
		}
	}
	if strings.Join(names, ",") != benchBatchTarget+","+benchRealtimeTarget {
		t.Fatalf("scenarios %q, want the batch and realtime target scenarios", names)
	}
	if len(doc.ABI) != 1 || doc.ABI[0].Frame != "1080p NV12" {
		t.Fatalf("abi %+v", doc.ABI)
	}
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"latency_histogram.png", "fps_quality_over_time.png", "stages.png", "drops.png", "throughput.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() < 1000 {
			t.Fatalf("%s missing or nearly empty: %v", f, err)
		}
		if !bytes.Contains(html, []byte(`src="`+f+`"`)) {
			t.Fatalf("report.html does not show %s", f)
		}
	}
	// Every target, measured, with its verdict, in all three places.
	wantTargets := []string{"≥ 200 fps", "≤ 0.5 %", "≤ 10 ms", "≤ 2× memcpy", "0 (< 0.01: whole process)", "≤ 400 MB", "≤ 1.5 s"}
	if len(doc.Targets) != len(wantTargets) {
		t.Fatalf("%d targets in results.json, want %d", len(doc.Targets), len(wantTargets))
	}
	for i, tg := range doc.Targets {
		if tg.Target != wantTargets[i] || tg.Scenario == "" || strings.HasPrefix(tg.Measured, "no scenario") {
			t.Fatalf("target %d: %+v, want %q measured", i, tg, wantTargets[i])
		}
		v := "MISSED"
		if tg.Met {
			v = "met"
		}
		if !bytes.Contains(html, []byte(tg.Measure)) || !bytes.Contains(html, []byte(htmlpkg.EscapeString(tg.Target))) {
			t.Fatalf("report.html lacks target %q", tg.Measure)
		}
		line := ""
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, "target: "+tg.Measure) {
				line = l
			}
		}
		if !strings.Contains(line, tg.Target) || !strings.Contains(line, " "+v+" ") || !strings.HasSuffix(line, tg.Measured) {
			t.Fatalf("summary lacks target %q with %s %s:\n%s", tg.Measure, v, tg.Measured, out.String())
		}
	}
	for _, n := range names {
		if !strings.Contains(out.String(), n) || !bytes.Contains(html, []byte(n)) {
			t.Fatalf("scenario %q missing from the summary or the report", n)
		}
	}
	if !strings.Contains(errOut.String(), "[ 2/2]") {
		t.Fatalf("no progress lines on stderr:\n%s", errOut.String())
	}
}

func TestBenchUsage(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--scenarios", "no such scenario"},
		{"bench", "extra"},
		{"bench", "--duration", "1ms"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != exitUsage {
			t.Errorf("%q: exit %d, want %d (usage)\n%s", args, code, exitUsage, errOut.String())
		}
	}
}

// TestBenchSlowModelPair checks that --scenarios "slow model" picks the
// pair (quick and slow model, both decoupled) and that the report turns their
// live-path numbers into the two targets, the p90 ratio included.
func TestBenchSlowModelPair(t *testing.T) {
	var pair []scenario
	for _, sc := range benchScenarios(false) {
		if strings.Contains(sc.Name, "slow model") {
			pair = append(pair, sc)
		}
	}
	if len(pair) != 2 || pair[0].Name != benchSlowBase || pair[1].Name != benchSlowModel {
		t.Fatalf("slow-model scenarios %+v", pair)
	}
	base, slow := pair[0], pair[1]
	if base.Swapper != "dfm" || base.Slow || base.Decouple != "on" || slow.Swapper != "dfm" || !slow.Slow || slow.Decouple != "on" {
		t.Fatalf("pair %+v %+v: want the quick DFM decoupled, then the slow DFM decoupled", base, slow)
	}
	for _, sc := range pair {
		if sc.geometry() != "720p BGRA" || sc.Mode != "realtime" || sc.PacedFPS != 30 || sc.AwaitMs != benchAwaitMs {
			t.Fatalf("%s: %+v", sc.Name, sc)
		}
	}
	for _, sc := range benchScenarios(true) {
		if sc.AwaitMs != 0 {
			t.Fatalf("--quick runs %q", sc.Name)
		}
	}

	rs := []*result{
		{scenario: base, Submitted: 100, LivePath: &livePath{P50: 8, P90: 10, P99: 14, Within: 100, WithinPct: 100, AwaitMs: 25}},
		{scenario: slow, Submitted: 100, LivePath: &livePath{P50: 9, P90: 12, P99: 30, Within: 97, WithinPct: 97, AwaitMs: 25}},
	}
	ts := evaluateTargets(rs, nil)
	want := map[string]struct {
		value float64
		met   bool
	}{"≥ 98 %": {97, false}, "≤ 1.3": {1.2, true}}
	for _, tg := range ts {
		w, ok := want[tg.Target]
		if !ok {
			continue
		}
		delete(want, tg.Target)
		if tg.Scenario != benchSlowModel || tg.Met != w.met || tg.Value < w.value-1e-9 || tg.Value > w.value+1e-9 {
			t.Errorf("target %q: %+v, want value %g met %v", tg.Measure, tg, w.value, w.met)
		}
	}
	if len(want) > 0 {
		t.Fatalf("targets missing: %v", want)
	}
}
