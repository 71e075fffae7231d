#!/usr/bin/env python3
"""Builds small synthetic int8 .tflite models that exercise the operators the three reference
models do not (ADD, MUL, LOGISTIC, MAX_POOL_2D, QUANTIZE, DEQUANTIZE, dilated/strided/grouped-free
convolutions, depth multiplier > 1, fused RELU/RELU6, softmax beta != 1), written with the
low-level `flatbuffers` Python builder (installed with tflite-micro) following
shared/models/schema.fbs field order. Writes tests/vectors/synthetic_*.tflite.

Usage (from crates/strata-edge): python3 scripts/gen_synthetic_models.py
"""
import os

import flatbuffers
import numpy as np

# BuiltinOperator codes and BuiltinOptions union tags (schema.fbs).
ADD, AVERAGE_POOL_2D, CONV_2D, DEPTHWISE_CONV_2D, DEQUANTIZE = 0, 1, 3, 4, 6
FULLY_CONNECTED, LOGISTIC, MAX_POOL_2D, MUL, RESHAPE, SOFTMAX, QUANTIZE = 9, 14, 17, 18, 22, 25, 114
OPT_CONV, OPT_DW, OPT_POOL, OPT_FC, OPT_SOFTMAX, OPT_ADD, OPT_RESHAPE, OPT_MUL = 1, 2, 5, 8, 9, 11, 17, 21
FLOAT32, INT32, INT8 = 0, 2, 9
SAME, VALID = 0, 1
NONE, RELU, RELU6 = 0, 1, 3


class ModelBuilder:
    def __init__(self):
        self.tensors = []  # dicts
        self.buffers = [b""]  # buffer 0 is the empty sentinel
        self.ops = []
        self.opcodes = []

    def tensor(self, shape, ttype, scale=None, zp=None, data=None, qdim=0):
        buf = 0
        if data is not None:
            self.buffers.append(data.tobytes())
            buf = len(self.buffers) - 1
        self.tensors.append(dict(shape=shape, type=ttype, scale=scale, zp=zp, buffer=buf, qdim=qdim))
        return len(self.tensors) - 1

    def op(self, code, inputs, outputs, opt_type=0, opt=None):
        if code not in self.opcodes:
            self.opcodes.append(code)
        self.ops.append((self.opcodes.index(code), inputs, outputs, opt_type, opt or []))

    def build(self, inputs, outputs):
        b = flatbuffers.Builder(1024)

        def ivec(vals, start):
            start(b, len(vals))
            for v in reversed(vals):
                b.PrependInt32(v)
            return b.EndVector()

        def vec(elem_size, vals, prepend, align=None):
            b.StartVector(elem_size, len(vals), align or elem_size)
            for v in reversed(vals):
                prepend(v)
            return b.EndVector()

        # Buffers
        buf_offs = []
        for data in self.buffers:
            d = None
            if data:
                b.StartVector(1, len(data), 16)
                for byte in reversed(data):
                    b.PrependUint8(byte)
                d = b.EndVector()
            b.StartObject(3)
            if d is not None:
                b.PrependUOffsetTRelativeSlot(0, d, 0)
            buf_offs.append(b.EndObject())
        # Tensors
        t_offs = []
        for t in self.tensors:
            shape = vec(4, t["shape"], b.PrependInt32)
            q = None
            if t["scale"] is not None:
                scales = vec(4, list(np.atleast_1d(t["scale"]).astype(np.float32)), b.PrependFloat32)
                zps = vec(8, [int(z) for z in np.atleast_1d(t["zp"])], b.PrependInt64)
                b.StartObject(7)
                b.PrependUOffsetTRelativeSlot(2, scales, 0)
                b.PrependUOffsetTRelativeSlot(3, zps, 0)
                b.PrependInt32Slot(6, t["qdim"], 0)
                q = b.EndObject()
            b.StartObject(5)
            b.PrependUOffsetTRelativeSlot(0, shape, 0)
            b.PrependInt8Slot(1, t["type"], 0)
            b.PrependUint32Slot(2, t["buffer"], 0)
            if q is not None:
                b.PrependUOffsetTRelativeSlot(4, q, 0)
            t_offs.append(b.EndObject())
        # Operators
        op_offs = []
        for opcode_index, ins, outs, opt_type, opt in self.ops:
            iv = vec(4, ins, b.PrependInt32)
            ov = vec(4, outs, b.PrependInt32)
            o = None
            if opt_type:
                b.StartObject(8)
                for slot, kind, value in opt:
                    {"i32": b.PrependInt32Slot, "i8": b.PrependInt8Slot, "f32": b.PrependFloat32Slot}[kind](
                        slot, value, 0 if kind != "f32" else 0.0
                    )
                o = b.EndObject()
            b.StartObject(5)
            b.PrependUint32Slot(0, opcode_index, 0)
            b.PrependUOffsetTRelativeSlot(1, iv, 0)
            b.PrependUOffsetTRelativeSlot(2, ov, 0)
            if o is not None:
                b.PrependUint8Slot(3, opt_type, 0)
                b.PrependUOffsetTRelativeSlot(4, o, 0)
            op_offs.append(b.EndObject())

        def table_vec(offs):
            b.StartVector(4, len(offs), 4)
            for o in reversed(offs):
                b.PrependUOffsetTRelative(o)
            return b.EndVector()

        tv = table_vec(t_offs)
        ov = table_vec(op_offs)
        inv = vec(4, inputs, b.PrependInt32)
        outv = vec(4, outputs, b.PrependInt32)
        b.StartObject(5)
        b.PrependUOffsetTRelativeSlot(0, tv, 0)
        b.PrependUOffsetTRelativeSlot(1, inv, 0)
        b.PrependUOffsetTRelativeSlot(2, outv, 0)
        b.PrependUOffsetTRelativeSlot(3, ov, 0)
        sg = b.EndObject()
        code_offs = []
        for code in self.opcodes:
            b.StartObject(4)
            b.PrependInt8Slot(0, min(code, 127), 0)
            b.PrependInt32Slot(2, 1, 1)
            b.PrependInt32Slot(3, code, 0)
            code_offs.append(b.EndObject())
        cv = table_vec(code_offs)
        sgv = table_vec([sg])
        bv = table_vec(buf_offs)
        b.StartObject(5)
        b.PrependUint32Slot(0, 3, 0)
        b.PrependUOffsetTRelativeSlot(1, cv, 0)
        b.PrependUOffsetTRelativeSlot(2, sgv, 0)
        b.PrependUOffsetTRelativeSlot(4, bv, 0)
        b.Finish(b.EndObject(), file_identifier=b"TFL3")
        return bytes(b.Output())


