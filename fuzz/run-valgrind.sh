#!/usr/bin/env bash
# valgrind memcheck over (1) the C++ driver for the core, with no suppressions, and (2) node running
# fuzz/valgrind-addon.mjs through the built addon, with fuzz/valgrind.supp (Node/V8 only; each
# entry says why). Any memcheck error, or a definite/indirect/possible leak, fails the run.
# valgrind's virtual CPU has AVX2 but neither AVX-512 nor SHA-NI, so ISA-L's AVX2 paths and the
# portable SHA-256 are the ones checked.
#   fuzz/run-valgrind.sh [SECONDS]   (random driver cases, default 30)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/fuzz/build.sh" plain
d="$root/.cache/fuzz/plain/driver"
vg=(nice -n 10 valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
    --errors-for-leak-kinds=definite,indirect,possible --num-callers=40 --quiet)

"${vg[@]}" "$d" selftest
"${vg[@]}" "$d" sha 30
"${vg[@]}" "$d" replay "$root/fuzz/regressions" "$root/fuzz/seeds"
"${vg[@]}" "$d" random 7 "${1:-30}"
echo "valgrind: C++ driver clean"

addon="$root/build/Release/fastlayer.node"
[ -f "$addon" ] || { echo "no $addon: run npm run build:native first" >&2; exit 1; }
# A private copy: another build (node-gyp rebuild) may replace build/ while valgrind runs.
mkdir -p "$root/.cache/fuzz/valgrind"
cp "$addon" "$root/.cache/fuzz/valgrind/fastlayer.node"
# --jitless: no JIT code for memcheck to chase; the addon's work is the same.
"${vg[@]}" --suppressions="$root/fuzz/valgrind.supp" \
  node --expose-gc --jitless "$root/fuzz/valgrind-addon.mjs" "$root/.cache/fuzz/valgrind/fastlayer.node"
echo "valgrind: node + addon clean"
