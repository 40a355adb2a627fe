package vram

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Model is something heavy the cache holds (an ONNX session bundle, a dlib
// predictor). Close frees it. The cache tells models apart by ==, so an
// implementation must be comparable; a pointer type, as every real one is.
type Model interface{ Close() error }

// ErrOverBudget is wrapped by the error Acquire and Preload return when a
// model does not fit beside the models in use.
var ErrOverBudget = errors.New("model does not fit the memory budget")

// ErrClosed is returned by Acquire and Preload after Close.
var ErrClosed = errors.New("vram: model cache is closed")

// CacheStats is a snapshot of the cache for the metrics
// (model_cache_hit_rate) and the logs.
type CacheStats struct {
	Hits, Misses, Evictions, Loads uint64
	Refused, LoadErrors            uint64 // misses that did not end in a model: over budget, or load failed
	HitRate                        float64
	ActiveBytes, IdleBytes         int64
	LoadingBytes                   int64 // reserved by loads in progress
	BudgetBytes                    int64
	Active, Idle                   int
}

// entry is one loaded model. It is either active (in Cache.active, held by
// one pipeline) or idle (in one of the two LRU lists and in idleByKey).
type entry struct {
	id    uint64
	key   string
	size  int64
	model Model
	used  bool // checked out at least once; preloads start false
}

// Cache is an LRU cache of models by key with exclusive checkout: a model in
// use by one pipeline is active and never evicted; released, it becomes idle
// and the next Acquire of its key gets it back instead of loading again.
// Several idle entries of one key may exist.
//
// Eviction order: idle entries that were preloaded and never checked out go
// first (oldest preload first), then idle entries that pipelines have used,
// least recently released first. A preload is a guess about the future; a
// model a pipeline just gave back is the one most likely to be asked for
// again (a worker restarting, a second face), so a batch of warm-ups must not
// push it out.
//
// The budget is in bytes over active + idle + loading models; <= 0 means no
// limit. Entries carry the caller's size estimate (see SizeOf).
type Cache struct {
	log func(string)

	mu     sync.Mutex
	budget int64
	// simplelru keeps the order; the byte accounting is ours, so the count
	// limit is effectively infinite and eviction is driven by RemoveOldest.
	fresh, warm *simplelru.LRU[uint64, *entry]
	idleByKey   map[string][]*entry
	active      map[Model]*entry
	loading     map[string]int64 // key -> bytes reserved by loads in flight
	preloading  map[string]int   // keys with a Preload in flight, to not load twice

	activeBytes, idleBytes, reserved int64
	maxIdlePerKey                    int // spare copies of one model kept idle

	nextID                                              uint64
	hits, misses, evictions, loads, refused, loadErrors uint64
	closed                                              bool
}

// NewCache makes a cache holding at most budgetBytes of models (<= 0: no
// limit). log receives one line per eviction and per model that fails to
// close; it may be nil.
func NewCache(budgetBytes int64, log func(string)) *Cache {
	if log == nil {
		log = func(string) {}
	}
	newLRU := func() *simplelru.LRU[uint64, *entry] {
		l, err := simplelru.NewLRU[uint64, *entry](math.MaxInt, nil)
		if err != nil { // only for size <= 0
			panic(err)
		}
		return l
	}
	return &Cache{
		log:           log,
		budget:        budgetBytes,
		fresh:         newLRU(),
		warm:          newLRU(),
		idleByKey:     map[string][]*entry{},
		active:        map[Model]*entry{},
		loading:       map[string]int64{},
		preloading:    map[string]int{},
		maxIdlePerKey: DefaultMaxIdlePerKey,
	}
}

// DefaultMaxIdlePerKey is how many idle copies of one model the cache keeps.
// Pipelines that start together each load their own copy (checkout is
// exclusive); once they stop, more than a couple of spares only hold memory.
const DefaultMaxIdlePerKey = 2

// SetMaxIdlePerKey changes how many idle copies of one model are kept
// (at least 1); copies released beyond that are closed at once.
func (c *Cache) SetMaxIdlePerKey(n int) {
	c.mu.Lock()
	c.maxIdlePerKey = max(1, n)
	c.mu.Unlock()
}

// Acquire returns an idle model for key (a hit) or calls load (a miss). Before
// loading it makes room by evicting idle entries; if the active models and
// loads in progress alone leave no room for sizeBytes it returns an error
// wrapping ErrOverBudget that names the key, its size, the budget and what is
// in use. load runs without the cache lock, so loads of different keys run in
// parallel; its size is reserved meanwhile, so two loads cannot both
// overshoot. The caller owns the model until Release or Discard.
func (c *Cache) Acquire(key string, sizeBytes int64, load func() (Model, error)) (Model, error) {
	sizeBytes = max(sizeBytes, 0)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if e := c.takeIdleLocked(key); e != nil {
		c.hits++
		c.mu.Unlock()
		return e.model, nil
	}
	c.misses++
	evicted, err := c.reserveLocked(key, sizeBytes)
	c.mu.Unlock()
	// Close evicted models before loading, so their memory is really free
	// when the new one asks for it.
	c.closeEntries(evicted, "evicted to make room for "+quote(key))
	if err != nil {
		return nil, err
	}

	m, err := callLoad(key, load)

	c.mu.Lock()
	c.unreserveLocked(key, sizeBytes)
	if err != nil {
		c.loadErrors++
		c.mu.Unlock()
		return nil, err
	}
	c.loads++
	if c.closed { // closed while we loaded: nobody will release into us
		c.mu.Unlock()
		c.closeModel(key, m)
		return nil, ErrClosed
	}
	c.nextID++
	e := &entry{id: c.nextID, key: key, size: sizeBytes, model: m, used: true}
	c.active[m] = e
	c.activeBytes += sizeBytes
	c.mu.Unlock()
	return m, nil
}

// Release gives back a model from Acquire; it becomes idle (and is evicted at
// once if the cache is now over budget and nothing older is idle). After
// Close it is closed instead. Releasing a model the cache did not hand out,
// or releasing twice, is logged and otherwise ignored.
func (c *Cache) Release(key string, m Model) {
	if m == nil {
		return
	}
	c.mu.Lock()
	e, ok := c.active[m]
	if !ok {
		c.mu.Unlock()
		c.log(fmt.Sprintf("vram: Release(%q) of a model the cache does not hold as active: ignored", key))
		return
	}
	delete(c.active, m)
	c.activeBytes -= e.size
	if c.closed {
		c.mu.Unlock()
		c.closeModel(e.key, e.model)
		return
	}
	if len(c.idleByKey[e.key]) >= c.maxIdlePerKey {
		c.evictions++
		c.mu.Unlock()
		c.closeEntries([]*entry{e}, fmt.Sprintf("closed: %d idle copies are kept already", c.maxIdlePerKey))
		return
	}
	c.addIdleLocked(e)
	evicted := c.evictOverBudgetLocked()
	c.mu.Unlock()
	c.closeEntries(evicted, "evicted: over budget")
}

// Preload loads a model for key into the idle set unless one is idle already
// (or another Preload of key is under way), so the first Acquire is a hit.
// It blocks while loading; callers run it on their own goroutine. It makes
// room and refuses exactly as Acquire does.
func (c *Cache) Preload(key string, sizeBytes int64, load func() (Model, error)) error {
	sizeBytes = max(sizeBytes, 0)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if len(c.idleByKey[key]) > 0 || c.preloading[key] > 0 {
		c.mu.Unlock()
		return nil
	}
	evicted, err := c.reserveLocked(key, sizeBytes)
	if err == nil {
		c.preloading[key]++
	}
	c.mu.Unlock()
	c.closeEntries(evicted, "evicted to make room for preload of "+quote(key))
	if err != nil {
		return err
	}

	m, err := callLoad(key, load)

	c.mu.Lock()
	c.unreserveLocked(key, sizeBytes)
	if c.preloading[key]--; c.preloading[key] <= 0 {
		delete(c.preloading, key)
	}
	if err != nil {
		c.loadErrors++
		c.mu.Unlock()
		return err
	}
	c.loads++
	if c.closed {
		c.mu.Unlock()
		c.closeModel(key, m)
		return ErrClosed
	}
	c.nextID++
	c.addIdleLocked(&entry{id: c.nextID, key: key, size: sizeBytes, model: m})
	evicted = c.evictOverBudgetLocked() // SetBudget may have shrunk it while we loaded
	c.mu.Unlock()
	c.closeEntries(evicted, "evicted: over budget")
	return nil
}

// Discard takes back an active model that must not be reused (it failed, or
// its config changed) and closes it instead of caching it. A model the cache
// does not hold as active is logged and left alone, so a double Discard
// cannot close a model twice.
func (c *Cache) Discard(key string, m Model) {
	if m == nil {
		return
	}
	c.mu.Lock()
	e, ok := c.active[m]
	if ok {
		delete(c.active, m)
		c.activeBytes -= e.size
	}
	c.mu.Unlock()
	if !ok {
		c.log(fmt.Sprintf("vram: Discard(%q) of a model the cache does not hold as active: ignored", key))
		return
	}
	c.closeModel(e.key, e.model)
}

// SetBudget changes the budget (<= 0: no limit) and evicts idle entries that
// no longer fit. Active models are never touched; if they alone exceed the
// new budget, the next miss is refused until some are released.
func (c *Cache) SetBudget(bytes int64) {
	c.mu.Lock()
	c.budget = bytes
	evicted := c.evictOverBudgetLocked()
	c.mu.Unlock()
	c.closeEntries(evicted, "evicted: budget lowered")
}

// Stats returns a snapshot of the counters and the memory in use.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := CacheStats{
		Hits: c.hits, Misses: c.misses, Evictions: c.evictions, Loads: c.loads,
		Refused: c.refused, LoadErrors: c.loadErrors,
		ActiveBytes: c.activeBytes, IdleBytes: c.idleBytes, LoadingBytes: c.reserved,
		BudgetBytes: c.budget,
		Active:      len(c.active), Idle: c.fresh.Len() + c.warm.Len(),
	}
	if n := c.hits + c.misses; n > 0 {
		s.HitRate = float64(c.hits) / float64(n)
	}
	return s
}

