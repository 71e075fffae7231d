#!/usr/bin/env bash
# Runs every Strata test on a fresh Debian machine: installs what the tests need (idempotently,
# skipping what is already there), then formatting and lint checks, the Rust test suite
# (unit and end-to-end tests against the real binary), and the README quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

# A run from scratch builds about 4 GiB into target/ (debug builds of the workspace and its tests).
# Incremental artefacts would add as much again and buy nothing on a fresh checkout, so they
# are off unless the caller asks for them.
: "${CARGO_INCREMENTAL:=0}"
export CARGO_INCREMENTAL
free_kib=$(df -Pk . | awk 'NR == 2 { print $4 }')
if [ -n "$free_kib" ] && [ "$free_kib" -lt $((6 * 1024 * 1024)) ]; then
  echo "warning: only $((free_kib / 1024)) MiB free on $(df -P . | awk 'NR == 2 { print $6 }'); a run from scratch needs about 6 GiB." >&2
  echo "If the build fails with 'No space left on device', free some space (\`cargo clean\`," >&2
  echo "or remove target/debug/incremental) and run again." >&2
fi

# Debian packages the tests use: curl and jq for the quickstart, the Mosquitto clients for
# the MQTT tests (and the Mosquitto broker for the side-by-side benchmark), openssl for the
# development CA of the TLS tests, RabbitMQ for the rule engine's AMQP sink, libcoap's
# clients (and server, for the side-by-side benchmark) for the CoAP tests, Chromium for the
# web app's browser tests, swtpm and the TSS 2.0 libraries for the edge SDK's TPM root of
# trust (its tests start a software TPM on loopback).
APT_PACKAGES=(curl jq openssl mosquitto mosquitto-clients rabbitmq-server libcoap3-bin chromium
  swtpm swtpm-tools tpm2-tools libtss2-dev pkg-config)
# Python packages the tests use: MQTT, AMQP and CoAP clients, an SMTP server for e-mail
# actions, Playwright (driving Debian's Chromium; it downloads no browser), the TensorFlow
# Lite Micro reference interpreter (pre-release builds only) for the live bit-exactness check.
PIP_PACKAGES=("paho-mqtt>=2,<3" "pytest>=7" "pika>=1.3,<2" "aiosmtpd>=1.4,<2" "aiocoap>=0.4.7,<0.5"
  "playwright>=1.50,<2")

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

if ! python3 -c "import paho.mqtt, pytest, pika, aiosmtpd, aiocoap, playwright" >/dev/null 2>&1; then
  log "installing Python packages: ${PIP_PACKAGES[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${PIP_PACKAGES[@]}"
fi
if ! python3 -c "import tflite_micro" >/dev/null 2>&1; then
  log "installing the TFLite Micro reference interpreter"
  python3 -m pip install --quiet --disable-pip-version-check --pre "tflite-micro"
fi

command -v cargo >/dev/null || { echo "cargo is missing: install Rust from https://rustup.rs" >&2; exit 1; }

command -v npm >/dev/null || { echo "npm is missing: install Node.js 20.19+ (https://nodejs.org)" >&2; exit 1; }
log "web app: reproducible build from the lock file (web/dist is committed and embedded)"
(cd web && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)
if [ -n "$(git status --porcelain -- web/dist)" ]; then
  git status --porcelain -- web/dist >&2
  echo "web/dist differs from a fresh build: run (cd web && npm ci && npm run build) and commit web/dist" >&2
  exit 1
fi

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo test"
cargo test --workspace --locked

log "edge SDK: bit-exact with the live TFLite Micro interpreter (thousands of seeded random inputs)"
STRATA_TFLM_LIVE=1 cargo test --locked -q -p strata-edge --test tflite_reference live

log "no_std builds"
for dir in crates/*/nostd-check; do
  (cd "$dir" && cargo check --locked --quiet)
done

log "end-to-end tests with real peers (paho-mqtt, mosquitto_pub/sub, libcoap, aiocoap, RabbitMQ, SMTP, webhooks, Chromium)"
STRATA_BIN="$PWD/target/debug/strata" python3 -m pytest -q tests/e2e

log "README quickstart (the debug build; \`./scripts/quickstart-check.sh\` alone builds the release binary)"
QUICKSTART_BIN="$PWD/target/debug/strata" ./scripts/quickstart-check.sh

log "all tests passed"
