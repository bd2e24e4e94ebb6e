#!/usr/bin/env bash
# The README's two commands on a machine with only Node and npm: a fresh clone of this repository, run
# under scripts/without-dev-files.sh (the ISA-L, zstd and zlib development files hidden in a private
# mount namespace; needs root). Checks that `npm install && npm test` passes by testing the committed prebuild,
# and says so in its one line; that `npm start` works; and that the benchmark leaves out the C baseline
# with a note instead of failing (a short run: one corpus, one level).
# usage: scripts/ci-fresh-machine.sh [path/to/a-wrapper-like-without-dev-files.sh]
#   (default: scripts/without-dev-files.sh of this checkout; FRESH_MACHINE=... works too)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fresh=$(realpath "${1:-${FRESH_MACHINE:-$root/scripts/without-dev-files.sh}}")
[[ -x $fresh || -f $fresh ]] || { echo "ci-fresh-machine: $fresh not found" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fastlayer-fresh.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# A clone holds what is committed and nothing a local build left behind (build/, dist/, node_modules/).
git clone -q "$root" "$tmp/fastlayer"
cd "$tmp/fastlayer"

run() {  # run NAME COMMAND: under the wrapper, output kept in $tmp/NAME.log
  local name=$1; shift
  local t0=$SECONDS
  echo "--- fresh machine: $*"
  if ! bash "$fresh" bash -c "$*" 2>&1 | tee "$tmp/$name.log"; then
    echo "ci-fresh-machine: '$*' failed on a fresh machine" >&2
    exit 1
  fi
  echo "--- $name: $((SECONDS - t0))s"
}

run test 'npm install --no-audit --no-fund && npm test'
# Without the development files the source build must not have been tried: the one line says so.
grep -q '^pretest: no source build here, .*: testing the committed prebuild' "$tmp/test.log" || {
  echo 'ci-fresh-machine: npm test did not say that it tested the committed prebuild' >&2
  exit 1
}
[[ ! -e build ]] || { echo 'ci-fresh-machine: npm test left a build/ folder behind' >&2; exit 1; }

run start "npm start -- --output '$tmp/layer.tar.gz' && gzip -t '$tmp/layer.tar.gz'"

run bench 'npm run bench -- --quick --corpus random --levels 1 --engines native,c,naive --no-memory'
grep -q '^note: the C baseline cannot be built here: ' "$tmp/bench.log" || {
  echo 'ci-fresh-machine: the benchmark did not note that it left out the C baseline' >&2
  exit 1
}
echo "ci-fresh-machine: npm install && npm test, npm start and the benchmark pass with only Node and npm"
