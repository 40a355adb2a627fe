// Package version holds facelive's version, shared by the CLI and the C
// library (bridge) so both report the same string.
package version

import "runtime"

// Version is the release version of facelive.
const Version = "0.1.0"

// String returns the version line, e.g. "facelive 0.1.0 (go1.26.8 linux/amd64)".
func String() string {
	return "facelive " + Version + " (" + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")"
}
