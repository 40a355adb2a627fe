#!/usr/bin/env bash
# scripts/package.sh — the Debian package build/facelive_<version>_amd64.deb
# (`make package`, after `make build`). Check it with scripts/check-package.sh.
#
# What goes where (Debian 12's obs-studio 29 loads system plugins from
# /usr/lib/<triplet>/obs-plugins/NAME.so with data /usr/share/obs/obs-plugins/NAME/):
#   /usr/lib/x86_64-linux-gnu/obs-plugins/facelive.so     the OBS module, no RPATH
#   /usr/share/obs/obs-plugins/facelive/                  its data/ (locale, the BlazeFace
#                                                         model, the default faces), as
#                                                         `cmake --install --component obs-plugin` makes it
#   /usr/lib/x86_64-linux-gnu/libfacelive.so.1            the library (SONAME libfacelive.so.1)
#   /usr/lib/x86_64-linux-gnu/libfacelive.so              -> libfacelive.so.1
#   /usr/lib/x86_64-linux-gnu/facelive/libonnxruntime.so.1  ONNX Runtime, private to facelive:
#                                                         outside the linker's search; the engine
#                                                         finds it beside itself (engine/ortenv)
#   /usr/include/facelive.h, /usr/lib/x86_64-linux-gnu/pkgconfig/facelive.pc
#   /usr/share/doc/facelive/copyright, changelog.Debian.gz
#
# The OBS module is compiled again here, in build/package/cmake, with Debian's
# build flags (dpkg-buildflags: -O2, hardening), as a Debian build would; the
# library is make build's build/libfacelive.so. Depends comes from
# dpkg-shlibdeps on the three binaries, plus the data files the engine reads
# from other packages (dlib's landmark model, OpenCV's Haar cascade).
#
# Environment: DEBFULLNAME, DEBEMAIL (the Maintainer field, as dch uses them).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

die() { echo "package.sh: $*" >&2; exit 1; }
log() { echo "package.sh: $*"; }
# fill TEMPLATE NAME=VALUE... prints TEMPLATE with every @NAME@ replaced by
# VALUE (literally: Depends holds | and other characters sed would read); an
# @NAME@ left over is an error.
fill() {
  local tmpl=$1 text kv
  text=$(<"$tmpl")
  shift
  for kv in "$@"; do text=${text//"@${kv%%=*}@"/"${kv#*=}"}; done
  if grep -qE '@[A-Z_]+@' <<<"$text"; then die "$tmpl: unfilled $(grep -oE '@[A-Z_]+@' <<<"$text" | sort -u | tr '\n' ' ')"; fi
  printf '%s\n' "$text"
}

for tool in dpkg-deb dpkg-shlibdeps dpkg-buildflags cmake strip readelf gzip; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (Debian packages dpkg-dev, cmake, binutils)"
done

ARCH=$(dpkg --print-architecture)
[ "$ARCH" = amd64 ] || die "this machine is $ARCH; the package is amd64 only (the ONNX Runtime make deps fetches is x86-64)"
MULTIARCH=x86_64-linux-gnu
VERSION=$(sed -nE 's/^const Version = "([^"]+)"$/\1/p' internal/version/version.go)
[ -n "$VERSION" ] || die "cannot read const Version from internal/version/version.go"
SONAME=libfacelive.so.1
MAINTAINER="${DEBFULLNAME:-facelive maintainers} <${DEBEMAIL:-maintainers@facelive.invalid}>"

LIB=build/libfacelive.so
THIRD_PARTY=${FACELIVE_THIRD_PARTY:-$ROOT/third_party}
ORT=$THIRD_PARTY/onnxruntime/lib/libonnxruntime.so.1
[ -f "$LIB" ] || die "$LIB does not exist: run make build (make package does)"
[ -f "$ORT" ] || die "$ORT does not exist: run make deps"
readelf -d "$LIB" | grep -qF "Library soname: [$SONAME]" || die "$LIB's SONAME is not $SONAME: run make clean build"

OUT=build/package
CMAKE_DIR=$OUT/cmake
PKG=$OUT/debian/facelive # the package's root; debian/ is where dpkg-shlibdeps looks
DEB=build/facelive_${VERSION}_${ARCH}.deb
rm -rf "$OUT/debian" "$OUT/install"
mkdir -p "$PKG/DEBIAN"

# --- the OBS module, with Debian's flags ------------------------------------
log "cmake (the OBS module with dpkg-buildflags' flags) in $CMAKE_DIR"
CFLAGS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS)" \
  LDFLAGS="$(dpkg-buildflags --get LDFLAGS)" \
  cmake -S . -B "$CMAKE_DIR" -DCMAKE_BUILD_TYPE=None -DFACELIVE_LIBRARY="$ROOT/$LIB" \
    -DFACELIVE_THIRD_PARTY="$THIRD_PARTY" >"$OUT/cmake.configure.log" 2>&1 \
  || { cat "$OUT/cmake.configure.log"; die "cmake configure failed"; }