def q8(rng, shape):
    return rng.integers(-127, 128, size=shape, dtype=np.int64).astype(np.int8)


def elementwise_model():
    """float -> QUANTIZE -> MUL(const, RELU) -> ADD(RELU6) -> MAX_POOL -> LOGISTIC
    -> QUANTIZE(int8->int8) -> DEQUANTIZE -> float."""
    rng = np.random.default_rng(7)
    m = ModelBuilder()
    x = m.tensor([1, 6, 6, 3], FLOAT32)
    q = m.tensor([1, 6, 6, 3], INT8, 0.04, -5)
    c = m.tensor([3], INT8, 0.02, 1, data=q8(rng, [3]))
    mu = m.tensor([1, 6, 6, 3], INT8, 0.03, 2)
    ad = m.tensor([1, 6, 6, 3], INT8, 0.06, -3)
    mp = m.tensor([1, 3, 3, 3], INT8, 0.06, -3)
    lg = m.tensor([1, 3, 3, 3], INT8, 1.0 / 256, -128)
    rq = m.tensor([1, 3, 3, 3], INT8, 0.01, 10)
    y = m.tensor([1, 3, 3, 3], FLOAT32)
    m.op(QUANTIZE, [x], [q])
    m.op(MUL, [q, c], [mu], OPT_MUL, [(0, "i8", RELU)])
    m.op(ADD, [mu, q], [ad], OPT_ADD, [(0, "i8", RELU6)])
    m.op(MAX_POOL_2D, [ad], [mp], OPT_POOL, [(0, "i8", VALID), (1, "i32", 2), (2, "i32", 2), (3, "i32", 2), (4, "i32", 2)])
    m.op(LOGISTIC, [mp], [lg])
    m.op(QUANTIZE, [lg], [rq])
    m.op(DEQUANTIZE, [rq], [y])
    return m.build([x], [y])


