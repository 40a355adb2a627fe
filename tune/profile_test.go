package tune

import (
	"math"
	"strings"
	"testing"
)

func TestPickProfile(t *testing.T) {
	gpu := func(totalMB uint64) GPU { return GPU{Name: "NVIDIA Test", TotalMB: totalMB, FreeMB: totalMB} }
	cal := func(ms float64) Calibration {
		return Calibration{Stage: "1080p face frame align+merge", Ms: ms, Runs: 9}
	}
	tests := []struct {
		name   string
		sys    System
		want   Profile
		reason string // substring of the reason
	}{
		{"2 cores no GPU", System{Cores: 2, RAMMB: 24576}, Low,
			"2 cores, 24 GiB RAM, no GPU → low: under 4 cores the CPU path keeps one model run per frame at most"},
		{"8 cores 16 GiB", System{Cores: 8, RAMMB: 16384}, Medium,
			"8 cores, 16 GiB RAM, no GPU → medium: 4+ cores and 8 GB RAM"},
		{"8 cores and an 8 GiB GPU", System{Cores: 8, RAMMB: 16384, GPUs: []GPU{gpu(8192)}}, High,
			"8 cores, 16 GiB RAM, GPU NVIDIA Test 8 GiB → high: a GPU with 6 GB or more"},
		{"16 cores and a 24 GiB GPU", System{Cores: 16, RAMMB: 65536, GPUs: []GPU{gpu(24576)}}, Workstation,
			"16 cores, 64 GiB RAM, GPU NVIDIA Test 24 GiB → workstation: a GPU with 16 GB or more and 12+ cores"},
		// Edges.
		{"nothing known", System{}, Low, "unknown cores, unknown RAM, no GPU → low: under 4 cores"},
		{"1 core", System{Cores: 1, RAMMB: 4096}, Low, "1 core, 4 GiB RAM"},
		{"3 cores plenty of RAM", System{Cores: 3, RAMMB: 65536}, Low, "→ low: under 4 cores"},
		{"4 cores 8 GiB", System{Cores: 4, RAMMB: 8192}, Medium, "→ medium"},
		{"4 cores, an 8 GB machine's 7.7 GiB", System{Cores: 4, RAMMB: 7900}, Medium, "7.7 GiB RAM"},
		{"4 cores 6 GiB", System{Cores: 4, RAMMB: 6144}, Low, "→ low: under 8 GB RAM"},
		{"unknown RAM", System{Cores: 8}, Low, "unknown RAM, no GPU → low: under 8 GB RAM"},
		{"11 cores", System{Cores: 11, RAMMB: 32768}, Medium, "→ medium"},
		{"12 cores no GPU", System{Cores: 12, RAMMB: 32768}, High, "→ high: 12+ cores"},
		{"small GPU does not lift", System{Cores: 8, RAMMB: 16384, GPUs: []GPU{gpu(4096)}}, Medium, "GPU NVIDIA Test 4 GiB → medium"},
		{"6 GB card reporting 5.8 GiB", System{Cores: 4, RAMMB: 16384, GPUs: []GPU{gpu(5939)}}, High, "5.8 GiB → high"},
		{"GPU on a 2 core machine", System{Cores: 2, RAMMB: 4096, GPUs: []GPU{gpu(6144)}}, High, "→ high: a GPU"},
		{"big GPU, too few cores", System{Cores: 11, RAMMB: 65536, GPUs: []GPU{gpu(24576)}}, High, "→ high: a GPU"},
		{"12 cores, 16 GB card at 15.99 GiB", System{Cores: 12, RAMMB: 32768, GPUs: []GPU{gpu(16376)}}, Workstation, "16 GiB → workstation"},
		{"12 cores, T4 at 15 GiB", System{Cores: 12, RAMMB: 32768, GPUs: []GPU{{Name: "Tesla T4", TotalMB: 15360}}}, Workstation, "Tesla T4 15 GiB"},
		{"12 cores, 12 GiB GPU", System{Cores: 12, RAMMB: 32768, GPUs: []GPU{gpu(12288)}}, High, "→ high"},
		{"largest of two GPUs counts", System{Cores: 16, RAMMB: 65536, GPUs: []GPU{gpu(4096), {Index: 1, Name: "Big", TotalMB: 49152}}},
			Workstation, "GPU Big 48 GiB (largest of 2) → workstation"},
		{"unnamed GPU", System{Cores: 4, RAMMB: 8192, GPUs: []GPU{{TotalMB: 8192}}}, High, "GPU 8 GiB → high"},
		// Measured: the capacity cores × 1000 / (2.8 × ms) decides, not the core count.
		{"2-core EPYC measured", System{Cores: 2, RAMMB: 24576, CPU: cal(1.9)}, Medium,
			"2 cores, 24 GiB RAM, no GPU, 1080p face frame align+merge 1.9 ms (≈ 380 fps on 2 cores) → medium: the CPU holds 30 fps with 2 faces twice over"},
		{"2 cores at 3 ms", System{Cores: 2, RAMMB: 24576, CPU: cal(2.97)}, Medium, "align+merge 3.0 ms (≈ 240 fps on 2 cores) → medium"},
		{"slow 2 cores", System{Cores: 2, RAMMB: 8192, CPU: cal(9)}, Low,
			"9.0 ms (≈ 79 fps on 2 cores) → low: the CPU holds less than twice 30 fps with 2 faces"},
		{"just enough for medium", System{Cores: 2, RAMMB: 8192, CPU: cal(5.9)}, Medium, "5.9 ms (≈ 120 fps on 2 cores) → medium"},
		{"fast 1 core", System{Cores: 1, RAMMB: 8192, CPU: cal(2)}, Medium, "1 core, 8 GiB RAM, no GPU, 1080p face frame align+merge 2.0 ms (≈ 180 fps on 1 core) → medium"},
		{"fast 2 cores stay under high", System{Cores: 2, RAMMB: 65536, CPU: cal(0.5)}, Medium, "0.50 ms (≈ 1430 fps on 2 cores) → medium"},
		{"fast 4 cores", System{Cores: 4, RAMMB: 16384, CPU: cal(2)}, High, "(≈ 710 fps on 4 cores) → high: the CPU holds 60 fps with 4 faces"},
		{"8 cores at 5 ms", System{Cores: 8, RAMMB: 16384, CPU: cal(5)}, High, "5.0 ms (≈ 570 fps on 8 cores) → high"},
		{"slow 12 cores", System{Cores: 12, RAMMB: 32768, CPU: cal(15)}, Medium, "15 ms (≈ 290 fps on 12 cores) → medium"},
		{"fast but little RAM", System{Cores: 4, RAMMB: 6144, CPU: cal(2)}, Low, "→ low: under 8 GB RAM"},
		{"measured, RAM unknown", System{Cores: 4, CPU: cal(2)}, Low, "unknown RAM, no GPU, 1080p face frame align+merge 2.0 ms (≈ 710 fps on 4 cores) → low: under 8 GB RAM"},
		{"measured, cores unknown", System{RAMMB: 16384, CPU: cal(2)}, Low,
			"unknown cores, 16 GiB RAM, no GPU, 1080p face frame align+merge 2.0 ms → low: under 4 cores"},
		{"a GPU still wins over a slow CPU", System{Cores: 2, RAMMB: 8192, GPUs: []GPU{gpu(8192)}, CPU: cal(20)}, High, "20 ms (≈ 36 fps on 2 cores) → high: a GPU with 6 GB"},
		{"workstation by GPU, measured", System{Cores: 16, RAMMB: 65536, GPUs: []GPU{gpu(24576)}, CPU: cal(2)}, Workstation, "→ workstation"},
		{"unnamed stage", System{Cores: 2, RAMMB: 8192, CPU: Calibration{Ms: 2}}, Medium, "no GPU, CPU calibration 2.0 ms (≈ 360 fps"},
		{"zero is not measured", System{Cores: 2, RAMMB: 24576, CPU: Calibration{Stage: "x", Runs: 9}}, Low, "no GPU → low: under 4 cores"},
		{"infinite is not measured", System{Cores: 2, RAMMB: 24576, CPU: cal(math.Inf(1))}, Low, "no GPU → low: under 4 cores"},
		{"NaN is not measured", System{Cores: 2, RAMMB: 24576, CPU: cal(math.NaN())}, Low, "no GPU → low: under 4 cores"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := PickProfile(tt.sys)
			if got != tt.want {
				t.Errorf("PickProfile() = %q, want %q (%s)", got, tt.want, why)
			}
			if !strings.Contains(why, tt.reason) {
				t.Errorf("reason %q does not contain %q", why, tt.reason)
			}
			if !strings.Contains(why, "→ "+string(got)+": ") || strings.Contains(why, ". ") || strings.HasSuffix(why, ".") {
				t.Errorf("reason %q is not one sentence naming the profile", why)
			}
		})
	}
}