// Close closes every idle model and refuses further Acquire and Preload.
// Active models are closed when they are released or discarded afterwards;
// loads in progress are closed when they finish. Safe to call twice.
func (c *Cache) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	idle := make([]*entry, 0, c.fresh.Len()+c.warm.Len())
	idle = append(idle, c.fresh.Values()...)
	idle = append(idle, c.warm.Values()...)
	c.fresh.Purge()
	c.warm.Purge()
	clear(c.idleByKey)
	c.idleBytes = 0
	c.mu.Unlock()
	c.closeEntries(idle, "")
}

// takeIdleLocked checks out the most recently idled entry of key, if any.
func (c *Cache) takeIdleLocked(key string) *entry {
	list := c.idleByKey[key]
	if len(list) == 0 {
		return nil
	}
	e := list[len(list)-1]
	c.dropIdleIndexLocked(e)
	if !c.warm.Remove(e.id) {
		c.fresh.Remove(e.id)
	}
	c.idleBytes -= e.size
	e.used = true
	c.active[e.model] = e
	c.activeBytes += e.size
	return e
}

func (c *Cache) addIdleLocked(e *entry) {
	if e.used {
		c.warm.Add(e.id, e)
	} else {
		c.fresh.Add(e.id, e)
	}
	c.idleByKey[e.key] = append(c.idleByKey[e.key], e)
	c.idleBytes += e.size
}

