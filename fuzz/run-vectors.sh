#!/usr/bin/env bash
# Regenerates test/vectors/vectors.json from the C++ core (full checks, three chunkings per result).
# Only do this on purpose: a changed table means changed output bytes, i.e. a new format version
# (src/engine/format.ts FORMAT_VERSION, native/core/format.h kFormatVersion) or a new ISA-L/zlib version.
#   fuzz/run-vectors.sh [--check]   --check: compare with the committed table instead of writing it
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/fuzz/build.sh" plain
table="$root/test/vectors/vectors.json"
if [ "${1:-}" = "--check" ]; then
  "$root/.cache/fuzz/plain/driver" vectors | diff -u "$table" - && echo "vectors: native table matches $table"
else
  "$root/.cache/fuzz/plain/driver" vectors > "$table.tmp" && mv "$table.tmp" "$table"
  echo "wrote $table"
fi
