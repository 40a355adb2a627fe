// Package merge pastes a swapped face, given in the face space of an
// align.Transform, back into the frame it came from.
//
// Paste prepares the mask in face space (erode, then blur with a fade to the
// crop border so the crop's square edge never shows), optionally matches the
// face's colours to the frame's face (Reinhard colour transfer in CIE Lab,
// statistics over masked pixels only), and blends
//
//	out = frame·(1−a) + face·a,   a = mask·opacity
//
// where face and mask are sampled bilinearly through the transform for every
// frame pixel of Transform.FrameROI and nowhere else. Pixels outside that
// ROI, row padding and the alpha/X byte of 4-byte formats are never written;
// inside the ROI a packed-RGB pixel whose a rounds to no change keeps its
// bytes.
//
// YUV frames (the frame's matrix and range, frame.Color; chroma sited at the centre of its block,
// as in align.Crop) are blended in YUV directly: the conversion is affine,
// so blending Y, Cb, Cr with the same weights equals converting the ROI to
// RGB, blending and converting back, minus the rounding loss of a round
// trip. Luma is blended per pixel; a chroma sample becomes the average over
// its 2×2 block (2×1 for YUY2) of the blended chroma of each pixel, which is
// what converting the blended pixels back and averaging would give. Blocks in
// which no pixel changes are not written at all.
package merge

import (
	"errors"
	"fmt"
	"image"
	"math"

	"facelive/engine/align"
	"facelive/engine/frame"
)

// RefSize is the face size Erode and Blur are expressed in: a 224-pixel
// face, DeepFaceLive's default crop. At other sizes they scale by
// size/RefSize so a setting looks the same on a 128 InSwapper face.
const RefSize = 224

// Options control a paste. Ranges match the config keys merge.erode,
// merge.blur, merge.color_transfer and merge.opacity.
type Options struct {
	// Erode shrinks the mask by this many pixels of a RefSize face (0–64).
	Erode int
	// Blur feathers the mask edge over about this many pixels of a RefSize
	// face (0–255): a Gaussian of σ = Blur/4, made of three box filters.
	Blur int
	// ColorTransfer is "rct" (Reinhard in Lab) or "none"; "" means "none".
	ColorTransfer string
	// Opacity scales the mask (0–1).
	Opacity float64
	// Keep optionally lowers the mask where the frame's own face must show
	// (S·S, 1 = keep the frame; FeatureMask makes it from the live
	// landmarks). It applies after erode and blur, so its feather is its
	// own; the colour statistics leave those pixels out too.
	Keep []float32
	// KeepBox, when not empty, is the face-space box outside which Keep
	// is 0 (FeatureMask returns it): only that part of the mask is
	// lowered. Empty means Keep may be nonzero anywhere.
	KeepBox image.Rectangle
	// TargetCrop optionally holds align.Crop of this frame with this
	// transform (S·S·3 BGR bytes), typically the swapper's input; with it
	// "rct" does not crop the frame again. Stale or wrong contents only
	// skew the colour statistics.
	TargetCrop []byte
	// Steady, when set, smooths "rct"'s frame-side statistics over time for
	// the face of track Track in the frame of timestamp PTS (ns).
	Steady *Steady
	Track  uint64
	PTS    int64
}

// DefaultOptions returns the config defaults: erode 5, blur 25, rct, opacity 1.
func DefaultOptions() Options {
	return Options{Erode: 5, Blur: 25, ColorTransfer: "rct", Opacity: 1}
}

func (o *Options) check() error {
	if o.Erode < 0 || o.Erode > 64 {
		return fmt.Errorf("merge: erode %d out of range 0..64", o.Erode)
	}
	if o.Blur < 0 || o.Blur > 255 {
		return fmt.Errorf("merge: blur %d out of range 0..255", o.Blur)
	}
	if !(o.Opacity >= 0 && o.Opacity <= 1) {
		return fmt.Errorf("merge: opacity %v out of range 0..1", o.Opacity)
	}
	switch o.ColorTransfer {
	case "", "none", "rct":
	default:
		return fmt.Errorf("merge: color_transfer %q unknown; allowed: rct, none", o.ColorTransfer)
	}
	return nil
}

