module facelive

go 1.26

require (
	github.com/NVIDIA/go-nvml v0.13.4-1
	github.com/hashicorp/golang-lru/v2 v2.0.7
	github.com/yalue/onnxruntime_go v1.27.0
	gocv.io/x/gocv v0.31.0
)
