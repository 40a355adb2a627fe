package engine

// Acceptance of "find every face — small ones too — never paste a face
// where there is none", through the real pipeline: BlazeFace, dlib's 68
// points and the photo swapper (a swapped face is easy to see: most pixels
// of its box change; not pixelate, which hides every face found at once,
// bypassing the gate: for privacy a false face costs nothing and a missed
// one is the harm). Three kinds of frame:
//
//   - composed scenes (scenegen_test.go): real faces on real face-free
//     photos, 50-400 px, rotated, mirrored, relit, one to five a frame;
//   - frames with no face at all: each background alone and a textured
//     synthetic frame;
//   - the face-api group photos as they are, scaled to 1280 wide.
//
// A face counts as found when at least sceneFoundShare of its box changed
// in the last output frame; any changed pixel farther than sceneReach face
// sizes from every true face is a phantom, in any output frame. Recall is
// logged per size bucket and format so the numbers can be quoted, every
// missed face with its scene parameters. FACELIVE_SCENES_DRAW=DIR writes
// each scene's input (true faces boxed) above its last output into DIR.

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
)

// sceneConfig is the real face pipeline on its defaults (BlazeFace at
// threshold 0.5, dlib 68 points, adaptive detection interval) with the
// photo swapper, one worker in quality mode (every frame processed, in
// order), level custom (the quality controller stays out, so the outcome
// does not depend on how fast the machine is), unprocessed pass (a frame
// the models did not process would come out unchanged, not hidden
// whole) and max_faces 16 (scenes hold up to five faces; the default 4
// would cap them).
const sceneConfig = `{"mode":"quality","workers":1,"level":"custom","unprocessed":"pass",` +
	`"swapper":{"kind":"photo"},"detector":{"max_faces":16}}`

// sceneFindConfig is sceneConfig with pixelate, which hides every face the
// tracker follows, at once and whole: what it changes is what was found,
// whether or not the gate would let a swap through (a profile face is
// found and followed, but a frontal face is not pasted on it).
const sceneFindConfig = `{"mode":"quality","workers":1,"level":"custom","unprocessed":"pass",` +
	`"swapper":{"kind":"pixelate"},"detector":{"max_faces":16}}`

// sceneFrames is how many identical frames each scene is submitted as,
// 33 ms apart (30 fps): about a second of a still camera, by which a user
// expects every face in view to be found. It is what the schedules need to
// settle: detection on the first frame; a failed fit asks for another on
// the next; the first sweep of the tiles for small faces (smallfaces.go: a
// third of the frame, half overlapping, 15 for 1280×720) takes one tile a
// frame, so it is done by frame 15; the plausibility gate wants a new face
// confirmed over three frames and the Haar second opinion retries after
// eight; the adaptive schedule re-detects after 15 frames (0.5 s). The
// last output is judged for recall; recall is also logged at sceneEarly
// frames (a quarter of a second) to show how fast faces are found.
// Phantoms are looked for in every output frame.
const (
	sceneFrames = 32
	sceneEarly  = 8
)

// Floors: the composed scenes' recall is the goal, 95 %; on the group
// photos every face must be found (pixelate hides it) and 95 % swapped (a
// profile is found but fades out).
const (
	sceneRecallFloor = 0.95 // the goal; 2026-12-07: 98.7 % (76/77) in both formats
	groupRecallFloor = 0.95 // swapped; 2026-12-07: 21/22 in both formats (sample2's profile fades out)
)

// sceneCount composed scenes hold 84 faces, 77 of them of at least 64 px
// (per size bucket, 50-63: 7, 64-99: 16, 100-199: 42, 200-400: 19; the
// test logs it), run once per format.
const sceneCount = 24

var sceneFormats = []frame.Format{frame.NV12, frame.BGRA}

// sceneBuckets are the size buckets recall is logged in (face box side,
// px); the first is below sceneCounted and logged only.
var sceneBuckets = []struct {
	lo, hi int
	name   string
}{{50, 64, "50-63"}, {64, 100, "64-99"}, {100, 200, "100-199"}, {200, 401, "200-400"}}