env -u MAKEFLAGS -u MAKELEVEL cmake --build "$CMAKE_DIR" --target facelive-obs -j2 >"$OUT/cmake.build.log" 2>&1 \
  || { cat "$OUT/cmake.build.log"; die "building the OBS module failed (is libobs-dev installed?)"; }
[ -f "$CMAKE_DIR/obs-plugin/facelive.so" ] || die "no OBS module was built: libobs not found (apt-get install libobs-dev)"
# The component install is the one definition of what the plugin's data/ holds.
cmake --install "$CMAKE_DIR" --component obs-plugin --prefix "$ROOT/$OUT/install" >"$OUT/cmake.install.log" 2>&1 \
  || { cat "$OUT/cmake.install.log"; die "cmake --install --component obs-plugin failed"; }

# --- the tree ---------------------------------------------------------------
libdir=$PKG/usr/lib/$MULTIARCH
install -d "$libdir/obs-plugins" "$libdir/facelive" "$libdir/pkgconfig" \
  "$PKG/usr/include" "$PKG/usr/share/obs/obs-plugins" "$PKG/usr/share/doc/facelive"
# Shared objects are 0644 (Debian policy 8.1); stripped as dh_strip would.
install -m 0644 "$OUT/install/bin/64bit/facelive.so" "$libdir/obs-plugins/facelive.so"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$libdir/obs-plugins/facelive.so"
# The module finds libfacelive.so.1 in the linker's default path: drop the
# $ORIGIN the user-folder install needs (a system RPATH is a packaging bug).
cat >"$OUT/rpath-remove.cmake" <<'EOF'
file(RPATH_REMOVE FILE "${F}")
EOF
cmake -DF="$ROOT/$libdir/obs-plugins/facelive.so" -P "$OUT/rpath-remove.cmake" >/dev/null
install -m 0644 "$LIB" "$libdir/$SONAME"
ln -s "$SONAME" "$libdir/libfacelive.so"
# ONNX Runtime as fetched (its sha256 is in third_party/MANIFEST.txt): not
# stripped or changed, only made non-executable.
install -m 0644 "$ORT" "$libdir/facelive/libonnxruntime.so.1"
install -m 0644 include/facelive.h "$PKG/usr/include/facelive.h"
fill packaging/facelive.pc.in VERSION="$VERSION" MULTIARCH="$MULTIARCH" >"$libdir/pkgconfig/facelive.pc"
cp -R "$OUT/install/data" "$PKG/usr/share/obs/obs-plugins/facelive"

# Nothing from a model hub: the models are exactly make deps' BlazeFace files.
models=$(cd "$PKG/usr/share/obs/obs-plugins/facelive" && find . -type f \( -iname '*.onnx' -o -iname '*.dfm' -o -iname '*.pth' \
  -o -iname '*.pt' -o -iname '*.safetensors' -o -iname '*.bin' -o -iname '*.ckpt' \) | sort)
[ "$models" = "./models/face_detection_front_128x128_barracuda.onnx" ] \
  || die "the plugin's data holds models other than make deps' BlazeFace: $(tr '\n' ' ' <<<"$models")"

