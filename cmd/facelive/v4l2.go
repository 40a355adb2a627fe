package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"unsafe"

	"gocv.io/x/gocv"
	"golang.org/x/sys/unix"
)

// A v4l2loopback device is a virtual camera: what is written to it, other
// programs (Zoom, Meet, a browser) read as a camera. The writer tells the
// device the format with VIDIOC_S_FMT and then writes whole frames.

const (
	v4l2BufTypeVideoOutput = 2          // V4L2_BUF_TYPE_VIDEO_OUTPUT
	v4l2FieldNone          = 1          // V4L2_FIELD_NONE: progressive
	v4l2PixFmtYUYV         = 0x56595559 // v4l2_fourcc('Y','U','Y','V')
	v4l2PixFmtNV12         = 0x3231564e // v4l2_fourcc('N','V','1','2')
	v4l2ColorspaceSRGB     = 8          // V4L2_COLORSPACE_SRGB (BT.601 YCbCr, limited range for YUV)
)

// v4l2Format is struct v4l2_format with the v4l2_pix_format member of its
// union, as linux/videodev2.h lays it out on 64-bit: the union holds
// pointers (v4l2_window), so it starts at offset 8, and it is 200 bytes.
type v4l2Format struct {
	typ  uint32
	_    uint32
	pix  v4l2PixFormat
	_pad [200 - unsafe.Sizeof(v4l2PixFormat{})]byte
}

type v4l2PixFormat struct {
	width, height, pixelformat, field, bytesperline, sizeimage, colorspace, priv uint32
	flags, ycbcrEnc, quantization, xferFunc                                      uint32
}

// vidiocSFmt is VIDIOC_S_FMT = _IOWR('V', 5, struct v4l2_format).
var vidiocSFmt = uintptr(3<<30 | unsafe.Sizeof(v4l2Format{})<<16 | 'V'<<8 | 5)

// v4l2Sink writes frames to a v4l2loopback device (or, for tests and pipes,
// to a regular file or FIFO, which take the raw frames without VIDIOC_S_FMT).
type v4l2Sink struct {
	f      *os.File
	path   string
	format string // "yuyv" or "nv12"
	w, h   int
	buf    []byte // one converted frame
}

// openV4L2 opens path for frames of w×h in format ("yuyv" or "nv12"). A
// missing device is a usage error that names the fix.
func openV4L2(path, format string, w, h int) (*v4l2Sink, error) {
	if format != "yuyv" && format != "nv12" {
		return nil, usageErrorf("run: --v4l2-format %q: use yuyv or nv12", format)
	}
	if w%2 != 0 || h%2 != 0 {
		return nil, fmt.Errorf("cannot feed %s: the video is %dx%d, and %s needs an even width and height", path, w, h, format)
	}
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, usageErrorf("run: no virtual camera at %s: load the loopback module with "+
			"'sudo modprobe v4l2loopback exclusive_caps=1' (Debian: apt-get install v4l2loopback-dkms) and name the "+
			"device it creates (ls /dev/video*)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot feed %s: %v", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot open %s for writing: %v (is it a v4l2loopback device, and may you write to it?)", path, err)
	}
	s := &v4l2Sink{f: f, path: path, format: format, w: w, h: h}
	if format == "yuyv" {
		s.buf = make([]byte, w*h*2)
	} else {
		s.buf = make([]byte, w*h*3/2)
	}
	if st.Mode()&fs.ModeCharDevice != 0 {
		if err := s.setFormat(); err != nil {
			f.Close()
			return nil, err
		}
	}
	return s, nil
}

// setFormat tells the device what the frames are (VIDIOC_S_FMT).
func (s *v4l2Sink) setFormat() error {
	var vf v4l2Format
	vf.typ = v4l2BufTypeVideoOutput
	vf.pix = v4l2PixFormat{width: uint32(s.w), height: uint32(s.h), field: v4l2FieldNone,
		colorspace: v4l2ColorspaceSRGB, sizeimage: uint32(len(s.buf))}
	if s.format == "yuyv" {
		vf.pix.pixelformat, vf.pix.bytesperline = v4l2PixFmtYUYV, uint32(2*s.w)
	} else {
		vf.pix.pixelformat, vf.pix.bytesperline = v4l2PixFmtNV12, uint32(s.w)
	}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, s.f.Fd(), vidiocSFmt, uintptr(unsafe.Pointer(&vf))); errno != 0 {
		if errno == unix.ENOTTY || errno == unix.EINVAL {
			return fmt.Errorf("%s is not a v4l2 output device (VIDIOC_S_FMT: %v): name the v4l2loopback device "+
				"('modprobe v4l2loopback exclusive_caps=1' creates one)", s.path, errno)
		}
		return fmt.Errorf("%s refused %dx%d %s (VIDIOC_S_FMT: %v)", s.path, s.w, s.h, s.format, errno)
	}
	return nil
}

