#!/usr/bin/env bash
# The C++ core under ASan + UBSan: reference self-test, SHA-256 paths, the fuzz regressions and seeds,
# the vector inputs, then random inputs/levels/chunkings for SECONDS (default 40); then the same random
# driver under ThreadSanitizer for a quarter of SECONDS (every case also runs on 2-4 threads); zstd mode
# in both (driver zstd), and eStargz members with their in-order digests (driver members); and the
# addon's order of calls under ThreadSanitizer (call_order_check).
#   fuzz/run-sanitizers.sh [SECONDS] [SEED]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-40}
seed=${2:-$(date +%s)}
"$root/fuzz/build.sh" asan
d="$root/.cache/fuzz/asan/driver"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
"$d" selftest
"$d" sha 400
"$d" replay "$root/fuzz/regressions" "$root/fuzz/seeds"
"$d" vectors >/dev/null
echo "vectors ok under sanitizers"
# The seed is printed so that a failure can be replayed with the same SEED.
echo "random seed $seed"
"$d" random "$seed" "$seconds"
# zstd mode (docs/ZSTD.md): a quarter of SECONDS, at least 5.
"$d" zstd "$seed" $(( seconds / 4 > 5 ? seconds / 4 : 5 ))
# eStargz members and their in-order digests across threads: a quarter of SECONDS, at least 5.
"$d" members "$seed" $(( seconds / 4 > 5 ? seconds / 4 : 5 ))

"$root/fuzz/build.sh" tsan
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
"$root/.cache/fuzz/tsan/driver" random "$seed" $(( (seconds + 3) / 4 ))
"$root/.cache/fuzz/tsan/driver" zstd "$seed" $(( (seconds + 7) / 8 ))
"$root/.cache/fuzz/tsan/driver" members "$seed" $(( (seconds + 7) / 8 ))
# The addon's order of calls (a readFile() queued behind the one in flight), served by 1-4 threads.
"$root/.cache/fuzz/tsan/call_order_check" 3000 "$seed"
echo "ThreadSanitizer ok"