# --- documentation -----------------------------------------------------------
commit=$(git describe --always --dirty 2>/dev/null || echo unknown) # -dirty: built with uncommitted changes
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
{
  echo "facelive $VERSION: copyright and licences of the files in this package"
  echo
  echo "facelive (libfacelive, facelive.h, facelive.pc, the OBS module and its locale)"
  echo "is built from the facelive source tree at commit $commit."
  echo
  echo "Third-party files, as third_party/MANIFEST.txt records them (fetched by"
  echo "scripts/deps.sh from Debian and npm packages; source, sha256, licence):"
  echo
  while IFS=$'\t' read -r path source sha licence; do
    case $path in
      '#'* | '') continue ;;
      onnxruntime/lib/libonnxruntime.so.1) dest=usr/lib/$MULTIARCH/facelive/libonnxruntime.so.1 ;;
      models/* | faces/*) dest=usr/share/obs/obs-plugins/facelive/$path ;;
      *) continue ;;
    esac
    [ -e "$PKG/$dest" ] || continue
    printf '  /%s\n    from %s\n    sha256 %s\n    licence: %s\n' "$dest" "$source" "$sha" "$licence"
  done <"$THIRD_PARTY/MANIFEST.txt"
  echo
  echo "Licence texts: Apache-2.0 in /usr/share/common-licenses/Apache-2.0 and"
  echo "/usr/share/obs/obs-plugins/facelive/models/LICENSE.blazeface; the face-api"
  echo "photos' MIT licence in /usr/share/obs/obs-plugins/facelive/faces/LICENSE.face-api."
  echo
  echo "ONNX Runtime, MIT licence:"
  echo
  cat <<'EOF'
  Copyright (c) Microsoft Corporation

  Permission is hereby granted, free of charge, to any person obtaining a copy
  of this software and associated documentation files (the "Software"), to deal
  in the Software without restriction, including without limitation the rights
  to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
  copies of the Software, and to permit persons to whom the Software is
  furnished to do so, subject to the following conditions:

  The above copyright notice and this permission notice shall be included in all
  copies or substantial portions of the Software.

  THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
  IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
  FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
  AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
  LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
  OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
  SOFTWARE.
EOF
} >"$PKG/usr/share/doc/facelive/copyright"
{
  echo "facelive ($VERSION) unstable; urgency=medium"
  echo
  echo "  * Built by scripts/package.sh from commit $commit."
  echo
  echo " -- $MAINTAINER  $(LC_ALL=C date -u -R -d "@$epoch")"
} | gzip -9n >"$PKG/usr/share/doc/facelive/changelog.Debian.gz"

find "$PKG" -type d -exec chmod 0755 {} +
find "$PKG/usr" -type f -exec chmod 0644 {} +

# --- control -----------------------------------------------------------------
# A public library declares how others depend on it (shlibs), and ldconfig
# must run when it comes and goes (the trigger debhelper would add).
echo "libfacelive 1 facelive (>= $VERSION)" >"$PKG/DEBIAN/shlibs"
echo "activate-noawait ldconfig" >"$PKG/DEBIAN/triggers"
printf 'Source: facelive\n\nPackage: facelive\nArchitecture: %s\n' "$ARCH" >"$OUT/debian/control"
shlibs=$(cd "$OUT" && dpkg-shlibdeps -O -xfacelive \
  -l"debian/facelive/usr/lib/$MULTIARCH" -l"debian/facelive/usr/lib/$MULTIARCH/facelive" \
  "debian/facelive/usr/lib/$MULTIARCH/obs-plugins/facelive.so" \
  "debian/facelive/usr/lib/$MULTIARCH/$SONAME" \
  "debian/facelive/usr/lib/$MULTIARCH/facelive/libonnxruntime.so.1" 2>"$ROOT/$OUT/shlibdeps.log") \
  || { cat "$OUT/shlibdeps.log"; die "dpkg-shlibdeps failed"; }
shlibs=${shlibs#shlibs:Depends=}
[ -n "$shlibs" ] || die "dpkg-shlibdeps found no dependencies"
grep -q libobs <<<"$shlibs" || die "dpkg-shlibdeps did not name libobs for the OBS module: $shlibs"
# Read at run time by path, so no tool can see them: dlib's 68-point model
# (engine/landmark) and OpenCV's Haar cascade (engine/detect).
depends="$shlibs, libdlib-data, opencv-data"
size=$(du -sk --apparent-size --exclude=DEBIAN "$PKG" | cut -f1)
fill packaging/control.in VERSION="$VERSION" ARCH="$ARCH" MULTIARCH="$MULTIARCH" MAINTAINER="$MAINTAINER" \
  INSTALLED_SIZE="$size" DEPENDS="$depends" >"$PKG/DEBIAN/control"
(cd "$PKG" && find usr -type f -print0 | sort -z | xargs -0 md5sum) >"$PKG/DEBIAN/md5sums"
chmod 0644 "$PKG/DEBIAN/"*

rm -f "$DEB"
SOURCE_DATE_EPOCH=$epoch dpkg-deb --build --root-owner-group -Zxz "$PKG" "$DEB" >/dev/null
log "$DEB ($(du -h "$DEB" | cut -f1)): Depends: $depends"
