#!/usr/bin/env bash
# scripts/test.sh — every check facelive has, each as a named step.
#
# Steps run in order and the script carries on after a failure. At the end it
# prints a table of the steps and one line
#     tests: N passed, N failed, N skipped
# where the counts are individual Go tests (subtests included, from
# go test -json), one per fuzz target, one per C/ctest test, and one each for
# go vet, gofmt, the library check and the package check. A step that cannot run (nothing to
# test yet) counts as one skipped test. Exit status 1 when anything failed.
#
# Expects `make build` to have run (make test does that). Environment:
#   FUZZTIME   how much each fuzz target runs: executions (300000x, the default:
#              no deadline, so a loaded machine cannot make it flake) or a duration
#   CTEST_ARGS extra arguments for ctest
#   Logs of every step go to build/test-logs/.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi

FUZZTIME=${FUZZTIME:-300000x}
LOGS=$ROOT/build/test-logs
mkdir -p "$LOGS"
rm -f "$LOGS"/*

# Paths the tests may use to find what make deps/build produced.
export FACELIVE_ROOT=$ROOT
export FACELIVE_THIRD_PARTY=${FACELIVE_THIRD_PARTY:-$ROOT/third_party}
export FACELIVE_ONNXRUNTIME_LIB=${FACELIVE_ONNXRUNTIME_LIB:-$FACELIVE_THIRD_PARTY/onnxruntime/lib/libonnxruntime.so.1}
export FACELIVE_LIBRARY=${FACELIVE_LIBRARY:-$ROOT/build/libfacelive.so}

SUMMARY_BIN=$ROOT/build/tools/testsummary
if ! go build -o "$SUMMARY_BIN" ./internal/tools/testsummary; then
  echo "test.sh: cannot build internal/tools/testsummary" >&2
  exit 2
fi

# ------------------------------------------------------------ bookkeeping --
STEP_NAMES=() STEP_RESULTS=() STEP_P=() STEP_F=() STEP_S=() STEP_SECS=()
TOTAL_P=0 TOTAL_F=0 TOTAL_S=0

# Each step function sets these three and returns its exit status.
P=0 F=0 S=0

# run_step NAME FUNCTION [ARGS...]
run_step() {
  local name=$1 t0=$SECONDS rc result
  shift
  P=0 F=0 S=0
  printf '\n==== step: %s\n' "$name"
  "$@"
  rc=$?
  # A non-zero exit with no failure counted (go could not even start,
  # a crash) still is a failure.
  if [ "$rc" -ne 0 ] && [ "$F" -eq 0 ]; then F=1; fi
  if [ "$F" -gt 0 ]; then result=FAIL
  elif [ "$P" -eq 0 ] && [ "$S" -gt 0 ]; then result=SKIP
  else result=ok; fi
  printf '==== step %s: %s (%d passed, %d failed, %d skipped, %ds)\n' \
    "$name" "$result" "$P" "$F" "$S" $((SECONDS - t0))
  STEP_NAMES+=("$name") STEP_RESULTS+=("$result")
  STEP_P+=("$P") STEP_F+=("$F") STEP_S+=("$S") STEP_SECS+=($((SECONDS - t0)))
  TOTAL_P=$((TOTAL_P + P)) TOTAL_F=$((TOTAL_F + F)) TOTAL_S=$((TOTAL_S + S))
}

# one_test COMMAND... : a command that counts as one test.
one_test() {
  if "$@"; then P=1; else F=1; fi
  return 0
}

# skip_step REASON
skip_step() {
  echo "skipped: $*"
  S=1
  return 0
}

# gotest_json LOGNAME ENV... -- GO-TEST-ARGS... : go test -json through testsummary.
gotest_json() {
  local logname=$1 counts st
  shift
  local envs=()
  while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  counts=$LOGS/$logname.counts
  rm -f "$counts"
  # go's stderr goes through the summary too, so its messages land in order.
  env "${envs[@]}" go test -json "$@" 2>&1 | tee "$LOGS/$logname.json" | "$SUMMARY_BIN" -counts "$counts"
  st=("${PIPESTATUS[@]}")
  if [ -f "$counts" ]; then read -r P F S <"$counts"; fi
  [ "${st[0]}" -eq 0 ] && [ "${st[2]}" -eq 0 ]
}

go_files() {
  find . -name '*.go' -type f \
    -not -path './.git/*' -not -path './build/*' -not -path './third_party/*' \
    -not -path './out/*' -not -path '*/testdata/*' -not -path '*/node_modules/*' | sort
}

# ------------------------------------------------------------------ steps --
step_vet() {
  # tests/obsapp builds only with its tag (the OBS Studio app step runs it).
  if go vet ./... && go vet -tags obsapp ./tests/obsapp; then P=1; else F=1; fi
}

step_gofmt() {
  local files bad
  mapfile -t files < <(go_files)
  if [ "${#files[@]}" -eq 0 ]; then skip_step "no Go files"; return; fi
  bad=$(gofmt -l "${files[@]}" 2>&1)
  if [ -n "$bad" ]; then
    echo "gofmt -l lists files that are not gofmt'ed (run gofmt -w on them):"
    echo "$bad"
    F=1
  else
    P=1
  fi
}

step_race() {
  # -timeout: go test's default 10 minutes per package is a speed limit; the
  # engine's package took 10 min under -race on a 2-core machine that was busy
  # with other work (5 min when idle). A hang still ends, with every stack.
  gotest_json go-test-race -- -race -count=1 -timeout 40m ./...
}

step_cgocheck2() {
  local pkgs=()
  if [ -d bridge ] && [ -n "$(find bridge -name '*.go' -print -quit)" ]; then pkgs+=(./bridge/...); fi
  if compgen -G '*.go' >/dev/null; then pkgs+=(.); fi
  if [ "${#pkgs[@]}" -eq 0 ]; then skip_step "no ./bridge and no root package yet"; return; fi
  gotest_json go-test-cgocheck2 GOEXPERIMENT=cgocheck2 -- -count=1 -timeout 40m "${pkgs[@]}"
}

# The plain-C ABI test once more, against a library whose Go runtime checks
# every cgo pointer pass (GOEXPERIMENT=cgocheck2): the real C path, not a Go
# test of it. LD_LIBRARY_PATH is searched before the test's RUNPATH.
step_abi_cgocheck2() {
  local test_bin=build/cmake/facelive-abi-test lib=build/cgocheck2/libfacelive.so.1
  if [ ! -x "$test_bin" ]; then skip_step "no $test_bin (make build did not run CMake)"; return; fi
  mkdir -p "$(dirname "$lib")"
  GOEXPERIMENT=cgocheck2 CGO_ENABLED=1 go build -buildmode=c-shared -trimpath \
    -ldflags "-extldflags '-Wl,-z,nodelete -Wl,-soname,libfacelive.so.1 -Wl,--version-script=$ROOT/facelive.map'" -o "$lib" . || { F=1; return 1; }
  # The test must load this library, not build/'s: the SONAME it asks for
  # (libfacelive.so.1) has to be the file here.
  if ! LD_LIBRARY_PATH=$PWD/build/cgocheck2 ldd "$test_bin" | grep -F "$PWD/$lib"; then
    echo "FAIL: $test_bin does not load $lib under LD_LIBRARY_PATH (ldd: $(LD_LIBRARY_PATH=$PWD/build/cgocheck2 ldd "$test_bin" | grep libfacelive))"
    F=1
    return 1
  fi
  if LD_LIBRARY_PATH=$PWD/build/cgocheck2 "$test_bin" >"$LOGS/abi-cgocheck2.log" 2>&1; then
    tail -n 1 "$LOGS/abi-cgocheck2.log"
    P=1
  else
    tail -n 40 "$LOGS/abi-cgocheck2.log"
    F=1
    return 1
  fi
}

# Every `func FuzzXxx(f *testing.F)` in a _test.go file, as "dir name" lines.
fuzz_targets() {
  local f
  while IFS= read -r f; do
    sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\(.*\*testing\.F\).*/\1/p' "$f" |
      while IFS= read -r name; do printf '%s %s\n' "$(dirname "$f")" "$name"; done
  done < <(go_files | grep '_test\.go$')
}

