package vram

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

const mb = int64(1) << 20

// acquire fails the test on error.
func acquire(t *testing.T, c *Cache, l *loader, key string, size int64) *fakeModel {
	t.Helper()
	m, err := c.Acquire(key, size, l.load(key))
	if err != nil {
		t.Fatalf("Acquire(%q): %v", key, err)
	}
	return m.(*fakeModel)
}

func closedKeys(ms []*fakeModel) []string {
	var out []string
	for _, m := range ms {
		switch m.closes.Load() {
		case 0:
		case 1:
			out = append(out, m.key)
		default:
			out = append(out, m.key+"(closed twice!)")
		}
	}
	return out
}

func TestCacheHitsAndMisses(t *testing.T) {
	var l loader
	c := NewCache(0, nil)
	a1 := acquire(t, c, &l, "a", mb) // miss
	c.Release("a", a1)
	a2 := acquire(t, c, &l, "a", mb) // hit: the same model back
	if a2 != a1 {
		t.Fatal("released model was not handed out again")
	}
	a3 := acquire(t, c, &l, "a", mb) // miss: a1 is checked out, exclusively
	if a3 == a1 {
		t.Fatal("an active model was handed out twice")
	}
	c.Release("a", a2)
	c.Release("a", a3) // two idle entries of one key
	s := c.Stats()
	want := CacheStats{Hits: 1, Misses: 2, Loads: 2, HitRate: 1.0 / 3, IdleBytes: 2 * mb, Idle: 2}
	if s != want {
		t.Errorf("stats\n got %+v\nwant %+v", s, want)
	}
	acquire(t, c, &l, "a", mb)
	acquire(t, c, &l, "a", mb)
	if s := c.Stats(); s.Hits != 3 || s.Loads != 2 || s.Active != 2 || s.Idle != 0 || s.ActiveBytes != 2*mb {
		t.Errorf("both idle copies should hit: %+v", s)
	}
}

