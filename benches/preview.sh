#!/usr/bin/env bash
# How long drawing takes (issue 25): `retainctl preview` of 1,000 messages × 2 locales
# (2,000 pages in light and dark, then light only) and `plan --env local --previews` of
# the same app with one message changed (only that one is drawn), each against plan
# without previews. Best of ROUNDS (default 3) by wall time, with CPU time and peak RSS;
# the load average is printed before and after. Figures for BENCHMARKS.md; nothing
# asserts them.
# Usage: bash benches/preview.sh [BINARY]   (default target/release/retainctl)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/retainctl}")
ROUNDS=${ROUNDS:-3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 benches/generate.py one "$WORK/app" 1 1000 2
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
# One run in $WORK: prints "WALL_SECONDS CPU_SECONDS PEAK_KIB".
measure() {
  local line wall user sys kib
  line=$(cd "$WORK" && /usr/bin/time -f "%e %U %S %M" "$BIN" "$@" 2>&1 >/dev/null | tail -1)
  read -r wall user sys kib <<<"$line"
  echo "$wall $(echo "$user + $sys" | bc) $kib"
}
best() { # label, then the command's arguments
  local label=$1 top="" run
  shift
  for _ in $(seq "$ROUNDS"); do
    run=$(measure "$@")
    if [ -z "$top" ] || [ "$(echo "${run%% *} < ${top%% *}" | bc)" = 1 ]; then top=$run; fi
  done
  read -r wall cpu kib <<<"$top"
  printf '%-52s %6.2f s wall  %6.2f s CPU  %4d MiB\n' "$label" "$wall" "$cpu" "$((kib / 1024))"
}
best "preview, 2,000 pages × light and dark (4,000 PNG)" preview app --out gallery
echo "  $(find "$WORK/gallery" -name '*.png' | wc -l) pictures, $(du -sh "$WORK/gallery" | cut -f1)"
best "preview, 2,000 pages × light (2,000 PNG)" preview app --out gallery --appearance light
# plan: the base is the generated app in git; one message's copy changes.
(cd "$WORK" && git init -q && git add app && git -c user.email=b@b -c user.name=b commit -qm base)
(cd "$WORK" && "$BIN" apply --env local app >/dev/null)
sed -i 's/Keep your plan number 7 of app 0\./Keep your plan number seven of app zero./' "$WORK/app/app0.yaml"
best "plan --env local (one message changed)" plan --env local app
best "plan --env local --previews (draws the one change)" plan --env local --base HEAD --previews prev app
echo "  $(find "$WORK/prev" -name '*.png' | wc -l) pictures drawn by plan --previews"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
