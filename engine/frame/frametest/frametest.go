// Package frametest builds test frames in every format from a BGR image and
// reads pixels back, so stage tests can run one scene through all formats.
// Tests only: it favours clarity over speed.
package frametest

import (
	"math"

	"facelive/engine/frame"
)

// Sentinel fills row padding, so tests can check nobody wrote there.
const Sentinel = 0xA5

// YUV601 is BT.601 limited range, what webcams send.
func YUV601(b, g, r float64) (y, u, v float64) {
	y = 16 + 0.256788*r + 0.504129*g + 0.097906*b
	u = 128 - 0.148223*r - 0.290993*g + 0.439216*b
	v = 128 + 0.439216*r - 0.367788*g - 0.071427*b
	return
}

// BGR601 inverts YUV601.
func BGR601(y, u, v float64) [3]byte {
	yy := 1.164383 * (y - 16)
	return [3]byte{round8(yy + 2.017232*(u-128)), round8(yy - 0.391762*(u-128) - 0.812968*(v-128)), round8(yy + 1.596027*(v-128))}
}

// yuvOf is the textbook YCbCr of an RGB colour (0..255) in c's matrix and
// range (written from the BT.601/BT.709 definitions, not from frame.Color's
// coefficients, so that tests of those check against something else).
func yuvOf(c frame.Color, b, g, r float64) (y, u, v float64) {
	if c == (frame.Color{}) {
		return YUV601(b, g, r)
	}
	kr, kb := kOf(c)
	l := (kr*r + (1-kr-kb)*g + kb*b) / 255
	pb, pr := (b/255-l)/(2*(1-kb)), (r/255-l)/(2*(1-kr))
	if c.Full {
		return 255 * l, 128 + 255*pb, 128 + 255*pr
	}
	return 16 + 219*l, 128 + 224*pb, 128 + 224*pr
}

// bgrOf inverts yuvOf.
func bgrOf(c frame.Color, y, u, v float64) [3]byte {
	if c == (frame.Color{}) {
		return BGR601(y, u, v)
	}
	kr, kb := kOf(c)
	var l, pb, pr float64
	if c.Full {
		l, pb, pr = y/255, (u-128)/255, (v-128)/255
	} else {
		l, pb, pr = (y-16)/219, (u-128)/224, (v-128)/224
	}
	r := l + 2*(1-kr)*pr
	b := l + 2*(1-kb)*pb
	g := (l - kr*r - kb*b) / (1 - kr - kb)
	return [3]byte{round8(255 * b), round8(255 * g), round8(255 * r)}
}

func kOf(c frame.Color) (kr, kb float64) {
	if c.Matrix == frame.BT709 {
		return 0.2126, 0.0722
	}
	return 0.299, 0.114
}

func round8(v float64) byte { return byte(math.Max(0, math.Min(255, math.Round(v)))) }

// FromBGR converts a packed BGR image (w*h*3 bytes) to format f with pad
// Sentinel bytes after every row of every plane. Chroma is the block
// average; the alpha/X byte holds x^y. w and h must suit f. YUV formats are
// BT.601 limited range (FromBGRColor: another).
func FromBGR(bgr []byte, w, h int, f frame.Format, pad int) *frame.Frame {
	return FromBGRColor(bgr, w, h, f, pad, frame.Color{})
}