func TestCacheEvictionOrder(t *testing.T) {
	tests := []struct {
		name string
		// steps: "+k" acquire and release k; "p:k" preload k; "=k" acquire k and keep it
		steps       []string
		wantEvicted []string // in order, while loading "x" then "y"
	}{
		{"least recently released first", []string{"+a", "+b", "+c", "+a"}, []string{"b", "c"}},
		{"never-used preload before used models", []string{"+a", "p:p", "+b"}, []string{"p", "a"}},
		{"preload checked out counts as used", []string{"p:p", "+a", "+b", "+p"}, []string{"a", "b"}},
		{"active entries are skipped", []string{"=a", "+b", "+c"}, []string{"b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l loader
			var logs logSink
			c := NewCache(3*100*mb, logs.log)
			for _, s := range tt.steps {
				switch {
				case strings.HasPrefix(s, "p:"):
					if err := c.Preload(s[2:], 100*mb, l.load(s[2:])); err != nil {
						t.Fatal(err)
					}
				case s[0] == '+':
					c.Release(s[1:], acquire(t, c, &l, s[1:], 100*mb))
				case s[0] == '=':
					acquire(t, c, &l, s[1:], 100*mb)
				}
			}
			var order []string
			for _, k := range []string{"x", "y"} {
				before := len(closedKeys(l.made()))
				acquire(t, c, &l, k, 100*mb)
				closed := closedKeys(l.made())
				if len(closed) != before+1 {
					t.Fatalf("loading %s closed %v", k, closed)
				}
				for _, m := range l.made() {
					if m.closes.Load() == 1 && !contains(order, m.key) {
						order = append(order, m.key)
					}
				}
			}
			if fmt.Sprint(order) != fmt.Sprint(tt.wantEvicted) {
				t.Errorf("evicted %v, want %v", order, tt.wantEvicted)
			}
			if s := c.Stats(); s.Evictions != 2 {
				t.Errorf("evictions %d", s.Evictions)
			}
			if n := countPrefix(logs.all(), "vram: \""); n != 2 {
				t.Errorf("want one log line per eviction: %q", logs.all())
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestCacheRefusesWhenActiveModelsFill(t *testing.T) {
	var l loader
	c := NewCache(200*mb, nil)
	a := acquire(t, c, &l, "detect/blazeface", 50*mb)
	b := acquire(t, c, &l, "swap/inswapper", 120*mb)
	idle := acquire(t, c, &l, "landmark/dlib", 30*mb)
	c.Release("landmark/dlib", idle)

	tests := []struct {
		name string
		key  string
		size int64
		want []string
	}{
		{"no room beside active models", "swap/dfm", 100 * mb, []string{
			`"swap/dfm" needs 100 MB`, "budget is 200 MB", "active models hold 170 MB",
			`"swap/inswapper" 120 MB`, `"detect/blazeface" 50 MB`, "raise vram_budget_mb or pick a smaller model"}},
		{"larger than the whole budget", "huge", 300 * mb, []string{
			`"huge" needs 300 MB`, "more than the whole budget of 200 MB", "vram_budget_mb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := c.Acquire(tt.key, tt.size, l.load(tt.key))
			if err == nil || m != nil {
				t.Fatalf("got %v, %v; want a refusal", m, err)
			}
			if !errors.Is(err, ErrOverBudget) {
				t.Errorf("%v does not wrap ErrOverBudget", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	if closed := closedKeys(l.made()); len(closed) != 0 {
		t.Errorf("a refusal must not evict anything (it would not help): closed %v", closed)
	}
	if a.closes.Load()+b.closes.Load() != 0 {
		t.Error("active model closed")
	}
	if s := c.Stats(); s.Refused != 2 || s.Misses != 5 || s.Loads != 3 || s.Idle != 1 || s.LoadingBytes != 0 {
		t.Errorf("stats %+v", s)
	}
	// Room for 30 MB exists only by evicting the idle dlib model.
	acquire(t, c, &l, "small", 30*mb)
	if closed := closedKeys(l.made()); fmt.Sprint(closed) != "[landmark/dlib]" {
		t.Errorf("closed %v, want the idle model", closed)
	}
}

func TestCacheReleaseOverBudgetEvicts(t *testing.T) {
	var l loader
	c := NewCache(300*mb, nil)
	a := acquire(t, c, &l, "a", 100*mb)
	b := acquire(t, c, &l, "b", 100*mb)
	acquire(t, c, &l, "c", 100*mb)
	c.SetBudget(200 * mb) // all active: nothing to evict
	if s := c.Stats(); s.Evictions != 0 || s.BudgetBytes != 200*mb {
		t.Fatalf("stats %+v", s)
	}
	c.Release("a", a) // 300 MB held, budget 200: a goes at once
	if a.closes.Load() != 1 {
		t.Error("released model kept although over budget")
	}
	c.Release("b", b) // 200 MB held: fits, stays idle
	if b.closes.Load() != 0 {
		t.Error("model evicted although within budget")
	}
	c.SetBudget(100 * mb) // now b must go
	if b.closes.Load() != 1 {
		t.Error("SetBudget did not evict the idle model")
	}
	if s := c.Stats(); s.Evictions != 2 || s.Idle != 0 || s.ActiveBytes != 100*mb {
		t.Errorf("stats %+v", s)
	}
}

func TestCachePreload(t *testing.T) {
	var l loader
	c := NewCache(0, nil)
	if err := c.Preload("swap", mb, l.load("swap")); err != nil {
		t.Fatal(err)
	}
	if err := c.Preload("swap", mb, l.load("swap")); err != nil { // one is idle already
		t.Fatal(err)
	}
	if n := len(l.made()); n != 1 {
		t.Fatalf("preload twice loaded %d models", n)
	}
	m := acquire(t, c, &l, "swap", mb)
	if m != l.made()[0] {
		t.Error("Acquire after Preload loaded again")
	}
	if s := c.Stats(); s.Hits != 1 || s.Misses != 0 || s.Loads != 1 || s.HitRate != 1 {
		t.Errorf("stats %+v", s)
	}
	// With the only copy active, Preload loads a second one.
	if err := c.Preload("swap", mb, l.load("swap")); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Loads != 2 || s.Idle != 1 || s.Active != 1 {
		t.Errorf("stats %+v", s)
	}
	t.Run("refused like Acquire", func(t *testing.T) {
		c := NewCache(10*mb, nil)
		err := c.Preload("big", 20*mb, l.load("big"))
		if !errors.Is(err, ErrOverBudget) || !strings.Contains(err.Error(), `"big"`) {
			t.Errorf("err %v", err)
		}
	})
}

func TestCacheDiscard(t *testing.T) {
	var l loader
	var logs logSink
	c := NewCache(0, logs.log)
	m := acquire(t, c, &l, "a", mb)
	c.Discard("a", m)
	if m.closes.Load() != 1 {
		t.Fatal("Discard did not close the model")
	}
	c.Discard("a", m) // a second time: ignored, not closed twice
	c.Release("a", m) // nor may it come back
	if m.closes.Load() != 1 {
		t.Error("closed twice")
	}
	if n := countPrefix(logs.all(), "vram: Discard(\"a\")") + countPrefix(logs.all(), "vram: Release(\"a\")"); n != 2 {
		t.Errorf("logs %q", logs.all())
	}
	m2 := acquire(t, c, &l, "a", mb)
	if m2 == m {
		t.Error("discarded model handed out again")
	}
	if s := c.Stats(); s.Hits != 0 || s.Misses != 2 || s.Active != 1 || s.ActiveBytes != mb || s.Idle != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestCacheLoadFailures(t *testing.T) {
	tests := []struct {
		name string
		load func() (Model, error)
		want string
	}{
		{"error", func() (Model, error) { return nil, errors.New("bad file") }, `bad file` /* the loader's words, unwrapped */},
		{"panic", func() (Model, error) { panic("kaboom") }, `vram: loading "k" panicked: kaboom`},
		{"nil model", func() (Model, error) { return nil, nil }, `vram: loading "k" returned no model`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCache(10*mb, nil)
			if _, err := c.Acquire("k", 8*mb, tt.load); err == nil || err.Error() != tt.want {
				t.Errorf("err %v, want %q", err, tt.want)
			}
			if err := c.Preload("k", 8*mb, tt.load); err == nil || err.Error() != tt.want {
				t.Errorf("preload err %v, want %q", err, tt.want)
			}
			s := c.Stats()
			if s.LoadErrors != 2 || s.Loads != 0 || s.LoadingBytes != 0 {
				t.Errorf("stats %+v", s)
			}
			// The reservation came back: the whole budget is usable.
			var l loader
			acquire(t, c, &l, "k2", 10*mb)
		})
	}
	t.Run("model returned with an error is closed", func(t *testing.T) {
		m := &fakeModel{}
		c := NewCache(0, nil)
		_, err := c.Acquire("k", 1, func() (Model, error) { return m, errors.New("half loaded") })
		if err == nil || m.closes.Load() != 1 {
			t.Errorf("err %v, closes %d", err, m.closes.Load())
		}
	})
}

func TestCacheLoadsRunInParallelAndReserve(t *testing.T) {
	var l loader
	c := NewCache(150*mb, nil)
	started, finish := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := c.Acquire("slow", 100*mb, func() (Model, error) {
			close(started)
			<-finish // held until the other Acquires below have returned
			return l.load("slow")()
		})
		done <- err
	}()
	<-started
	// Another key loads while "slow" is still loading: loads do not hold the lock.
	acquire(t, c, &l, "fast", 40*mb)
	// The 100 MB being loaded is reserved, so 20 MB more does not fit.
	_, err := c.Acquire("other", 20*mb, l.load("other"))
	if !errors.Is(err, ErrOverBudget) || !strings.Contains(err.Error(), `loads in progress reserve 100 MB ("slow")`) {
		t.Errorf("err %v", err)
	}
	if s := c.Stats(); s.LoadingBytes != 100*mb {
		t.Errorf("stats %+v", s)
	}
	close(finish)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.LoadingBytes != 0 || s.ActiveBytes != 140*mb || s.Loads != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestCacheClose(t *testing.T) {
	var l loader
	c := NewCache(0, nil)
	idle := acquire(t, c, &l, "idle", mb)
	c.Release("idle", idle)
	if err := c.Preload("pre", mb, l.load("pre")); err != nil {
		t.Fatal(err)
	}
	active := acquire(t, c, &l, "active", mb)
	c.Close()
	c.Close()
	if fmt.Sprint(closedKeys(l.made())) != "[idle pre]" {
		t.Errorf("after Close, closed %v; want the idle ones", closedKeys(l.made()))
	}
	c.Release("active", active)
	if active.closes.Load() != 1 {
		t.Error("active model not closed when released after Close")
	}
	if _, err := c.Acquire("idle", mb, l.load("idle")); !errors.Is(err, ErrClosed) {
		t.Errorf("Acquire after Close: %v", err)
	}
	if err := c.Preload("x", mb, l.load("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Preload after Close: %v", err)
	}
	if s := c.Stats(); s.Active != 0 || s.Idle != 0 || s.ActiveBytes != 0 || s.IdleBytes != 0 {
		t.Errorf("stats %+v", s)
	}

	t.Run("load finishing after Close", func(t *testing.T) {
		c := NewCache(0, nil)
		m := &fakeModel{}
		_, err := c.Acquire("k", 1, func() (Model, error) { c.Close(); return m, nil })
		if !errors.Is(err, ErrClosed) || m.closes.Load() != 1 {
			t.Errorf("err %v, closes %d", err, m.closes.Load())
		}
	})
}

func TestCacheConcurrent(t *testing.T) {
	const workers, rounds = 8, 300
	var l loader
	// Room for exactly one model per worker: nothing is ever refused (the
	// other workers hold or reserve at most 70 MB), but 12 keys do not fit,
	// so idle models are evicted all the time.
	c := NewCache(workers*10*mb, nil)
	var keys []string
	for i := range 12 {
		keys = append(keys, fmt.Sprintf("model-%d", i))
	}
	var discards atomic.Uint64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				key := keys[(w*5+i)%len(keys)]
				m, err := c.Acquire(key, 10*mb, l.load(key))
				if err != nil {
					t.Error(err)
					return
				}
				if fm := m.(*fakeModel); fm.key != key || fm.closes.Load() != 0 {
					t.Errorf("got %s model (closes %d) for %s", fm.key, fm.closes.Load(), key)
				}
				if i%17 == 0 {
					discards.Add(1)
					c.Discard(key, m)
				} else {
					c.Release(key, m)
				}
				if i%50 == 0 {
					_ = c.Stats()
				}
			}
		}()
	}
	wg.Wait()
	s := c.Stats()
	if s.Hits+s.Misses != workers*rounds {
		t.Errorf("hits %d + misses %d != %d", s.Hits, s.Misses, workers*rounds)
	}
	if s.Loads != s.Misses || s.Loads != uint64(len(l.made())) || s.Refused != 0 {
		t.Errorf("loads %d, misses %d, made %d, refused %d", s.Loads, s.Misses, len(l.made()), s.Refused)
	}
	// Every model loaded ended evicted, discarded or idle.
	if s.Loads != s.Evictions+discards.Load()+uint64(s.Idle) || s.Evictions == 0 {
		t.Errorf("loads %d != evictions %d + discards %d + idle %d", s.Loads, s.Evictions, discards.Load(), s.Idle)
	}
	if s.Active != 0 || s.ActiveBytes != 0 || s.LoadingBytes != 0 || s.IdleBytes != int64(s.Idle)*10*mb || s.IdleBytes > s.BudgetBytes {
		t.Errorf("stats %+v", s)
	}
	c.Close()
	for _, m := range l.made() {
		if n := m.closes.Load(); n != 1 {
			t.Errorf("model %s#%d closed %d times", m.key, m.n, n)
		}
	}
	t.Logf("%+v", s)
}

func TestCacheKeepsFewIdleCopiesOfOneModel(t *testing.T) {
	var l loader
	c := NewCache(0, nil)
	var ms []Model
	for i := 0; i < 5; i++ { // five pipelines start together: five copies
		ms = append(ms, acquire(t, c, &l, "dlib", mb))
	}
	for _, m := range ms {
		c.Release("dlib", m)
	}
	s := c.Stats()
	if s.Idle != DefaultMaxIdlePerKey || s.IdleBytes != int64(DefaultMaxIdlePerKey)*mb || s.Evictions != uint64(5-DefaultMaxIdlePerKey) {
		t.Fatalf("after releasing 5 copies: %+v; want %d kept idle, the rest closed", s, DefaultMaxIdlePerKey)
	}
	closed := 0
	for _, m := range ms {
		if m.(*fakeModel).closes.Load() > 0 {
			closed++
		}
	}
	if closed != 5-DefaultMaxIdlePerKey {
		t.Fatalf("%d copies closed, want %d", closed, 5-DefaultMaxIdlePerKey)
	}
}
