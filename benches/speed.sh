#!/usr/bin/env bash
# Speed against a simulator with Apple-like latency and Apple's production rate limits on
# (figures go to BENCHMARKS.md; nothing here asserts a time):
#  (a) 1 app × 200 messages × 10 locales, (b) 45 apps × 20 messages × 2 locales,
#  (c) the hourly apply of a converged account (requests = one observation),
# each for retainctl and, when given, an older retainctl binary; and the naive script with
# Apple's Python library for (a).
# Usage: bash benches/speed.sh NEW_BIN [OLD_BIN]   (env: LATENCY_MS=100, PY=python with
#        app-store-server-library 3.1.2, PARALLELISM=16)
set -euo pipefail
cd "$(dirname "$0")/.."
NEW=$1
OLD=${2:-}
LATENCY_MS=${LATENCY_MS:-100}
PY=${PY:-python3}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$PY" - "$WORK" <<'PYEOF'
import sys
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization
key = ec.generate_private_key(ec.SECP256R1())
open(sys.argv[1] + "/key.p8", "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
open(sys.argv[1] + "/public.pem", "wb").write(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
PYEOF
export RETAINCTL_KEY_ID=BENCHKEY01 RETAINCTL_ISSUER_ID=bench RETAINCTL_PRIVATE_KEY_FILE="$WORK/key.p8"

start_sim() {
  "$NEW" sim --listen 127.0.0.1:0 --mode production --review-delay 0s --latency-ms "$LATENCY_MS" \
    --public-key "$WORK/public.pem" > "$WORK/sim.out" 2>/dev/null &
  for _ in $(seq 100); do grep -q listening "$WORK/sim.out" 2>/dev/null && break; sleep 0.1; done
  sed -n 's/^listening on //p' "$WORK/sim.out"
}
counts() { # total requests, then those answered 429 for the hourly budget
  curl -s "$1/_sim/state" | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
print(sum(s["requestCounts"].values()), s.get("rateLimitedRequests", 0))'
}
stop_sim() { kill %1 2>/dev/null || true; wait 2>/dev/null || true; }

# Production mode with `--review-delay 0s` approves at once and enforces Apple's
# production budgets (3,600 requests per endpoint per app per hour).
run() { # label bin dir
  local label=$1 bin=$2 dir=$3 url t0 t1
  url=$(start_sim)
  t0=$(date +%s.%N)
  if [ "$bin" = "$NEW" ]; then
    "$bin" apply --env production --base-url "$url" --parallelism "${PARALLELISM:-16}" "$dir" > "$WORK/out" 2>&1 || true
  else
    "$bin" apply --env production --base-url "$url" "$dir" > "$WORK/out" 2>&1 || true
  fi
  t1=$(date +%s.%N)
  read -r total limited < <(counts "$url")
  printf '%s: %s requests, %s answered 429, %.1f s\n' "$label" "$total" "$limited" "$(echo "$t1 - $t0" | bc)"
  # (c) the next hourly run on the converged account
  t0=$(date +%s.%N)
  "$bin" apply --env production --base-url "$url" "$dir" > "$WORK/out" 2>&1 || true
  t1=$(date +%s.%N)
  read -r again _ < <(counts "$url")
  printf '%s, next hourly apply: %s requests, %.1f s\n' "$label" "$((again - total))" "$(echo "$t1 - $t0" | bc)"
  # a pull request's plan of the converged account (one observation)
  t0=$(date +%s.%N)
  "$bin" plan --env production --base-url "$url" "$dir" > "$WORK/out" 2>&1 || true
  t1=$(date +%s.%N)
  read -r planned _ < <(counts "$url")
  printf '%s, plan: %s requests, %.1f s\n' "$label" "$((planned - again))" "$(echo "$t1 - $t0" | bc)"
  stop_sim
}

echo "== (a) 1 app × 200 messages × 10 locales, ${LATENCY_MS} ms latency"
"$PY" benches/generate.py one "$WORK/one" 1 200 10
run "retainctl" "$NEW" "$WORK/one"
[ -n "$OLD" ] && run "previous main" "$OLD" "$WORK/one"
if "$PY" -c 'import appstoreserverlibrary' 2>/dev/null; then
  url=$(start_sim)
  t0=$(date +%s.%N)
  "$PY" benches/naive.py "$url" "$WORK/key.p8" 200 10 > /dev/null
  t1=$(date +%s.%N)
  read -r total limited < <(counts "$url")
  printf 'naive script (Apple library, one at a time): %s requests, %s answered 429, %.1f s\n' "$total" "$limited" "$(echo "$t1 - $t0" | bc)"
  stop_sim
fi

echo "== (b) 45 apps × 20 messages × 2 locales, ${LATENCY_MS} ms latency"
"$PY" benches/generate.py many "$WORK/many" 45 20 2
run "retainctl" "$NEW" "$WORK/many"
[ -n "$OLD" ] && run "previous main" "$OLD" "$WORK/many"