func sceneBucket(size float64) int {
	s := int(math.Round(size))
	for i, b := range sceneBuckets {
		if s >= b.lo && s < b.hi {
			return i
		}
	}
	return len(sceneBuckets) - 1
}

// sceneRun is what one scene did: the outputs after sceneEarly and
// sceneFrames frames against the input, and the frames that changed
// pixels outside the allowed rectangles.
type sceneRun struct {
	early, last frameDiff
	phantoms    []string
	phantomMax  int // most pixels changed outside the allowed rectangles in one frame
	faces       int // metrics faces after the last frame
}

// runScene submits bgr (w×h) as sceneFrames identical frames of format f
// to a fresh pipeline and compares every output with the input. A fresh
// pipeline per scene: no track survives from the previous scene (a cut
// is a test of its own); the models come from the shared cache.
func runScene(t *testing.T, cfg string, bgr []byte, w, h int, f frame.Format, allowed []image.Rectangle) sceneRun {
	t.Helper()
	p, err := New(testConfig(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.WaitFaces(time.Minute); err != nil {
		t.Fatal(err)
	}
	src := sceneFrame(t, bgr, w, h, f)
	orig := frametest.Clone(src)
	dst := frametest.Clone(src)
	for i := range dst.Planes {
		clear(dst.Planes[i]) // what Get leaves unwritten shows up as changed
	}
	check := newPhantomCheck(t, src, allowed)
	defer check.close()
	var run sceneRun
	for i := range sceneFrames {
		src.PTS = int64(i) * 33_333_333
		if err := p.Submit(src); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if err := p.Get(dst, 20*time.Second); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !dst.Processed {
			t.Fatalf("frame %d came out unprocessed", i)
		}
		if check.any(t, orig, dst) {
			n, box := frameDiff{orig, dst}.outside(allowed)
			run.phantoms = append(run.phantoms, fmt.Sprintf("frame %d: %d px changed in %v", i, n, box))
			run.phantomMax = max(run.phantomMax, n)
		}
		if i == sceneEarly-1 {
			run.early = frameDiff{orig, frametest.Clone(dst)}
		}
	}
	run.last = frameDiff{orig, dst}
	run.faces = p.Metrics().Faces
	checkInvariant(t, p.Metrics())
	return run
}

// phantomSummary shortens a run's phantom list to its first and last
// frames and how many there were.
func phantomSummary(ph []string) string {
	if len(ph) <= 2 {
		return strings.Join(ph, "; ")
	}
	return fmt.Sprintf("%s; ... %s (%d of %d frames)", ph[0], ph[len(ph)-1], len(ph), sceneFrames)
}

// recallTally counts faces found and present per size bucket.
type recallTally struct{ found, total [4]int }

func (r *recallTally) add(size float64, found bool) {
	b := sceneBucket(size)
	r.total[b]++
	if found {
		r.found[b]++
	}
}

// counted is recall over the faces of at least sceneCounted px.
func (r *recallTally) counted() (found, total int) {
	for b := 1; b < len(sceneBuckets); b++ {
		found += r.found[b]
		total += r.total[b]
	}
	return
}

func (r *recallTally) String() string {
	var sb strings.Builder
	f, n := r.counted()
	fmt.Fprintf(&sb, "recall >= %d px: %d/%d (%.1f %%);", sceneCounted, f, n, pct(f, n))
	for b, bk := range sceneBuckets {
		fmt.Fprintf(&sb, " %s: %d/%d (%.0f %%)", bk.name, r.found[b], r.total[b], pct(r.found[b], r.total[b]))
	}
	return sb.String()
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// judgeFaces counts each true face found or missed in m into tally and
// returns which were found; with log it logs the missed ones and why.
func judgeFaces(t *testing.T, what string, d frameDiff, boxes []image.Rectangle, notes []string, tally *recallTally, log bool) []bool {
	t.Helper()
	found := make([]bool, len(boxes))
	for i, b := range boxes {
		area := b.Intersect(image.Rect(0, 0, d.a.Width, d.a.Height))
		share := float64(d.count(area)) / float64(max(1, area.Dx()*area.Dy()))
		found[i] = share >= sceneFoundShare
		tally.add(float64(b.Dx()), found[i])
		if !found[i] && log {
			t.Logf("missed: %s: %s (%.0f %% of its box %v changed)", what, notes[i], 100*share, b)
		}
	}
	return found
}

// drawScene writes, when FACELIVE_SCENES_DRAW names a folder, the input
// (true faces boxed: green found, red missed; the reach a change may have
// in yellow) above the last output, as NAME.png there.
func drawScene(t *testing.T, name string, bgr []byte, w, h int, run sceneRun, boxes, allowed []image.Rectangle, found []bool) {
	dir := os.Getenv("FACELIVE_SCENES_DRAW")
	if dir == "" {
		return
	}
	sheet := gocv.NewMatWithSize(2*h, w, gocv.MatTypeCV8UC3)
	defer sheet.Close()
	for y := range h {
		for x := range w {
			o := 3 * (y*w + x)
			c := frametest.ReadBGR(run.last.b, x, y)
			for k := range 3 {
				sheet.SetUCharAt(y, 3*x+k, bgr[o+k])
				sheet.SetUCharAt(h+y, 3*x+k, c[k])
			}
		}
	}
	for _, r := range allowed {
		gocv.Rectangle(&sheet, r.Intersect(image.Rect(0, 0, w, h)), color.RGBA{G: 255, R: 255}, 1)
	}
	for i, r := range boxes {
		c := color.RGBA{R: 255}
		if found[i] {
			c = color.RGBA{G: 255}
		}
		gocv.Rectangle(&sheet, r, c, 2)
	}
	path := filepath.Join(dir, name+".png")
	if !gocv.IMWrite(path, sheet) {
		t.Errorf("cannot write %s", path)
	}
}

func TestComposedScenes(t *testing.T) {
	scenes := composeScenes(sceneCount, sceneSeed)
	var made recallTally
	faces := 0
	for _, sc := range scenes {
		for _, f := range sc.faces {
			made.add(f.size, false)
			faces++
		}
	}
	t.Logf("%d scenes (seed %d), %d faces; per size bucket %v: %v", len(scenes), uint64(sceneSeed), faces, sceneBucketNames(), made.total)
	bgr := make([][]byte, len(scenes))
	for i, sc := range scenes {
		bgr[i] = renderScene(t, sc)
	}
	for _, f := range sceneFormats {
		t.Run(f.String(), func(t *testing.T) {
			t.Parallel() // one pipeline per format: the two formats use both cores
			var tally, early recallTally
			phantomScenes := 0
			for i, sc := range scenes {
				var boxes, allowed []image.Rectangle
				var notes []string
				for _, pf := range sc.faces {
					boxes = append(boxes, pf.box())
					allowed = append(allowed, pf.grown(sceneReach))
					notes = append(notes, pf.String())
				}
				run := runScene(t, sceneConfig, bgr[i], sceneW, sceneH, f, allowed)
				what := fmt.Sprintf("%v %v", f, sc)
				judgeFaces(t, what, run.early, boxes, notes, &early, false)
				found := judgeFaces(t, what, run.last, boxes, notes, &tally, true)
				drawScene(t, fmt.Sprintf("scene%02d-%v", sc.id, f), bgr[i], sceneW, sceneH, run, boxes, allowed, found)
				if len(run.phantoms) > 0 {
					phantomScenes++
					t.Errorf("%s: changes farther than %.1f face sizes from every face (pipeline reports %d faces): %s",
						what, sceneReach, run.faces, phantomSummary(run.phantoms))
				}
			}
			t.Logf("%v composed, %d scenes, after %d frames: %v", f, len(scenes), sceneEarly, &early)
			t.Logf("%v composed, %d scenes, after %d frames: %v; scenes with phantom changes: %d",
				f, len(scenes), sceneFrames, &tally, phantomScenes)
			found, total := tally.counted()
			t.Logf("%v: found %d of %d faces of at least %d px (%.1f %%); the goal is 95 %%, the floor %.0f %%",
				f, found, total, sceneCounted, pct(found, total), 100*sceneRecallFloor)
			if float64(found) < sceneRecallFloor*float64(total) {
				t.Errorf("%v: found %d of %d faces of at least %d px (%.1f %%), below the floor of %.0f %%",
					f, found, total, sceneCounted, pct(found, total), 100*sceneRecallFloor)
			}
		})
	}
}

func sceneBucketNames() []string {
	var n []string
	for _, b := range sceneBuckets {
		n = append(n, b.name)
	}
	return n
}

func TestNoFaceScenesStayUntouched(t *testing.T) {
	type scene struct {
		name string
		bgr  []byte
	}
	var scenes []scene
	for _, bg := range sceneBackgrounds {
		scenes = append(scenes, scene{bg, sceneImg.get(t, "backgrounds/"+bg, true).pix})
	}
	scenes = append(scenes, scene{"textured-synthetic", texturedScene(sceneSeed)})
	for _, f := range sceneFormats {
		t.Run(f.String(), func(t *testing.T) {
			t.Parallel() // one pipeline per format: the two formats use both cores
			bad := 0
			for _, sc := range scenes {
				run := runScene(t, sceneConfig, sc.bgr, sceneW, sceneH, f, nil)
				drawScene(t, fmt.Sprintf("noface-%s-%v", sc.name, f), sc.bgr, sceneW, sceneH, run, nil, nil, nil)
				if len(run.phantoms) > 0 {
					bad++
					t.Errorf("%v %s (no face): %s", f, sc.name, phantomSummary(run.phantoms))
				}
			}
			t.Logf("%v: %d of %d face-free frames changed", f, bad, len(scenes))
		})
	}
}

// groupPhotoFaces are every face in the face-api group photos, in the
// photos' own pixels (1920 wide). How they were obtained: BlazeFace at
// threshold 0.5 on overlapping 640 px tiles (stride 320) of each photo,
// each tile upscaled to 512 px, boxes touching an inner tile edge dropped
// and duplicates merged; then each photo was looked at with the boxes
// drawn. Every face in the photos was found that way, and the list agrees
// with the hand-measured one in engine/detect's TestBlazeFaceGroupPhotos.
// The same tiled run also fired on four things that are not faces, kept
// here for whoever tunes a gate: sample1 (463,686)-(696,919) score 0.51, a
// torso; sample3 (1807,4)-(1911,108) 0.59 and (168,0)-(326,145) 0.54, dark
// window corners at the top edge; sample6 (639,978)-(792,1131) 0.68, a
// dress.
var groupPhotoFaces = []struct {
	file  string
	faces []image.Rectangle
	notes []string
}{
	{"sample1.jpg", []image.Rectangle{image.Rect(417, 404, 610, 597), image.Rect(849, 465, 1034, 651), image.Rect(1475, 258, 1635, 418)},
		[]string{"left, clown make-up", "middle, looking down", "right, head tilted"}},
	{"sample2.jpg", []image.Rectangle{image.Rect(334, 177, 575, 419), image.Rect(885, 273, 1077, 465), image.Rect(1459, 193, 1652, 386)},
		[]string{"left, profile", "middle, face down under hair", "right, eyes down"}},
	{"sample3.jpg", []image.Rectangle{image.Rect(583, 377, 806, 601), image.Rect(1066, 254, 1305, 493), image.Rect(1482, 350, 1694, 562)},
		[]string{"left", "middle", "right"}},
	{"sample4.jpg", []image.Rectangle{image.Rect(241, 244, 430, 432), image.Rect(663, 124, 840, 301), image.Rect(987, 222, 1181, 416), image.Rect(1281, 212, 1449, 380)},
		[]string{"left, three-quarter", "second, over the shoulder", "third, looking down", "right, laughing"}},
	{"sample5.jpg", []image.Rectangle{image.Rect(771, 157, 947, 333), image.Rect(1111, 253, 1297, 439), image.Rect(563, 458, 768, 663), image.Rect(1401, 431, 1632, 661), image.Rect(350, 932, 584, 1166)},
		[]string{"top middle", "top right", "middle left", "right", "bottom left"}},
	{"sample6.jpg", []image.Rectangle{image.Rect(233, 525, 473, 765), image.Rect(661, 381, 901, 621), image.Rect(1142, 350, 1378, 587), image.Rect(1471, 323, 1698, 550)},
		[]string{"left", "second", "third", "right"}},
}

func TestGroupPhotosEveryFaceNoneInvented(t *testing.T) {
	type photo struct {
		name  string
		w, h  int
		bgr   []byte
		boxes []image.Rectangle
		notes []string
		reach []image.Rectangle
	}
	var photos []photo
	for _, g := range groupPhotoFaces {
		orig := sceneImg.get(t, "faces/"+g.file, false)
		w := 1280
		h := int(math.Round(float64(orig.h)*float64(w)/float64(orig.w)/2)) * 2 // even, for NV12
		sx, sy := float64(w)/float64(orig.w), float64(h)/float64(orig.h)
		ph := photo{name: g.file, w: w, h: h, bgr: photoScene(t, g.file, w, h), notes: g.notes}
		for _, b := range g.faces {
			fb := image.Rect(int(math.Round(float64(b.Min.X)*sx)), int(math.Round(float64(b.Min.Y)*sy)),
				int(math.Round(float64(b.Max.X)*sx)), int(math.Round(float64(b.Max.Y)*sy)))
			if fb.Dx() < sceneCounted {
				t.Fatalf("%s: face %v is %d px at 1280 wide; the list is of faces >= %d px", g.file, fb, fb.Dx(), sceneCounted)
			}
			grow := int(math.Round(sceneReach * float64(fb.Dx())))
			ph.boxes = append(ph.boxes, fb)
			ph.reach = append(ph.reach, fb.Inset(-grow))
		}
		photos = append(photos, ph)
	}
	for _, f := range sceneFormats {
		t.Run(f.String(), func(t *testing.T) {
			t.Parallel() // one pipeline per format: the two formats use both cores
			var tally, hidden recallTally
			for _, ph := range photos {
				// Found: every face, hidden by pixelate.
				what := fmt.Sprintf("%v %s", f, ph.name)
				var seen recallTally
				judgeFaces(t, what+" (pixelate)", runScene(t, sceneFindConfig, ph.bgr, ph.w, ph.h, f, nil).last, ph.boxes, ph.notes, &seen, true)
				if found, total := seen.counted(); found < total {
					t.Errorf("%s: pixelate hid %d of its %d faces: the others were not found", what, found, total)
				}
				for b := range hidden.total {
					hidden.found[b] += seen.found[b]
					hidden.total[b] += seen.total[b]
				}
				// Swapped, and nothing else.
				run := runScene(t, sceneConfig, ph.bgr, ph.w, ph.h, f, ph.reach)
				var one recallTally
				hit := judgeFaces(t, what, run.last, ph.boxes, ph.notes, &one, true)
				drawScene(t, fmt.Sprintf("group-%s-%v", ph.name, f), ph.bgr, ph.w, ph.h, run, ph.boxes, ph.reach, hit)
				found, total := one.counted()
				t.Logf("%s: %d of %d faces swapped (pipeline reports %d)", what, found, total, run.faces)
				// No face invented, and nothing pasted past sceneReach of a
				// real face. (Until smallFaces put the whole frame's loose
				// boxes of small faces right, a strip beside sample1's tilted
				// face changed: its box was 199 px where the face is 107.)
				if len(run.phantoms) > 0 {
					t.Errorf("%s: changes farther than %.1f face sizes from every face (pipeline reports %d faces; %d px in one frame): %s",
						what, sceneReach, run.faces, run.phantomMax, phantomSummary(run.phantoms))
				}
				for b := range tally.total {
					tally.found[b] += one.found[b]
					tally.total[b] += one.total[b]
				}
			}
			t.Logf("%v group photos, found (pixelate): %v", f, &hidden)
			t.Logf("%v group photos, swapped: %v", f, &tally)
			if found, total := tally.counted(); float64(found) < groupRecallFloor*float64(total) {
				t.Errorf("%v group photos: found %d of %d faces (%.1f %%), below the floor of %.0f %%",
					f, found, total, pct(found, total), 100*groupRecallFloor)
			}
		})
	}
}