func TestGiB(t *testing.T) {
	for mb, want := range map[uint64]string{24576: "24 GiB", 7900: "7.7 GiB", 16376: "16 GiB", 512: "0.5 GiB", 15360: "15 GiB"} {
		if got := gib(mb); got != want {
			t.Errorf("gib(%d) = %q, want %q", mb, got, want)
		}
	}
}

func TestParseProfile(t *testing.T) {
	tests := []struct {
		in      string
		want    Profile
		wantErr string
	}{
		{"low", Low, ""},
		{"medium", Medium, ""},
		{"high", High, ""},
		{"workstation", Workstation, ""},
		{"auto", "", "PickProfile"},
		{"", "", `unknown profile ""`},
		{"High", "", `unknown profile "High"`},
		{"ultra", "", "allowed: auto, low, medium, high, workstation"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseProfile(tt.in)
			if got != tt.want {
				t.Errorf("ParseProfile(%q) = %q, want %q", tt.in, got, tt.want)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("ParseProfile(%q): %v", tt.in, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("ParseProfile(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	sys := System{Cores: 8, RAMMB: 16384}
	tests := []struct {
		in     string
		want   Profile
		reason string
		err    bool
	}{
		{"auto", Medium, "8 cores, 16 GiB RAM, no GPU → medium", false},
		{"workstation", Workstation, "profile workstation set in the config", false},
		{"bogus", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, why, err := Resolve(tt.in, sys)
			if got != tt.want || (err != nil) != tt.err || !strings.Contains(why, tt.reason) {
				t.Errorf("Resolve(%q) = %q, %q, %v", tt.in, got, why, err)
			}
		})
	}
}

func TestProfilesOrder(t *testing.T) {
	want := []Profile{Low, Medium, High, Workstation}
	got := Profiles()
	if len(got) != len(want) {
		t.Fatalf("Profiles() = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Profiles() = %v, want %v", got, want)
		}
		if p, err := ParseProfile(string(got[i])); err != nil || p != got[i] {
			t.Errorf("ParseProfile(%q) = %q, %v", got[i], p, err)
		}
	}
}

func TestFormatFigures(t *testing.T) {
	for _, tt := range []struct {
		got, want string
	}{
		{FormatMs(1.94), "1.9"}, {FormatMs(0.456), "0.46"}, {FormatMs(12.3), "12"}, {FormatMs(9.96), "10"}, {FormatMs(0.998), "1.0"},
		{FormatFPS(287), "290"}, {FormatFPS(99.4), "99"}, {FormatFPS(1904.8), "1900"}, {FormatFPS(47.6), "48"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestCapacityFPS(t *testing.T) {
	for _, tt := range []struct {
		name string
		sys  System
		want float64
	}{
		{"2 cores at 1000/k ms", System{Cores: 2, CPU: Calibration{Ms: 1000 / FrameWorkPerCalibration}}, 2},
		{"not measured", System{Cores: 8}, 0},
		{"cores unknown", System{CPU: Calibration{Ms: 2}}, 0},
		{"negative", System{Cores: 2, CPU: Calibration{Ms: -1}}, 0},
	} {
		if got := tt.sys.CapacityFPS(); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: CapacityFPS() = %v, want %v", tt.name, got, tt.want)
		}
	}
}
