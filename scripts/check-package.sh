#!/usr/bin/env bash
# scripts/check-package.sh DEB — checks a facelive .deb (make package) without
# installing it:
#   * its fields (Package, Version = internal/version, Architecture amd64) and
#     a Depends that names libobs;
#   * dpkg-deb -c lists every file the package promises (the OBS module and
#     its data, the library by SONAME and its link, the private ONNX Runtime,
#     the header, the pkg-config file), and no model besides BlazeFace;
#   * extracted (dpkg-deb -x) into a temporary folder: the library's SONAME
#     is libfacelive.so.1, the module has no RPATH, and ldd finds every
#     library of the module, the library and ONNX Runtime (LD_LIBRARY_PATH =
#     the extracted lib folders, standing in for the installed ones);
#   * a tiny C program (packaging/check-package.c) compiles and links with
#     only `pkg-config --cflags --libs facelive` against the extracted .pc,
#     header and library (PKG_CONFIG_SYSROOT_DIR), runs, and its engine loads
#     the package's private ONNX Runtime by itself (no environment variable
#     names it) for the BlazeFace model from the package's data folder.
# One "check-package: ok: ..." line per check; exit status 1 on any failure.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEB=${1:-}
fail=0
ok() { echo "check-package: ok: $*"; }
bad() { echo "check-package: FAIL: $*"; fail=1; }

[ -n "$DEB" ] || { echo "usage: scripts/check-package.sh build/facelive_<version>_amd64.deb" >&2; exit 2; }
[ -f "$DEB" ] || { echo "check-package: FAIL: $DEB does not exist (run make package)"; exit 1; }
for tool in dpkg-deb readelf ldd pkg-config "${CC:-cc}"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "check-package: FAIL: $tool is not installed"; exit 1; }
done

MULTIARCH=x86_64-linux-gnu
LIBDIR=usr/lib/$MULTIARCH
SONAME=libfacelive.so.1
DATA=usr/share/obs/obs-plugins/facelive
want_version=$(sed -nE 's/^const Version = "([^"]+)"$/\1/p' "$ROOT/internal/version/version.go")

# --- control fields ----------------------------------------------------------
field() { dpkg-deb -f "$DEB" "$1" 2>/dev/null; }
pkg=$(field Package) version=$(field Version) arch=$(field Architecture) depends=$(field Depends)
if [ "$pkg" = facelive ] && [ "$version" = "$want_version" ] && [ "$arch" = amd64 ] &&
  [ -n "$(field Maintainer)" ] && [ -n "$(field Description)" ]; then
  ok "Package $pkg, Version $version (internal/version), Architecture $arch, Maintainer and Description set"
else
  bad "fields: Package '$pkg' (want facelive), Version '$version' (want $want_version), Architecture '$arch' (want amd64), Maintainer '$(field Maintainer)'"
fi
if [ -n "$depends" ] && grep -q '\blibobs' <<<"$depends"; then
  ok "Depends names libobs: $depends"
else
  bad "Depends is empty or does not name libobs: '$depends'"
fi

# --- the file list -----------------------------------------------------------
list=$(dpkg-deb -c "$DEB") || { echo "check-package: FAIL: dpkg-deb -c $DEB failed"; exit 1; }
# dpkg-deb -c: "mode owner/group size date time ./path[ -> target]"
paths=$(awk '{ p = $6; for (i = 7; i <= NF; i++) p = p " " $i; print p }' <<<"$list" | sed 's|^\./|/|')
missing=()
for p in "/$LIBDIR/obs-plugins/facelive.so" "/$DATA/" "/$DATA/locale/en-US.ini" \
  "/$DATA/models/face_detection_front_128x128_barracuda.onnx" "/$DATA/faces/sample2.jpg" \
  "/$LIBDIR/$SONAME" "/$LIBDIR/libfacelive.so -> $SONAME" "/$LIBDIR/facelive/libonnxruntime.so.1" \
  "/usr/include/facelive.h" "/$LIBDIR/pkgconfig/facelive.pc" "/usr/share/doc/facelive/copyright"; do
  grep -qxF "$p" <<<"$paths" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  ok "dpkg-deb -c lists the module, its data, $SONAME, the libfacelive.so link, the private ONNX Runtime, the header, facelive.pc ($(grep -c . <<<"$paths") entries)"
else
  bad "dpkg-deb -c does not list: ${missing[*]}"
fi
models=$(grep -iE '\.(onnx|dfm|pth|pt|safetensors|ckpt)$' <<<"$paths")
if [ "$models" = "/$DATA/models/face_detection_front_128x128_barracuda.onnx" ]; then
  ok "the only model is make deps' BlazeFace detector (nothing from a model hub)"
else
  bad "models in the package besides BlazeFace: $(tr '\n' ' ' <<<"$models")"
fi
perm='^(l[-rwx]{9}|[-d]r[-w][-x]r-[-x]r-[-x]) root/root '
if ! grep -qvE "$perm" <<<"$list"; then
  ok "every entry is root/root, nothing writable by group or others"
else
  bad "entries not root/root or writable by others: $(grep -vE "$perm" <<<"$list" | head -3 | tr '\n' ';')"