step_fuzz() {
  local dir name log targets=0
  while read -r dir name; do
    targets=$((targets + 1))
    log=$LOGS/fuzz-$(tr '/.' '__' <<<"${dir#./}")-$name.log
    echo "--- fuzz $name in $dir for $FUZZTIME"
    if go test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" -timeout 30m "$dir" </dev/null >"$log" 2>&1; then
      tail -n 3 "$log"
      P=$((P + 1))
    else
      tail -n 60 "$log"
      echo "FAIL: fuzz $name ($dir): a failing input, if found, is in $dir/testdata/fuzz/$name/ (full log: ${log#"$ROOT"/})"
      F=$((F + 1))
    fi
  done < <(fuzz_targets)
  if [ "$targets" -eq 0 ]; then skip_step "no fuzz targets found"; fi
  return 0
}

step_ctest() {
  local log=$LOGS/ctest.log total failed skipped line
  if [ ! -d build/cmake ]; then skip_step "no build/cmake (no CMakeLists.txt, or make build did not run)"; return; fi
  # The OBS test loads the plugin the way OBS does: from an installed folder.
  if [ -f build/cmake/obs-plugin/facelive.so ]; then
    rm -rf build/obs-plugin-install
    cmake --install build/cmake --component obs-plugin --prefix "$ROOT/build/obs-plugin-install" >"$LOGS/obs-install.log" 2>&1 ||
      { cat "$LOGS/obs-install.log"; echo "FAIL: installing the OBS plugin for its test"; F=1; return 1; }
  fi
  # shellcheck disable=SC2086 # CTEST_ARGS is a list of words on purpose
  ctest --test-dir build/cmake --output-on-failure ${CTEST_ARGS:-} 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  if grep -q 'No tests were found' "$log"; then
    skip_step "ctest found no tests"
    return "$rc"
  fi
  line=$(grep -E '[0-9]+ tests? failed out of [0-9]+' "$log" | tail -n1)
  if [ -z "$line" ]; then
    echo "cannot find ctest's 'N tests failed out of M' line"
    return 1
  fi
  failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
  # Tests that skipped themselves (SKIP_RETURN_CODE / SKIP_REGULAR_EXPRESSION)
  # are listed as "(Skipped)" and are not counted as failed by ctest.
  skipped=$(grep -cE '^[[:space:]]*[0-9]+ - .*\(Skipped\)[[:space:]]*$' "$log")
  F=$failed S=$skipped P=$((total - failed - skipped))
  [ "$P" -ge 0 ] || P=0
  return "$rc"
}

