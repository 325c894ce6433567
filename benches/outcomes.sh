#!/usr/bin/env bash
# `retainctl report` at scale (issue 26): 10 million decisions in 34 files as serve
# rotates them and 1 million outcomes (benches/report.py, 2.3 GB of JSON lines), joined
# with a 30-day window. Prints wall and CPU time and peak RSS; nothing asserts them.
# Usage: bash benches/outcomes.sh [BINARY] [DECISIONS] [OUTCOMES]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/retainctl}")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 benches/report.py "$WORK" "${2:-10000000}" "${3:-1000000}"
echo "input: $(du -sh "$WORK/decisions" | cut -f1) of decisions, $(du -sh "$WORK/outcomes" | cut -f1) of outcomes"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
/usr/bin/time -f "report: %e s wall, %U s user + %S s system CPU, %M KiB peak RSS" \
  "$BIN" report --decisions "$WORK/decisions" --outcomes "$WORK/outcomes" --window 30d >/dev/null
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
