package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// facesExample is what messages about swapper.faces show.
const facesExample = `[{"face": "alice.jpg", "match": "position", "index": 0}, {"face": "bob.jpg", "match": "reference", "reference": "bob-ref.jpg"}]`

// faceKeys are the keys of one swapper.faces entry, in the order JSON
// writes them.
var faceKeys = []string{"face", "match", "index", "reference"}

// Each entry key is checked by a field of its own, so that types, ranges
// and messages are the same as for the top-level keys.
var (
	faceMatch = field{typ: typeEnum, values: []string{"position", "size", "reference"}}
	faceIndex = field{typ: typeInt, min: 0, max: MaxFaceSources - 1}
	facePath  = field{typ: typeString, path: filePath}
)

// entryKey names an entry's key in messages: "swapper.faces[1].index".
func entryKey(key string, i int, name string) string {
	if name == "" {
		return fmt.Sprintf("%s[%d]", key, i)
	}
	return fmt.Sprintf("%s[%d].%s", key, i, name)
}

// decodeFaces reads swapper.faces: a list of at most MaxFaceSources
// objects. The whole list replaces the one before (a partial update does
// not merge entries).
func decodeFaces(f *field, raw any) (any, error) {
	list, ok := raw.([]any)
	if !ok {
		return nil, f.typeError(raw)
	}
	if len(list) > MaxFaceSources {
		return nil, f.errorf("%q has %d entries; allowed: at most %d (one per face detector.max_faces can follow)", f.key, len(list), MaxFaceSources)
	}
	var out FaceSources
	for i, item := range list {
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, &Error{Key: entryKey(f.key, i, ""), Msg: fmt.Sprintf("%q must be an object such as %s, got %s",
				entryKey(f.key, i, ""), `{"face": "alice.jpg", "match": "position", "index": 0}`, describe(item))}
		}
		e := &out[i]
		for _, name := range slices.Sorted(maps.Keys(obj)) {
			key := entryKey(f.key, i, name)
			var sub field
			switch name {
			case "face", "reference":
				sub = facePath
			case "match":
				sub = faceMatch
			case "index":
				sub = faceIndex
			case "model":
				return nil, &Error{Key: key, Msg: fmt.Sprintf(`%q: a source per person is a photo ("face"), for swapper.kind photo or inswapper; a .dfm model is one fixed identity, so per-person models are not supported: remove "model" and name a photo in "face"`, key)}
			default:
				return nil, &Error{Key: key, Msg: fmt.Sprintf("unknown key %q; allowed keys in %q: %s", key, entryKey(f.key, i, ""), strings.Join(faceKeys, ", "))}
			}
			sub.key = key
			v, err := sub.decode(obj[name])
			if err != nil {
				return nil, err
			}
			switch name {
			case "face":
				e.Face = v.(string)
			case "reference":
				e.Reference = v.(string)
			case "match":
				e.Match = v.(string)
			case "index":
				e.Index = v.(int)
			}
		}
		if err := checkEntry(f.key, i, e, obj); err != nil {
			return nil, err
		}
	}
	if err := checkFaces(f.key, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkEntry checks what an entry needs for its match. has says which keys
// were written (nil for a config built in Go: index 0 is then no key).
func checkEntry(key string, i int, e *FaceSource, has map[string]any) error {
	_, hasIndex := has["index"]
	switch {
	case e.Match == "":
		return &Error{Key: entryKey(key, i, "match"), Msg: fmt.Sprintf(`%q is missing; allowed: position (by "index", 0 = leftmost), size (by "index", 0 = largest), reference (by a "reference" photo of the person)`, entryKey(key, i, "match"))}
	case e.Face == "":
		return &Error{Key: entryKey(key, i, "face"), Msg: fmt.Sprintf("%q is missing or empty; set it to the photo this person wears", entryKey(key, i, "face"))}
	case e.Match == "reference" && e.Reference == "":
		return &Error{Key: entryKey(key, i, "reference"), Msg: fmt.Sprintf(`%q is missing or empty; match "reference" needs a photo of the person to recognise`, entryKey(key, i, "reference"))}
	case e.Match == "reference" && (hasIndex || e.Index != 0):
		return &Error{Key: entryKey(key, i, "index"), Msg: fmt.Sprintf(`%q applies to match "position" or "size"; remove it from a "reference" entry`, entryKey(key, i, "index"))}
	case e.Match != "reference" && e.Reference != "":
		return &Error{Key: entryKey(key, i, "reference"), Msg: fmt.Sprintf(`%q applies to match "reference" only; remove it, or set "match": "reference"`, entryKey(key, i, "reference"))}
	}
	return nil
}

// checkFaces checks the list as a whole; it also runs on configs built in
// Go, whose entries decodeFaces has not seen.
func checkFaces(key string, fs *FaceSources) error {
	n := fs.Len()
	for i := n; i < len(fs); i++ {
		if fs[i] != (FaceSource{}) {
			return &Error{Key: entryKey(key, i, ""), Msg: fmt.Sprintf("%q follows an entry without match: entries must come first, with no gaps", entryKey(key, i, ""))}
		}
	}
	for i := range n {
		e := &fs[i]
		for _, sub := range []struct {
			f field
			v string
		}{{faceMatch, e.Match}, {facePath, e.Face}, {facePath, e.Reference}} {
			sub.f.key = entryKey(key, i, "")
			if err := sub.f.checkString(sub.v); err != nil {
				return err
			}
		}
		idx := faceIndex
		idx.key = entryKey(key, i, "index")
		if err := idx.checkNumber(float64(e.Index), fmt.Sprint(e.Index)); err != nil {
			return err
		}
		if err := checkEntry(key, i, e, nil); err != nil {
			return err
		}
		for k := range i {
			if o := &fs[k]; e.Match != "reference" && o.Match == e.Match && o.Index == e.Index {
				return &Error{Key: entryKey(key, i, "index"), Msg: fmt.Sprintf(`%q and %q both take the face at %s %d; give each entry its own index`,
					entryKey(key, k, ""), entryKey(key, i, ""), e.Match, e.Index)}
			}
		}
	}
	return nil
}

// validateFaces is Validate's part for swapper.faces: what the swapper
// kind and the other keys allow, and that the named photos exist.
func (c Config) validateFaces() error {
	s := &c.Swapper
	n := s.Faces.Len()
	if n == 0 {
		return nil
	}
	if s.Kind != "photo" && s.Kind != "inswapper" {
		why := "it swaps no face"
		if s.Kind == "dfm" {
			why = "a .dfm model is one fixed identity (its training), so it cannot wear a photo per person"
		}
		return &Error{Key: "swapper.faces", Msg: fmt.Sprintf(`"swapper.faces" needs swapper.kind "photo" or "inswapper", not %q: %s; set swapper.kind, or remove swapper.faces`, s.Kind, why)}
	}
	for i := range n {
		e := &s.Faces[i]
		if e.Match == "reference" && s.ArcFaceModel == "" {
			return &Error{Key: entryKey("swapper.faces", i, "reference"), Msg: fmt.Sprintf(`%q: recognising a person by a reference photo needs an ArcFace model; set "swapper.arcface_model" (112x112 -> 512, such as insightface's w600k_r50.onnx), or match this entry by "position" or "size"`, entryKey("swapper.faces", i, "match"))}
		}
		if e.Match != "reference" && e.Index >= c.Detector.MaxFaces {
			return &Error{Key: entryKey("swapper.faces", i, "index"), Msg: fmt.Sprintf(`%q is %d but detector.max_faces is %d, so no face ever has that %s; raise detector.max_faces or lower the index`,
				entryKey("swapper.faces", i, "index"), e.Index, c.Detector.MaxFaces, e.Match)}
		}
		for _, p := range []struct{ name, path string }{{"face", e.Face}, {"reference", e.Reference}} {
			f := facePath
			f.key = entryKey("swapper.faces", i, p.name)
			if err := checkPath(&f, p.path); err != nil {
				return err
			}
		}
	}
	return nil
}

// MarshalJSON writes the entries in use, each with the keys its match
// uses, so that parsing the output gives the same list back.
func (fs FaceSources) MarshalJSON() ([]byte, error) {
	b := []byte{'['}
	for i := range fs.Len() {
		e := &fs[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"face":`...)
		b = appendJSON(b, e.Face)
		b = append(b, `,"match":`...)
		b = appendJSON(b, e.Match)
		if e.Match == "reference" {
			b = append(b, `,"reference":`...)
			b = appendJSON(b, e.Reference)
		} else {
			b = append(b, `,"index":`...)
			b = appendJSON(b, e.Index)
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

var _ json.Marshaler = FaceSources{}
