// Command testsummary reads a `go test -json` stream on stdin and makes it
// readable: it echoes the package result lines ("ok", "FAIL", "?") and build
// errors as they arrive, then prints every failed test with its output, and a
// count of passed, failed and skipped tests.
//
// Every test counts, subtests included. A test that started but never
// finished (its package crashed or timed out) counts as failed. A package that
// failed without any failed test (a build error, a panic in TestMain) counts as
// one failed test named after the package.
//
// Usage:
//
//	go test -json ./... 2>&1 | testsummary [-counts FILE] [-label NAME]
//
// -counts writes "PASSED FAILED SKIPPED\n" to FILE. The exit status is 1 when
// anything failed, else 0. Lines on stdin that are not JSON (go's own
// messages) are echoed unchanged.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Time        time.Time
	Action      string
	Package     string
	Test        string
	Elapsed     float64
	Output      string
	FailedBuild string
	ImportPath  string // build-output / build-fail events (Go 1.24+)
}

// maxOutputLines bounds the output kept per test and per package.
const maxOutputLines = 400

// Counts is the tally of individual tests.
type Counts struct {
	Passed, Failed, Skipped int
}

type testKey struct{ pkg, test string }

type testState struct {
	key    testKey
	result string // "", "pass", "fail", "skip"
	output []string
	order  int // when its result arrived
}

type pkgState struct {
	name       string
	result     string // "", "pass", "fail", "skip"
	output     []string
	failedTest bool
	buildFail  string // the failed build's import path (event.FailedBuild)
}

type summarizer struct {
	w       io.Writer
	tests   map[testKey]*testState
	pkgs    map[string]*pkgState
	pkgList []string
	build   map[string][]string // build output by import path
	seq     int
}

func newSummarizer(w io.Writer) *summarizer {
	return &summarizer{
		w:     w,
		tests: map[testKey]*testState{},
		pkgs:  map[string]*pkgState{},
		build: map[string][]string{},
	}
}

func appendBounded(lines []string, s string) []string {
	lines = append(lines, s)
	if len(lines) > maxOutputLines {
		lines = append(lines[:0], lines[len(lines)-maxOutputLines:]...)
	}
	return lines
}

func (s *summarizer) pkg(name string) *pkgState {
	p := s.pkgs[name]
	if p == nil {
		p = &pkgState{name: name}
		s.pkgs[name] = p
		s.pkgList = append(s.pkgList, name)
	}
	return p
}

