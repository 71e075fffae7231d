#!/usr/bin/env python3
"""Trains the bearing-fault classifier of the vibration pipeline, reproducibly, and writes it
as an int8 .tflite model (models/vibration_int8.tflite).

The features come from the Rust feature extractor itself (so training and device can never
disagree):

    cargo run --release -p strata-edge --example vibration_features -- 3000 1 > /tmp/vib-train.csv
    python3 scripts/train_vibration.py /tmp/vib-train.csv

Model: 8 features -> FULLY_CONNECTED 16 (RELU) -> FULLY_CONNECTED 3 -> SOFTMAX, trained with
numpy (full-batch Adam, seeded), then quantised post-training to int8 (per-tensor symmetric
weights, int32 biases, activation ranges from the training set; softmax output scale 1/256,
zero point -128 as TFLM requires). The int8 model's accuracy on a held-out split is checked
with the TFLM reference interpreter (`pip install --pre tflite-micro`) when it is installed.
Needs numpy and flatbuffers (which tflite-micro brings).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_synthetic_models import (FULLY_CONNECTED, INT8, INT32, NONE, OPT_FC, OPT_SOFTMAX,  # noqa: E402
                                  RELU, SOFTMAX, ModelBuilder)

HIDDEN = 16
CLASSES = 3
SEED = 20261130


def load(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
    return data[:, 1:].astype(np.float32), data[:, 0].astype(np.int64)


def train(x, y, epochs=3000, lr=0.01):
    rng = np.random.default_rng(SEED)
    n, d = x.shape
    w1 = rng.normal(0, np.sqrt(2 / d), (d, HIDDEN)).astype(np.float32)
    b1 = np.zeros(HIDDEN, np.float32)
    w2 = rng.normal(0, np.sqrt(2 / HIDDEN), (HIDDEN, CLASSES)).astype(np.float32)
    b2 = np.zeros(CLASSES, np.float32)
    params = [w1, b1, w2, b2]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    onehot = np.eye(CLASSES, dtype=np.float32)[y]
    for t in range(1, epochs + 1):
        h_pre = x @ w1 + b1
        h = np.maximum(h_pre, 0)
        logits = h @ w2 + b2
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        g_logits = (p - onehot) / n
        g_w2 = h.T @ g_logits + 1e-4 * w2
        g_b2 = g_logits.sum(axis=0)
        g_h = g_logits @ w2.T * (h_pre > 0)
        g_w1 = x.T @ g_h + 1e-4 * w1
        g_b1 = g_h.sum(axis=0)
        for i, g in enumerate([g_w1, g_b1, g_w2, g_b2]):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            mh = m[i] / (1 - 0.9 ** t)
            vh = v[i] / (1 - 0.999 ** t)
            params[i] -= (lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
    return params


def forward(params, x):
    w1, b1, w2, b2 = params
    h = np.maximum(x @ w1 + b1, 0)
    return h, h @ w2 + b2


def asym(lo, hi):
    """int8 scale and zero point covering [lo, hi] (always including 0)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = (hi - lo) / 255.0 or 1.0
    zp = int(round(-128 - lo / scale))
    return np.float32(scale), max(-128, min(127, zp))


def sym_weights(w):
    scale = np.float32(np.abs(w).max() / 127.0 or 1.0)
    return np.clip(np.round(w / scale), -127, 127).astype(np.int8), scale


def build(params, x):
    w1, b1, w2, b2 = params
    h, logits = forward(params, x)
    in_s, in_zp = asym(float(x.min()), float(x.max()))
    h_s, h_zp = asym(0.0, float(h.max()))
    o_s, o_zp = asym(float(logits.min()), float(logits.max()))
    q1, w1_s = sym_weights(w1.T)  # TFLite FC weights are [out, in]
    q2, w2_s = sym_weights(w2.T)
    m = ModelBuilder()
    t_in = m.tensor([1, x.shape[1]], INT8, in_s, in_zp)
    t_w1 = m.tensor([HIDDEN, x.shape[1]], INT8, w1_s, 0, data=q1)
    t_b1 = m.tensor([HIDDEN], INT32, in_s * w1_s, 0,
                    data=np.round(b1 / (in_s * w1_s)).astype(np.int32))
    t_h = m.tensor([1, HIDDEN], INT8, h_s, h_zp)
    t_w2 = m.tensor([CLASSES, HIDDEN], INT8, w2_s, 0, data=q2)
    t_b2 = m.tensor([CLASSES], INT32, h_s * w2_s, 0,
                    data=np.round(b2 / (h_s * w2_s)).astype(np.int32))
    t_logits = m.tensor([1, CLASSES], INT8, o_s, o_zp)
    t_out = m.tensor([1, CLASSES], INT8, np.float32(1 / 256), -128)
    m.op(FULLY_CONNECTED, [t_in, t_w1, t_b1], [t_h], OPT_FC, [(0, "i8", RELU)])
    m.op(FULLY_CONNECTED, [t_h, t_w2, t_b2], [t_logits], OPT_FC, [(0, "i8", NONE)])
    m.op(SOFTMAX, [t_logits], [t_out], OPT_SOFTMAX, [(0, "f32", 1.0)])
    return m.build([t_in], [t_out]), (in_s, in_zp)


def int8_accuracy(model, quant, x, y):
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        return None
    interp = runtime.Interpreter.from_bytes(bytes(model))
    in_s, in_zp = quant
    correct = 0
    for xi, yi in zip(x, y):
        q = np.clip(np.round(xi / in_s) + in_zp, -128, 127).astype(np.int8)
        interp.set_input(q.reshape(1, -1), 0)
        interp.invoke()
        correct += int(np.argmax(interp.get_output(0)[0]) == yi)
    return correct / len(y)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    x, y = load(sys.argv[1])
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(y))
    split = int(0.8 * len(y))
    train_idx, test_idx = order[:split], order[split:]
    params = train(x[train_idx], y[train_idx])
    _, logits = forward(params, x[test_idx])
    float_acc = float((logits.argmax(axis=1) == y[test_idx]).mean())
    model, quant = build(params, x[train_idx])
    out = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models",
                       "vibration_int8.tflite")
    with open(out, "wb") as f:
        f.write(model)
    q_acc = int8_accuracy(model, quant, x[test_idx], y[test_idx])
    print(f"wrote {out} ({len(model)} bytes); held-out accuracy float {float_acc:.3f}, "
          f"int8 (TFLM) {'n/a' if q_acc is None else f'{q_acc:.3f}'} on {len(test_idx)} windows")


if __name__ == "__main__":
    main()
