package engine

import "testing"

func TestWhenFull(t *testing.T) {
	const ms = int64(1e6)
	tests := []struct {
		mode, skip            string
		oldestWait, serviceNs int64
		want                  fullAction
	}{
		{"realtime", "drop_oldest", 0, 10 * ms, evictOldest},
		{"realtime", "drop_newest", 50 * ms, 10 * ms, dropNew},
		{"quality", "none", 50 * ms, 10 * ms, refuse},
		// adaptive, live modes: keep a waiting frame that a worker will take
		// soon (saves a copy), replace one that went stale.
		{"realtime", "adaptive", 2 * ms, 10 * ms, dropNew},
		{"realtime", "adaptive", 20 * ms, 10 * ms, evictOldest},
		{"balanced", "adaptive", -1, 10 * ms, evictOldest}, // nothing waiting: drop the oldest output
		// adaptive, ordered modes: never drop, push back.
		{"quality", "adaptive", 20 * ms, 10 * ms, refuse},
		{"batch", "adaptive", 0, 10 * ms, refuse},
	}
	for _, tt := range tests {
		t.Run(tt.mode+"/"+tt.skip, func(t *testing.T) {
			if got := newPolicy(tt.mode, tt.skip, 2).whenFull(tt.oldestWait, tt.serviceNs); got != tt.want {
				t.Fatalf("whenFull(%d, %d) = %d, want %d", tt.oldestWait, tt.serviceNs, got, tt.want)
			}
		})
	}
}

func TestPolicyBounds(t *testing.T) {
	for _, mode := range []string{"realtime", "balanced", "quality", "batch"} {
		p := newPolicy(mode, "adaptive", 0)
		if p.workers < 1 || p.inCap < 1 || p.maxInFlight != p.inCap+p.workers+p.outCap {
			t.Fatalf("%s: %+v", mode, p)
		}
	}
	if p := newPolicy("realtime", "adaptive", 0); p.inCap != 1 || p.outCap != 1 || p.ordered {
		t.Fatalf("realtime must never queue: %+v", p)
	}
	if p := newPolicy("quality", "adaptive", 3); !p.ordered || p.workers != 3 {
		t.Fatalf("quality: %+v", p)
	}
}
