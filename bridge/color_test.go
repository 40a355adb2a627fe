package bridge

import (
	"errors"
	"strings"
	"testing"

	"facelive/engine/frame"
)

// color_matrix and color_range reach the engine's frame when struct_size
// covers them; an older host's struct (without them) gets BT.601 limited
// whatever lies past its end; values the header does not define are
// refused with a message naming the field.
func TestFrameColorFields(t *testing.T) {
	fr := testFrame(frame.NV12, 64, 48, 0, 1)
	for _, tc := range []struct {
		name          string
		size          uint32
		matrix, rng   uint32
		want          frame.Color
		errorMentions string
	}{
		{"BT.709 full", frameColorSize, ColorMatrixBT709, ColorRangeFull, frame.Color{Matrix: frame.BT709, Full: true}, ""},
		{"BT.601 limited", frameColorSize, ColorMatrixBT601, ColorRangeLimited, frame.Color{}, ""},
		{"BT.601 full", frameColorSize, ColorMatrixBT601, ColorRangeFull, frame.Color{Full: true}, ""},
		{"an older host: fields not covered", frameFlagsSize, 99, 99, frame.Color{}, ""},
		{"unknown matrix", frameColorSize, 2, 0, frame.Color{}, "color_matrix"},
		{"unknown range", frameColorSize, 0, 5, frame.Color{}, "color_range"},
	} {
		c := cFrame(fr)
		c.StructSize, c.ColorMatrix, c.ColorRange = tc.size, tc.matrix, tc.rng
		var got frame.Frame
		err := view(c, &got)
		switch {
		case tc.errorMentions != "":
			if !errors.Is(err, frame.ErrFrame) || !strings.Contains(err.Error(), tc.errorMentions) {
				t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.errorMentions)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case got.Color != tc.want:
			t.Errorf("%s: colour %v, want %v", tc.name, got.Color, tc.want)
		}
	}
}
