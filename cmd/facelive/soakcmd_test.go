package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestSoakShort(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"soak", "--frames", "40", "--every", "20"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s%s", code, out.String(), errOut.String())
	}
	s := out.String()
	for _, want := range []string{"soak:      20 frames", "soak:      40 frames", "growth", "goroutines", `"frames_output":40`} {
		if !strings.Contains(s, want) {
			t.Fatalf("output lacks %q:\n%s", want, s)
		}
	}
}

func TestSoakUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"soak", "--frames", "10", "--every", "20"}, &out, &errOut); code != exitUsage ||
		!strings.Contains(errOut.String(), "--every") {
		t.Fatalf("exit %d, stderr %q; want a usage error naming --every", code, errOut.String())
	}
}