func (c *Cache) dropIdleIndexLocked(e *entry) {
	list := c.idleByKey[e.key]
	if i := slices.Index(list, e); i >= 0 {
		list = slices.Delete(list, i, i+1)
	}
	if len(list) == 0 {
		delete(c.idleByKey, e.key)
	} else {
		c.idleByKey[e.key] = list
	}
}

// evictOneLocked removes the next idle entry in eviction order: never-used
// preloads first, then the least recently released.
func (c *Cache) evictOneLocked() *entry {
	_, e, ok := c.fresh.RemoveOldest()
	if !ok {
		_, e, ok = c.warm.RemoveOldest()
	}
	if !ok {
		return nil
	}
	c.dropIdleIndexLocked(e)
	c.idleBytes -= e.size
	c.evictions++
	return e
}

func (c *Cache) overLocked(extra int64) bool {
	return c.budget > 0 && c.activeBytes+c.idleBytes+c.reserved+extra > c.budget
}

func (c *Cache) evictOverBudgetLocked() []*entry {
	var out []*entry
	for c.overLocked(0) {
		e := c.evictOneLocked()
		if e == nil {
			break
		}
		out = append(out, e)
	}
	return out
}

// reserveLocked makes room for size bytes of key and reserves them. It
// refuses before evicting anything when idle models could not make enough
// room anyway: evicting them would only cost a reload later.
func (c *Cache) reserveLocked(key string, size int64) ([]*entry, error) {
	if c.budget > 0 && c.activeBytes+c.reserved+size > c.budget {
		c.refused++
		return nil, c.overBudgetErrLocked(key, size)
	}
	var evicted []*entry
	for c.overLocked(size) {
		e := c.evictOneLocked()
		if e == nil { // cannot happen after the check above; never spin
			break
		}
		evicted = append(evicted, e)
	}
	c.reserved += size
	c.loading[key] += size
	return evicted, nil
}

