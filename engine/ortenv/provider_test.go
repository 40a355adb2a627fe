package ortenv

import (
	"slices"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
)

// spinningOff are the entries a session beside the live path must carry.
var spinningOff = [][2]string{
	{"session.intra_op.allow_spinning", "0"},
	{"session.inter_op.allow_spinning", "0"},
}

func TestBesideLivePathKeepsACore(t *testing.T) {
	for _, tc := range []struct{ cores, threads int }{{1, 1}, {2, 1}, {8, 7}} {
		got := besideLivePath(tc.cores)
		if got != tc.threads {
			t.Errorf("%d cores: %d threads, want %d", tc.cores, got, tc.threads)
		}
		set := settingsFor(got)
		if set.threads != tc.threads {
			t.Errorf("%d cores: session gets %d intra-op threads, want %d", tc.cores, set.threads, tc.threads)
		}
		if !slices.Equal(set.entries, spinningOff) {
			t.Errorf("%d cores: config entries %q, want spinning off %q", tc.cores, set.entries, spinningOff)
		}
	}
	if set := settingsFor(0); set.threads != 0 || len(set.entries) != 0 {
		t.Errorf("threads 0: %+v, want ONNX Runtime's defaults", set)
	}
}

// TestSessionOptionsCarrySpinningOff reads the entries back from the
// options ONNX Runtime is handed. It loads the library, so it runs after
// TestInit (file order), which needs it unloaded at its start.
func TestSessionOptionsCarrySpinningOff(t *testing.T) {
	if err := Init(realLibrary(t)); err != nil {
		t.Fatal(err)
	}
	used, note, err := NewSession(CPU, BesideLivePath(), func(o *ort.SessionOptions) error {
		for _, e := range spinningOff {
			v, err := o.GetSessionConfigEntry(e[0])
			if err != nil || v != e[1] {
				t.Errorf("%s = %q (%v), want %q", e[0], v, err, e[1])
			}
		}
		return nil
	})
	if used != CPU || note != "" || err != nil {
		t.Fatalf("NewSession: %q %q %v", used, note, err)
	}
}
