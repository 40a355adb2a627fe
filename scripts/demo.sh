#!/usr/bin/env bash
# scripts/demo.sh — the face-swap demo on files (make demo runs make build first):
#   1. makeclip: a 4 s 720p clip of the astronaut's head (third_party/faces/astronaut.png)
#      moving — translation, rotation, scale, lighting — with its exact motion;
#   2. run: the clip through facelive with the default config (batch mode, the photo
#      swapper with the default face third_party/faces/sample2.jpg); prints the metrics;
#   3. sheet: out/demo.png, frames of the input (top row) and the output (bottom row).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

CLI=build/facelive
PHOTO=third_party/faces/astronaut.png
FACE=third_party/faces/sample2.jpg # the photo swapper's default face
DETECTOR=third_party/models/face_detection_front_128x128_barracuda.onnx
# Her head: the face is about (178,81)-(272,175) in the 512x512 photo. Shown at
# 0.7 of the frame height, the face is about 175-235 px wide at 1280x720 (BlazeFace
# wants at least 1/8 of the frame width), and the head stays inside the frame.
CROP=110,12,232,232
HEIGHT=0.7

die() { echo "demo: $*" >&2; exit 1; }
[ -x "$CLI" ] || die "$CLI is missing: run make build (or make demo, which builds first)"
for f in "$PHOTO" "$FACE" "$DETECTOR"; do
  [ -f "$f" ] || die "$f is missing: run make deps (it fetches the photos and models into third_party/)"
done

# step LABEL CMD...: echo the command, run it, say how long it took.
step() {
  local label=$1 t0 ds
  shift
  echo "demo: $*"
  t0=${EPOCHREALTIME/[.,]/}
  "$@"
  ds=$(((${EPOCHREALTIME/[.,]/} - t0 + 50000) / 100000)) # tenths of a second
  printf 'demo: %s took %d.%d s\n\n' "$label" $((ds / 10)) $((ds % 10))
}

mkdir -p out
step makeclip "$CLI" makeclip --photo "$PHOTO" --crop "$CROP" --height "$HEIGHT" --expressions --output out/demo_input.mp4
step run "$CLI" run --input out/demo_input.mp4 --output out/demo.mp4
step sheet "$CLI" sheet --before out/demo_input.mp4 --after out/demo.mp4 --output out/demo.png

echo "demo: input  $ROOT/out/demo_input.mp4  (its motion: out/demo_input.mp4.motion.json)"
echo "demo: output $ROOT/out/demo.mp4"
echo "demo: sheet  $ROOT/out/demo.png"
echo "demo: out/demo.png: top row the input (the astronaut moving), bottom row the same frames" \
  "with her face replaced by the face from $FACE"