// Merger pastes faces. It owns scratch buffers sized for the last face size
// used, so steady-state pastes allocate nothing. A Merger is not safe for
// concurrent use; give each worker its own.
type Merger struct {
	size   int
	mask   []float32 // prepared mask, S·S
	alpha  []uint16  // mask × opacity × 4096, S·S
	tmp    []float32 // scratch, S·S
	deque  []int32   // S
	acc    []float32 // S
	rowTmp []float32 // S
	spanLo []int32   // S: rowSpans of sampled
	spanHi []int32   // S
	useLo  []int32   // S: weights' spans of the colours the blend can use
	useHi  []int32   // S
	strong []int32   // S: scratch, each row's first and last weight ≥ aMin
	// sampled is the face-space box Paste's sampling reads: the mask box
	// grown by spanReach; spanLo/spanHi narrow it row by row.
	sampled image.Rectangle
	adj     []byte    // colour-transferred face, S·S·3
	lab     []float32 // the face in Lab, S·S·3
	ay      []uint64  // the blend weight | the face's luma (8.8)<<32 (YUV frames) or blue<<32, S·S
	gr      []uint64  // packed frames: the face's green | red<<32, S·S
	fc      []uint32  // YUV frames: the face's Cb | Cr<<16 (8.8 each), S·S
	crop    []byte    // frame crop for statistics, S·S·3
	tiles   []bool    // tileSize squares of the face where a frame pixel may blend (weights)
	bbox    image.Rectangle
	dirty   image.Rectangle // where mask may be nonzero (prepareMask)
	stats   Stats
	// everyPixel (tests): mark every tile, so the blend visits every
	// pixel of its spans.
	everyPixel bool
}

// Stats describe the last Paste, for metrics and tests.
type Stats struct {
	ROI          image.Rectangle // frame region Paste was allowed to touch
	MaskBox      image.Rectangle // face-space box of the prepared mask (> 1/1024)
	Transferred  bool            // colour transfer ran
	FacePixels   int             // pixels behind the face-side statistics
	TargetPixels int             // pixels behind the frame-side statistics
}

// New returns a Merger.
func New() *Merger {
	initLUTs()
	return &Merger{}
}

// Stats returns what the last Paste did.
func (m *Merger) Stats() Stats { return m.stats }

// Mask returns the prepared mask of the last Paste (S·S, row-major); it is
// overwritten by the next Paste.
func (m *Merger) Mask() []float32 { return m.mask }

func (m *Merger) ensure(s int) {
	if m.size == s {
		return
	}
	n := s * s
	m.size, m.dirty = s, image.Rectangle{}
	m.mask = make([]float32, n)
	m.alpha = make([]uint16, n)
	m.tmp = make([]float32, n)
	m.deque = make([]int32, s)
	m.acc = make([]float32, s)
	m.rowTmp = make([]float32, s)
	m.spanLo = make([]int32, s)
	m.spanHi = make([]int32, s)
	m.useLo = make([]int32, s)
	m.useHi = make([]int32, s)
	m.strong = make([]int32, 2*s)
	m.adj = make([]byte, 3*n)
	m.lab = make([]float32, 3*n)
	m.ay = make([]uint64, n)
	m.gr = make([]uint64, n)
	m.fc = make([]uint32, n)
	m.crop = make([]byte, 3*n)
	m.tiles = make([]bool, tilesAcross(s)*tilesAcross(s))
}

// tileSize is the side of the face-space squares weights marks; a power
// of two (tileShift).
const (
	tileShift = 2
	tileSize  = 1 << tileShift
)

func tilesAcross(s int) int { return (s + tileSize - 1) / tileSize }

