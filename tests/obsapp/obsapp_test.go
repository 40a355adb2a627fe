//go:build obsapp

// Package obsapp tests the plugin in the real OBS Studio app, as a
// streamer meets it: Debian's obs-studio under Xvfb, with a profile and a
// scene collection this test writes into a fresh HOME (a media source
// playing a face clip through "Face Swap (facelive)"), recording from the
// start with --startrecording; the recording is then read back frame by
// frame and compared with the clip. One test also opens OBS's Filters
// dialog on the source through obs-websocket (bundled with Debian's OBS)
// and takes a screenshot of it (docs/obs-properties.png comes from it).
//
// It needs the plugin installed into build/obs-plugin-install (make test
// does that before ctest) and runs as its own step of make test
// (scripts/test.sh: go test -tags obsapp ./tests/obsapp). With
// FACELIVE_OBS_APP_SYSTEM=1 it runs OBS with the Debian package's module
// instead (installed with apt), and no per-user plugin.
package obsapp

import (
	"bufio"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

// The clip: the astronaut's head (the crop make demo uses), 400 px square,
// still, at (440,160) on mid grey, 1280x720 at 30 fps.
var (
	head = image.Rect(440, 160, 840, 560)
	// faceCore is the middle of the face: whatever the swapper, it must
	// change there.
	faceCore = image.Rect(560, 260, 720, 460)
	// outside is what must stay as it is: everything farther than 60 px
	// from the head square (the pasted face's feathered edge reaches a
	// little past the detector's box, which lies inside the square).
	outsideOf = head.Inset(-60)
)

// systemModule is where the Debian package puts the module.
const systemModule = "/usr/lib/x86_64-linux-gnu/obs-plugins/facelive.so"

const (
	// recordFor: the recording goes on this long after the plugin says its
	// face pipeline is ready (however long the models took to load: the
	// test does not depend on the machine's speed), so its last second
	// shows the filter at work.
	recordFor = 5 * time.Second
	// coreChanged: the mean difference in faceCore between a processed
	// frame and the clip. Pixelate and the photo swap change it by 20-60
	// levels; x264 at OBS's "Small" quality changes it by about 2.
	coreChanged = 8.0
	// restSame: the most the mean difference outside the head may be
	// (x264's noise on grey: about 1).
	restSame = 3.0
)

func root(t *testing.T) string {
	t.Helper()
	if r := os.Getenv("FACELIVE_ROOT"); r != "" {
		return r
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(wd, "..", "..")
}

func need(t *testing.T, bins ...string) {
	t.Helper()
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			t.Fatalf("%s is not installed: run make deps (it installs obs-studio, xvfb and ffmpeg)", b)
		}
	}
}

// makeClip writes the still face clip with ffmpeg and returns its path.
func makeClip(t *testing.T, dir string) string {
	t.Helper()
	third := os.Getenv("FACELIVE_THIRD_PARTY")
	if third == "" {
		third = filepath.Join(root(t), "third_party")
	}
	photo := filepath.Join(third, "faces", "astronaut.png")
	if _, err := os.Stat(photo); err != nil {
		t.Fatalf("no %s: run make deps", photo)
	}
	clip := filepath.Join(dir, "clip.mkv")
	out, err := exec.Command("ffmpeg", "-y", "-loglevel", "error",
		"-f", "lavfi", "-i", "color=c=0x808080:s=1280x720:r=30", "-loop", "1", "-i", photo,
		"-filter_complex", fmt.Sprintf("[1]crop=232:232:110:12,scale=%d:%d[f];[0][f]overlay=%d:%d:shortest=1",
			head.Dx(), head.Dy(), head.Min.X, head.Min.Y),
		"-t", "30", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "12", "-r", "30", clip).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	return clip
}

