#!/usr/bin/env bash
# Runs the README's quickstart commands against a fresh server, exactly as a person would
# (curl and jq), and fails if any step does not give the documented answer.
set -euo pipefail
cd "$(dirname "$0")/.."

# QUICKSTART_BIN: a binary already built (the test command passes its debug build, which
# answers the same; building the release binary again would add minutes to CI).
if [ -z "${QUICKSTART_BIN:-}" ]; then
  cargo build --release --locked -q
  QUICKSTART_BIN=./target/release/strata
fi
DATA=$(mktemp -d)
LOG="$DATA/server.out"
export STRATA_ADMIN_PASSWORD=quickstart-password
"$QUICKSTART_BIN" serve --data-dir "$DATA/data" --http-listen 127.0.0.1:0 --mqtt-listen 127.0.0.1:0 \
  --coap-listen 127.0.0.1:0 --coaps-listen 127.0.0.1:0 >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 300); do
  grep -q "HTTP API listening on" "$LOG" && break
  sleep 0.1
done
BASE=$(sed -n 's/^strata: HTTP API listening on //p' "$LOG")
[ -n "$BASE" ] || { cat "$LOG"; echo "server did not start" >&2; exit 1; }

# --- the quickstart, as in README.md ---
TOKEN=$(curl -sf -X POST "$BASE/api/auth/login" \
  -d "{\"username\":\"admin\",\"password\":\"$STRATA_ADMIN_PASSWORD\"}" | jq -r .token)
DEVICE=$(curl -sf -X POST "$BASE/api/devices" -H "Authorization: Bearer $TOKEN" \
  -d '{"name":"boiler-1","type":"thermostat","labels":["basement"]}')
DEVICE_ID=$(echo "$DEVICE" | jq -r .id)
DEVICE_TOKEN=$(echo "$DEVICE" | jq -r .credentials.access_token)
curl -sf -X POST "$BASE/api/v1/$DEVICE_TOKEN/telemetry" -d '{"temperature":21.5,"on":true}' | jq -e '.accepted == 2' >/dev/null
curl -sf -X POST "$BASE/api/v1/$DEVICE_TOKEN/telemetry" \
  -d "[{\"ts\":$(( $(date +%s) * 1000 - 60000 )),\"values\":{\"temperature\":20.9}}]" | jq -e '.accepted == 1' >/dev/null
curl -sf "$BASE/api/devices/$DEVICE_ID/telemetry/latest" -H "Authorization: Bearer $TOKEN" \
  | jq -e '.temperature.value == 21.5 and .on.value == true' >/dev/null
curl -sf "$BASE/api/devices/$DEVICE_ID/telemetry?keys=temperature&limit=10" -H "Authorization: Bearer $TOKEN" \
  | jq -e '.series[0].points | length == 2' >/dev/null
curl -sf "$BASE/api/devices/$DEVICE_ID/telemetry/aggregate?keys=temperature&agg=max&interval=3600000" \
  -H "Authorization: Bearer $TOKEN" | jq -e '.series[0].buckets | length >= 1' >/dev/null
curl -sf "$BASE/api/devices?label=basement" -H "Authorization: Bearer $TOKEN" | jq -e '.total == 1' >/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/api/v1/$DEVICE_TOKEN/telemetry" -d '{"temperature":')
[ "$code" = 400 ] || { echo "malformed JSON gave $code, not 400" >&2; exit 1; }
curl -sf "$BASE/api/openapi.json" | jq -e '.openapi | startswith("3.")' >/dev/null
# Into a file first: `grep -q` stops reading at the first match, and curl would then fail
# writing the rest (exit 23) under pipefail.
curl -sf "$BASE/metrics" -o "$DATA/metrics"
grep -q strata_ingest_points_total "$DATA/metrics"
echo "quickstart: every step answered as documented"