// isPackageLine reports whether a package-level output line is worth echoing
// live: the result lines go test prints per package.
func isPackageLine(line string) bool {
	for _, p := range []string{"ok  ", "ok\t", "FAIL\t", "FAIL ", "?   ", "--- FAIL", "panic:"} {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

// line handles one input line.
func (s *summarizer) line(raw string) {
	trimmed := strings.TrimSpace(raw)
	if !strings.HasPrefix(trimmed, "{") {
		if trimmed != "" {
			fmt.Fprintln(s.w, raw)
		}
		return
	}
	var e event
	if err := json.Unmarshal([]byte(trimmed), &e); err != nil {
		fmt.Fprintln(s.w, raw)
		return
	}
	switch e.Action {
	case "build-output":
		out := strings.TrimRight(e.Output, "\n")
		s.build[e.ImportPath] = appendBounded(s.build[e.ImportPath], out)
		fmt.Fprintln(s.w, out)
		return
	case "build-fail":
		return
	}
	if e.Package == "" {
		return
	}
	p := s.pkg(e.Package)
	if e.Test == "" {
		switch e.Action {
		case "output":
			out := strings.TrimRight(e.Output, "\n")
			p.output = appendBounded(p.output, out)
			if isPackageLine(out) {
				fmt.Fprintln(s.w, out)
			}
		case "pass", "fail", "skip":
			p.result = e.Action
			if e.FailedBuild != "" {
				p.buildFail = e.FailedBuild
			}
		}
		return
	}
	k := testKey{e.Package, e.Test}
	t := s.tests[k]
	if t == nil {
		t = &testState{key: k}
		s.tests[k] = t
	}
	switch e.Action {
	case "output":
		t.output = appendBounded(t.output, strings.TrimRight(e.Output, "\n"))
	case "pass", "fail", "skip":
		t.result = e.Action
		s.seq++
		t.order = s.seq
		if e.Action == "fail" {
			p.failedTest = true
		}
	}
}

// finish prints the failures and the tally, and returns the counts.
func (s *summarizer) finish() Counts {
	var c Counts
	var failed []*testState
	for _, t := range s.tests {
		switch t.result {
		case "pass":
			c.Passed++
		case "skip":
			c.Skipped++
		default: // "fail", or never finished
			c.Failed++
			failed = append(failed, t)
			s.pkg(t.key.pkg).failedTest = true
		}
	}
	sort.Slice(failed, func(i, j int) bool {
		a, b := failed[i], failed[j]
		if (a.order == 0) != (b.order == 0) {
			return b.order == 0 // unfinished tests last
		}
		if a.order != b.order {
			return a.order < b.order
		}
		return a.key.test < b.key.test
	})

	var pkgOK, pkgFail, pkgNoTests int
	var brokenPkgs []*pkgState
	for _, name := range s.pkgList {
		p := s.pkgs[name]
		switch {
		case p.result == "fail" || p.buildFail != "":
			pkgFail++
			if !p.failedTest {
				c.Failed++
				brokenPkgs = append(brokenPkgs, p)
			}
		case p.result == "skip":
			pkgNoTests++
		case p.result == "pass":
			pkgOK++
		default: // output but no result: the stream was cut off
			pkgFail++
			if !p.failedTest {
				c.Failed++
				brokenPkgs = append(brokenPkgs, p)
			}
		}
	}

	if len(failed) > 0 || len(brokenPkgs) > 0 {
		fmt.Fprintln(s.w)
		fmt.Fprintln(s.w, "=== failures")
	}
	for _, t := range failed {
		state := "FAIL"
		if t.result == "" {
			state = "FAIL (did not finish)"
		}
		fmt.Fprintf(s.w, "--- %s: %s (%s)\n", state, t.key.test, t.key.pkg)
		for _, l := range t.output {
			fmt.Fprintf(s.w, "    %s\n", l)
		}
	}
	for _, p := range brokenPkgs {
		fmt.Fprintf(s.w, "--- FAIL: package %s (no test failed: build error, panic outside a test, or timeout)\n", p.name)
		for _, l := range s.build[p.buildFail] {
			fmt.Fprintf(s.w, "    %s\n", l)
		}
		for _, l := range p.output {
			fmt.Fprintf(s.w, "    %s\n", l)
		}
	}
	fmt.Fprintf(s.w, "testsummary: %d passed, %d failed, %d skipped (packages: %d ok, %d failed, %d without tests)\n",
		c.Passed, c.Failed, c.Skipped, pkgOK, pkgFail, pkgNoTests)
	return c
}

// Summarize reads a go test -json stream from r, writes the readable log to
// w and returns the counts.
func Summarize(r io.Reader, w io.Writer) (Counts, error) {
	s := newSummarizer(w)
	br := bufio.NewReaderSize(r, 1<<16)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			s.line(strings.TrimRight(line, "\r\n"))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return s.finish(), err
		}
	}
	return s.finish(), nil
}

func main() {
	countsFile := flag.String("counts", "", "write \"PASSED FAILED SKIPPED\" to this file")
	label := flag.String("label", "", "prefix for the final line (e.g. the step name)")
	flag.Parse()

	out := os.Stdout // unbuffered: the log streams while the tests run
	if *label != "" {
		fmt.Fprintf(out, "testsummary [%s]\n", *label)
	}
	c, err := Summarize(os.Stdin, out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary: reading stdin:", err)
	}
	if *countsFile != "" {
		if werr := os.WriteFile(*countsFile, []byte(fmt.Sprintf("%d %d %d\n", c.Passed, c.Failed, c.Skipped)), 0o644); werr != nil {
			fmt.Fprintln(os.Stderr, "testsummary:", werr)
			os.Exit(2)
		}
	}
	if err != nil || c.Failed > 0 {
		os.Exit(1)
	}
}
