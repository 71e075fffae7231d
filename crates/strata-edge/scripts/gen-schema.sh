#!/bin/sh
# Regenerates src/tflite/schema_generated.rs from the TFLite flatbuffer schema.
#
# Generator: planus-cli 1.3.0 (`cargo install planus-cli --version 1.3.0`); the generated
# code needs the `planus` runtime crate of the same version (pinned in Cargo.toml).
#
# planus rejects the `(deprecated)` attribute on an enum value, a union member and a table
# (schema lines 516, 677, 1516), so those three attributes are stripped first. Deprecated
# *fields* keep their attribute, so vtable slots are unchanged and the wire format is identical.
#
# planus 1.3 also emits unconditional `::serde::{Serialize, Deserialize}` derives; those two
# derive lines are removed so the SDK does not depend on serde.
#
# Usage (from the crate directory): sh scripts/gen-schema.sh [path/to/schema.fbs]
set -eu
SCHEMA="${1:-models/schema.fbs}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
sed -E '516s/ \(deprecated\)//; 677s/ \(deprecated\)//; 1516s/ \(deprecated\)//' "$SCHEMA" > "$TMP/schema.fbs"
OUT="$(pwd)/src/tflite/schema_generated.rs"
(cd "$TMP" && planus rust -o "$TMP/generated.rs" schema.fbs)
# planus 1.3 derives serde traits unconditionally; the SDK does not need serde, so drop them.
grep -v -e '^ *::serde::Serialize,$' -e '^ *::serde::Deserialize,$' "$TMP/generated.rs" |
  sed -e 's/, ::serde::Serialize, ::serde::Deserialize)\]/)]/' > "$OUT"
# Format as `cargo fmt` would, so regenerating and formatting are idempotent.
rustfmt --edition 2024 "$OUT"
