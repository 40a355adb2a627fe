package adapt

import (
	"reflect"
	"testing"
)

// The engine's ladder: a loaded model's swap size is fixed, so the swap
// rungs collapse into one that only detects less often.
func TestFixedSwap(t *testing.T) {
	got := FixedSwap(DefaultLadder())
	want := []Level{
		{Name: "full", DetectorInput: 128, DetectInterval: 0, Landmarks: "dlib68", SwapSize: 224},
		{Name: "detect-3", DetectorInput: 128, DetectInterval: 3, Landmarks: "dlib68", SwapSize: 224},
		{Name: "detect-5", DetectorInput: 128, DetectInterval: 5, Landmarks: "dlib68", SwapSize: 224},
		{Name: "keypoints", DetectorInput: 128, DetectInterval: 5, Landmarks: "keypoints", SwapSize: 224},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("FixedSwap(DefaultLadder()) =\n%+v\nwant\n%+v", got, want)
	}
	if len(DefaultLadder()) != 6 {
		t.Fatal("FixedSwap changed the ladder it was given")
	}
}