// weights sets m.alpha (the mask × op, rounded) where packFace and
// faceYUV read it (the row spans), and marks the tiles a frame pixel must
// fall in to blend anything: those holding a weight ≥ aMin, or the pixel
// left of or above one (a bilinear footprint reaches one pixel right and
// down). A pixel whose face position lies in an unmarked tile reads only
// weights below aMin, so it blends nothing: the blend skips it
// (paster.vacant).
//
// It also sets the use spans (useLo, useHi): the face colours the blend
// can use. A pixel that blends has a weight ≥ aMin in its footprint, and
// its colour, like its chroma sampled at most a pixel away (rowSpans),
// comes from within 2 pixels of that one: each row's span of weights ≥
// aMin, grown by 2 along the row and over the 2 rows either side. The
// colour transfer converts only there; past it the colours are never used.
func (m *Merger) weights(op float32) {
	clear(m.tiles)
	s, tw := m.size, tilesAcross(m.size)
	box := m.sampled
	first, last := m.strong[:s], m.strong[s:2*s]
	for v := box.Min.Y; v < box.Max.Y; v++ {
		lo, hi := int(m.spanLo[v]), int(m.spanHi[v])
		f, l := hi, lo-1
		alpha, mask := m.alpha[v*s:v*s+s], m.mask[v*s:v*s+s]
		for i := lo; i < hi; i++ {
			a := uint16(mask[i]*op + 0.5)
			alpha[i] = a
			if a >= aMin {
				f, l = min(f, i), i
			}
		}
		if m.everyPixel && lo < hi {
			f, l = lo, hi-1
		}
		first[v], last[v] = int32(f), int32(l)
		if f > l {
			continue
		}
		for _, r := range [2]int{v - 1, v} { // the row above reads this one
			if r < 0 {
				continue
			}
			row := m.tiles[(r>>tileShift)*tw:]
			for k := max(f-1, 0) >> tileShift; k <= l>>tileShift; k++ {
				row[k] = true
			}
		}
	}
	for v := box.Min.Y; v < box.Max.Y; v++ {
		a, b := int32(s), int32(-1)
		for k := max(v-spanReach, box.Min.Y); k <= min(v+spanReach, box.Max.Y-1); k++ {
			if first[k] <= last[k] {
				a, b = min(a, first[k]), max(b, last[k])
			}
		}
		if a > b {
			m.useLo[v], m.useHi[v] = 0, 0
			continue
		}
		// Within the row spans, which hold every pixel within 2 of a
		// nonzero weight.
		m.useLo[v] = max(a-spanReach, m.spanLo[v])
		m.useHi[v] = max(min(b+1+spanReach, m.spanHi[v]), m.useLo[v])
	}
}

// ErrInput is wrapped by errors about Paste's arguments.
var ErrInput = errors.New("merge: invalid input")

// Paste blends faceBGR (S×S BGR8, row stride 3·S, S = t.Size) into f
// through t, weighted by mask (S×S, 1 = face, values clamped to 0..1). It
// writes only inside t.FrameROI(f.Width, f.Height); a face partly or wholly
// outside the frame is fine.
func (m *Merger) Paste(f *frame.Frame, t align.Transform, faceBGR []byte, mask []float32, o Options) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return fmt.Errorf("%w: %v", ErrInput, err)
	}
	s := t.Size
	if s < 1 || s > align.MaxSize {
		return fmt.Errorf("%w: transform size %d out of range 1..%d", ErrInput, s, align.MaxSize)
	}
	if len(faceBGR) < 3*s*s || len(mask) < s*s {
		return fmt.Errorf("%w: a %d×%d face needs %d face bytes and %d mask values, got %d and %d", ErrInput, s, s, 3*s*s, s*s, len(faceBGR), len(mask))
	}
	if o.Keep != nil && len(o.Keep) < s*s {
		return fmt.Errorf("%w: a %d×%d face needs %d keep values, got %d", ErrInput, s, s, s*s, len(o.Keep))
	}
	m.stats = Stats{ROI: t.FrameROI(f.Width, f.Height)}
	if m.stats.ROI.Empty() || o.Opacity == 0 {
		return nil
	}
	m.ensure(s)
	m.prepareMask(mask, scalePx(o.Erode, s), blurSigma(o.Blur, s))
	if o.Keep != nil {
		m.keep(o.Keep, o.KeepBox)
	}
	m.stats.MaskBox = m.bbox
	if m.bbox.Empty() {
		return nil
	}
	b := m.bbox
	m.sampled = b.Inset(-spanReach).Intersect(image.Rect(0, 0, s, s))
	m.rowSpans(m.sampled)
	m.weights(float32(o.Opacity * 4096))
	src := faceBGR
	if o.ColorTransfer == "rct" {
		if m.colorTransfer(f, &t, faceBGR, mask, &o) {
			src = m.adj
		}
	}
	p := paster{
		s: s, amax: int64(s-1) << 16, m: t.M, roi: m.stats.ROI,
		ulo: float64(max(m.bbox.Min.X-1, 0)), uhi: float64(min(m.bbox.Max.X, s-1)),
		vlo: float64(max(m.bbox.Min.Y-1, 0)), vhi: float64(min(m.bbox.Max.Y, s-1)),
		tiles: m.tiles, tw: tilesAcross(s),
	}
	switch f.Format {
	case frame.BGRA, frame.BGRX:
		m.packFace(src, &p)
		p.packed(f, 4, 0, 1, 2)
	case frame.RGBA:
		m.packFace(src, &p)
		p.packed(f, 4, 2, 1, 0)
	case frame.BGR24:
		m.packFace(src, &p)
		p.packed(f, 3, 0, 1, 2)
	case frame.RGB24:
		m.packFace(src, &p)
		p.packed(f, 3, 2, 1, 0)
	case frame.NV12, frame.I420:
		m.faceYUV(src, f.Color, &p)
		p.yuv420(f)
	case frame.YUY2:
		m.faceYUV(src, f.Color, &p)
		p.yuy2(f)
	}
	return nil
}