// obsHome writes a HOME in which OBS starts straight into a scene that
// plays clip through the facelive filter with the given settings (JSON
// object members), records into rec, and loads the plugin from plugin.
func obsHome(t *testing.T, dir, clip, rec, plugin, filterSettings string, wsPort int) string {
	t.Helper()
	home := filepath.Join(dir, "home")
	cfg := filepath.Join(home, ".config", "obs-studio")
	files := map[string]string{
		// ConfirmOnExit=false: by default OBS asks "exit while recording?"
		// in a modal dialog when closed during a recording, and nobody
		// answers it here (CI hung on it until the 30 s bound).
		"global.ini": `[General]
FirstRun=true
EnableAutoUpdates=false
ConfirmOnExit=false
[Basic]
Profile=facelive-test
ProfileDir=facelive-test
SceneCollection=facelive-test
SceneCollectionFile=facelive-test
ConfigOnNewProfile=false
`,
		"basic/profiles/facelive-test/basic.ini": `[General]
Name=facelive-test
[Video]
BaseCX=1280
BaseCY=720
OutputCX=1280
OutputCY=720
FPSType=0
FPSCommon=30
ColorFormat=NV12
ColorSpace=709
ColorRange=Partial
[Output]
Mode=Simple
[SimpleOutput]
FilePath=` + rec + `
RecFormat=mkv
RecQuality=Small
RecEncoder=x264
RecRB=false
`,
		"basic/scenes/facelive-test.json": `{
  "name": "facelive-test",
  "current_scene": "Scene",
  "current_program_scene": "Scene",
  "scene_order": [{"name": "Scene"}],
  "sources": [
    {"id": "ffmpeg_source", "versioned_id": "ffmpeg_source", "name": "Camera clip",
     "settings": {"is_local_file": true, "local_file": "` + clip + `", "looping": true, "restart_on_activate": true, "hw_decode": false},
     "filters": [{"id": "facelive_filter", "versioned_id": "facelive_filter", "name": "Face Swap", "settings": {` + filterSettings + `}}]},
    {"id": "scene", "versioned_id": "scene", "name": "Scene",
     "settings": {"id_counter": 1, "items": [{"name": "Camera clip", "id": 1, "visible": true, "locked": false,
       "pos": {"x": 0.0, "y": 0.0}, "scale": {"x": 1.0, "y": 1.0}, "rot": 0.0, "align": 5, "bounds_type": 0,
       "bounds": {"x": 0.0, "y": 0.0}, "bounds_align": 0}]}}
  ],
  "transitions": [],
  "current_transition": "Fade",
  "transition_duration": 300
}
`,
	}
	// obs-websocket (bundled with Debian's OBS), for a test that drives the
	// UI: on a port of its own, no password. Version 5.1 (OBS 29) reads its
	// settings from global.ini; later versions from plugin_config.
	if wsPort > 0 {
		files["global.ini"] += fmt.Sprintf("[OBSWebSocket]\nFirstLoad=false\nServerEnabled=true\nServerPort=%d\n"+
			"AlertsEnabled=false\nAuthRequired=false\nServerPassword=facelive-test\n", wsPort)
		files["plugin_config/obs-websocket/config.json"] = fmt.Sprintf(`{"alerts_enabled": false, "auth_required": false, `+
			`"first_load": false, "server_enabled": true, "server_password": "facelive-test", "server_port": %d}`, wsPort)
	}
	for name, body := range files {
		p := filepath.Join(cfg, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The per-user plugin folder, as make install fills it; none when the
	// Debian package's module is what OBS is to load (plugin "").
	if plugin == "" {
		return home
	}
	if err := os.MkdirAll(filepath.Join(cfg, "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(plugin, filepath.Join(cfg, "plugins", "facelive")); err != nil {
		t.Fatal(err)
	}
	return home
}

// record runs OBS with the filter settings, records until recordFor after
// the face pipeline is ready, and returns the recording's path and OBS's log.
func record(t *testing.T, filterSettings string) (string, string) {
	t.Helper()
	return recordWith(t, filterSettings, nil)
}

// runningOBS is what a test that drives OBS while it records gets.
type runningOBS struct {
	pid    int           // OBS itself (under xvfb-run)
	wsPort int           // its obs-websocket server
	log    func() string // its log so far
}

// recordWith is record, calling during (when not nil) once the face
// pipeline is ready, before the recording's last recordFor.
func recordWith(t *testing.T, filterSettings string, during func(obs runningOBS)) (string, string) {
	t.Helper()
	need(t, "obs", "xvfb-run", "ffmpeg")
	plugin := filepath.Join(root(t), "build", "obs-plugin-install")
	if os.Getenv("FACELIVE_OBS_APP_SYSTEM") != "" {
		// The Debian package's module, where OBS finds system plugins
		// (apt install ./build/facelive_*.deb first).
		if _, err := os.Stat(systemModule); err != nil {
			t.Fatalf("FACELIVE_OBS_APP_SYSTEM is set but %s is not installed: apt-get install ./build/facelive_<version>_amd64.deb", systemModule)
		}
		plugin = ""
	} else if _, err := os.Stat(filepath.Join(plugin, "bin", "64bit", "facelive.so")); err != nil {
		t.Fatalf("no plugin in %s: make test installs it there before ctest (cmake --install build/cmake --component obs-plugin --prefix %s)", plugin, plugin)
	}
	dir := t.TempDir()
	rec := filepath.Join(dir, "rec")
	if err := os.MkdirAll(rec, 0o755); err != nil {
		t.Fatal(err)
	}
	clip := makeClip(t, dir)
	wsPort := freePort(t) // obs-websocket: the recording is stopped through it
	home := obsHome(t, dir, clip, rec, plugin, filterSettings, wsPort)

	cmd := exec.Command("xvfb-run", "-a", "-s", "-screen 0 1280x1024x24",
		"obs", "--startrecording", "--collection", "facelive-test", "--profile", "facelive-test",
		"--multi", "--disable-updater", "--disable-shutdown-check")
	cmd.Env = append(os.Environ(), "HOME="+home, "LIBGL_ALWAYS_SOFTWARE=1", "XDG_CONFIG_HOME="+filepath.Join(home, ".config"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the whole group goes if the test gives up
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); pw.Close() }()
	var log syncLog
	started, ready, stopped := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			log.add(sc.Text())
			switch {
			case strings.Contains(sc.Text(), "==== Recording Start"):
				closeOnce(started)
			case strings.Contains(sc.Text(), "face pipeline ready"):
				closeOnce(ready)
			case strings.Contains(sc.Text(), "==== Recording Stop"):
				closeOnce(stopped)
			}
		}
	}()
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)

	// Generous liveness bounds only: OBS starts in a few seconds and the
	// models load in 1-3 s here.
	for _, w := range []struct {
		ch   chan struct{}
		what string
	}{{started, "start recording"}, {ready, "say its face pipeline is ready"}} {
		select {
		case <-w.ch:
		case err := <-exited:
			t.Fatalf("OBS exited before it would %s (%v):\n%s", w.what, err, log.String())
		case <-time.After(2 * time.Minute):
			t.Fatalf("OBS did not %s within 2 minutes:\n%s", w.what, log.String())
		}
	}
	obsPID := childNamed(cmd.Process.Pid, "obs")
	if obsPID == 0 {
		t.Fatalf("cannot find OBS's process under xvfb-run:\n%s", log.String())
	}
	if during != nil {
		during(runningOBS{pid: obsPID, wsPort: wsPort, log: log.String})
	}
	time.Sleep(recordTime())
	// The recording is stopped through obs-websocket, as the Stop Recording
	// button does, and OBS is then killed. Not SIGINT: Debian's OBS 29 runs
	// its whole close-the-window code inside its SIGINT handler, on
	// whichever thread the signal lands on; on the graphics thread (often
	// inside the filter's call into the library) that deadlocked OBS in CI.
	ws, err := dialOBS(wsPort)
	if err != nil {
		t.Fatalf("obs-websocket on port %d: %v\n%s", wsPort, err, log.String())
	}
	err = ws.request("StopRecord", "{}")
	ws.Close()
	if err != nil {
		t.Fatalf("StopRecord: %v\n%s", err, log.String())
	}
	select {
	case <-stopped:
	case err := <-exited:
		t.Fatalf("OBS exited before the recording stopped (%v):\n%s", err, log.String())
	case <-time.After(time.Minute):
		t.Fatalf("the recording did not stop within a minute:\n%s\nwhere OBS's threads were:\n%s", log.String(), threads(obsPID))
	}
	// The muxer (obs-ffmpeg-mux, a process of its own) finishes the file
	// before OBS reports the stop; wait for it anyway before killing the group.
	for end := time.Now().Add(30 * time.Second); childNamed(cmd.Process.Pid, "obs-ffmpeg-mux") != 0 && time.Now().Before(end); {
		time.Sleep(100 * time.Millisecond)
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-exited
	files, _ := filepath.Glob(filepath.Join(rec, "*.mkv"))
	if len(files) != 1 {
		t.Fatalf("recordings in %s: %v, want one:\n%s", rec, files, log.String())
	}
	if dir := os.Getenv("FACELIVE_OBS_APP_OUT"); dir != "" { // keep it to look at
		os.MkdirAll(dir, 0o755)
		name := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "-"))
		if b, err := os.ReadFile(files[0]); err == nil {
			os.WriteFile(name+".mkv", b, 0o644)
		}
		os.WriteFile(name+".log", []byte(log.String()), 0o644)
	}
	return files[0], log.String()
}