def conv_model():
    """int8 -> CONV 3x3/2 VALID RELU (per-channel) -> DEPTHWISE 3x3 SAME dilation 2, multiplier 2
    RELU6 (per-channel) -> AVERAGE_POOL 2x2/1 SAME -> CONV 1x1 (per-tensor, no bias) -> RESHAPE
    -> FULLY_CONNECTED -> SOFTMAX(beta 0.7)."""
    rng = np.random.default_rng(11)
    m = ModelBuilder()
    in_s = 0.05
    x = m.tensor([1, 9, 7, 4], INT8, in_s, 2)
    w1s = rng.uniform(0.002, 0.01, 6).astype(np.float32)
    w1 = m.tensor([6, 3, 3, 4], INT8, w1s, np.zeros(6, np.int64), data=q8(rng, [6, 3, 3, 4]))
    b1 = m.tensor([6], INT32, (np.float32(in_s) * w1s), np.zeros(6, np.int64),
                  data=rng.integers(-2000, 2000, 6).astype(np.int32))
    c1 = m.tensor([1, 4, 3, 6], INT8, 0.1, -10)
    w2s = rng.uniform(0.005, 0.02, 12).astype(np.float32)
    w2 = m.tensor([1, 3, 3, 12], INT8, w2s, np.zeros(12, np.int64), data=q8(rng, [1, 3, 3, 12]), qdim=3)
    b2 = m.tensor([12], INT32, (np.float32(0.1) * w2s), np.zeros(12, np.int64),
                  data=rng.integers(-500, 500, 12).astype(np.int32))
    d2 = m.tensor([1, 4, 3, 12], INT8, 0.08, 5)
    p3 = m.tensor([1, 4, 3, 12], INT8, 0.08, 5)
    w4 = m.tensor([5, 1, 1, 12], INT8, 0.01, 0, data=q8(rng, [5, 1, 1, 12]))
    c4 = m.tensor([1, 4, 3, 5], INT8, 0.07, 0)
    r5 = m.tensor([1, 60], INT8, 0.07, 0)
    w6 = m.tensor([8, 60], INT8, 0.004, 0, data=q8(rng, [8, 60]))
    b6 = m.tensor([8], INT32, np.float32(0.07) * np.float32(0.004), 0,
                  data=rng.integers(-3000, 3000, 8).astype(np.int32))
    f6 = m.tensor([1, 8], INT8, 0.2, 3)
    s7 = m.tensor([1, 8], INT8, 1.0 / 256, -128)
    m.op(CONV_2D, [x, w1, b1], [c1], OPT_CONV, [(0, "i8", VALID), (1, "i32", 2), (2, "i32", 2), (3, "i8", RELU)])
    m.op(DEPTHWISE_CONV_2D, [c1, w2, b2], [d2], OPT_DW,
         [(0, "i8", SAME), (1, "i32", 1), (2, "i32", 1), (3, "i32", 2), (4, "i8", RELU6), (5, "i32", 2), (6, "i32", 2)])
    m.op(AVERAGE_POOL_2D, [d2], [p3], OPT_POOL, [(0, "i8", SAME), (1, "i32", 1), (2, "i32", 1), (3, "i32", 2), (4, "i32", 2)])
    m.op(CONV_2D, [p3, w4, -1], [c4], OPT_CONV, [(0, "i8", SAME), (1, "i32", 1), (2, "i32", 1)])
    m.op(RESHAPE, [c4], [r5])
    m.op(FULLY_CONNECTED, [r5, w6, b6], [f6], OPT_FC, [])
    m.op(SOFTMAX, [f6], [s7], OPT_SOFTMAX, [(0, "f32", 0.7)])
    return m.build([x], [s7])


def unsupported_model():
    """A single TANH (code 28), which the engine does not implement: load must fail cleanly."""
    m = ModelBuilder()
    x = m.tensor([1, 4], INT8, 0.1, 0)
    y = m.tensor([1, 4], INT8, 1.0 / 128, 0)
    m.op(28, [x], [y])
    return m.build([x], [y])


def main():
    crate = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = os.path.join(crate, "tests", "vectors")
    os.makedirs(out, exist_ok=True)
    for name, fn in [("synthetic_elementwise.tflite", elementwise_model), ("synthetic_conv.tflite", conv_model),
                     ("synthetic_unsupported.tflite", unsupported_model)]:
        data = fn()
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        print(name, len(data), "bytes")


if __name__ == "__main__":
    main()
