#!/usr/bin/env bash
# scripts/demo.sh — the face-swap demo on files (make demo runs make build first):
# a short clip is made from the astronaut photo, then run through facelive.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

CLI=build/facelive
PHOTO=third_party/faces/astronaut.png
[ -x "$CLI" ] || { echo "demo: $CLI is missing: run make build" >&2; exit 1; }
[ -f "$PHOTO" ] || { echo "demo: $PHOTO is missing: run make deps" >&2; exit 1; }

mkdir -p out
echo "demo: $CLI makeclip --photo $PHOTO --output out/demo_input.mp4"
"$CLI" makeclip --photo "$PHOTO" --output out/demo_input.mp4
echo "demo: $CLI run --input out/demo_input.mp4 --output out/demo.mp4"
"$CLI" run --input out/demo_input.mp4 --output out/demo.mp4

echo
echo "demo: input  $ROOT/out/demo_input.mp4"
echo "demo: output $ROOT/out/demo.mp4"
