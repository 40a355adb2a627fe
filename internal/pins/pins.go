//go:build tools

// Package pins keeps the modules the next stages are built on (the NVML
// memory budget, the model cache) pinned in go.mod before
// code imports them, so `make deps` caches the exact versions today. The
// build tag means it is never compiled; `go mod tidy` still honours it. Drop
// an import here once a real package imports that module.
package pins
