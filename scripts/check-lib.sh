#!/usr/bin/env bash
# scripts/check-lib.sh LIBRARY HEADER — checks the built shared library:
#   * FLAGS_1 has NODELETE (the Go runtime can never be unloaded safely),
#   * SONAME is libfacelive.so.1 (what linked programs load at run time),
#   * its exported facelive_* functions are exactly those HEADER declares,
#   * it pulls no GUI, video I/O or GIS library into its host (ldd).
set -uo pipefail

LIB=${1:-build/libfacelive.so}
HDR=${2:-include/facelive.h}
fail=0
bad() { echo "check-lib: FAIL: $*"; fail=1; }

[ -f "$LIB" ] || { echo "check-lib: FAIL: $LIB does not exist (run make build)"; exit 1; }
[ -f "$HDR" ] || { echo "check-lib: FAIL: $HDR does not exist"; exit 1; }

dyn=$(readelf -d "$LIB") || { echo "check-lib: FAIL: readelf -d $LIB failed"; exit 1; }
if grep -E '\(FLAGS_1\)' <<<"$dyn" | grep -qw NODELETE; then
  echo "check-lib: ok: FLAGS_1 has NODELETE"
else
  bad "$LIB is not linked with -z nodelete (readelf -d shows: $(grep -E '\(FLAGS_1\)' <<<"$dyn" || echo 'no FLAGS_1'))"
fi
SONAME=libfacelive.so.1
if grep -E '\(SONAME\)' <<<"$dyn" | grep -qF "[$SONAME]"; then
  echo "check-lib: ok: SONAME $SONAME"
else
  bad "SONAME is not $SONAME (readelf -d shows: $(grep -E '\(SONAME\)' <<<"$dyn" || echo 'no SONAME'))"
fi

# Functions the header declares: preprocess (drops comments, keeps what a C
# client sees), then every facelive_xxx( that is not a typedef'd pointer.
declared=$(${CC:-cc} -E -P -x c "$HDR" | grep -v '^[[:space:]]*typedef' |
  grep -oE '\bfacelive_[A-Za-z0-9_]+[[:space:]]*\(' | sed -E 's/[[:space:]]*\($//' | sort -u)
[ -n "$declared" ] || { echo "check-lib: FAIL: found no facelive_* functions in $HDR"; exit 1; }
# Every defined function or object the library exports, whatever its name:
# facelive.map must hide everything but the ABI (cgo-compiled wrappers of
# gocv and onnxruntime_go would otherwise be public, colliding with hosts).
exported=$(nm -D --defined-only "$LIB" | awk '$2 ~ /^[TWDBRV]$/ {print $3}' | sort -u)

missing=$(comm -23 <(echo "$declared") <(echo "$exported"))
extra=$(comm -13 <(echo "$declared") <(echo "$exported"))
[ -z "$missing" ] || bad "declared in $HDR but not exported by $LIB: $(tr '\n' ' ' <<<"$missing")"
[ -z "$extra" ] || bad "exported by $LIB but not declared in $HDR: $(tr '\n' ' ' <<<"$extra")"
if [ -z "$missing$extra" ]; then
  echo "check-lib: ok: exports exactly the $(wc -l <<<"$declared") functions of $HDR"
fi

# What the library drags into its host (OBS runs on Qt6): OpenCV's core,
# imgproc and objdetect only (internal/cv), never highgui (Qt5), videoio
# (GStreamer, FFmpeg) or imgcodecs (GDAL).
if deps=$(ldd "$LIB" 2>&1); then
  heavy=$(grep -oiE '\b(libQt[0-9A-Za-z]*|libopencv_(highgui|videoio|imgcodecs)|libgst[a-z]*|libavformat|libgdal)[^ ]*' <<<"$deps" | sort -u)
  if [ -n "$heavy" ]; then
    bad "$LIB links libraries a host should not get: $(tr '\n' ' ' <<<"$heavy")"
  else
    echo "check-lib: ok: $(grep -c '=>' <<<"$deps") libraries, none of Qt, highgui, videoio, imgcodecs, GStreamer, libavformat, GDAL"
  fi
else
  bad "ldd $LIB failed: $deps"
fi

# A C host must be able to link against the library with a plain cc: no
# symbol may stay undefined that none of its dependencies define (go-nvml's
# bindings did that: ~400 nvml* references left for run time).
tmp=$(mktemp -d)
echo 'int main(void) { return 0; }' >"$tmp/m.c"
if ${CC:-cc} "$tmp/m.c" -o "$tmp/m" -Wl,--no-as-needed "$LIB" 2>"$tmp/err"; then
  echo "check-lib: ok: a plain C program links against it"
else
  bad "a plain C program cannot link against $LIB: $(grep -m3 -o 'undefined reference to[^)]*' "$tmp/err" | tr '\n' ' ')"
fi
rm -rf "$tmp"
exit "$fail"
