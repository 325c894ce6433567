#!/usr/bin/env bash
# Benchmarks that run the real binary (figures go to BENCHMARKS.md; nothing here asserts a time):
#  (a) validate and plan (--env local) of 45 apps × 1,000 messages × 2 locales: wall time, peak memory;
#  (b) converging 1 app × 200 messages × 10 locales against `retainctl sim` with Apple's
#      production rate limits on: requests and wall time, against the minimum number of
#      requests and against a naive script that uses Apple's Python library one item at a time.
# Usage: bash benches/measure.sh   (builds release; creates .venv with Apple's library if needed)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN="$PWD/target/release/retainctl"
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check "app-store-server-library==3.1.2"
PY="$PWD/.venv/bin/python"
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

echo "== (a) 45 apps × 1,000 messages × 2 locales"
"$PY" benches/generate.py many "$WORK/many" 45 1000 2
for cmd in "validate $WORK/many" "plan --env local $WORK/many"; do
  ( cd "$WORK" && /usr/bin/time -f "%e s wall, %M KiB peak RSS" "$BIN" $cmd > /dev/null ) 2>&1 | tail -1 | sed "s|^|retainctl ${cmd%% *}: |"
done

echo "== (b) converge 1 app × 200 messages × 10 locales, production rate limits on"
"$PY" benches/generate.py one "$WORK/one" 1 200 10
"$PY" - "$WORK" <<'PYEOF'
import sys
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization
key = ec.generate_private_key(ec.SECP256R1())
open(sys.argv[1] + "/key.p8", "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
open(sys.argv[1] + "/public.pem", "wb").write(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
PYEOF
start_sim() {
  "$BIN" sim --listen 127.0.0.1:0 --mode production --review-delay 0s --public-key "$WORK/public.pem" > "$WORK/sim.out" 2>/dev/null &
  for _ in $(seq 50); do grep -q listening "$WORK/sim.out" 2>/dev/null && break; sleep 0.1; done
  sed -n 's/^listening on //p' "$WORK/sim.out"
}
requests() { curl -s "$1/_sim/state" | "$PY" -c 'import json,sys; print(sum(json.load(sys.stdin)["requestCounts"].values()))'; }

URL=$(start_sim)
export RETAINCTL_KEY_ID=BENCHKEY01 RETAINCTL_ISSUER_ID=bench RETAINCTL_PRIVATE_KEY_FILE="$WORK/key.p8"
t0=$(date +%s.%N)
"$BIN" apply --env production --base-url "$URL" "$WORK/one" > "$WORK/apply.out"
t1=$(date +%s.%N)
echo "retainctl apply: $(requests "$URL") requests, $(echo "$t1 - $t0" | bc) s; $(tail -1 "$WORK/apply.out")"
"$BIN" plan --env production --base-url "$URL" --detailed-exitcode "$WORK/one" > /dev/null && echo "then plan: no changes"
echo "minimum: 2 lists + 10 default reads + 1 realtime URL read + 2000 uploads + 2 lists + 10 defaults = 2025 requests"
kill %1 2>/dev/null || true; wait 2>/dev/null || true

URL=$(start_sim)
t0=$(date +%s.%N)
"$PY" benches/naive.py "$URL" "$WORK/key.p8" 200 10
t1=$(date +%s.%N)
echo "naive script (Apple's library, one item at a time): $(requests "$URL") requests, $(echo "$t1 - $t0" | bc) s"