// FromBGRColor is FromBGR with YUV formats in colour c (and fr.Color c).
func FromBGRColor(bgr []byte, w, h int, f frame.Format, pad int, c frame.Color) *frame.Frame {
	at := func(x, y int) [3]byte { o := 3 * (y*w + x); return [3]byte{bgr[o], bgr[o+1], bgr[o+2]} }
	fr := &frame.Frame{Format: f, Width: w, Height: h, Color: c}
	for i := 0; i < f.Planes(); i++ {
		stride := f.RowBytes(i, w) + pad
		buf := make([]byte, stride*f.Rows(i, h))
		for j := range buf {
			buf[j] = Sentinel
		}
		fr.Planes[i], fr.Stride[i] = buf, stride
	}
	p0, s0 := fr.Planes[0], fr.Stride[0]
	if !f.IsYUV() {
		bpp := f.BytesPerPixel()
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := at(x, y)
				if f == frame.RGBA || f == frame.RGB24 {
					c[0], c[2] = c[2], c[0]
				}
				o := y*s0 + x*bpp
				copy(p0[o:o+3], c[:])
				if bpp == 4 {
					p0[o+3] = byte(x ^ y)
				}
			}
		}
		return fr
	}
	bw, bh := 2, 2
	if f == frame.YUY2 {
		bh = 1
	}
	for by := 0; by < h; by += bh {
		for bx := 0; bx < w; bx += bw {
			var su, sv float64
			for dy := 0; dy < bh; dy++ {
				for dx := 0; dx < bw; dx++ {
					c := at(bx+dx, by+dy)
					yy, u, v := yuvOf(fr.Color, float64(c[0]), float64(c[1]), float64(c[2]))
					su, sv = su+u, sv+v
					if f == frame.YUY2 {
						p0[(by+dy)*s0+2*(bx+dx)] = round8(yy)
					} else {
						p0[(by+dy)*s0+bx+dx] = round8(yy)
					}
				}
			}
			n := float64(bw * bh)
			u, v := round8(su/n), round8(sv/n)
			switch f {
			case frame.NV12:
				o := by/2*fr.Stride[1] + bx
				fr.Planes[1][o], fr.Planes[1][o+1] = u, v
			case frame.I420:
				fr.Planes[1][by/2*fr.Stride[1]+bx/2] = u
				fr.Planes[2][by/2*fr.Stride[2]+bx/2] = v
			case frame.YUY2:
				p0[by*s0+2*bx+1] = u
				p0[by*s0+2*bx+3] = v
			}
		}
	}
	return fr
}

// ReadBGR returns pixel (x, y) as BGR (YUV: with its block's chroma, in
// fr.Color).
func ReadBGR(fr *frame.Frame, x, y int) [3]byte {
	p0, s0 := fr.Planes[0], fr.Stride[0]
	switch fr.Format {
	case frame.BGRA, frame.BGRX, frame.BGR24:
		o := y*s0 + x*fr.Format.BytesPerPixel()
		return [3]byte{p0[o], p0[o+1], p0[o+2]}
	case frame.RGBA, frame.RGB24:
		o := y*s0 + x*fr.Format.BytesPerPixel()
		return [3]byte{p0[o+2], p0[o+1], p0[o]}
	case frame.NV12:
		o := y/2*fr.Stride[1] + x&^1
		return bgrOf(fr.Color, float64(p0[y*s0+x]), float64(fr.Planes[1][o]), float64(fr.Planes[1][o+1]))
	case frame.I420:
		return bgrOf(fr.Color, float64(p0[y*s0+x]), float64(fr.Planes[1][y/2*fr.Stride[1]+x/2]), float64(fr.Planes[2][y/2*fr.Stride[2]+x/2]))
	case frame.YUY2:
		o := y*s0 + 2*(x&^1)
		return bgrOf(fr.Color, float64(p0[y*s0+2*x]), float64(p0[o+1]), float64(p0[o+3]))
	}
	panic("frametest: unknown format " + fr.Format.String())
}

// Clone deep-copies f's planes.
func Clone(f *frame.Frame) *frame.Frame {
	c := *f
	for i := 0; i < f.Format.Planes(); i++ {
		c.Planes[i] = append([]byte(nil), f.Planes[i]...)
	}
	return &c
}

// Blank returns a frame of f's geometry and strides, all Sentinel.
func Blank(f *frame.Frame) *frame.Frame {
	c := Clone(f)
	for i := 0; i < f.Format.Planes(); i++ {
		for j := range c.Planes[i] {
			c.Planes[i][j] = Sentinel
		}
	}
	c.PTS = 0
	return c
}