// threads says where each thread of a hung process is: gdb's backtraces
// when gdb is installed, else each thread's name, state and kernel wait
// channel.
func threads(pid int) string {
	if _, err := exec.LookPath("gdb"); err == nil {
		cmd := exec.Command("gdb", "-p", fmt.Sprint(pid), "-batch", "-ex", "thread apply all bt 30")
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	var b strings.Builder
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/[0-9]*", pid))
	for _, task := range tasks {
		comm, _ := os.ReadFile(filepath.Join(task, "comm"))
		wchan, _ := os.ReadFile(filepath.Join(task, "wchan"))
		stat, _ := os.ReadFile(filepath.Join(task, "stat"))
		state := ""
		if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+3 <= len(stat) {
			state = string(stat[i+2 : i+3])
		}
		fmt.Fprintf(&b, "%s %s %s wchan=%s\n", filepath.Base(task), strings.TrimSpace(string(comm)), state, wchan)
	}
	return b.String()
}

// recordTime is recordFor, or FACELIVE_OBS_APP_RECORD (a Go duration) to
// watch the filter for longer by hand.
func recordTime() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("FACELIVE_OBS_APP_RECORD")); err == nil && d > 0 {
		return d
	}
	return recordFor
}

// syncLog collects OBS's output lines from the reading goroutine.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) add(line string) {
	l.mu.Lock()
	l.b.WriteString(line + "\n")
	l.mu.Unlock()
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// closeOnce closes ch unless it is closed already (the reading goroutine
// alone closes it).
func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// childNamed finds a descendant of pid whose command is name (0: none).
func childNamed(pid int, name string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	parent := map[int]int{}
	comm := map[int]string{}
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		var id, ppid int
		var state string
		fmt.Sscan(s[:open], &id)
		fmt.Sscan(s[close+1:], &state, &ppid)
		parent[id], comm[id] = ppid, s[open+1:close]
	}
	for id, c := range comm {
		if c != name {
			continue
		}
		for p := parent[id]; p > 1; p = parent[p] {
			if p == pid {
				return id
			}
		}
	}
	return 0
}

