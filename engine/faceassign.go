package engine

import "facelive/engine/config"

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
	n        int
	entries  config.FaceSources
	unlisted int // srcDefault or srcPass
}

func newFacePlan(s config.Swapper) facePlan {
	p := facePlan{n: s.Faces.Len(), entries: s.Faces, unlisted: srcDefault}
	if p.n > 0 && s.Unlisted == "pass" {
		p.unlisted = srcPass
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
// that no entry takes, gets unlisted. It does not allocate.
func (p *facePlan) assign(tracks []track, lost []lostTrack) {
	for i := range tracks {
		tr := &tracks[i]
		if tr.assigned {
			continue
		}
		tr.assigned, tr.source = true, p.unlisted
		if p.n == 0 {
			tr.source = srcDefault
			continue
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
			} // reference: never by geometry
			if ok && !held(tracks, lost, i, k) {
				tr.source = k
				break
			}
		}
	}
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
