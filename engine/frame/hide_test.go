package frame_test

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
)

// channel is one colour channel of a format, seen as a grid of samples:
// at returns the byte offset of sample (x, y) in Planes[plane]. Hide's block
// of B pixels covers bw×bh samples of the channel.
type channel struct {
	name   string
	plane  int
	w, h   int
	bw, bh int
	at     func(x, y int) int
}

// channels writes out each format's layout independently of hide.go.
func channels(f *frame.Frame, block int) []channel {
	B := max(2, block&^1)
	w, h, s := f.Width, f.Height, f.Stride
	var cs []channel
	switch f.Format {
	case frame.NV12:
		cs = append(cs,
			channel{"Y", 0, w, h, B, B, func(x, y int) int { return y*s[0] + x }},
			channel{"U", 1, w / 2, h / 2, B / 2, B / 2, func(x, y int) int { return y*s[1] + 2*x }},
			channel{"V", 1, w / 2, h / 2, B / 2, B / 2, func(x, y int) int { return y*s[1] + 2*x + 1 }})
	case frame.I420:
		cs = append(cs,
			channel{"Y", 0, w, h, B, B, func(x, y int) int { return y*s[0] + x }},
			channel{"U", 1, w / 2, h / 2, B / 2, B / 2, func(x, y int) int { return y*s[1] + x }},
			channel{"V", 2, w / 2, h / 2, B / 2, B / 2, func(x, y int) int { return y*s[2] + x }})
	case frame.YUY2:
		cs = append(cs,
			channel{"Y", 0, w, h, B, B, func(x, y int) int { return y*s[0] + 2*x }},
			channel{"U", 0, w / 2, h, B / 2, B, func(x, y int) int { return y*s[0] + 4*x + 1 }},
			channel{"V", 0, w / 2, h, B / 2, B, func(x, y int) int { return y*s[0] + 4*x + 3 }})
	default:
		bpp := f.Format.BytesPerPixel()
		for c := 0; c < bpp; c++ {
			c := c
			cs = append(cs, channel{fmt.Sprintf("byte%d", c), 0, w, h, B, B, func(x, y int) int { return y*s[0] + x*bpp + c }})
		}
	}
	return cs
}

// newFrame builds a frame with pad sentinel bytes after every row of every
// plane and pixel bytes from pix(plane, byte in row, row).
func newFrame(f frame.Format, w, h, pad int, pix func(plane, x, y int) byte) *frame.Frame {
	fr := &frame.Frame{Format: f, Width: w, Height: h}
	for i := 0; i < f.Planes(); i++ {
		row, rows := f.RowBytes(i, w), f.Rows(i, h)
		stride := row + pad
		buf := make([]byte, stride*rows)
		for j := range buf {
			buf[j] = frametest.Sentinel
		}
		for y := 0; y < rows; y++ {
			for x := 0; x < row; x++ {
				buf[y*stride+x] = pix(i, x, y)
			}
		}
		fr.Planes[i], fr.Stride[i] = buf, stride
	}
	return fr
}

func noise(seed int64) func(plane, x, y int) byte {
	r := rand.New(rand.NewSource(seed))
	return func(int, int, int) byte { return byte(r.Intn(256)) }
}

// checker is a black/white checkerboard of 3 px cells (in BGR, so every
// format gets luma and chroma detail; colours alternate too).
func checkerFrame(f frame.Format, w, h, pad int) *frame.Frame {
	bgr := make([]byte, 3*w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := 3 * (y*w + x)
			if (x/3+y/3)%2 == 0 {
				bgr[o], bgr[o+1], bgr[o+2] = 255, 0, 255 // magenta
			} else {
				bgr[o], bgr[o+1], bgr[o+2] = 0, 255, 0 // green
			}
		}
	}
	return frametest.FromBGR(bgr, w, h, f, pad)
}

type size struct{ w, h int }

func sizesFor(f frame.Format) []size {
	switch f {
	case frame.NV12, frame.I420:
		return []size{{2, 2}, {18, 10}, {34, 22}, {64, 48}, {70, 38}}
	case frame.YUY2:
		return []size{{2, 1}, {18, 9}, {34, 23}, {64, 48}, {70, 37}}
	}
	return []size{{1, 1}, {17, 9}, {37, 23}, {64, 48}, {5, 70}}
}

