#!/usr/bin/env bash
# Cross-builds static aarch64 ISA-L, zlib and zstd (libisal.a, libz.a, libzstd.a + headers) into
# .cache/arm64 from Debian's own source packages, at the exact versions of the installed amd64
# libisal-dev, zlib1g-dev and libzstd-dev, so the aarch64 driver (fuzz/build.sh arm64) compresses with the same library versions
# as the committed vector table. Debian's libisal-dev is not Multi-Arch: same, so libisal-dev:arm64
# cannot sit next to the amd64 one; building both from source also keeps dpkg free of a foreign
# architecture. Runs once: later calls return at once while the cached build matches.
#
# Needs: g++-aarch64-linux-gnu, autoconf automake libtool make dpkg-dev (apt-get source).
# Env:   FASTLAYER_CACHE  cache folder (default: <repo>/.cache, ignored by git)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${FASTLAYER_CACHE:-$root/.cache}"
prefix="$cache/arm64"
srcdir="$cache/arm64-src"
host=aarch64-linux-gnu
cc="$host-gcc"

die() { echo "build-isal-arm64: $*" >&2; exit 1; }

pkg_version() {
  dpkg-query -W -f='${source:Package} ${source:Version}' "$1" 2>/dev/null ||
    die "$1 is not installed (its version decides which source is built)"
}
read -r isal_src isal_version <<<"$(pkg_version libisal-dev)"
read -r zlib_src zlib_version <<<"$(pkg_version zlib1g-dev)"
read -r zstd_src zstd_version <<<"$(pkg_version libzstd-dev)"

stamp="$prefix/.fastlayer-stamp"
want="$host $isal_src $isal_version $zlib_src $zlib_version $zstd_src $zstd_version static"
if [[ -f "$prefix/lib/libisal.a" && -f "$prefix/lib/libz.a" && -f "$prefix/lib/libzstd.a" && -f "$stamp" ]] &&
   [[ "$(cat "$stamp")" == "$want" ]]; then
  echo "build-isal-arm64: cached $prefix ($want)"
  exit 0
fi

for tool in "$cc" autoreconf libtoolize make dpkg-source apt-get; do
  command -v "$tool" >/dev/null ||
    die "missing $tool (apt-get install g++-aarch64-linux-gnu autoconf automake libtool make dpkg-dev)"
done

# shellcheck source=deb-src.sh
source "$(dirname "$0")/deb-src.sh"
# A security update's source (libzstd 1.5.4+dfsg2-5+deb12u1) is listed by bookworm-security, whose pool
# may be out of reach from a build machine; the release it patches (+deb12uN removed) is the fallback,
# and the vector table under qemu-aarch64 still decides whether its bytes are the amd64 library's.
zstd_release="${zstd_version%%+deb[0-9]*u[0-9]*}"
ensure_deb_src "$isal_src=$isal_version" "$zlib_src=$zlib_version" "$zstd_src=$zstd_release"

# Unpacks (apt-get source checks the .dsc signature and checksums, applies Debian's patches) into a
# folder of its own, so a concurrent x86 build in .cache/isal-src is never disturbed.
fetch() {
  local pkg=$1 version=$2 dir="$srcdir/$1"
  if [[ ! -f "$dir/.version" || "$(cat "$dir/.version")" != "$version" ]]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    (cd "$dir" && apt-get source -qq "$pkg=$version" >/dev/null 2>&1) || die "apt-get source $pkg=$version failed"
    echo "$version" >"$dir/.version"
  fi
  find "$dir" -mindepth 1 -maxdepth 1 -type d -name "$pkg-*" | head -n 1
}
isal_tree="$(fetch "$isal_src" "$isal_version")"
zlib_tree="$(fetch "$zlib_src" "$zlib_version")"
if ! zstd_tree="$(fetch "$zstd_src" "$zstd_version" 2>/dev/null)"; then
  echo "build-isal-arm64: $zstd_src=$zstd_version cannot be fetched; building $zstd_release, the release it patches"
  zstd_tree="$(fetch "$zstd_src" "$zstd_release")"
fi
[[ -f "$isal_tree/configure.ac" ]] || die "ISA-L source not found under $srcdir"
[[ -f "$zlib_tree/zlib.h" ]] || die "zlib source not found under $srcdir"
[[ -f "$zstd_tree/lib/zstd.h" ]] || die "zstd source not found under $srcdir"

rm -rf "$prefix"
mkdir -p "$prefix/lib" "$prefix/include"

# ISA-L: its aarch64 assembly (.S) goes through the cross gcc by ISA-L's own automake rules. Only
# the library and its headers are made and installed (the igzip program would cost another ~20 s
# in CI, which builds this from scratch every run).
build="$srcdir/isal-build"
rm -rf "$build"
mkdir -p "$build"
(cd "$isal_tree" && autoreconf -fi >/dev/null 2>&1) || die "autoreconf failed in $isal_tree"
(cd "$build" && "$isal_tree/configure" --quiet --host="$host" --prefix="$prefix" --enable-static \
   --disable-shared --with-pic --disable-dependency-tracking CC="$cc" CFLAGS="-O2 -fPIC -g0" \
   >/dev/null 2>&1 &&
 make -s -j"${FASTLAYER_JOBS:-2}" libisal.la >/dev/null 2>&1 &&
 make -s install-libLTLIBRARIES install-nobase_includeHEADERS install-pkgincludeHEADERS >/dev/null) ||
  die "ISA-L cross build failed (see $build)"
rm -rf "$prefix/bin" "$prefix/share" "$prefix/lib/pkgconfig" "$prefix/lib/libisal.la"

# zlib: only the static library; its configure takes the cross compiler from CHOST/CC. Built out of
# tree (a copy) because zlib's configure writes into the source folder.
zbuild="$srcdir/zlib-build"
rm -rf "$zbuild"
cp -a "$zlib_tree" "$zbuild"
(cd "$zbuild" && CHOST="$host" CC="$cc" CFLAGS="-O2 -fPIC" ./configure --static --prefix="$prefix" >/dev/null &&
 make -s -j"${FASTLAYER_JOBS:-2}" libz.a >/dev/null 2>&1) || die "zlib cross build failed (see $zbuild)"
cp "$zbuild/libz.a" "$prefix/lib/"
cp "$zbuild/zlib.h" "$zbuild/zconf.h" "$prefix/include/"

# zstd: only the static library, single-threaded like Debian's amd64 libzstd.a (docs/ZSTD.md), by
# zstd's own lib/Makefile, out of tree (a copy).
zsbuild="$srcdir/zstd-build"
rm -rf "$zsbuild"
cp -a "$zstd_tree" "$zsbuild"
(make -s -C "$zsbuild/lib" -j"${FASTLAYER_JOBS:-2}" CC="$cc" CFLAGS="-O2 -fPIC" libzstd.a >/dev/null 2>&1) ||
  die "zstd cross build failed (see $zsbuild)"
cp "$zsbuild/lib/libzstd.a" "$prefix/lib/"
cp "$zsbuild/lib/zstd.h" "$zsbuild/lib/zstd_errors.h" "$zsbuild/lib/zdict.h" "$prefix/include/"
for a in "$prefix/lib/libisal.a" "$prefix/lib/libz.a" "$prefix/lib/libzstd.a"; do
  # Whole output captured first: grep -q would close the pipe early and pipefail would report it.
  info="$("$host-objdump" -f "$a")"
  [[ "$info" == *"architecture: aarch64"* && "$info" != *"architecture: i386"* ]] ||
    die "$a is not an aarch64 archive"
done

echo "$want" >"$stamp"
echo "build-isal-arm64: built $prefix ($want)"
