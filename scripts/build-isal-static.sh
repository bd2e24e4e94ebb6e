#!/usr/bin/env bash
# Builds a static, position-independent ISA-L (libisal.a + headers) into .cache/isal from Debian's
# own source package, at the exact version of the installed libisal-dev, so the prebuilt addon can
# embed ISA-L and needs no libisal at run time. Debian ships no static ISA-L, hence this script.
# Runs once: later calls return at once while the cached build matches the wanted version.
#
# Env: FASTLAYER_ISAL_VERSION  source version to build (default: the installed libisal-dev's)
#      FASTLAYER_CACHE         cache folder (default: <repo>/.cache, ignored by git)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${FASTLAYER_CACHE:-$root/.cache}"
prefix="$cache/isal"
srcdir="$cache/isal-src"

die() { echo "build-isal-static: $*" >&2; exit 1; }

# The version must match the headers the source build sees (libisal-dev), so both builds of the addon
# compile against the same ISA-L and produce the same bytes.
src_pkg="libisal"
version="${FASTLAYER_ISAL_VERSION:-}"
if [[ -z "$version" ]]; then
  version="$(dpkg-query -W -f='${source:Version}' libisal-dev 2>/dev/null)" ||
    die "libisal-dev is not installed (apt-get install libisal-dev), or set FASTLAYER_ISAL_VERSION"
  src_pkg="$(dpkg-query -W -f='${source:Package}' libisal-dev)"
fi

stamp="$prefix/.fastlayer-stamp"
want="$src_pkg $version pic static"
if [[ -f "$prefix/lib/libisal.a" && -f "$prefix/include/isa-l.h" && -f "$stamp" ]] &&
   [[ "$(cat "$stamp")" == "$want" ]]; then
  echo "build-isal-static: cached $prefix/lib/libisal.a ($want)"
  exit 0
fi

for tool in nasm autoreconf libtoolize make cc dpkg-source apt-get; do
  command -v "$tool" >/dev/null || die "missing $tool (apt-get install nasm autoconf automake libtool build-essential dpkg-dev)"
done

# shellcheck source=deb-src.sh
source "$(dirname "$0")/deb-src.sh"
ensure_deb_src "$src_pkg=$version"

upstream="${version#*:}"
upstream="${upstream%-*}"
tree="$srcdir/$src_pkg-$upstream"
if [[ ! -f "$tree/configure.ac" || ! -f "$srcdir/.version" || "$(cat "$srcdir/.version")" != "$version" ]]; then
  rm -rf "$srcdir"
  mkdir -p "$srcdir"
  # apt-get source verifies the .dsc signature and checksums and applies Debian's patches.
  (cd "$srcdir" && apt-get source -qq "$src_pkg=$version")
  tree="$(find "$srcdir" -mindepth 1 -maxdepth 1 -type d -name "$src_pkg-*" | head -n 1)"
  [[ -n "$tree" && -f "$tree/configure.ac" ]] || die "unpacked source not found under $srcdir"
  echo "$version" >"$srcdir/.version"
fi

# Fresh out-of-tree build every time we get here: a half-finished earlier run must not leak in.
build="$srcdir/build"
rm -rf "$build" "$prefix"
mkdir -p "$build"
(cd "$tree" && autoreconf -fi >/dev/null 2>&1) || die "autoreconf failed in $tree"
cd "$build"
# --with-pic: the archive is linked into a shared object (the .node addon). The assembly is built by
# nasm through ISA-L's own rules; it is position independent on x86-64 (the test links it with -z text).
"$tree/configure" --quiet --prefix="$prefix" --enable-static --disable-shared --with-pic \
  CFLAGS="-O2 -fPIC -g0" >/dev/null
make -s -j"${FASTLAYER_JOBS:-2}" >/dev/null
make -s install >/dev/null
rm -rf "$prefix/bin" "$prefix/share" "$prefix/lib/pkgconfig" "$prefix/lib/libisal.la"

# An archive with text relocations would make the addon fail to load on hardened systems: refuse it.
probe="$build/probe.so"
cc -shared -o "$probe" -Wl,-z,text -Wl,--whole-archive "$prefix/lib/libisal.a" -Wl,--no-whole-archive ||
  die "libisal.a is not position independent (linking with -z text failed)"
rm -f "$probe"

echo "$want" >"$stamp"
echo "build-isal-static: built $prefix/lib/libisal.a ($want)"
