package swap

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"

	"facelive/engine/face"
	"facelive/engine/frame"
)

// SourceFace is a face photo with its 68 landmarks (frame pixel
// coordinates): the identity the photo and InSwapper swappers put on every
// target face.
type SourceFace struct {
	Image     frame.Frame // BGR24 (any frame.Format align.Crop reads works)
	Landmarks face.Landmarks
}

// Locate finds the largest face in an image and fits its 68 landmarks. The
// engine supplies it, built from its detector and landmark fitter, so that
// this package needs neither. When the image shows no face it returns an
// error wrapping ErrNoFace.
type Locate func(img *frame.Frame) (face.Landmarks, error)

// LoadPhoto reads an image file (PNG, JPEG, BMP, WebP, TIFF or GIF; EXIF
// orientation applied) into a BGR24 frame and locates its face. Errors
// name the file: it does not exist, is not an image, shows no face (wrapping
// ErrNoFace: "no face found in PATH"), or locate failed otherwise. It takes
// as long as decoding the photo plus one detection and landmark fit: call
// it off the frame path.
func LoadPhoto(path string, locate Locate) (*SourceFace, error) {
	if locate == nil {
		return nil, errors.New("swap: LoadPhoto needs a Locate function")
	}
	st, err := os.Stat(path)
	switch {
	case path == "":
		return nil, fmt.Errorf("swap: %s is empty; set it to a photo of the face to wear", keyFace)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("swap: photo %q does not exist: %w", path, err)
	case err != nil:
		return nil, fmt.Errorf("swap: photo %q: %w", path, err)
	case st.IsDir():
		return nil, fmt.Errorf("swap: photo %q is a directory, not an image file", path)
	}
	pix, w, h, err := decodePhoto(path)
	if err != nil {
		return nil, fmt.Errorf("swap: photo %q is %w", path, err)
	}
	if w < 1 || h < 1 || w > frame.MaxDimension || h > frame.MaxDimension {
		return nil, fmt.Errorf("swap: photo %q decodes to an unusable %dx%d image", path, w, h)
	}
	src := &SourceFace{Image: frame.Frame{Format: frame.BGR24, Width: w, Height: h}}
	src.Image.Planes[0], src.Image.Stride[0] = pix, 3*w
	if err := src.Image.Validate(); err != nil {
		return nil, fmt.Errorf("swap: photo %q: %w", path, err)
	}
	lm, err := locate(&src.Image)
	switch {
	case errors.Is(err, ErrNoFace):
		return nil, fmt.Errorf("swap: %w in %q (a %dx%d image): use a photo with one clear, frontal face", ErrNoFace, path, w, h)
	case err != nil:
		return nil, fmt.Errorf("swap: locating the face in %q: %w", path, err)
	}
	for i, p := range lm {
		if math.IsNaN(p.X) || math.IsNaN(p.Y) || math.IsInf(p.X, 0) || math.IsInf(p.Y, 0) {
			return nil, fmt.Errorf("swap: the landmarks found in %q are not finite (point %d)", path, i)
		}
	}
	src.Landmarks = lm
	return src, nil
}
