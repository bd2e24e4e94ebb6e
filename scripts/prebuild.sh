#!/usr/bin/env bash
# `npm run prebuild`: builds the committed prebuild prebuilds/linux-x64/fastlayer.glibc.node (Node-API,
# so one file serves every Node >= 20) with ISA-L, zlib and zstd linked statically, so that at run time it
# needs only the C and C++ runtimes. Run it after any change to native/, binding.gyp or
# scripts/find-libs.cjs (the staleness test says so) and commit the result.
#
# The build runs in a copy of the sources under .cache/ so it never clobbers a developer's build/,
# and the new file only replaces the committed one after it passed the checks below.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${FASTLAYER_CACHE:-$root/.cache}"
stage="$cache/prebuild-stage"
export FASTLAYER_CACHE="$cache"

die() { echo "prebuild: $*" >&2; exit 1; }

[[ "$(uname -s)-$(uname -m)" == "Linux-x86_64" ]] || die "prebuilds are made on linux-x64 (glibc) only"
[[ -f "$root/binding.gyp" && -f "$root/scripts/find-libs.cjs" ]] || die "binding.gyp or scripts/find-libs.cjs missing"

bash "$root/scripts/build-isal-static.sh"
export FASTLAYER_ISAL_LIB="$cache/isal/lib/libisal.a"
export FASTLAYER_ISAL_INCLUDE="$cache/isal/include"
# zstd: Debian's own static, position-independent libzstd.a (libzstd-dev), found by find-libs.cjs.
# The bytes of zstd layers depend on its version, recorded in info.zstd (docs/ZSTD.md).
dpkg-query -W -f='${Status}' libzstd-dev 2>/dev/null | grep -q 'install ok installed' ||
  die "libzstd-dev is not installed (apt-get install libzstd-dev)"

# A fixed stage path keeps the output reproducible (paths can end up in the binary).
rm -rf "$stage"
mkdir -p "$stage/scripts" "$stage/native/core" "$stage/native/addon"
# Exactly what the npm package ships (package.json "files"), so the prebuild is what a user would build.
cp "$root"/native/core/*.cc "$root"/native/core/*.h "$stage/native/core/"
cp "$root"/native/addon/*.cc "$root"/native/addon/*.h "$stage/native/addon/"
cp "$root/binding.gyp" "$root/package.json" "$stage/"
cp "$root/scripts/find-libs.cjs" "$stage/scripts/"
ln -s "$root/node_modules" "$stage/node_modules"

# node-gyp would download the Node headers unless told where they are: use npm's `nodedir` setting,
# else the headers installed next to this node binary (Debian/NodeSource put them in /usr/include/node).
# The target is this Node: a Node-API build does not depend on it beyond the minimum version.
if [[ -z "${npm_config_nodedir:-}" ]]; then
  npm_config_nodedir="$(node -p 'require("path").resolve(process.execPath, "../..")')"
fi
[[ -f "$npm_config_nodedir/include/node/node_api.h" ]] ||
  die "no Node headers in $npm_config_nodedir/include/node: set npm_config_nodedir to a Node source or headers folder"
export npm_config_nodedir
(cd "$stage" && "$root/node_modules/.bin/prebuildify" --napi --tag-libc --strip \
  --target "$(node -p 'process.versions.node')" --out "$stage")

built="$stage/prebuilds/linux-x64/fastlayer.glibc.node"
[[ -f "$built" ]] || die "prebuildify produced no $built"

# Self-contained: only the C/C++ runtimes may be needed at run time.
needed="$(readelf -d "$built" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')"
for lib in $needed; do
  case "$lib" in
    libc.so.6 | libm.so.6 | libstdc++.so.6 | libgcc_s.so.1) ;;
    *) die "$built needs $lib at run time (NEEDED: $needed)" ;;
  esac
done
if readelf -d "$built" | grep -q TEXTREL; then die "$built has text relocations"; fi
# zlib, ISA-L and zstd must be neither exported nor imported (never resolved against node's own).
if nm -D "$built" | grep -iE ' (deflate|inflate|crc32|adler32|zlib|isal_|crc16|crc64|gf_|ec_|zstd|huf_|fse_|hist_|pool_|[a-z_]*xxh)[A-Za-z0-9_]*(@.*)?$'; then
  die "$built exports or imports zlib/ISA-L/zstd symbols (listed above)"
fi

# It must load in this Node and carry the fingerprint of the sources it was built from.
want="$(cd "$root" && node scripts/find-libs.cjs fingerprint)"
got="$(node -e '
  const m = { exports: {} };
  process.dlopen(m, process.argv[1]);
  const i = m.exports.info;
  console.log(i.fingerprint);
  console.error(`prebuild: format ${i.format}, block ${i.blockSize}, isal ${i.isal}, zlib ${i.zlib}, zstd ${i.zstd}, sha256 ${i.sha256}`);
' "$built")"
[[ "$got" == "$want" ]] || die "built fingerprint $got does not match the sources' $want (did a file change during the build?)"

mkdir -p "$root/prebuilds/linux-x64"
install -m 0644 "$built" "$root/prebuilds/linux-x64/fastlayer.glibc.node"
glibc="$(objdump -T "$built" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)"
glibcxx="$(objdump -T "$built" | grep -o 'GLIBCXX_[0-9.]*' | sort -uV | tail -n 1)"
echo "prebuild: prebuilds/linux-x64/fastlayer.glibc.node fingerprint $want" \
  "($(stat -c %s "$built") bytes; NEEDED: ${needed:-none}; needs ${glibc:-no GLIBC} ${glibcxx:-})"
