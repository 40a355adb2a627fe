package engine

import (
	"facelive/engine/config"
	"facelive/engine/frame"
	"facelive/engine/swap"
)

// Which source a track's face wears (track.source, cropSet.src): an entry
// of swapper.faces (0, 1, …), the default source (swapper.face), or none.
const (
	srcDefault = -1 // the swapper's own source
	srcPass    = -2 // unlisted = pass: the face is left as it is
)

// facePlan is swapper.faces as the tracker applies it: which entry a new
// track takes. The zero value (no entries) gives every face the default
// source; unlisted applies only when there are entries, so that "pass"
// alone never turns a swap (or a privacy filter) off.
type facePlan struct {
	n, nRef  int // entries, and how many match by reference
	entries  config.FaceSources
	unlisted int // srcDefault or srcPass
	// refs: the reference photos' ArcFace embeddings, at their entry's
	// index (faceModels.loadSources fills them).
	refs [config.MaxFaceSources][swap.EmbeddingLen]float32
}

// refMinSimilarity is the least cosine similarity of ArcFace embeddings
// at which a face is taken for a reference's person. insightface's
// recognition models put the same person well above it and strangers near
// 0; not tuned here (no ArcFace model can be fetched in this project's
// build), so it is a judgement, not a measurement.
const refMinSimilarity = 0.3

func newFacePlan(s config.Swapper) facePlan {
	p := facePlan{n: s.Faces.Len(), entries: s.Faces, unlisted: srcDefault}
	if p.n > 0 && s.Unlisted == "pass" {
		p.unlisted = srcPass
	}
	for i := range p.n {
		if p.entries[i].Match == "reference" {
			p.nRef++
		}
	}
	return p
}

// assign gives each track that has no source yet the first entry that
// takes it and no live track holds; a track keeps what it was given until
// it ends (a revived track keeps it too), so two people who cross keep
// their faces. A track's position is its rank from the left among the
// tracks of this frame, its size its rank by box area, largest first:
// faces that appear together are ranked together. A face whose entry is
// still held by another track (or by a lost one that may come back), or
// that no entry takes, gets unlisted. With reference entries a track
// waits for its fit instead: the tracker calls identify. It does not
// allocate.
func (p *facePlan) assign(tracks []track, lost []lostTrack) {
	if p.nRef > 0 {
		return
	}
	for i := range tracks {
		if !tracks[i].assigned {
			p.take(tracks, lost, i, nil)
		}
	}
}

// take assigns track i: the reference entry most like its face's
// embedding emb (nil: none) if any is alike enough, else the first
// position or size entry that takes it, else unlisted. Entries other
// tracks hold are skipped.
func (p *facePlan) take(tracks []track, lost []lostTrack, i int, emb []float32) {
	tr := &tracks[i]
	tr.assigned, tr.source = true, p.unlisted
	if p.n == 0 {
		tr.source = srcDefault
		return
	}
	if emb != nil {
		best, bestSim := -1, refMinSimilarity
		for k := range p.n {
			if p.entries[k].Match != "reference" || held(tracks, lost, i, k) {
				continue
			}
			if s := swap.Similarity(emb, p.refs[k][:]); s >= bestSim {
				best, bestSim = k, s
			}
		}
		if best >= 0 {
			tr.source = best
			return
		}
	}
	pos, size := ranks(tracks, i)
	for k := range p.n {
		e := &p.entries[k]
		var ok bool
		switch e.Match {
		case "position":
			ok = e.Index == pos
		case "size":
			ok = e.Index == size
		}
		if ok && !held(tracks, lost, i, k) {
			tr.source = k
			return
		}
	}
}

// identify assigns track i from its face: the ArcFace embedding of its
// 68-point fit in f, compared with the references (a plan with reference
// entries). A face that cannot be embedded is assigned as if no
// reference were alike.
func (m *faceModels) identify(f *frame.Frame, tracks []track, lost []lostTrack, i int) {
	var emb []float32
	tr := &tracks[i]
	if m.embed != nil && tr.lm.N == 68 {
		if err := m.embed.Embed(f, &tr.lm.Points, m.emb[:]); err != nil {
			m.log(LevelWarn, "swapper.faces: recognising a new face: "+err.Error())
		} else {
			emb = m.emb[:]
		}
	}
	m.plan.take(tracks, lost, i, emb)
}

// ranks returns track i's rank from the left (by box centre) and by box
// area (largest first) among tracks; ties go to the older track (lower id).
func ranks(tracks []track, i int) (pos, size int) {
	me := &tracks[i]
	cx, area := me.box.Center().X, me.box.W()*me.box.H()
	for k := range tracks {
		o := &tracks[k]
		if k == i {
			continue
		}
		ox, oa := o.box.Center().X, o.box.W()*o.box.H()
		if ox < cx || (ox == cx && o.id < me.id) {
			pos++
		}
		if oa > area || (oa == area && o.id < me.id) {
			size++
		}
	}
	return pos, size
}

// held reports whether a track other than i, or a lost one, wears entry k.
func held(tracks []track, lost []lostTrack, i, k int) bool {
	for j := range tracks {
		if j != i && tracks[j].assigned && tracks[j].source == k {
			return true
		}
	}
	for j := range lost {
		if lost[j].tr.assigned && lost[j].tr.source == k {
			return true
		}
	}
	return false
}
