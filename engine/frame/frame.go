// Package frame describes video frames the way hosts hand them to us: a pixel
// format, a size, up to four planes and a stride per plane. It validates such
// descriptions, copies them while honouring every stride, and owns the pooled
// buffers frames live in while they cross the pipeline.
//
// Layout follows Go's image package: row y of plane i starts at
// Planes[i][y*Stride[i]] and holds RowBytes(i) meaningful bytes; the bytes
// between a row's end and the next row's start are padding we never read or
// write.
package frame

import (
	"errors"
	"fmt"
	"image"
)

// Format is a pixel format. Values equal the C ABI's facelive_format.
type Format uint32

// The formats OBS cameras and C hosts deliver.
const (
	Unknown Format = 0
	BGRA    Format = 1
	RGBA    Format = 2
	BGRX    Format = 3
	BGR24   Format = 4
	RGB24   Format = 5
	NV12    Format = 6
	I420    Format = 7
	YUY2    Format = 8
)

// MaxDimension bounds width and height; larger frames are certainly a bug in
// the caller (a garbage struct), not a camera.
const MaxDimension = 16384

// Formats lists every supported format, in ABI order.
var Formats = []Format{BGRA, RGBA, BGRX, BGR24, RGB24, NV12, I420, YUY2}

var formatNames = [...]string{"unknown", "BGRA", "RGBA", "BGRX", "BGR24", "RGB24", "NV12", "I420", "YUY2"}

func (f Format) String() string {
	if f.Valid() {
		return formatNames[f]
	}
	return fmt.Sprintf("format(%d)", uint32(f))
}

// Valid reports whether f is one of Formats.
func (f Format) Valid() bool { return f >= BGRA && f <= YUY2 }

