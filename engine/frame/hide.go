package frame

import "encoding/binary"

// Hide pixelates the whole frame in place with square blocks of about
// block pixels, so that no face in it can be recognised: it is what the
// `unprocessed` = hide policy sends instead of a frame the pipeline did not
// process. Every block gets one value per channel, the rounded mean of the
// block's pixels; blocks at the right and bottom edges are partial. block is
// rounded down to an even number (at least 2) so that chroma blocks line up
// with luma blocks:
//
//   - packed RGB formats (BGRA, RGBA, BGRX, BGR24, RGB24): each byte of the
//     pixel (alpha and X included) is averaged over a block×block square;
//   - NV12 and I420: luma in block×block squares, each chroma plane in
//     (block/2)×(block/2) squares covering the same pixels;
//   - YUY2 (Y0 U Y1 V per two pixels): blocks of block/2 macropixels by block
//     rows; Y0 and Y1 share one mean (luma is one channel), U and V each get
//     their own.
//
// Only the meaningful bytes of each row are read and written; padding
// between rows is left alone. Hide allocates nothing. A nil frame, an
// unknown format or an empty frame is left unchanged; any other frame must
// be valid (see Validate).
func Hide(f *Frame, block int) {
	if f == nil || !f.Format.Valid() || f.Width < 1 || f.Height < 1 {
		return
	}
	if block < 2 {
		block = 2
	}
	block &^= 1
	w, h := f.Width, f.Height
	switch f.Format {
	case NV12:
		pixelate(f.Planes[0], f.Stride[0], w, h, block, block, 1)
		pixelate(f.Planes[1], f.Stride[1], w/2, h/2, block/2, block/2, 2)
	case I420:
		pixelate(f.Planes[0], f.Stride[0], w, h, block, block, 1)
		pixelate(f.Planes[1], f.Stride[1], w/2, h/2, block/2, block/2, 1)
		pixelate(f.Planes[2], f.Stride[2], w/2, h/2, block/2, block/2, 1)
	case YUY2:
		pixelateYUY2(f.Planes[0], f.Stride[0], w/2, h, block/2, block)
	default:
		pixelate(f.Planes[0], f.Stride[0], w, h, block, block, f.Format.BytesPerPixel())
	}
}

// HideBlock is the block size Hide uses by default for a frame of this size:
// a sixteenth of the longer side, at least 16 px, even. A face 400 px tall in
// a 1080p frame then spans about three blocks (120 px each), too few to
// recognise anyone.
func HideBlock(width, height int) int {
	b := max(width, height) / 16
	if b < 16 {
		b = 16
	}
	return b &^ 1
}

// pixelate replaces every bw×bh block of a plane of cols×rows elements of
// elem bytes each (elem 1..4) with the per-byte-position mean of the block.
func pixelate(p []byte, stride, cols, rows, bw, bh, elem int) {
	var val [4]byte
	for y0 := 0; y0 < rows; y0 += bh {
		y1 := min(y0+bh, rows)
		for x0 := 0; x0 < cols; x0 += bw {
			x1 := min(x0+bw, cols)
			a, b := x0*elem, x1*elem
			var s [4]uint
			sumBlock(p, stride, a, b, y0, y1, elem, &s)
			n := uint((x1 - x0) * (y1 - y0))
			for c := 0; c < elem; c++ {
				val[c] = byte((s[c] + n/2) / n)
			}
			fillBlock(p, stride, a, b, y0, y1, val[:elem])
		}
	}
}

// pixelateYUY2 is pixelate for YUY2: cols macropixels of Y0 U Y1 V, where
// Y0 and Y1 are averaged together.
func pixelateYUY2(p []byte, stride, cols, rows, bw, bh int) {
	for y0 := 0; y0 < rows; y0 += bh {
		y1 := min(y0+bh, rows)
		for x0 := 0; x0 < cols; x0 += bw {
			x1 := min(x0+bw, cols)
			a, b := x0*4, x1*4
			var s [4]uint
			sumBlock(p, stride, a, b, y0, y1, 4, &s)
			n := uint((x1 - x0) * (y1 - y0))
			luma := byte((s[0] + s[2] + n) / (2 * n))
			val := [4]byte{luma, byte((s[1] + n/2) / n), luma, byte((s[3] + n/2) / n)}
			fillBlock(p, stride, a, b, y0, y1, val[:])
		}
	}
}

// sumBlock adds each byte of bytes [a, b) of rows [y0, y1) to
// s[(byte - a) % elem]. It sums eight bytes at a time in 16-bit lanes (SWAR):
// the bytes at even and odd positions of a 64-bit word go to two
// accumulators, which are emptied into s before a lane can overflow. For
// elem 3 the byte-to-channel pattern repeats every three words, so three
// word pairs of accumulators are kept.
func sumBlock(p []byte, stride, a, b, y0, y1, elem int, s *[4]uint) {
	const m = 0x00ff00ff00ff00ff
	period := 8
	if elem == 3 {
		period = 24
	}
	n := (b - a) / period * period
	var acc [6]uint64 // lo, hi of word 0, 1, 2 of a period
	words := 0        // words added to each lane since the last flush
	for y := y0; y < y1; y++ {
		row := p[y*stride+a : y*stride+b]
		// A lane holds at most 65535 = 257 × 255: flush before a segment
		// could take it past 256 words.
		for seg := 0; seg < n; seg += 256 * period {
			end := min(seg+256*period, n)
			if words+(end-seg)/period > 256 {
				flushLanes(&acc, elem, s)
				words = 0
			}
			words += (end - seg) / period
			if elem == 3 {
				for i := seg; i < end; i += 24 {
					x0 := binary.LittleEndian.Uint64(row[i:])
					x1 := binary.LittleEndian.Uint64(row[i+8:])
					x2 := binary.LittleEndian.Uint64(row[i+16:])
					acc[0] += x0 & m
					acc[1] += x0 >> 8 & m
					acc[2] += x1 & m
					acc[3] += x1 >> 8 & m
					acc[4] += x2 & m
					acc[5] += x2 >> 8 & m
				}
			} else {
				lo, hi := acc[0], acc[1]
				for i := seg; i < end; i += 8 {
					x := binary.LittleEndian.Uint64(row[i:])
					lo += x & m
					hi += x >> 8 & m
				}
				acc[0], acc[1] = lo, hi
			}
		}
		for i := n; i < len(row); i++ {
			s[i%elem] += uint(row[i])
		}
	}
	flushLanes(&acc, elem, s)
}

// flushLanes adds the lanes of acc to the channels their bytes belong to and
// clears acc. Lane j of acc[2w+h] holds byte 8w + 2j + h of each period.
func flushLanes(acc *[6]uint64, elem int, s *[4]uint) {
	for k, v := range acc {
		if v == 0 {
			continue
		}
		w, h := k/2, k%2
		for j := 0; j < 4; j++ {
			s[(8*w+2*j+h)%elem] += uint(v >> (16 * j) & 0xffff)
		}
		acc[k] = 0
	}
}

// fillBlock writes val repeated over bytes [a, b) of rows [y0, y1): the
// first row by doubling copies, the others as copies of the first.
func fillBlock(p []byte, stride, a, b, y0, y1 int, val []byte) {
	first := p[y0*stride+a : y0*stride+b]
	k := copy(first, val)
	for k < len(first) {
		k += copy(first[k:], first[:k])
	}
	for y := y0 + 1; y < y1; y++ {
		copy(p[y*stride+a:y*stride+b], first)
	}
}
