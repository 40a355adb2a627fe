package tune

import (
	"strings"
	"testing"
)

func TestPickProfile(t *testing.T) {
	gpu := func(totalMB uint64) GPU { return GPU{Name: "NVIDIA Test", TotalMB: totalMB, FreeMB: totalMB} }
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