// ParseFormat maps a name such as "nv12" (any case) to its Format.
func ParseFormat(name string) (Format, error) {
	for _, f := range Formats {
		if equalFold(name, formatNames[f]) {
			return f, nil
		}
	}
	return Unknown, fmt.Errorf("unknown pixel format %q; supported: BGRA, RGBA, BGRX, BGR24, RGB24, NV12, I420, YUY2", name)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'a' <= ca && ca <= 'z' {
			ca -= 'a' - 'A'
		}
		if 'a' <= cb && cb <= 'z' {
			cb -= 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}

// Planes returns how many planes the format uses.
func (f Format) Planes() int {
	switch f {
	case NV12:
		return 2
	case I420:
		return 3
	case Unknown:
		return 0
	}
	if f.Valid() {
		return 1
	}
	return 0
}

// BytesPerPixel returns the bytes of one pixel in a packed single-plane
// format, and 0 for planar YUV formats.
func (f Format) BytesPerPixel() int {
	switch f {
	case BGRA, RGBA, BGRX:
		return 4
	case BGR24, RGB24:
		return 3
	case YUY2:
		return 2
	}
	return 0
}

// IsYUV reports whether pixels are stored as luma + chroma.
func (f Format) IsYUV() bool { return f == NV12 || f == I420 || f == YUY2 }

// RowBytes returns the meaningful bytes in one row of plane i of a frame of
// the given width.
func (f Format) RowBytes(plane, width int) int {
	switch f {
	case NV12:
		return width // Y row, or a row of interleaved U,V pairs of the same length
	case I420:
		if plane == 0 {
			return width
		}
		return width / 2
	}
	if plane == 0 {
		return width * f.BytesPerPixel()
	}
	return 0
}

// Rows returns the number of rows of plane i of a frame of the given height.
func (f Format) Rows(plane, height int) int {
	if plane == 0 {
		return height
	}
	if f == NV12 || f == I420 {
		return height / 2
	}
	return 0
}

// Errors callers may test for with errors.Is.
var (
	ErrFormat = errors.New("unsupported pixel format")
	ErrFrame  = errors.New("invalid frame")
)

// CheckGeometry reports whether a frame of this format and size can exist:
// the format is known, the size is in range and even where chroma
// subsampling needs it.
func CheckGeometry(f Format, width, height int) error {
	if !f.Valid() {
		return fmt.Errorf("%w: %s; supported: BGRA, RGBA, BGRX, BGR24, RGB24, NV12, I420, YUY2", ErrFormat, f)
	}
	if width < 1 || height < 1 || width > MaxDimension || height > MaxDimension {
		return fmt.Errorf("%w: size %dx%d out of range; width and height must be 1..%d", ErrFrame, width, height, MaxDimension)
	}
	switch f {
	case NV12, I420:
		if width%2 != 0 || height%2 != 0 {
			return fmt.Errorf("%w: %s needs an even width and height (2x2 chroma subsampling), got %dx%d", ErrFrame, f, width, height)
		}
	case YUY2:
		if width%2 != 0 {
			return fmt.Errorf("%w: YUY2 needs an even width (two pixels share U and V), got %d", ErrFrame, width)
		}
	}
	return nil
}

// Frame is a view of one video frame. It does not own its planes.
type Frame struct {
	Format Format
	Width  int
	Height int
	Planes [4][]byte
	Stride [4]int
	PTS    int64 // nanoseconds; carried through unchanged
	Color  Color // YUV formats: matrix and range (zero: BT.601 limited)
	// Processed is set on frames the pipeline returns: whether the face
	// models processed it (false: it left as config unprocessed says).
	Processed bool
}

// Validate checks the geometry and that every used plane is present, has a
// stride of at least one row and is long enough for all its rows.
func (f *Frame) Validate() error {
	if err := CheckGeometry(f.Format, f.Width, f.Height); err != nil {
		return err
	}
	if !f.Color.Matrix.Valid() {
		return fmt.Errorf("%w: colour matrix %v; BT.601 or BT.709", ErrFormat, f.Color.Matrix)
	}
	for i := 0; i < f.Format.Planes(); i++ {
		row, rows := f.Format.RowBytes(i, f.Width), f.Format.Rows(i, f.Height)
		if f.Planes[i] == nil {
			return fmt.Errorf("%w: plane %d of a %s frame is NULL", ErrFrame, i, f.Format)
		}
		if f.Stride[i] < row {
			return fmt.Errorf("%w: linesize[%d] is %d, smaller than a row of %d bytes (%s, width %d)", ErrFrame, i, f.Stride[i], row, f.Format, f.Width)
		}
		if need := (rows-1)*f.Stride[i] + row; len(f.Planes[i]) < need {
			return fmt.Errorf("%w: plane %d holds %d bytes, needs %d", ErrFrame, i, len(f.Planes[i]), need)
		}
	}
	return nil
}

// PlaneLen returns the bytes plane i spans with the given stride: the last
// row is not padded.
func PlaneLen(f Format, plane, width, height, stride int) int {
	rows := f.Rows(plane, height)
	if rows == 0 {
		return 0
	}
	return (rows-1)*stride + f.RowBytes(plane, width)
}

// SameGeometry reports whether two frames have the same format and size.
func SameGeometry(a, b *Frame) bool {
	return a.Format == b.Format && a.Width == b.Width && a.Height == b.Height
}

// Copy copies the pixels, PTS and Color of src into dst row by row, honouring both
// strides. Both must be valid and of the same geometry.
func Copy(dst, src *Frame) {
	for i := 0; i < src.Format.Planes(); i++ {
		CopyPlane(dst.Planes[i], dst.Stride[i], src.Planes[i], src.Stride[i], src.Format.RowBytes(i, src.Width), src.Format.Rows(i, src.Height))
	}
	dst.PTS, dst.Color = src.PTS, src.Color
}

// CopyPlane copies rows of row bytes each. When both sides are tightly
// packed the plane is one contiguous block, which is one memmove.
func CopyPlane(dst []byte, dstStride int, src []byte, srcStride int, row, rows int) {
	if rows == 0 {
		return
	}
	if dstStride == row && srcStride == row {
		copy(dst[:row*rows], src[:row*rows])
		return
	}
	for y := 0; y < rows; y++ {
		copy(dst[y*dstStride:y*dstStride+row], src[y*srcStride:y*srcStride+row])
	}
}

// Sub returns a view of the rectangle r of f (no copy): same planes and
// strides, offset to r's corner. r is clipped to the frame; for NV12, I420
// and YUY2 its left edge (and for NV12/I420 its top edge, width and height)
// are rounded down to even numbers so the view keeps whole chroma samples.
// The view's origin in f is the returned rectangle's Min.
func (f *Frame) Sub(r image.Rectangle) (Frame, image.Rectangle) {
	r = r.Intersect(image.Rect(0, 0, f.Width, f.Height))
	switch f.Format {
	case NV12, I420:
		r = image.Rect(r.Min.X&^1, r.Min.Y&^1, r.Max.X&^1, r.Max.Y&^1)
	case YUY2:
		r = image.Rect(r.Min.X&^1, r.Min.Y, r.Max.X&^1, r.Max.Y)
	}
	v := Frame{Format: f.Format, Width: r.Dx(), Height: r.Dy(), Stride: f.Stride, PTS: f.PTS, Color: f.Color}
	if r.Empty() {
		return Frame{Format: f.Format, Stride: f.Stride, PTS: f.PTS, Color: f.Color}, image.Rectangle{}
	}
	x, y := r.Min.X, r.Min.Y
	switch f.Format {
	case NV12:
		v.Planes[0] = f.Planes[0][y*f.Stride[0]+x:]
		v.Planes[1] = f.Planes[1][y/2*f.Stride[1]+x:]
	case I420:
		v.Planes[0] = f.Planes[0][y*f.Stride[0]+x:]
		v.Planes[1] = f.Planes[1][y/2*f.Stride[1]+x/2:]
		v.Planes[2] = f.Planes[2][y/2*f.Stride[2]+x/2:]
	default: // packed, YUY2 included (2 bytes a pixel)
		v.Planes[0] = f.Planes[0][y*f.Stride[0]+x*f.Format.BytesPerPixel():]
	}
	return v, r
}
