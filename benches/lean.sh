#!/usr/bin/env bash
# CPU time and peak memory of `retainctl validate` and `retainctl plan --env local` over
# 45 apps × 1,000 messages × 2 locales (issue 14, "a lean validator"). Each command runs
# 3 times; the lowest CPU time (user + system) and its peak RSS are printed, since other
# work on the machine only ever adds time. Figures for BENCHMARKS.md; nothing asserts them.
# Usage: bash benches/lean.sh [BINARY]   (default: target/release/retainctl, built by you)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/retainctl}")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 benches/generate.py many "$WORK/many" 45 1000 2
for cmd in "validate" "plan --env local"; do
  best=""
  for _ in 1 2 3; do
    rm -rf "$WORK/.retainctl"
    # shellcheck disable=SC2086
    line=$(cd "$WORK" && /usr/bin/time -f "%U %S %M" "$BIN" $cmd "$WORK/many" 2>&1 >/dev/null | tail -1)
    read -r user sys kib <<<"$line"
    cpu=$(echo "$user + $sys" | bc)
    if [ -z "$best" ] || [ "$(echo "$cpu < ${best%% *}" | bc)" = 1 ]; then best="$cpu $kib"; fi
  done
  read -r cpu kib <<<"$best"
  printf 'retainctl %-16s %5.2f s CPU  %4d MiB peak RSS\n' "$cmd" "$cpu" $((kib / 1024))
done