func (c *Cache) unreserveLocked(key string, size int64) {
	c.reserved -= size
	if c.loading[key] -= size; c.loading[key] <= 0 {
		delete(c.loading, key)
	}
}

// overBudgetErrLocked says what does not fit, what holds the memory and what
// the user can do about it.
func (c *Cache) overBudgetErrLocked(key string, size int64) error {
	if size > c.budget {
		return fmt.Errorf("vram: %w: %q needs %s, more than the whole budget of %s; raise vram_budget_mb or pick a smaller model",
			ErrOverBudget, key, fmtBytes(size), fmtBytes(c.budget))
	}
	type use struct {
		key   string
		n     int
		bytes int64
	}
	byKey := map[string]*use{}
	for _, e := range c.active {
		u := byKey[e.key]
		if u == nil {
			u = &use{key: e.key}
			byKey[e.key] = u
		}
		u.n++
		u.bytes += e.size
	}
	uses := make([]*use, 0, len(byKey))
	for _, u := range byKey {
		uses = append(uses, u)
	}
	slices.SortFunc(uses, func(a, b *use) int {
		return cmp.Or(cmp.Compare(b.bytes, a.bytes), strings.Compare(a.key, b.key))
	})
	var held strings.Builder
	for i, u := range uses {
		if i > 0 {
			held.WriteString(", ")
		}
		fmt.Fprintf(&held, "%q %s", u.key, fmtBytes(u.bytes))
		if u.n > 1 {
			fmt.Fprintf(&held, " in %d copies", u.n)
		}
	}
	inUse := fmt.Sprintf("active models hold %s", fmtBytes(c.activeBytes))
	if held.Len() > 0 {
		inUse += " (" + held.String() + ")"
	}
	if c.reserved > 0 {
		keys := make([]string, 0, len(c.loading))
		for k := range c.loading {
			keys = append(keys, quote(k))
		}
		slices.Sort(keys)
		inUse += fmt.Sprintf(" and loads in progress reserve %s (%s)", fmtBytes(c.reserved), strings.Join(keys, ", "))
	}
	return fmt.Errorf("vram: %w: %q needs %s but the budget is %s and %s; raise vram_budget_mb or pick a smaller model",
		ErrOverBudget, key, fmtBytes(size), fmtBytes(c.budget), inUse)
}

// callLoad runs load, turning a panic or a nil model into an error so the
// reservation is always given back.
func callLoad(key string, load func() (Model, error)) (m Model, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("vram: loading %q panicked: %v", key, r)
		}
	}()
	m, err = load()
	if err != nil {
		if m != nil {
			_ = m.Close()
		}
		return nil, err // the loader's own words: the key is the cache's business, not the user's
	}
	if m == nil {
		return nil, fmt.Errorf("vram: loading %q returned no model", key)
	}
	return m, nil
}

func (c *Cache) closeEntries(es []*entry, why string) {
	for _, e := range es {
		if why != "" {
			c.log(fmt.Sprintf("vram: %q (%s) %s", e.key, fmtBytes(e.size), why))
		}
		c.closeModel(e.key, e.model)
	}
}

// closeModel closes outside the cache lock: freeing a GPU session can take
// a while and must not stall other pipelines' Acquire.
func (c *Cache) closeModel(key string, m Model) {
	defer func() {
		if r := recover(); r != nil {
			c.log(fmt.Sprintf("vram: closing %q panicked: %v", key, r))
		}
	}()
	if err := m.Close(); err != nil {
		c.log(fmt.Sprintf("vram: closing %q: %v", key, err))
	}
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// fmtBytes prints sizes the way vram_budget_mb counts them.
func fmtBytes(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MB", (n+1<<19)>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
