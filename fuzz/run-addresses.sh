#!/usr/bin/env bash
# Output must not depend on where the compressor state lives in memory. Runs each fuzz regression and
# seed (levels 1-2), plus generated small inputs, with ISA-L's isal_zstream placed at 1024 addresses
# 64 KiB apart (fuzz/address_probe.cc), and fails if any output differs.
#   fuzz/run-addresses.sh [COUNT]   (COUNT generated inputs, default 100)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/fuzz/build.sh" plain
d="$root/.cache/fuzz/plain/driver"
status=0
nice -n 10 "$d" addresses "$root/fuzz/regressions" "$root/fuzz/seeds" || status=1
nice -n 10 "$d" addresses-random 1 "${1:-100}" || status=1
exit $status