// keep lowers the prepared mask by keep (1 = the frame shows), inside the
// mask's box (outside it the mask is 0 already) and keep's own box (when
// not empty: outside it keep is 0). The mask's box is left as it is: it
// only bounds the work.
func (m *Merger) keep(keep []float32, box image.Rectangle) {
	s, b := m.size, m.bbox
	if !box.Empty() {
		b = b.Intersect(box)
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row, k := m.mask[y*s+b.Min.X:y*s+b.Max.X], keep[y*s+b.Min.X:y*s+b.Max.X]
		for x, v := range k {
			switch {
			case v >= 1:
				row[x] = 0
			case v > 0: // not NaN
				row[x] *= 1 - v
			}
		}
	}
}

// faceYUV converts the face to YCbCr once, over the pixels Paste samples
// (rowSpans), and packs each pixel's blend weight with its luma, so that the blend of a YUV frame samples luma
// per pixel and chroma once per chroma sample instead of converting every
// frame pixel's sampled colour.
func (m *Merger) faceYUV(src []byte, c frame.Color, p *paster) {
	k := toYCCFor(c)
	s := m.size
	box := m.sampled
	for v := box.Min.Y; v < box.Max.Y; v++ {
		lo, hi := v*s+int(m.spanLo[v]), v*s+int(m.spanHi[v])
		// Outside the spans the weight is 0 (no mask within spanReach) and
		// the luma never counts; inside, both.
		clear(m.ay[v*s+box.Min.X : lo])
		for i := lo; i < hi; i++ {
			o := 3 * i
			y, cb, cr := k.yuv(int(src[o])<<8, int(src[o+1])<<8, int(src[o+2])<<8)
			m.ay[i] = uint64(m.alpha[i]) | uint64(y)<<32
			m.fc[i] = uint32(cb) | uint32(cr)<<16
		}
		clear(m.ay[max(hi, v*s+box.Min.X) : v*s+box.Max.X])
	}
	p.ay, p.fc = m.ay, m.fc
}

// packFace packs, over the pixels Paste samples (rowSpans), each pixel's
// blend weight with its blue, and its green with its red, so that the
// blend of a packed frame interpolates two values per multiplication.
func (m *Merger) packFace(src []byte, p *paster) {
	s := m.size
	box := m.sampled
	for v := box.Min.Y; v < box.Max.Y; v++ {
		lo, hi := v*s+int(m.spanLo[v]), v*s+int(m.spanHi[v])
		clear(m.ay[v*s+box.Min.X : lo]) // weight 0: the colour never counts
		for i := lo; i < hi; i++ {
			o := 3 * i
			m.ay[i] = uint64(m.alpha[i]) | uint64(src[o])<<32
			m.gr[i] = uint64(src[o+1]) | uint64(src[o+2])<<32
		}
		clear(m.ay[max(hi, v*s+box.Min.X) : v*s+box.Max.X])
	}
	p.ay, p.gr = m.ay, m.gr
}

// scalePx converts a RefSize-face pixel count to face size s.
func scalePx(px, s int) int {
	return int(math.Round(float64(px) * float64(s) / RefSize))
}

func blurSigma(px, s int) float64 {
	return float64(px) * float64(s) / RefSize / 4
}