func (s *v4l2Sink) write(m *gocv.Mat) error {
	if m.Cols() != s.w || m.Rows() != s.h || m.Type() != gocv.MatTypeCV8UC3 {
		return fmt.Errorf("internal: frame %dx%d for a %dx%d virtual camera", m.Cols(), m.Rows(), s.w, s.h)
	}
	bgr, err := m.DataPtrUint8()
	if err != nil {
		return fmt.Errorf("internal: %v", err)
	}
	if s.format == "yuyv" {
		bgrToYUYV(s.buf, bgr, m.Step(), s.w, s.h)
	} else {
		bgrToNV12(s.buf, bgr, m.Step(), s.w, s.h)
	}
	if _, err := s.f.Write(s.buf); err != nil {
		return fmt.Errorf("writing to %s: %v", s.path, err)
	}
	return nil
}

func (s *v4l2Sink) close() error { return s.f.Close() }
func (s *v4l2Sink) live() bool   { return true }
func (s *v4l2Sink) describe() string {
	return fmt.Sprintf("virtual camera %s (%dx%d %s)", s.path, s.w, s.h, s.format)
}

// BT.601 limited range, what v4l2 consumers assume for SD and HD webcams:
// Y = 16 + (66R + 129G + 25B)/256, Cb = 128 + (-38R - 74G + 112B)/256,
// Cr = 128 + (112R - 94G - 18B)/256 (rounded).
func lumaOf(b, g, r int) byte { return byte((66*r + 129*g + 25*b + 128 + 16<<8) >> 8) }
func cbOf(b, g, r int) byte   { return byte((-38*r - 74*g + 112*b + 128 + 128<<8) >> 8) }
func crOf(b, g, r int) byte   { return byte((112*r - 94*g - 18*b + 128 + 128<<8) >> 8) }

// bgrToYUYV converts a BGR24 frame (rows stride bytes apart) to packed
// YUYV: two pixels share one Cb and Cr, from their average.
func bgrToYUYV(dst, bgr []byte, stride, w, h int) {
	for y := range h {
		row := bgr[y*stride : y*stride+3*w]
		out := dst[y*2*w : (y+1)*2*w]
		for x := 0; x < w; x += 2 {
			b0, g0, r0 := int(row[3*x]), int(row[3*x+1]), int(row[3*x+2])
			b1, g1, r1 := int(row[3*x+3]), int(row[3*x+4]), int(row[3*x+5])
			b, g, r := (b0+b1+1)/2, (g0+g1+1)/2, (r0+r1+1)/2
			out[2*x], out[2*x+1], out[2*x+2], out[2*x+3] = lumaOf(b0, g0, r0), cbOf(b, g, r), lumaOf(b1, g1, r1), crOf(b, g, r)
		}
	}
}

// bgrToNV12 converts a BGR24 frame to NV12: the Y plane, then Cb/Cr pairs
// for each 2×2 block, from its average.
func bgrToNV12(dst, bgr []byte, stride, w, h int) {
	yPlane, uv := dst[:w*h], dst[w*h:]
	for y := range h {
		row := bgr[y*stride : y*stride+3*w]
		for x := range w {
			yPlane[y*w+x] = lumaOf(int(row[3*x]), int(row[3*x+1]), int(row[3*x+2]))
		}
	}
	for y := 0; y < h; y += 2 {
		r0, r1 := bgr[y*stride:], bgr[(y+1)*stride:]
		for x := 0; x < w; x += 2 {
			var b, g, r int
			for _, p := range [4][]byte{r0[3*x:], r0[3*x+3:], r1[3*x:], r1[3*x+3:]} {
				b, g, r = b+int(p[0]), g+int(p[1]), r+int(p[2])
			}
			b, g, r = (b+2)/4, (g+2)/4, (r+2)/4
			uv[(y/2)*w+x], uv[(y/2)*w+x+1] = cbOf(b, g, r), crOf(b, g, r)
		}
	}
}
