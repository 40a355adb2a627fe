package main

import (
	"bytes"
	"strings"
	"testing"
)

// Recorded from `go test -json ./...` on a scratch module (Time fields and
// start/run events dropped): package a has a pass, a fail, a skip and a test
// with a passing and a failing subtest; b passes; c does not build; d has no
// tests.
const recordedPassFailSkip = `{"Action":"start","Package":"sample/a"}
{"Action":"run","Package":"sample/a","Test":"TestPass"}
{"Action":"output","Package":"sample/a","Test":"TestPass","Output":"=== RUN   TestPass\n"}
{"Action":"output","Package":"sample/a","Test":"TestPass","Output":"--- PASS: TestPass (0.00s)\n"}
{"Action":"pass","Package":"sample/a","Test":"TestPass","Elapsed":0}
{"Action":"run","Package":"sample/a","Test":"TestFail"}
{"Action":"output","Package":"sample/a","Test":"TestFail","Output":"=== RUN   TestFail\n"}
{"Action":"output","Package":"sample/a","Test":"TestFail","Output":"    a_test.go:6: some detail\n"}
{"Action":"output","Package":"sample/a","Test":"TestFail","Output":"    a_test.go:6: boom: want 1, got 2\n"}
{"Action":"output","Package":"sample/a","Test":"TestFail","Output":"--- FAIL: TestFail (0.00s)\n"}
{"Action":"fail","Package":"sample/a","Test":"TestFail","Elapsed":0}
{"Action":"run","Package":"sample/a","Test":"TestSkip"}
{"Action":"output","Package":"sample/a","Test":"TestSkip","Output":"=== RUN   TestSkip\n"}
{"Action":"output","Package":"sample/a","Test":"TestSkip","Output":"    a_test.go:7: needs a GPU\n"}
{"Action":"output","Package":"sample/a","Test":"TestSkip","Output":"--- SKIP: TestSkip (0.00s)\n"}
{"Action":"skip","Package":"sample/a","Test":"TestSkip","Elapsed":0}
{"Action":"output","Package":"sample/a","Output":"FAIL\n"}
{"Action":"output","Package":"sample/a","Output":"FAIL\tsample/a\t0.002s\n"}
{"Action":"fail","Package":"sample/a","Elapsed":0.002}
{"Action":"start","Package":"sample/b"}
{"Action":"run","Package":"sample/b","Test":"TestOK"}
{"Action":"output","Package":"sample/b","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"output","Package":"sample/b","Test":"TestOK","Output":"--- PASS: TestOK (0.00s)\n"}
{"Action":"pass","Package":"sample/b","Test":"TestOK","Elapsed":0}
{"Action":"output","Package":"sample/b","Output":"PASS\n"}
{"Action":"output","Package":"sample/b","Output":"ok  \tsample/b\t0.002s\n"}
{"Action":"pass","Package":"sample/b","Elapsed":0.003}
{"Action":"start","Package":"sample/d"}
{"Action":"output","Package":"sample/d","Output":"?   \tsample/d\t[no test files]\n"}
{"Action":"skip","Package":"sample/d","Elapsed":0}
`

const recordedSubtests = `{"Action":"run","Package":"sample/a","Test":"TestSub"}
{"Action":"output","Package":"sample/a","Test":"TestSub","Output":"=== RUN   TestSub\n"}
{"Action":"run","Package":"sample/a","Test":"TestSub/one"}
{"Action":"output","Package":"sample/a","Test":"TestSub/one","Output":"--- PASS: TestSub/one (0.00s)\n"}
{"Action":"pass","Package":"sample/a","Test":"TestSub/one","Elapsed":0}
{"Action":"run","Package":"sample/a","Test":"TestSub/two"}
{"Action":"output","Package":"sample/a","Test":"TestSub/two","Output":"    a_test.go:10: sub failed\n"}
{"Action":"output","Package":"sample/a","Test":"TestSub/two","Output":"--- FAIL: TestSub/two (0.00s)\n"}
{"Action":"fail","Package":"sample/a","Test":"TestSub/two","Elapsed":0}
{"Action":"output","Package":"sample/a","Test":"TestSub","Output":"--- FAIL: TestSub (0.00s)\n"}
{"Action":"fail","Package":"sample/a","Test":"TestSub","Elapsed":0}
{"Action":"output","Package":"sample/a","Output":"FAIL\tsample/a\t0.002s\n"}
{"Action":"fail","Package":"sample/a","Elapsed":0.002}
`

