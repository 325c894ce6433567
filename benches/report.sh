#!/usr/bin/env bash
# Every figure at the top of BENCHMARKS.md, in one run, this build beside the previous one:
#  1. benches/lean.sh     validate and plan --env local of 45 apps × 1,000 messages × 2
#                         locales: CPU time and peak memory;
#  2. benches/speed.sh    converging against a simulator with Apple-like latency and
#                         Apple's production rate limits, beside the naive script on Apple's
#                         Python library;
#  3. benches/serve_peer.sh  serve against a Node server on Apple's own library, offers,
#                         two S3 replicas behind nginx (SERVE=0 leaves it out: 12 minutes);
#  4. benches/preview.sh  drawing 1,000 messages × 2 locales, and plan --previews of one
#                         change (this build only: the previous one has no previews).
# Usage: bash benches/report.sh NEW_BIN [OLD_BIN]   (OLD_BIN: the previous main's or
#        release's retainctl; PY: a python with app-store-server-library 3.1.2, default
#        .venv/bin/python as .ci/run makes it; OUT: where the logs go)
# Figures for BENCHMARKS.md; nothing asserts them.
set -euo pipefail
cd "$(dirname "$0")/.."
NEW=$(realpath "$1")
OLD=${2:+$(realpath "$2")}
PY=${PY:-"$PWD/.venv/bin/python"}
OUT=${OUT:-$(mktemp -d /tmp/retainctl-report.XXXXXX)}
mkdir -p "$OUT"
echo "== report in $OUT ($(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo "== 1. lean: validate and plan"
bash benches/lean.sh "$NEW" ${OLD:+"$OLD"} 2>&1 | tee "$OUT/lean.txt"
echo "== 2. speed: converge against Apple-like latency"
PY="$PY" bash benches/speed.sh "$NEW" ${OLD:+"$OLD"} 2>&1 | tee "$OUT/speed.txt"
if [ "${SERVE:-1}" = 1 ]; then
  echo "== 3. serve against its peers"
  OUT="$OUT/serve" RETAINCTL="$NEW" RETAINCTL_BASE="${OLD:-}" bash benches/serve_peer.sh 2>&1 | tee "$OUT/serve.txt"
fi
echo "== 4. preview: drawing pages"
bash benches/preview.sh "$NEW" 2>&1 | tee "$OUT/preview.txt"
echo "== logs in $OUT"