// frameStats compares a recorded frame with the clip's: the mean absolute
// difference (over B, G, R) in faceCore and outside outsideOf, and whether
// the frame is all but black (before the media source's first frame).
type frameStats struct {
	core, rest float64
	black      bool
}

func meanDiff(a, b gocv.Mat, r image.Rectangle) float64 {
	ra, rb := a.Region(r), b.Region(r)
	defer ra.Close()
	defer rb.Close()
	d := gocv.NewMat()
	defer d.Close()
	gocv.AbsDiff(ra, rb, &d)
	s := d.Mean()
	return (s.Val1 + s.Val2 + s.Val3) / 3
}

func restDiff(a, b gocv.Mat) float64 {
	w, h := a.Cols(), a.Rows()
	parts := []image.Rectangle{
		image.Rect(0, 0, w, outsideOf.Min.Y), image.Rect(0, outsideOf.Max.Y, w, h),
		image.Rect(0, outsideOf.Min.Y, outsideOf.Min.X, outsideOf.Max.Y), image.Rect(outsideOf.Max.X, outsideOf.Min.Y, w, outsideOf.Max.Y),
	}
	var sum, n float64
	for _, p := range parts {
		area := float64(p.Dx() * p.Dy())
		sum += meanDiff(a, b, p) * area
		n += area
	}
	return sum / n
}

