#!/usr/bin/env python3
"""Generates bit-exactness test vectors for the int8 TFLite engine from TFLite Micro.

For each model in models/ (a copy of shared/models), N inputs are derived from seeds (base_seed + i) with the
splitmix64-based generator below -- implemented identically in tests/tflite_reference.rs -- and
run through the TensorFlow Lite Micro reference interpreter (PyPI `tflite-micro`, pre-release:
`pip install --pre tflite-micro`). Only the outputs are stored (hex), in
tests/vectors/tflite_<model>.json.

Usage (from crates/strata-edge):
    python3 scripts/gen_tflite_vectors.py [--out DIR] [--models DIR] [--scale F]
--scale multiplies every sample count (e.g. 0.1 for a quick live check).
"""
import argparse
import json
import os

import numpy as np

GOLDEN = 0x9E3779B97F4A7C15
MASK = (1 << 64) - 1

# (file name, where it lives, base seed, sample count). "shared": models/, a copy of shared/models (the reference
# models); "vectors": tests/vectors (synthetic models from gen_synthetic_models.py).
MODELS = [
    ("hello_world_int8.tflite", "shared", 1_000_000, 2000),
    ("micro_speech_quantized.tflite", "shared", 2_000_000, 2000),
    ("person_detect.tflite", "shared", 3_000_000, 1000),
    ("synthetic_elementwise.tflite", "vectors", 4_000_000, 300),
    ("synthetic_conv.tflite", "vectors", 5_000_000, 1000),
]


def splitmix64_stream(seed: int, n: int) -> np.ndarray:
    """Outputs 1..n of splitmix64 started at `seed` (counter form: mix(seed + k * GOLDEN))."""
    with np.errstate(over="ignore"):
        k = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(seed & MASK) + k * np.uint64(GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def make_input(seed: int, n: int) -> np.ndarray:
    """int8 input: two draws pick a value range [lo, hi], then n uniform draws in it."""
    r = splitmix64_stream(seed, n + 2)
    a = int(np.int8(np.uint8(int(r[0]) & 0xFF)))
    b = int(np.int8(np.uint8(int(r[1]) & 0xFF)))
    lo, hi = min(a, b), max(a, b)
    span = np.uint64(hi - lo + 1)
    vals = ((r[2:] >> np.uint64(32)) % span).astype(np.int64) + lo
    return vals.astype(np.int8)


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    crate = os.path.dirname(here)
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(crate, "tests", "vectors"))
    ap.add_argument("--models", default=os.path.join(crate, "models"))
    ap.add_argument("--scale", type=float, default=1.0)
    args = ap.parse_args()

    from tflite_micro.python.tflite_micro import runtime

    os.makedirs(args.out, exist_ok=True)
    vectors_dir = os.path.join(crate, "tests", "vectors")
    for name, where, base_seed, count in MODELS:
        count = max(1, int(count * args.scale))
        model_dir = args.models if where == "shared" else vectors_dir
        interp = runtime.Interpreter.from_file(os.path.join(model_dir, name))
        detail = interp.get_input_details(0)
        shape = tuple(int(d) for d in detail["shape"])
        n = int(np.prod(shape))
        outputs = bytearray()
        out_len = None
        for i in range(count):
            x = make_input(base_seed + i, n).reshape(shape)
            if detail["dtype"] == np.float32:
                x = x.astype(np.float32) * np.float32(0.0625)
            interp.set_input(x, 0)
            interp.invoke()
            y = np.asarray(interp.get_output(0)).reshape(-1)
            assert y.dtype in (np.int8, np.float32), y.dtype
            out_len = y.size
            outputs += y.tobytes()
        doc = {
            "model": name,
            "model_dir": where,
            "input_type": "float32" if detail["dtype"] == np.float32 else "int8",
            "output_type": str(y.dtype),
            "generator": "splitmix64 v1 (see scripts/gen_tflite_vectors.py)",
            "reference": "tflite-micro (PyPI) TFLite Micro reference interpreter",
            "base_seed": base_seed,
            "count": count,
            "input_len": n,
            "output_len": out_len,
            "outputs_hex": outputs.hex(),
        }
        stem = name.removesuffix(".tflite")
        with open(os.path.join(args.out, f"tflite_{stem}.json"), "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        print(f"{name}: {count} samples")


if __name__ == "__main__":
    main()
