#!/usr/bin/env bash
# scripts/soak.sh — the leak soak: SOAK_FRAMES (default 200,000) live 1280x720
# NV12 frames through libfacelive's C ABI in realtime mode, from a plain C host
# (tests/c/soak.c), printing resident memory and goroutine (or thread) growth.
#
# Builds nothing: expects `make build` to have run (make soak does that), which
# makes build/libfacelive.so, build/facelive and build/cmake/facelive-soak.
#
# Input: a one-second clip of the astronaut photo moving (facelive makeclip),
# decoded to raw NV12 with ffmpeg (both from make deps/build), cached in
# build/soak/; the C program plays it in a loop with the default photo
# swapper, so detection, landmarks, the swap and the merge run on every frame.
# Without ffmpeg or the photo it falls back to the program's synthetic frames
# (no face: the detector runs, nothing is swapped) and says so.
#
# Environment:
#   SOAK_FRAMES   frames to push (default 200000)
#   SOAK_CONFIG   engine config JSON (default: the program's, realtime + photo swapper)
#   SOAK_ARGS     extra options for facelive-soak (--every N, --timeout-ms N)
#   SOAK_BIN      the program (default build/cmake/facelive-soak)
# Exit status: the program's (0 done, 1 an unexpected library status, 2 usage).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

FRAMES=${SOAK_FRAMES:-200000}
BIN=${SOAK_BIN:-$ROOT/build/cmake/facelive-soak}
LIB=$ROOT/build/libfacelive.so
CLI=$ROOT/build/facelive
export FACELIVE_THIRD_PARTY=${FACELIVE_THIRD_PARTY:-$ROOT/third_party}
# The program has its RUNPATH at build/; LD_LIBRARY_PATH (searched first)
# makes sure it is this tree's library even when another is installed.
export LD_LIBRARY_PATH=$ROOT/build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

die() { echo "soak.sh: $*" >&2; exit 2; }
[ -x "$BIN" ] || die "$BIN does not exist: run make build first (it builds the C programs with CMake)"
[ -f "$LIB" ] || die "$LIB does not exist: run make build first"

# The input clip, made once.
CLIP_DIR=$ROOT/build/soak
CLIP=$CLIP_DIR/astronaut-720p.nv12
PHOTO=$FACELIVE_THIRD_PARTY/faces/astronaut.png
input=()
if [ -s "$CLIP" ]; then
  input=(--input "$CLIP")
elif [ -x "$CLI" ] && [ -f "$PHOTO" ] && command -v ffmpeg >/dev/null 2>&1; then
  mkdir -p "$CLIP_DIR"
  echo "soak.sh: making $CLIP (1 s of the astronaut photo moving, raw NV12)"
  "$CLI" makeclip --photo "$PHOTO" --crop 110,12,232,232 --height 0.7 --seconds 1 \
    --output "$CLIP_DIR/astronaut-720p.mp4" >"$CLIP_DIR/makeclip.log" 2>&1 \
    || { cat "$CLIP_DIR/makeclip.log"; die "facelive makeclip failed"; }
  ffmpeg -nostdin -v error -y -i "$CLIP_DIR/astronaut-720p.mp4" -pix_fmt nv12 -f rawvideo "$CLIP.tmp" \
    || die "ffmpeg could not decode $CLIP_DIR/astronaut-720p.mp4 to raw NV12"
  mv "$CLIP.tmp" "$CLIP"
  input=(--input "$CLIP")
else
  echo "soak.sh: no $CLI, $PHOTO or ffmpeg (make deps/build): using synthetic frames without a face" >&2
fi

args=("${input[@]}")
# shellcheck disable=SC2206 # SOAK_ARGS is split on purpose
[ -n "${SOAK_ARGS:-}" ] && args+=($SOAK_ARGS)
args+=("$FRAMES")
[ -n "${SOAK_CONFIG:-}" ] && args+=("$SOAK_CONFIG")

echo "soak.sh: $BIN ${args[*]}"
start=$SECONDS
set +e
"$BIN" "${args[@]}"
rc=$?
set -e
echo "soak.sh: exit status $rc after $((SECONDS - start)) s"
exit $rc