fi

# --- the extracted binaries --------------------------------------------------
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
dpkg-deb -x "$DEB" "$root" || { echo "check-package: FAIL: dpkg-deb -x $DEB failed"; exit 1; }
mod=$root/$LIBDIR/obs-plugins/facelive.so lib=$root/$LIBDIR/$SONAME ort=$root/$LIBDIR/facelive/libonnxruntime.so.1

if readelf -d "$lib" 2>/dev/null | grep -qF "Library soname: [$SONAME]"; then
  ok "the library's SONAME is $SONAME"
else
  bad "the library's SONAME is not $SONAME: $(readelf -d "$lib" 2>&1 | grep -E 'SONAME|Error' || echo 'none')"
fi
if [ "$(readlink "$root/$LIBDIR/libfacelive.so")" = "$SONAME" ]; then
  ok "libfacelive.so -> $SONAME"
else
  bad "$LIBDIR/libfacelive.so is not a link to $SONAME"
fi
rp=$(readelf -d "$mod" 2>/dev/null | grep -E '\((RPATH|RUNPATH)\)')
needs=$(readelf -d "$mod" 2>/dev/null | grep -oE 'Shared library: \[(libfacelive|libobs)[^]]*\]' | sed -E 's/.*\[(.*)\]/\1/' | tr '\n' ' ')
if [ -z "$rp" ] && grep -q "$SONAME" <<<"$needs" && grep -q libobs <<<"$needs"; then
  ok "the module has no RPATH/RUNPATH and needs ${needs% }"
else
  bad "the module: RPATH/RUNPATH '${rp:-none}', needs '$needs' (want $SONAME and libobs, no RPATH)"
fi
# The extracted lib folders stand in for the installed ones.
export LD_LIBRARY_PATH=$root/$LIBDIR:$root/$LIBDIR/facelive
for f in "$mod" "$lib" "$ort"; do
  name=/${f#"$root"/}
  if ! out=$(ldd "$f" 2>&1); then
    bad "ldd $name failed: $out"
  elif grep -q "not found" <<<"$out"; then
    bad "ldd $name: $(grep 'not found' <<<"$out" | sed 's/^[[:space:]]*//' | tr '\n' ';')"
  else
    extra=""
    [ "$f" = "$mod" ] && extra=" ($(grep -E 'libfacelive|libobs\.so' <<<"$out" | sed -E 's/^[[:space:]]*//; s/ \(0x.*//; s|'"$root"'|<deb>|' | tr '\n' ';' | sed 's/;$//; s/;/, /'))"
    ok "ldd $name: $(grep -c '=>' <<<"$out") libraries, none missing$extra"
  fi
done
unset LD_LIBRARY_PATH

# --- pkg-config: a C program compiles, links and runs --------------------------
pc=$root/$LIBDIR/pkgconfig
export PKG_CONFIG_PATH=$pc PKG_CONFIG_LIBDIR=$pc PKG_CONFIG_SYSROOT_DIR=$root
# pkg-config drops -I/usr/include and -L/usr/lib/<triplet> as system paths;
# under a sysroot they are not, so keep them.
export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
if ! flags=$(pkg-config --cflags --libs facelive 2>&1); then
  bad "pkg-config --cflags --libs facelive: $flags"
elif [ "$(pkg-config --modversion facelive)" != "$want_version" ]; then
  bad "pkg-config --modversion facelive is $(pkg-config --modversion facelive), want $want_version"
else
  # shellcheck disable=SC2086 # flags is a list of words
  if ! cc_out=$(${CC:-cc} -std=c11 -Wall -Wextra -Werror "$ROOT/packaging/check-package.c" $flags -o "$tmp/host" 2>&1); then
    bad "cc check-package.c \$(pkg-config --cflags --libs facelive) failed: $cc_out"
  elif ! run=$(cd "$tmp" && LD_LIBRARY_PATH=$root/$LIBDIR ./host 2>&1); then
    bad "the program built with pkg-config's flags does not run: $run"
  else
    ok "cc app.c \$(pkg-config --cflags --libs facelive) compiles, links and runs: ${flags//$root/<deb>} -> $run"
  fi
fi
unset PKG_CONFIG_PATH PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_ALLOW_SYSTEM_CFLAGS PKG_CONFIG_ALLOW_SYSTEM_LIBS

# --- ONNX Runtime is found without an environment variable --------------------
# From a folder outside any source tree, with nothing pointing at ONNX Runtime
# or third_party/: the library must find its private copy beside itself.
if [ -x "$tmp/host" ]; then
  if run=$(cd "$tmp" && env -u FACELIVE_ONNXRUNTIME_LIB -u FACELIVE_THIRD_PARTY LD_LIBRARY_PATH="$root/$LIBDIR" \
    ./host "$root/$DATA" 2>&1) && grep -qxF "onnxruntime $ort" <<<"$(tail -n1 <<<"$run")"; then
    ok "the engine loads the private ONNX Runtime by itself: /$LIBDIR/facelive/libonnxruntime.so.1"
  else
    bad "the engine did not load $ort by itself: $(tail -n3 <<<"$run" | tr '\n' ';')"
  fi
fi
exit "$fail"
