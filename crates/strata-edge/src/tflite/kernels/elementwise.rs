//! ADD and MUL for int8 with numpy-style broadcasting (TFLM `reference_integer_ops::Add`/`Mul`
//! and their `Broadcast*6DSlow` variants, which apply the same per-element arithmetic).

use super::super::model::{MAX_RANK, OpDesc, OpKind, Shape, TensorDesc};
use super::super::quant::{
    activation_range_int8, multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_smaller_than_one_exp, quantize_multiplier,
};

/// Element count of the broadcast of `a` and `b`, or `None` if they do not broadcast.
pub(super) fn broadcast_shape(a: &Shape, b: &Shape) -> Option<usize> {
    let (ea, eb) = (extend(a), extend(b));
    let mut n = 1usize;
    for i in 0..MAX_RANK {
        let (x, y) = (ea[i], eb[i]);
        let d = if x == y || y == 1 {
            x
        } else if x == 1 {
            y
        } else {
            return None;
        };
        n *= d;
    }
    Some(n)
}

/// Left-pads a shape with ones to `MAX_RANK` dimensions.
fn extend(s: &Shape) -> [usize; MAX_RANK] {
    let mut e = [1usize; MAX_RANK];
    let r = s.rank();
    for i in 0..r {
        e[MAX_RANK - r + i] = s.dim(i);
    }
    e
}

/// Row-major strides of an extended shape, 0 along broadcast dimensions.
fn strides(e: &[usize; MAX_RANK], out: &[usize; MAX_RANK]) -> [usize; MAX_RANK] {
    let mut s = [0usize; MAX_RANK];
    let mut acc = 1usize;
    for i in (0..MAX_RANK).rev() {
        s[i] = if e[i] == 1 && out[i] != 1 { 0 } else { acc };
        acc *= e[i];
    }
    s
}

enum Params {
    Add {
        in1_mult: i32,
        in1_shift: i32,
        in2_mult: i32,
        in2_shift: i32,
        out_mult: i32,
        out_shift: i32,
    },
    Mul {
        mult: i32,
        shift: i32,
    },
}

const ADD_LEFT_SHIFT: i32 = 20;

pub(super) fn eval(
    op: &OpDesc,
    a: &TensorDesc<'_>,
    b: &TensorDesc<'_>,
    o: &TensorDesc<'_>,
    da: &[u8],
    db: &[u8],
    out: &mut [u8],
) {
    let in1: &[i8] = bytemuck::cast_slice(da);
    let in2: &[i8] = bytemuck::cast_slice(db);
    let out: &mut [i8] = bytemuck::cast_slice_mut(out);
    let (lo, hi) = activation_range_int8(op.activation, o.scale, o.zero_point);
    let params = if op.kind == OpKind::Add {
        let twice_max = 2.0 * f64::from(a.scale.max(b.scale));
        let (in1_mult, in1_shift) = quantize_multiplier(f64::from(a.scale) / twice_max);
        let (in2_mult, in2_shift) = quantize_multiplier(f64::from(b.scale) / twice_max);
        let (out_mult, out_shift) = quantize_multiplier(
            twice_max / (f64::from(1i32 << ADD_LEFT_SHIFT) * f64::from(o.scale)),
        );
        Params::Add {
            in1_mult,
            in1_shift,
            in2_mult,
            in2_shift,
            out_mult,
            out_shift,
        }
    } else {
        let (mult, shift) =
            quantize_multiplier(f64::from(a.scale) * f64::from(b.scale) / f64::from(o.scale));
        Params::Mul { mult, shift }
    };
    let (off1, off2, out_zp) = (-a.zero_point, -b.zero_point, o.zero_point);
    let f = |x: i8, y: i8| -> i8 {
        let v1 = i32::from(x) + off1;
        let v2 = i32::from(y) + off2;
        let raw = match params {
            Params::Add {
                in1_mult,
                in1_shift,
                in2_mult,
                in2_shift,
                out_mult,
                out_shift,
            } => {
                let s1 = multiply_by_quantized_multiplier_smaller_than_one_exp(
                    v1.wrapping_mul(1 << ADD_LEFT_SHIFT),
                    in1_mult,
                    in1_shift,
                );
                let s2 = multiply_by_quantized_multiplier_smaller_than_one_exp(
                    v2.wrapping_mul(1 << ADD_LEFT_SHIFT),
                    in2_mult,
                    in2_shift,
                );
                multiply_by_quantized_multiplier_smaller_than_one_exp(
                    s1.wrapping_add(s2),
                    out_mult,
                    out_shift,
                )
                .wrapping_add(out_zp)
            }
            Params::Mul { mult, shift } => {
                out_zp.wrapping_add(multiply_by_quantized_multiplier(v1 * v2, mult, shift))
            }
        };
        raw.clamp(lo, hi) as i8
    };
    if a.shape == b.shape {
        for ((d, &x), &y) in out.iter_mut().zip(in1).zip(in2) {
            *d = f(x, y);
        }
        return;
    }
    let (ea, eb) = (extend(&a.shape), extend(&b.shape));
    let mut eo = [1usize; MAX_RANK];
    for i in 0..MAX_RANK {
        eo[i] = ea[i].max(eb[i]);
    }
    let (sa, sb) = (strides(&ea, &eo), strides(&eb, &eo));
    let mut idx = [0usize; MAX_RANK];
    for d in out.iter_mut() {
        let (mut ia, mut ib) = (0usize, 0usize);
        for k in 0..MAX_RANK {
            ia += idx[k] * sa[k];
            ib += idx[k] * sb[k];
        }
        *d = f(in1[ia], in2[ib]);
        // Increment the multi-index, innermost dimension fastest.
        for k in (0..MAX_RANK).rev() {
            idx[k] += 1;
            if idx[k] < eo[k] {
                break;
            }
            idx[k] = 0;
        }
    }
}