// checkHidden compares got (after Hide) with orig (before): every block of
// every channel holds orig's rounded mean over that block, and every byte
// outside the rows' meaningful bytes is unchanged.
func checkHidden(t *testing.T, orig, got *frame.Frame, block int) {
	t.Helper()
	for _, c := range channels(orig, block) {
		// YUY2 luma: Y0 and Y1 share a macropixel's block, and are averaged
		// together over it.
		for y0 := 0; y0 < c.h; y0 += c.bh {
			for x0 := 0; x0 < c.w; x0 += c.bw {
				x1, y1 := min(x0+c.bw, c.w), min(y0+c.bh, c.h)
				sum, n := 0, 0
				for y := y0; y < y1; y++ {
					for x := x0; x < x1; x++ {
						sum += int(orig.Planes[c.plane][c.at(x, y)])
						n++
					}
				}
				want := byte((sum + n/2) / n)
				for y := y0; y < y1; y++ {
					for x := x0; x < x1; x++ {
						if v := got.Planes[c.plane][c.at(x, y)]; v != want {
							t.Fatalf("%s block at sample (%d,%d): sample (%d,%d) = %d, want block mean %d", c.name, x0, y0, x, y, v, want)
						}
					}
				}
			}
		}
	}
	for i := 0; i < orig.Format.Planes(); i++ {
		row, s := orig.Format.RowBytes(i, orig.Width), orig.Stride[i]
		for j := range orig.Planes[i] {
			if j%s >= row && got.Planes[i][j] != orig.Planes[i][j] {
				t.Fatalf("plane %d: padding byte %d changed from %#x to %#x", i, j, orig.Planes[i][j], got.Planes[i][j])
			}
		}
	}
}

func TestHideEveryFormat(t *testing.T) {
	for _, f := range frame.Formats {
		for _, sz := range sizesFor(f) {
			for _, pad := range []int{0, 3, 8} {
				for _, block := range []int{1, 2, 7, 16, 200} {
					name := fmt.Sprintf("%s/%dx%d/pad%d/block%d", f, sz.w, sz.h, pad, block)
					t.Run(name, func(t *testing.T) {
						orig := newFrame(f, sz.w, sz.h, pad, noise(int64(sz.w*1000+sz.h+pad)))
						if err := orig.Validate(); err != nil {
							t.Fatal(err)
						}
						got := frametest.Clone(orig)
						frame.Hide(got, block)
						checkHidden(t, orig, got, block)
					})
				}
			}
		}
	}
}

// Blocks much wider or taller than usual, all 255 or noise: sums must not
// overflow (Hide adds bytes in 16-bit lanes and must empty them in time).
func TestHideLargeBlocks(t *testing.T) {
	for _, f := range frame.Formats {
		for _, sz := range []size{{4100, 6}, {8, 1500}, {600, 400}} {
			for _, pat := range []string{"white", "noise"} {
				t.Run(fmt.Sprintf("%s/%dx%d/%s", f, sz.w, sz.h, pat), func(t *testing.T) {
					pix := noise(5)
					if pat == "white" {
						pix = func(int, int, int) byte { return 255 }
					}
					orig := newFrame(f, sz.w, sz.h, 1, pix)
					for _, block := range []int{10000, 1000, 300} {
						got := frametest.Clone(orig)
						frame.Hide(got, block)
						checkHidden(t, orig, got, block)
					}
				})
			}
		}
	}
}

