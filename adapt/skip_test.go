package adapt

import (
	"runtime"
	"testing"
)

func TestWhenFullEveryModeAndSkip(t *testing.T) {
	const ms = int64(1e6)
	const service = 10 * ms
	// Three situations when full: the oldest waiting frame is fresh (a worker
	// takes it soon), it went stale, or nothing waits (all in processing or
	// output).
	waits := []struct {
		name string
		ns   int64
	}{{"fresh", 2 * ms}, {"stale", 20 * ms}, {"none", -1}}
	tests := []struct {
		mode, skip string
		want       [3]FullAction // fresh, stale, none
	}{
		{"realtime", "drop_oldest", [3]FullAction{EvictOldest, EvictOldest, EvictOldest}},
		{"realtime", "drop_newest", [3]FullAction{DropNew, DropNew, DropNew}},
		{"realtime", "adaptive", [3]FullAction{DropNew, EvictOldest, EvictOldest}},
		{"realtime", "none", [3]FullAction{Refuse, Refuse, Refuse}},
		{"balanced", "drop_oldest", [3]FullAction{EvictOldest, EvictOldest, EvictOldest}},
		{"balanced", "drop_newest", [3]FullAction{DropNew, DropNew, DropNew}},
		{"balanced", "adaptive", [3]FullAction{DropNew, EvictOldest, EvictOldest}},
		{"balanced", "none", [3]FullAction{Refuse, Refuse, Refuse}},
		{"quality", "drop_oldest", [3]FullAction{EvictOldest, EvictOldest, EvictOldest}},
		{"quality", "drop_newest", [3]FullAction{DropNew, DropNew, DropNew}},
		{"quality", "adaptive", [3]FullAction{Refuse, Refuse, Refuse}},
		{"quality", "none", [3]FullAction{Refuse, Refuse, Refuse}},
		{"batch", "drop_oldest", [3]FullAction{EvictOldest, EvictOldest, EvictOldest}},
		{"batch", "drop_newest", [3]FullAction{DropNew, DropNew, DropNew}},
		{"batch", "adaptive", [3]FullAction{Refuse, Refuse, Refuse}},
		{"batch", "none", [3]FullAction{Refuse, Refuse, Refuse}},
	}
	for _, tt := range tests {
		for i, w := range waits {
			t.Run(tt.mode+"/"+tt.skip+"/"+w.name, func(t *testing.T) {
				p := NewPolicy(tt.mode, tt.skip, 2)
				if got := p.WhenFull(w.ns, service); got != tt.want[i] {
					t.Fatalf("WhenFull(%d, %d) = %v, want %v", w.ns, service, got, tt.want[i])
				}
			})
		}
	}
}

func TestWhenFullAdaptiveBoundary(t *testing.T) {
	p := NewPolicy("realtime", "adaptive", 1)
	// Waiting exactly one service time is stale: the worker should have
	// taken it by now.
	if got := p.WhenFull(10, 10); got != EvictOldest {
		t.Fatalf("wait == service: %v, want evict_oldest", got)
	}
	if got := p.WhenFull(0, 10); got != DropNew {
		t.Fatalf("wait 0: %v, want drop_new", got)
	}
}

func TestPolicyBounds(t *testing.T) {
	tests := []struct {
		mode         string
		workers      int
		in, out, max int
		ordered      bool
	}{
		{"realtime", 2, 1, 1, 4, false},
		{"balanced", 2, 3, 3, 8, false},
		{"quality", 3, 8, 8, 19, true},
		{"batch", 3, 12, 12, 27, true},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			p := NewPolicy(tt.mode, "adaptive", tt.workers)
			if p.Mode != tt.mode || p.Skip != "adaptive" || p.Workers != tt.workers ||
				p.InCap != tt.in || p.OutCap != tt.out || p.MaxInFlight != tt.max || p.Ordered != tt.ordered {
				t.Fatalf("got %+v", p)
			}
			if p.MaxInFlight != p.InCap+p.Workers+p.OutCap {
				t.Fatalf("MaxInFlight %d != in + workers + out", p.MaxInFlight)
			}
		})
	}
}

func TestPolicyAutoWorkers(t *testing.T) {
	for _, mode := range []string{"realtime", "balanced", "quality", "batch"} {
		p := NewPolicy(mode, "adaptive", 0)
		if want := AutoWorkers(mode, runtime.NumCPU()); p.Workers != want {
			t.Fatalf("%s: workers %d, want AutoWorkers = %d", mode, p.Workers, want)
		}
		if p.Workers < 1 || p.InCap < 1 {
			t.Fatalf("%s: %+v", mode, p)
		}
	}
}

func TestAutoWorkers(t *testing.T) {
	tests := []struct {
		mode  string
		cores int
		want  int
	}{
		// live modes keep a core for the host, and never need more than 2
		{"realtime", 1, 1}, {"realtime", 2, 1}, {"realtime", 3, 2}, {"realtime", 16, 2},
		{"balanced", 1, 1}, {"balanced", 2, 1}, {"balanced", 4, 2}, {"balanced", 16, 2},
		// ordered modes use every core
		{"quality", 1, 1}, {"quality", 2, 2}, {"quality", 16, 16},
		{"batch", 1, 1}, {"batch", 4, 4}, {"batch", 16, 16},
		{"batch", 0, 1}, {"realtime", 0, 1}, // never zero workers
	}
	for _, tt := range tests {
		if got := AutoWorkers(tt.mode, tt.cores); got != tt.want {
			t.Errorf("AutoWorkers(%q, %d) = %d, want %d", tt.mode, tt.cores, got, tt.want)
		}
	}
}

func TestFullActionString(t *testing.T) {
	for a, want := range map[FullAction]string{EvictOldest: "evict_oldest", DropNew: "drop_new", Refuse: "refuse", 9: "unknown"} {
		if a.String() != want {
			t.Errorf("%d: %q, want %q", int(a), a.String(), want)
		}
	}
}