step_libcheck() {
  one_test "$ROOT/scripts/check-lib.sh" build/libfacelive.so include/facelive.h
}

# make package's .deb, checked without installing it (scripts/check-package.sh).
step_package() {
  local v
  v=$(sed -nE 's/^const Version = "([^"]+)"$/\1/p' internal/version/version.go)
  scripts/package.sh >"$LOGS/package.log" 2>&1 || { tail -n 40 "$LOGS/package.log"; F=1; return 1; }
  one_test "$ROOT/scripts/check-package.sh" "build/facelive_${v}_amd64.deb"
}

# The real OBS Studio app under Xvfb with the plugin ctest installed into
# build/obs-plugin-install: a recording of a face clip through the filter
# (tests/obsapp). After ctest, which installs the plugin.
step_obsapp() {
  if [ ! -f build/obs-plugin-install/bin/64bit/facelive.so ]; then
    skip_step "no plugin in build/obs-plugin-install (no libobs-dev: the plugin was not built)"
    return
  fi
  gotest_json obs-app -- -tags obsapp -count=1 -timeout 30m ./tests/obsapp
}

run_step "go vet" step_vet
run_step "gofmt" step_gofmt
run_step "go test -race" step_race
run_step "go test cgocheck2 (bridge, root)" step_cgocheck2
run_step "fuzz ($FUZZTIME each)" step_fuzz
run_step "ctest" step_ctest
run_step "C ABI test under cgocheck2" step_abi_cgocheck2
run_step "library exports" step_libcheck
run_step "Debian package" step_package
run_step "OBS Studio app" step_obsapp

# ------------------------------------------------------------------ table --
printf '\n%-36s %-6s %7s %7s %7s %6s\n' STEP RESULT PASSED FAILED SKIPPED TIME
for i in "${!STEP_NAMES[@]}"; do
  printf '%-36s %-6s %7d %7d %7d %5ds\n' "${STEP_NAMES[$i]}" "${STEP_RESULTS[$i]}" \
    "${STEP_P[$i]}" "${STEP_F[$i]}" "${STEP_S[$i]}" "${STEP_SECS[$i]}"
done
echo "(logs: ${LOGS#"$ROOT"/}/)"
echo
echo "tests: $TOTAL_P passed, $TOTAL_F failed, $TOTAL_S skipped"
[ "$TOTAL_F" -eq 0 ]