const recordedBuildFail = `{"ImportPath":"sample/c [sample/c.test]","Action":"build-output","Output":"# sample/c [sample/c.test]\n"}
{"ImportPath":"sample/c [sample/c.test]","Action":"build-output","Output":"c/c_test.go:5:45: cannot use \"s\" (untyped string constant) as int value in variable declaration\n"}
{"ImportPath":"sample/c [sample/c.test]","Action":"build-fail"}
{"Action":"start","Package":"sample/c"}
{"Action":"output","Package":"sample/c","Output":"FAIL\tsample/c [build failed]\n"}
{"Action":"fail","Package":"sample/c","Elapsed":0,"FailedBuild":"sample/c [sample/c.test]"}
`

// A test binary killed by -timeout: TestHang never gets a result event.
const recordedTimeout = `{"Action":"run","Package":"sample/e","Test":"TestFirst"}
{"Action":"pass","Package":"sample/e","Test":"TestFirst","Elapsed":0}
{"Action":"run","Package":"sample/e","Test":"TestHang"}
{"Action":"output","Package":"sample/e","Test":"TestHang","Output":"=== RUN   TestHang\n"}
{"Action":"output","Package":"sample/e","Test":"TestHang","Output":"panic: test timed out after 1s\n"}
{"Action":"output","Package":"sample/e","Output":"FAIL\tsample/e\t1.005s\n"}
{"Action":"fail","Package":"sample/e","Elapsed":1.006}
`

func TestSummarize(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   Counts
		output []string // substrings the log must contain
		absent []string // substrings it must not contain
	}{
		{
			name: "pass fail skip",
			in:   recordedPassFailSkip,
			want: Counts{Passed: 2, Failed: 1, Skipped: 1},
			output: []string{
				"FAIL\tsample/a\t0.002s\n", "ok  \tsample/b\t0.002s\n", "?   \tsample/d\t[no test files]\n",
				"--- FAIL: TestFail (sample/a)\n", "boom: want 1, got 2",
				"testsummary: 2 passed, 1 failed, 1 skipped (packages: 1 ok, 1 failed, 1 without tests)\n",
			},
			absent: []string{"TestSkip (sample/a)", "needs a GPU", "=== RUN   TestPass"},
		},
		{
			name:   "subtests count individually",
			in:     recordedSubtests,
			want:   Counts{Passed: 1, Failed: 2},
			output: []string{"--- FAIL: TestSub/two (sample/a)\n", "sub failed", "--- FAIL: TestSub (sample/a)\n"},
		},
		{
			name: "build failure counts once",
			in:   recordedBuildFail,
			want: Counts{Failed: 1},
			output: []string{
				"# sample/c [sample/c.test]\n", "--- FAIL: package sample/c",
				"    c/c_test.go:5:45: cannot use",
			},
		},
		{
			name:   "unfinished test fails",
			in:     recordedTimeout,
			want:   Counts{Passed: 1, Failed: 1},
			output: []string{"--- FAIL (did not finish): TestHang (sample/e)\n", "panic: test timed out after 1s"},
			absent: []string{"--- FAIL: package sample/e"},
		},
		{
			name:   "non-JSON lines are echoed",
			in:     "go: downloading example.com/m v1.0.0\n" + recordedBuildFail,
			want:   Counts{Failed: 1},
			output: []string{"go: downloading example.com/m v1.0.0\n"},
		},
		{
			name:   "empty stream",
			in:     "",
			want:   Counts{},
			output: []string{"testsummary: 0 passed, 0 failed, 0 skipped"},
			absent: []string{"=== failures"},
		},
		{
			name:   "stream cut off mid-package",
			in:     "{\"Action\":\"start\",\"Package\":\"sample/f\"}\n{\"Action\":\"output\",\"Package\":\"sample/f\",\"Output\":\"signal: killed\\n\"}\n",
			want:   Counts{Failed: 1},
			output: []string{"--- FAIL: package sample/f", "signal: killed"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			got, err := Summarize(strings.NewReader(tc.in), &out)
			if err != nil {
				t.Fatalf("Summarize: %v", err)
			}
			if got != tc.want {
				t.Errorf("counts = %+v, want %+v\nlog:\n%s", got, tc.want, out.String())
			}
			for _, s := range tc.output {
				if !strings.Contains(out.String(), s) {
					t.Errorf("log lacks %q\nlog:\n%s", s, out.String())
				}
			}
			for _, s := range tc.absent {
				if strings.Contains(out.String(), s) {
					t.Errorf("log has %q, should not\nlog:\n%s", s, out.String())
				}
			}
		})
	}
}
