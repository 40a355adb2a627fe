package engine

import (
	"image"

	"facelive/engine/align"
	"facelive/engine/face"
	"facelive/engine/frame"
	"facelive/engine/merge"
)

// faceJob is one frame's trip through the face stage: the tracker fills
// in the aligned crops, the swap stage turns them into faces, the merge
// stage pastes them. It is passed from stage to stage; it lives in the
// worker's scratch, so no frame allocates one.
type faceJob struct {
	f     *frame.Frame
	dmg   *frame.Damage // every rectangle written goes here
	m     *faceModels   // with a use held for this frame
	o     *faceOptions
	level *qualityLevel // the controller's rung for this frame (nil: full)
	crops cropSet       // per track, in the tracker's order
	faces int           // faces pasted
	// kickAhead: the tracker readied a detection run on a copy of this
	// frame, to start once the frame is done (detectahead.go).
	kickAhead bool
	tMerge    int64 // ns spent pasting
}

// cropSet holds one frame's aligned crops, their transforms and track ids.
type cropSet struct {
	crops [][]byte
	tfs   []align.Transform
	ids   []uint64
	src   []int // the source each face wears: a swapper.faces entry, srcDefault or srcPass
	ok    []bool
	fade  []float64 // the face's opacity factor (yawFade: a turned face fades out); 1 by default
	// boxes: where each track's face is in the frame; pasted: whether a
	// swapped face went onto it this frame (unprocessed hide covers the
	// others: hideUnpasted).
	boxes  []face.Rect
	pasted []bool
	// lms: the track's 68 landmarks in the crop's face space (through
	// tfs), when hasLm: the photo swap warps onto them and the live
	// features are cut from them.
	lms   []face.Landmarks
	hasLm []bool
}

// landmarks returns crop i's face-space landmarks, or nil.
func (c *cropSet) landmarks(i int) *face.Landmarks {
	if !c.hasLm[i] {
		return nil
	}
	return &c.lms[i]
}

// grow makes room for n crops of size×size and sets len(ok) to n
// (allocates only when the face count or the model's size grows).
func (c *cropSet) grow(n, size int) {
	if len(c.crops) > 0 && len(c.crops[0]) != size*size*3 {
		c.crops = c.crops[:0]
	}
	for len(c.crops) < n {
		c.crops = append(c.crops, make([]byte, size*size*3))
	}
	for len(c.tfs) < n {
		c.tfs = append(c.tfs, align.Transform{})
		c.ids = append(c.ids, 0)
		c.src = append(c.src, srcDefault)
		c.fade = append(c.fade, 1)
		c.boxes = append(c.boxes, face.Rect{})
		c.lms = append(c.lms, face.Landmarks{})
		c.hasLm = append(c.hasLm, false)
	}
	if cap(c.ok) < n {
		c.ok, c.pasted = make([]bool, n), make([]bool, n)
	}
	c.ok, c.pasted = c.ok[:n], c.pasted[:n]
	clear(c.pasted)
}

// faceScratch is one worker's own state for the face stage: its job, the
// swap output buffers and its merge stage. Two workers overlap: one tracks
// frame N+1 while the other swaps and merges frame N.
type faceScratch struct {
	job   faceJob
	out   []byte    // in step: the swapped face
	mask  []float32 // and its mask
	merge *mergeStage

	// Bound once, so that handing the job to the decoupled runner does not
	// allocate a closure per frame.
	fill   func(*swapJob)
	paste  func(*swapJob)
	filled *faceModels // fill took a use of these for the runner
}

// mergeStage pastes swapped faces into the frame: mask, colour transfer
// and blend, on the face's region only. One per worker, so it needs no lock;
// the colour smoothing it shares with the other workers has its own.
type mergeStage struct {
	log    Logger
	steady *merge.Steady // the stream's per-track colour statistics
	merger *merge.Merger
	keep   merge.Features // the live features' mask
}

// liveFeatures returns the mask of the person's own eyes and mouth to keep
// and the box it lies in (merge.FeatureMask), or nil when it cannot be
// made.
func (ms *mergeStage) liveFeatures(lm *face.Landmarks, size int, o *faceOptions) ([]float32, image.Rectangle) {
	keep, box, err := ms.keep.Mask(lm, size, o.liveEyes, o.liveMouth)
	if err != nil || box.Empty() {
		return nil, image.Rectangle{} // a squashed fit: paste the whole face rather than nothing
	}
	return keep, box
}

// paste blends face (with its mask) into j's frame at crop i's alignment.
func (ms *mergeStage) paste(j *faceJob, i int, face []byte, mask []float32, now func() int64) {
	t := now()
	mo := j.o.merge
	mo.TargetCrop = j.crops.crops[i]
	mo.Steady, mo.Track, mo.PTS = ms.steady, j.crops.ids[i], j.f.PTS
	mo.Opacity *= j.crops.fade[i]
	if lm := j.crops.landmarks(i); lm != nil && (j.o.liveEyes || j.o.liveMouth) {
		mo.Keep, mo.KeepBox = ms.liveFeatures(lm, j.crops.tfs[i].Size, j.o)
	}
	err := ms.merger.Paste(j.f, j.crops.tfs[i], face, mask, mo)
	j.dmg.Add(ms.merger.Stats().ROI) // where Paste may have written, even when it failed part-way
	j.tMerge += now() - t
	if err != nil {
		ms.log(LevelWarn, "merge: "+err.Error())
		return
	}
	j.faces++
	j.crops.pasted[i] = true
}
