#!/usr/bin/env bash
# Builds the C++ core (native/core/*.cc; the Node-API glue is native/addon/) with the reliability drivers, without Node
# or node-gyp. Output goes to .cache/fuzz/<variant>/: ignored by git, and unlike build/ it survives
# `node-gyp rebuild`.
#   fuzz/build.sh asan    driver with ASan + UBSan (clang), aborting on the first report
#   fuzz/build.sh plain   driver -O2 for the x86-64 baseline (runs under qemu -cpu Nehalem and valgrind;
#                         DWARF 4 because valgrind 3.19 cannot read clang 14's default DWARF 5)
#   fuzz/build.sh tsan    driver with ThreadSanitizer (clang): the helper threads of block_pool.cc; and
#                         call_order_check, the addon's order of calls (native/addon/addon_call_order.h,
#                         std only) served by several threads
#   fuzz/build.sh fuzz    libFuzzer target with ASan + UBSan
#   fuzz/build.sh arm64   driver -O2 cross-built for aarch64 (baseline armv8-a) against the static ISA-L,
#                         zlib and zstd of scripts/build-isal-arm64.sh; runs under qemu-aarch64
set -euo pipefail
variant=${1:?usage: fuzz/build.sh asan|tsan|plain|fuzz|arm64}
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/.cache/fuzz/$variant"
mkdir -p "$out"

native="${FASTLAYER_NATIVE_DIR:-$root/native/core}"  # another tree, e.g. for mutation tests
core=("$native"/*.cc)
[ -e "${core[0]}" ] || { echo "no core sources in $native" >&2; exit 1; }
# docs/DESIGN.md: the core builds without Node; a Node header there belongs in native/addon/.
if grep -lE '#include[[:space:]]*[<"](napi|node_api|node)\.h[>"]' "${core[@]}" "$native"/*.h; then
  echo "the files above include Node headers: they belong in native/addon/" >&2; exit 1
fi

cxx=${CXX:-clang++}
common=(-std=c++17 -pthread -Wall -Wextra -I"$native" -I"$root/fuzz")
# zlib and zstd are linked statically as in the addon; ISA-L from the system (the driver is never shipped).
libs=(/usr/lib/x86_64-linux-gnu/libz.a /usr/lib/x86_64-linux-gnu/libzstd.a -lisal)
san=(-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all)
support=("$root/fuzz/harness.cc" "$root/fuzz/ref_format.cc" "$root/fuzz/vectors.cc" "$root/fuzz/zstd_check.cc" "$root/fuzz/flush_check.cc" "$root/fuzz/members_check.cc")

case "$variant" in
  asan) "$cxx" "${common[@]}" "${san[@]}" "${core[@]}" "${support[@]}" "$root/fuzz/driver.cc" "${libs[@]}" -o "$out/driver" ;;
  tsan) "$cxx" "${common[@]}" -O1 -g -fno-omit-frame-pointer -fsanitize=thread "${core[@]}" "${support[@]}" \
          "$root/fuzz/driver.cc" "${libs[@]}" -o "$out/driver"
        "$cxx" -std=c++17 -pthread -Wall -Wextra -O1 -g -fno-omit-frame-pointer -fsanitize=thread \
          -I"$root/native/addon" -I"$native" "$root/fuzz/call_order_check.cc" -o "$out/call_order_check" ;;
  plain) "$cxx" "${common[@]}" -O2 -gdwarf-4 -DFASTLAYER_ADDRESS_PROBE "${core[@]}" "${support[@]}" \
           "$root/fuzz/address_probe.cc" "$root/fuzz/driver.cc" "${libs[@]}" -o "$out/driver" ;;
  arm64)
    "$root/scripts/build-isal-arm64.sh"
    a64="${FASTLAYER_CACHE:-$root/.cache}/arm64"
    # Only the C++ runtime and libc stay shared: they come from the cross sysroot that qemu-aarch64 -L
    # points at.
    aarch64-linux-gnu-g++ "${common[@]}" -march=armv8-a -O2 -DFASTLAYER_ADDRESS_PROBE -I"$a64/include" \
      "${core[@]}" "${support[@]}" "$root/fuzz/address_probe.cc" "$root/fuzz/driver.cc" \
      "$a64/lib/libisal.a" "$a64/lib/libz.a" "$a64/lib/libzstd.a" -o "$out/driver" ;;
  fuzz) "$cxx" "${common[@]}" "${san[@]}" -fsanitize=fuzzer "${core[@]}" "${support[@]}" "$root/fuzz/fuzz_pipeline.cc" \
          "${libs[@]}" -o "$out/fuzz_pipeline" ;;
  *) echo "unknown variant $variant" >&2; exit 2 ;;
esac
echo "built $out"
