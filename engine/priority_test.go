package engine

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"facelive/engine/frame"
)

// niceStage records the nice value of the thread that processes a frame:
// the worker's.
type niceStage struct{ nice atomic.Int32 }

func (s *niceStage) Name() string { return "nice" }
func (s *niceStage) Process(*frame.Frame) error {
	raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, threadID()) // the kernel's 20 - nice
	if err != nil {
		return err
	}
	s.nice.Store(int32(20 - raw))
	return nil
}

// A live mode's workers yield to the host's threads (its video thread calls
// in for a copy and must not wait while a worker holds its core); ordered
// modes' workers keep the host's priority, also after a live mode (new
// threads: a thread's priority cannot be raised back).
func TestLiveWorkersYieldToTheHost(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("per-thread priority is Linux's")
	}
	runtime.LockOSThread() // this goroutine's thread: the process's priority
	defer runtime.UnlockOSThread()
	own := niceOf(t, fmt.Sprintf("/proc/self/task/%d/stat", threadID()))
	live := min(own+liveWorkerNice, 19)
	if live == own {
		t.Skipf("the process already runs at nice %d: nothing lower to go to", own)
	}
	st := &niceStage{}
	p := newPipeline(t, `{"mode":"realtime","workers":1}`, WithStages(st))
	for i, c := range []struct {
		mode string
		want int
	}{{"realtime", live}, {"quality", own}, {"balanced", live}, {"batch", own}, {"realtime", live}} {
		if err := p.SetConfig([]byte(fmt.Sprintf(`{"mode":%q,"workers":1}`, c.mode))); err != nil {
			t.Fatal(err)
		}
		st.nice.Store(-100)
		f := blank(frame.BGR24, 64, 48, 0)
		f.PTS = int64(i)
		if err := p.Submit(f); err != nil {
			t.Fatalf("%s: submit: %v", c.mode, err)
		}
		if err := p.Get(blank(frame.BGR24, 64, 48, 0), 10*time.Second); err != nil {
			t.Fatalf("%s: get: %v", c.mode, err)
		}
		if got := int(st.nice.Load()); got != c.want {
			t.Errorf("%s: the worker ran at nice %d, want %d (the host's thread: %d)", c.mode, got, c.want, own)
		}
	}
}
