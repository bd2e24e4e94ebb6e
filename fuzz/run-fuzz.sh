#!/usr/bin/env bash
# Bounded libFuzzer run of fuzz/fuzz_pipeline.cc (ASan + UBSan), one process, at low priority.
#   fuzz/run-fuzz.sh [SECONDS]   (default 60)
# The growing corpus lives in .cache/fuzz/corpus (not committed); fuzz/seeds and fuzz/regressions
# are read-only inputs. A crash leaves .cache/fuzz/artifacts/crash-*: copy it to fuzz/regressions/
# (the sanitizer driver replays that folder on every run) and fix the bug.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
"$root/fuzz/build.sh" fuzz
corpus="$root/.cache/fuzz/corpus"
artifacts="$root/.cache/fuzz/artifacts"
mkdir -p "$corpus" "$artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# A single in-process job (no -jobs: that would fork and write fuzz-N.log into the working dir).
nice -n 10 "$root/.cache/fuzz/fuzz/fuzz_pipeline" -max_total_time="$seconds" \
  -max_len=4096 -timeout=60 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$corpus" "$root/fuzz/seeds" "$root/fuzz/regressions"
