package ortenv

import (
	"fmt"
	"strings"

	ort "github.com/yalue/onnxruntime_go"
)

// Helpers for checking a model's signature and saying what was found, so
// every "this is not the model we want" message reads the same.

// IsFloatTensor reports whether an input or output is a float32 tensor.
func IsFloatTensor(in ort.InputOutputInfo) bool {
	return in.OrtValueType == ort.ONNXTypeTensor && in.DataType == ort.TensorElementDataTypeFloat
}

// DimsMatch reports whether got has want's rank and agrees with it where
// both are fixed: a negative dimension on either side (symbolic in the
// model, or "any" in want) matches anything.
func DimsMatch(got ort.Shape, want ...int64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] >= 0 && want[i] >= 0 && got[i] != want[i] {
			return false
		}
	}
	return true
}

// Describe lists inputs or outputs as "name [dims] type, ...".
func Describe(infos []ort.InputOutputInfo) string {
	s := make([]string, len(infos))
	for i, in := range infos {
		s[i] = DescribeOne(in)
	}
	return strings.Join(s, ", ")
}

// DescribeOne describes one input or output: "name [dims] type".
func DescribeOne(in ort.InputOutputInfo) string {
	if in.OrtValueType != ort.ONNXTypeTensor {
		return fmt.Sprintf("%s (%s)", in.Name, in.OrtValueType)
	}
	s := strings.TrimPrefix(in.DataType.String(), "ONNX_TENSOR_ELEMENT_DATA_TYPE_")
	if s == "FLOAT" {
		s = "float32"
	}
	return fmt.Sprintf("%s %v %s", in.Name, []int64(in.Dimensions), strings.ToLower(s))
}
