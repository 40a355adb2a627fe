package swap

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/draw"
	_ "image/gif" // image formats decodePhoto reads, registered with image.Decode
	_ "image/jpeg"
	_ "image/png"
	"os"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// photoFormats is what decodePhoto reads, for messages.
const photoFormats = "PNG, JPEG, BMP, WebP, TIFF or GIF"

// decodePhoto reads an image file into packed BGR, EXIF orientation
// applied (a phone's portrait photo is stored sideways with a tag saying
// so). Go's decoders, not OpenCV's: Debian's imgcodecs links GDAL and a
// hundred libraries more into every host of the library (internal/cv).
func decodePhoto(path string) (bgr []byte, w, h int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("unreadable: %v", err)
	}
	img, format, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("not an image facelive can decode (%v; expected a %s file)", err, photoFormats)
	}
	orient := 1
	if format == "jpeg" {
		orient = exifOrientation(data)
	}
	b := img.Bounds()
	rgba, ok := img.(*image.RGBA)
	if !ok || b.Min != (image.Point{}) {
		rgba = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(rgba, rgba.Bounds(), img, b.Min, draw.Src)
	}
	sw, sh := b.Dx(), b.Dy()
	w, h = sw, sh
	if orient >= 5 { // 5-8 turn the picture a quarter
		w, h = sh, sw
	}
	bgr = make([]byte, 3*w*h)
	for y := range sh {
		row := rgba.Pix[y*rgba.Stride:]
		for x := range sw {
			dx, dy := orientedXY(orient, x, y, sw, sh)
			o := 3 * (dy*w + dx)
			p := row[4*x:]
			bgr[o], bgr[o+1], bgr[o+2] = p[2], p[1], p[0]
		}
	}
	return bgr, w, h, nil
}

// orientedXY is where the stored pixel (x, y) of a sw×sh image goes in the
// picture as EXIF orientation o says it is to be shown.
func orientedXY(o, x, y, sw, sh int) (int, int) {
	switch o {
	case 2: // mirrored
		return sw - 1 - x, y
	case 3: // turned half
		return sw - 1 - x, sh - 1 - y
	case 4: // flipped
		return x, sh - 1 - y
	case 5: // transposed
		return y, x
	case 6: // turned a quarter clockwise to show
		return sh - 1 - y, x
	case 7: // transversed
		return sh - 1 - y, sw - 1 - x
	case 8: // turned a quarter anticlockwise to show
		return y, sw - 1 - x
	}
	return x, y
}

// exifOrientation reads the Orientation tag (0x0112) from a JPEG's EXIF
// segment: 1 (as stored) when there is none or it cannot be read.
func exifOrientation(jpg []byte) int {
	if len(jpg) < 4 || jpg[0] != 0xFF || jpg[1] != 0xD8 {
		return 1
	}
	for i := 2; i+4 <= len(jpg) && jpg[i] == 0xFF; {
		marker, n := jpg[i+1], int(binary.BigEndian.Uint16(jpg[i+2:]))
		if marker == 0xDA || n < 2 || i+2+n > len(jpg) { // start of scan: no EXIF before the picture
			return 1
		}
		seg := jpg[i+4 : i+2+n]
		if marker == 0xE1 && len(seg) > 6 && string(seg[:6]) == "Exif\x00\x00" {
			return tiffOrientation(seg[6:])
		}
		i += 2 + n
	}
	return 1
}

// tiffOrientation reads the Orientation tag from IFD0 of a TIFF header.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	ifd := int(bo.Uint32(t[4:]))
	if ifd < 8 || ifd+2 > len(t) {
		return 1
	}
	n := int(bo.Uint16(t[ifd:]))
	for k := range n {
		e := ifd + 2 + 12*k
		if e+12 > len(t) {
			return 1
		}
		if bo.Uint16(t[e:]) == 0x0112 {
			if o := int(bo.Uint16(t[e+8:])); o >= 1 && o <= 8 {
				return o
			}
			return 1
		}
	}
	return 1
}
