#!/usr/bin/env bash
# CPU time and peak memory of `retainctl validate` and `retainctl plan --env local` over
# 45 apps × 1,000 messages × 2 locales (issue 14, "a lean validator"). Each command runs
# ROUNDS times (default 5); the lowest CPU time (user + system) and its peak RSS are
# printed with that run's wall time, since other work on the machine only ever adds time
# (files are read on every core, so wall time is below CPU time). Given a second binary
# (the one before a change), both run in the same session, turn about, so that they
# share the machine's load; the load average is printed before and after.
# Figures for BENCHMARKS.md; nothing asserts them.
# Usage: bash benches/lean.sh [BINARY [BEFORE_BINARY]]
#   BINARY defaults to target/release/retainctl (or $CARGO_TARGET_DIR's), built by you.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/retainctl}")
BEFORE=${2:+$(realpath "$2")}
ROUNDS=${ROUNDS:-5}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 benches/generate.py many "$WORK/many" 45 1000 2
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
# One run: prints "CPU_SECONDS PEAK_KIB WALL_SECONDS".
measure() {
  local bin=$1 cmd=$2 line user sys kib wall
  rm -rf "$WORK/.retainctl"
  # shellcheck disable=SC2086
  line=$(cd "$WORK" && /usr/bin/time -f "%U %S %M %e" "$bin" $cmd "$WORK/many" 2>&1 >/dev/null | tail -1)
  read -r user sys kib wall <<<"$line"
  echo "$(echo "$user + $sys" | bc) $kib $wall"
}
lower() { # BEST NEW -> the one with less CPU
  if [ -z "$1" ] || [ "$(echo "${2%% *} < ${1%% *}" | bc)" = 1 ]; then echo "$2"; else echo "$1"; fi
}
for cmd in "validate" "plan --env local"; do
  best="" best_before=""
  for _ in $(seq "$ROUNDS"); do
    if [ -n "$BEFORE" ]; then best_before=$(lower "$best_before" "$(measure "$BEFORE" "$cmd")"); fi
    best=$(lower "$best" "$(measure "$BIN" "$cmd")")
  done
  if [ -n "$BEFORE" ]; then
    read -r cpu kib wall <<<"$best_before"
    printf 'before  retainctl %-16s %5.2f s CPU  %5.2f s wall  %4d MiB peak RSS\n' "$cmd" "$cpu" "$wall" $((kib / 1024))
  fi
  read -r cpu kib wall <<<"$best"
  printf 'after   retainctl %-16s %5.2f s CPU  %5.2f s wall  %4d MiB peak RSS\n' "$cmd" "$cpu" "$wall" $((kib / 1024))
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
