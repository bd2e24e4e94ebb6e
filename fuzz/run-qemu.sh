#!/usr/bin/env bash
# Reproducibility across CPUs: the non-sanitized driver (x86-64 baseline build) under qemu-user with
# CPU models lacking features this machine has. Nehalem: SSE4.2, no AVX, no SHA-NI (ISA-L SSE paths,
# portable SHA-256). Haswell-noTSX: AVX2, no SHA-NI (ISA-L AVX2 paths). Each run verifies every result
# (inflate, reference SHA-256, sizes) and must print exactly the committed vector table.
# qemu64 (x86-64 baseline, no SSSE3/SSE4.2): igzip would use its C code and give other bytes, so the
# core must refuse levels 1-2 there, and every other result must still match the table.
#   fuzz/run-qemu.sh [CPU...]   (default: Nehalem Haswell-noTSX qemu64)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/fuzz/build.sh" plain
d="$root/.cache/fuzz/plain/driver"
table="$root/test/vectors/vectors.json"
cpus=("$@")
[ ${#cpus[@]} -gt 0 ] || cpus=(Nehalem Haswell-noTSX qemu64)
# qemu warns about host-only CPUID bits it cannot emulate (pcid, x2apic, ...): noise, not failures.
quiet() { grep -v "TCG doesn't support requested feature" >&2 || true; }
# One CPU model's checks; its output goes to the caller's redirection.
check_cpu() {
  local cpu=$1
  local q got want scope refused inputs
  q=(nice -n 10 qemu-x86_64 -cpu "$cpu" "$d")
  "${q[@]}" selftest 2> >(quiet)
  "${q[@]}" sha 100 2> >(quiet)
  got="$root/.cache/fuzz/vectors-$cpu.json"
  "${q[@]}" vectors --quick 2> >(quiet) > "$got"
  want="$table"
  scope="every result"
  if grep -q '"refused": "unsupported-cpu"' "$got"; then
    refused=$(grep -c '"[12]": { "refused": "unsupported-cpu" }' "$got")
    # Inputs marked zstdOnly have no gzip levels to refuse.
    inputs=$(( $(grep -c '"diffID"' "$table") - $(grep -c '"zstdOnly": true' "$table" || true) ))
    [ "$refused" -eq $((2 * inputs)) ] || { echo "qemu -cpu $cpu: refused $refused results, expected $((2 * inputs))" >&2; return 1; }
    echo "qemu -cpu $cpu: levels 1-2 refused (ERR_FASTLAYER_UNSUPPORTED_CPU) for all $inputs inputs"
    want="$root/.cache/fuzz/vectors-expected-$cpu.json"
    scope="every result except levels 1-2"
    grep -v '"[12]": ' "$table" > "$want"
    grep -v '"[12]": ' "$got" > "$got.tmp" && mv "$got.tmp" "$got"
  else
    # Fuzz inputs choose levels 1-2 too, so they only run where igzip is supported.
    "${q[@]}" replay "$root/fuzz/regressions" "$root/fuzz/seeds" 2> >(quiet)
  fi
  if diff -q "$want" "$got" >/dev/null; then
    echo "qemu -cpu $cpu: vector table identical to $table ($scope)"
  else
    diff -u "$want" "$got" | head -40
    echo "qemu -cpu $cpu: vector table DIFFERS" >&2
    return 1
  fi
}
# The models run side by side (each is one emulated thread, CPU-bound), each into its own log, printed
# in order once all are done: on 2 vCPUs, 82 s against 147 s one after another (2026-12-07).
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
pids=()
for cpu in "${cpus[@]}"; do
  check_cpu "$cpu" > "$logs/$cpu.log" 2>&1 &
  pids+=($!)
done
failed=0
for k in "${!cpus[@]}"; do
  wait "${pids[$k]}" || { failed=1; echo "qemu -cpu ${cpus[$k]}: FAILED" >&2; }
  cat "$logs/${cpus[$k]}.log"
done
exit $failed
