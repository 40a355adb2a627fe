package frame

import "fmt"

// Color says how a YUV frame encodes RGB: the matrix (BT.601 or BT.709)
// and the range (limited: Y 16-235, Cb/Cr 16-240; full: 0-255). The zero
// value is BT.601 limited, what USB webcams send. RGB formats ignore it.
// OBS hands cameras' frames over in either matrix and range
// (obs_source_frame's color_matrix and full_range); converting with the
// wrong one shifts a pasted face's colours against the frame around it.
type Color struct {
	Matrix Matrix
	Full   bool
}

// Matrix is a YCbCr matrix.
type Matrix uint8

const (
	BT601 Matrix = iota // SD video, most USB webcams
	BT709               // HD video, OBS's default colour space
)

func (m Matrix) String() string {
	switch m {
	case BT601:
		return "BT.601"
	case BT709:
		return "BT.709"
	}
	return fmt.Sprintf("Matrix(%d)", uint8(m))
}

// Valid reports whether m is a matrix this package converts with.
func (m Matrix) Valid() bool { return m == BT601 || m == BT709 }

func (c Color) String() string {
	r := "limited"
	if c.Full {
		r = "full"
	}
	return c.Matrix.String() + " " + r
}

// kr, kb are the matrix's luma weights of red and blue.
func (m Matrix) kr() float64 {
	if m == BT709 {
		return 0.2126
	}
	return 0.299
}

func (m Matrix) kb() float64 {
	if m == BT709 {
		return 0.0722
	}
	return 0.114
}

// scales: Y' (0..1) and Cb', Cr' (-0.5..0.5) to 8-bit codes, and the
// offset of Y.
func (c Color) scales() (ys, cs, y0 float64) {
	if c.Full {
		return 255, 255, 0
	}
	return 219, 224, 16
}

// ToRGB are the coefficients of YCbCr (8-bit codes) → RGB (0..255):
//
//	R = Y·(y - Y0) + RV·(cr - 128)
//	G = Y·(y - Y0) - GU·(cb - 128) - GV·(cr - 128)
//	B = Y·(y - Y0) + BU·(cb - 128)
type ToRGB struct{ Y0, Y, RV, GU, GV, BU float64 }

// ToRGB returns c's YCbCr → RGB coefficients.
func (c Color) ToRGB() ToRGB {
	kr, kb := c.Matrix.kr(), c.Matrix.kb()
	kg := 1 - kr - kb
	ys, cs, y0 := c.scales()
	return ToRGB{
		Y0: y0,
		Y:  255 / ys,
		RV: 255 / cs * 2 * (1 - kr),
		GU: 255 / cs * 2 * (1 - kb) * kb / kg,
		GV: 255 / cs * 2 * (1 - kr) * kr / kg,
		BU: 255 / cs * 2 * (1 - kb),
	}
}

// FromRGB are the coefficients of RGB (0..255) → YCbCr (8-bit codes):
//
//	y  = Y0 + YR·r + YG·g + YB·b
//	cb = 128 + UR·r + UG·g + UB·b
//	cr = 128 + VR·r + VG·g + VB·b
type FromRGB struct{ Y0, YR, YG, YB, UR, UG, UB, VR, VG, VB float64 }

// FromRGB returns c's RGB → YCbCr coefficients.
func (c Color) FromRGB() FromRGB {
	kr, kb := c.Matrix.kr(), c.Matrix.kb()
	kg := 1 - kr - kb
	ys, cs, y0 := c.scales()
	l, k := ys/255, cs/255
	return FromRGB{
		Y0: y0,
		YR: l * kr, YG: l * kg, YB: l * kb,
		UR: -k * kr / (2 * (1 - kb)), UG: -k * kg / (2 * (1 - kb)), UB: k * 0.5,
		VR: k * 0.5, VG: -k * kg / (2 * (1 - kr)), VB: -k * kb / (2 * (1 - kr)),
	}
}