// readBack returns the stats of every frame of the recording, against the
// clip's first frame.
func readBack(t *testing.T, recording string) []frameStats {
	t.Helper()
	ref := firstFrame(t, filepath.Join(filepath.Dir(filepath.Dir(recording)), "clip.mkv"))
	defer ref.Close()
	vc, err := gocv.VideoCaptureFile(recording)
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	m := gocv.NewMat()
	defer m.Close()
	var out []frameStats
	for vc.Read(&m) && !m.Empty() {
		if m.Cols() != ref.Cols() || m.Rows() != ref.Rows() {
			t.Fatalf("recorded frame %d is %dx%d, the clip %dx%d", len(out), m.Cols(), m.Rows(), ref.Cols(), ref.Rows())
		}
		all := m.Mean()
		out = append(out, frameStats{core: meanDiff(m, ref, faceCore), rest: restDiff(m, ref),
			black: all.Val1+all.Val2+all.Val3 < 3*8})
	}
	if len(out) < 30 {
		t.Fatalf("%s: %d frames, want a recording of %v and more", recording, len(out), recordFor)
	}
	return out
}

func firstFrame(t *testing.T, clip string) gocv.Mat {
	t.Helper()
	vc, err := gocv.VideoCaptureFile(clip)
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	m := gocv.NewMat()
	if !vc.Read(&m) || m.Empty() {
		t.Fatalf("cannot read %s", clip)
	}
	return m
}

// summary describes a recording's frames for messages.
func summary(st []frameStats) string {
	black, minCore, maxRest := 0, math.Inf(1), 0.0
	for _, s := range st {
		if s.black {
			black++
			continue
		}
		minCore, maxRest = min(minCore, s.core), max(maxRest, s.rest)
	}
	last := st[len(st)-1]
	return fmt.Sprintf("%d frames (%d black, before the clip showed); over the others the face's middle changed by at least %.1f levels, "+
		"the rest by at most %.1f; last frame: face %.1f, rest %.1f", len(st), black, minCore, maxRest, last.core, last.rest)
}

// Pixelate hides the face in every frame of the recording, from the first
// (models load in about 1.5 s, and until then the frame stays hidden
// whole), and leaves the rest of the frame as it was once they run. So
// does a swap told to hide what it has not processed (unprocessed hide):
// by default a swap shows the frames it has not processed, the real face
// for the first second and a half.
func TestOBSAppPrivacyFromTheFirstFrame(t *testing.T) {
	for _, tc := range []struct{ name, settings string }{
		{"pixelate", `"swapper.kind": "pixelate"`},
		{"photo, unprocessed hide", `"swapper.kind": "photo", "unprocessed": "hide"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recording, log := record(t, tc.settings)
			st := readBack(t, recording)
			t.Log(summary(st))
			shown := 0
			for i, s := range st {
				if !s.black && s.core < coreChanged {
					if shown++; shown <= 5 {
						t.Errorf("frame %d of %d shows the face (its middle differs from the clip by %.1f levels only)", i, len(st), s.core)
					}
				}
			}
			checkLastSecond(t, st, log)
		})
	}
}

// The photo swap: a swapped face in the recording, the rest of the frame
// as it was.
func TestOBSAppPhotoSwap(t *testing.T) {
	recording, log := record(t, `"swapper.kind": "photo"`)
	st := readBack(t, recording)
	t.Log(summary(st))
	checkLastSecond(t, st, log)
}

// checkLastSecond: in the recording's last second (30 frames) every frame
// has the face changed and the rest as it was.
func checkLastSecond(t *testing.T, st []frameStats, log string) {
	t.Helper()
	bad := 0
	for i := len(st) - 30; i < len(st); i++ {
		if s := st[i]; s.black || s.core < coreChanged || s.rest > restSame {
			if bad++; bad <= 3 {
				t.Errorf("frame %d of %d: face's middle changed by %.1f levels (want >= %.1f), the rest by %.1f (want <= %.1f), black %v",
					i, len(st), s.core, coreChanged, s.rest, restSame, s.black)
			}
		}
	}
	if bad > 0 {
		var lines []string
		for _, l := range strings.Split(log, "\n") {
			if strings.Contains(l, "facelive") {
				lines = append(lines, l)
			}
		}
		t.Logf("OBS's facelive lines:\n%s", strings.Join(lines, "\n"))
	}
}
