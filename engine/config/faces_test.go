package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFaces(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jpg"), filepath.Join(dir, "b.jpg")
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(dir, "missing.jpg")
	A, B := mustJSON(t, a), mustJSON(t, b)
	faces := func(list string) string { return `{"swapper": {"faces": ` + list + `}}` }

	good := []struct {
		name  string
		input string
		want  []FaceSource
	}{
		{"position", faces(`[{"face": ` + A + `, "match": "position", "index": 0}, {"face": ` + B + `, "match": "position", "index": 1}]`),
			[]FaceSource{{Face: a, Match: "position"}, {Face: b, Match: "position", Index: 1}}},
		{"index defaults to 0", faces(`[{"face": ` + A + `, "match": "size"}]`), []FaceSource{{Face: a, Match: "size"}}},
		{"same index, other match", faces(`[{"face": ` + A + `, "match": "size", "index": 0}, {"face": ` + B + `, "match": "position", "index": 0}]`),
			[]FaceSource{{Face: a, Match: "size"}, {Face: b, Match: "position"}}},
		{"empty list", faces(`[]`), nil},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Default().Patch([]byte(tt.input))
			if err != nil {
				t.Fatal(err)
			}
			var want FaceSources
			copy(want[:], tt.want)
			if c.Swapper.Faces != want || c.Swapper.Faces.Len() != len(tt.want) {
				t.Fatalf("faces = %+v, want %+v", c.Swapper.Faces[:c.Swapper.Faces.Len()], tt.want)
			}
			again, err := Parse(c.JSON())
			if err != nil || again != c {
				t.Fatalf("round trip: %v\n%s", err, c.JSON())
			}
		})
	}

	bad := []struct {
		name, input, key, msg string
		missing               bool
	}{
		{"not a list", faces(`{"face": ` + A + `}`), "swapper.faces", `"swapper.faces" must be a list of objects such as [{"face"`, false},
		{"entry not an object", faces(`["a.jpg"]`), "swapper.faces[0]", `"swapper.faces[0]" must be an object such as`, false},
		{"too many", faces(`[` + strings.Repeat(`{"face": `+A+`, "match": "size"},`, 16) + `{"face": ` + A + `, "match": "size"}]`),
			"swapper.faces", `has 17 entries; allowed: at most 16`, false},
		{"unknown entry key", faces(`[{"face": ` + A + `, "match": "size", "take": "size"}]`), "swapper.faces[0].take",
			`unknown key "swapper.faces[0].take"; allowed keys in "swapper.faces[0]": face, match, index, reference`, false},
		{"model per person", faces(`[{"model": ` + A + `, "match": "size"}]`), "swapper.faces[0].model", `per-person models are not supported`, false},
		{"no match", faces(`[{"face": ` + A + `}]`), "swapper.faces[0].match", `"swapper.faces[0].match" is missing; allowed: position`, false},
		{"bad match", faces(`[{"face": ` + A + `, "match": "left"}]`), "swapper.faces[0].match",
			`"swapper.faces[0].match" is "left"; allowed: position, size, reference`, false},
		{"no face", faces(`[{"match": "size"}]`), "swapper.faces[0].face", `"swapper.faces[0].face" is missing or empty; set it to the photo`, false},
		{"index out of range", faces(`[{"face": ` + A + `, "match": "size", "index": 16}]`), "swapper.faces[0].index",
			`"swapper.faces[0].index" is 16; allowed: 0 to 15`, false},
		{"index not an integer", faces(`[{"face": ` + A + `, "match": "size", "index": 0.5}]`), "swapper.faces[0].index", `must be an integer`, false},
		{"duplicate index", faces(`[{"face": ` + A + `, "match": "position", "index": 1}, {"face": ` + B + `, "match": "position", "index": 1}]`),
			"swapper.faces[1].index", `"swapper.faces[0]" and "swapper.faces[1]" both take the face at position 1`, false},
		{"reference without photo", faces(`[{"face": ` + A + `, "match": "reference"}]`), "swapper.faces[0].reference", `match "reference" needs a photo`, false},
		{"index on reference", faces(`[{"face": ` + A + `, "match": "reference", "reference": ` + B + `, "index": 0}]`),
			"swapper.faces[0].index", `applies to match "position" or "size"`, false},
		{"reference on position", faces(`[{"face": ` + A + `, "match": "position", "reference": ` + B + `}]`),
			"swapper.faces[0].reference", `applies to match "reference" only`, false},
		{"reference without arcface", faces(`[{"face": ` + A + `, "match": "reference", "reference": ` + B + `}]`),
			"swapper.faces[0].reference", `recognising a person by a reference photo needs an ArcFace model; set "swapper.arcface_model"`, false},
		{"index beyond max_faces", `{"detector": {"max_faces": 2}, "swapper": {"faces": [{"face": ` + A + `, "match": "position", "index": 2}]}}`,
			"swapper.faces[0].index", `is 2 but detector.max_faces is 2`, false},
		{"dfm", `{"swapper": {"kind": "dfm", "model": ` + A + `, "faces": [{"face": ` + A + `, "match": "size"}]}}`,
			"swapper.faces", `needs swapper.kind "photo" or "inswapper", not "dfm": a .dfm model is one fixed identity`, false},
		{"blur", `{"swapper": {"kind": "blur", "faces": [{"face": ` + A + `, "match": "size"}]}}`,
			"swapper.faces", `not "blur": it swaps no face`, false},
		{"missing face photo", faces(`[{"face": ` + mustJSON(t, missing) + `, "match": "size"}]`), "swapper.faces[0].face",
			`"swapper.faces[0].face" names "` + missing + `", which does not exist`, true},
		{"missing reference photo", `{"swapper": {"arcface_model": ` + A + `, "faces": [{"face": ` + A + `, "match": "reference", "reference": ` + mustJSON(t, missing) + `}]}}`,
			"swapper.faces[0].reference", `which does not exist`, true},
		{"bad unlisted", `{"swapper": {"unlisted": "skip"}}`, "swapper.unlisted", `"swapper.unlisted" is "skip"; allowed: default, pass`, false},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Default().Patch([]byte(tt.input))
			if err == nil {
				t.Fatalf("Patch(%s) succeeded", tt.input)
			}
			e := asError(t, err)
			if e.Key != tt.key {
				t.Errorf("Key = %q, want %q", e.Key, tt.key)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message %q\ndoes not contain %q", err.Error(), tt.msg)
			}
			if errors.Is(err, ErrFileMissing) != tt.missing {
				t.Errorf("errors.Is(err, ErrFileMissing) = %v, want %v", !tt.missing, tt.missing)
			}
		})
	}

	// A config built in Go gets the same checks from Validate.
	goBuilt := []struct {
		name string
		set  func(*FaceSources)
		key  string
	}{
		{"gap", func(f *FaceSources) {
			f[0] = FaceSource{Face: a, Match: "size"}
			f[2] = FaceSource{Face: a, Match: "size", Index: 1}
		}, "swapper.faces[2]"},
		{"no face", func(f *FaceSources) { f[0] = FaceSource{Match: "size"} }, "swapper.faces[0].face"},
		{"negative index", func(f *FaceSources) { f[0] = FaceSource{Face: a, Match: "size", Index: -1} }, "swapper.faces[0].index"},
		{"bad match", func(f *FaceSources) { f[0] = FaceSource{Face: a, Match: "left"} }, "swapper.faces[0]"},
	}
	for _, tt := range goBuilt {
		t.Run("go/"+tt.name, func(t *testing.T) {
			c := Default()
			tt.set(&c.Swapper.Faces)
			err := c.Validate()
			if err == nil {
				t.Fatal("Validate succeeded")
			}
			if e := asError(t, err); e.Key != tt.key {
				t.Errorf("Key = %q, want %q (%v)", e.Key, tt.key, err)
			}
		})
	}
}