// meanNeighbourDiff is the mean absolute difference between horizontally
// and vertically neighbouring samples that lie in the same block, and the
// number of such pairs.
func meanNeighbourDiff(fr *frame.Frame, c channel) (float64, int) {
	p := fr.Planes[c.plane]
	sum, n := 0, 0
	for y := 0; y < c.h; y++ {
		for x := 0; x < c.w; x++ {
			v := int(p[c.at(x, y)])
			if x+1 < c.w && (x+1)/c.bw == x/c.bw {
				sum += abs(v - int(p[c.at(x+1, y)]))
				n++
			}
			if y+1 < c.h && (y+1)/c.bh == y/c.bh {
				sum += abs(v - int(p[c.at(x, y+1)]))
				n++
			}
		}
	}
	if n == 0 {
		return 0, 0
	}
	return float64(sum) / float64(n), n
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// A detailed pattern loses all detail inside blocks, in every channel:
// chroma planes included (a Hide that forgot chroma fails here).
func TestHideRemovesDetail(t *testing.T) {
	const block = 12
	for _, f := range frame.Formats {
		for _, pat := range []string{"checker", "noise"} {
			t.Run(fmt.Sprintf("%s/%s", f, pat), func(t *testing.T) {
				var fr *frame.Frame
				if pat == "checker" {
					fr = checkerFrame(f, 96, 64, 5)
				} else {
					fr = newFrame(f, 96, 64, 5, noise(7))
				}
				orig := frametest.Clone(fr)
				cs := channels(fr, block)
				before := make([]float64, len(cs))
				for i, c := range cs {
					before[i], _ = meanNeighbourDiff(fr, c)
				}
				frame.Hide(fr, block)
				for i, c := range cs {
					if c.name == "byte3" && pat == "checker" {
						continue // FromBGR's alpha/X byte is x^y, checked with noise
					}
					if before[i] < 1 {
						t.Fatalf("%s: test pattern has no detail (mean neighbour diff %.2f)", c.name, before[i])
					}
					after, n := meanNeighbourDiff(fr, c)
					if n == 0 || after != 0 {
						t.Errorf("%s: mean neighbour diff inside blocks %.2f -> %.2f over %d pairs, want 0", c.name, before[i], after, n)
					}
				}
				checkHidden(t, orig, fr, block)
			})
		}
	}
}

func TestHideAllocatesNothing(t *testing.T) {
	for _, f := range frame.Formats {
		fr := newFrame(f, 64, 48, 3, noise(1))
		if a := testing.AllocsPerRun(20, func() { frame.Hide(fr, 16) }); a != 0 {
			t.Errorf("%s: Hide allocates %.1f times per call", f, a)
		}
	}
}

func TestHideIgnoresInvalid(t *testing.T) {
	frame.Hide(nil, 16)
	frame.Hide(&frame.Frame{}, 16)
	frame.Hide(&frame.Frame{Format: frame.BGRA}, 16)
}

func TestHideBlock(t *testing.T) {
	for _, sz := range []size{{640, 480}, {1280, 720}, {1920, 1080}, {1080, 1920}, {320, 240}, {3840, 2160}, {1, 1}} {
		b := frame.HideBlock(sz.w, sz.h)
		if b < 16 || b%2 != 0 {
			t.Errorf("HideBlock(%d, %d) = %d, want even and >= 16", sz.w, sz.h, b)
		}
		// Up to 1080p a 400 px face spans a few blocks, not dozens.
		if long := max(sz.w, sz.h); long >= 640 && long <= 1920 && (400/b < 2 || 400/b > 12) {
			t.Errorf("HideBlock(%d, %d) = %d: a 400 px face is %d blocks", sz.w, sz.h, b, 400/b)
		}
	}
}

// BenchmarkHide reports Hide's time on a 1080p frame and, as ratio, that
// time over a plain copy of the same frame measured in the same benchmark.
func BenchmarkHide(b *testing.B) {
	for _, f := range []frame.Format{frame.NV12, frame.I420, frame.YUY2, frame.BGRA, frame.BGR24} {
		b.Run(f.String()+"/1080p", func(b *testing.B) {
			fr := newFrame(f, 1920, 1080, 0, noise(3))
			dst := frametest.Clone(fr)
			block := frame.HideBlock(1920, 1080)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				frame.Hide(fr, block)
			}
			b.StopTimer()
			hideNs := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			start := time.Now()
			for range b.N {
				frame.Copy(dst, fr)
			}
			copyNs := float64(time.Since(start).Nanoseconds()) / float64(b.N)
			b.ReportMetric(copyNs, "copy-ns/op")
			b.ReportMetric(hideNs/copyNs, "x-copy")
		})
	}
}
