//! AVERAGE_POOL_2D and MAX_POOL_2D (TFLM `reference_integer_ops::AveragePool` / `MaxPool`).

use super::super::model::{OpDesc, OpKind, TensorDesc};
use super::super::quant::activation_range_int8;
use super::compute_padding;

pub(super) fn pool(
    op: &OpDesc,
    x: &TensorDesc<'_>,
    o: &TensorDesc<'_>,
    data: &[u8],
    out: &mut [u8],
) {
    let input: &[i8] = bytemuck::cast_slice(data);
    let out: &mut [i8] = bytemuck::cast_slice_mut(out);
    let (batches, ih, iw, depth) = (
        x.shape.dim(0),
        x.shape.dim(1),
        x.shape.dim(2),
        x.shape.dim(3),
    );
    let (oh, ow) = (o.shape.dim(1), o.shape.dim(2));
    let (fh, fw) = (op.filter_h, op.filter_w);
    let pad_h = compute_padding(op.stride_h, 1, ih as i32, fh, oh as i32);
    let pad_w = compute_padding(op.stride_w, 1, iw as i32, fw, ow as i32);
    let (lo, hi) = activation_range_int8(op.activation, o.scale, o.zero_point);
    let average = op.kind == OpKind::AveragePool2d;
    for b in 0..batches {
        for oy in 0..oh {
            let iy0 = oy as i32 * op.stride_h - pad_h;
            let fy0 = (-iy0).max(0);
            let fy1 = fh.min(ih as i32 - iy0);
            for ox in 0..ow {
                let ix0 = ox as i32 * op.stride_w - pad_w;
                let fx0 = (-ix0).max(0);
                let fx1 = fw.min(iw as i32 - ix0);
                let out_base = ((b * oh + oy) * ow + ox) * depth;
                for c in 0..depth {
                    let mut acc: i32 = if average { 0 } else { i32::from(i8::MIN) };
                    let mut count = 0i32;
                    for fy in fy0..fy1 {
                        let iy = (iy0 + fy) as usize;
                        for fx in fx0..fx1 {
                            let ix = (ix0 + fx) as usize;
                            let v = i32::from(input[((b * ih + iy) * iw + ix) * depth + c]);
                            if average {
                                acc += v;
                            } else {
                                acc = acc.max(v);
                            }
                            count += 1;
                        }
                    }
                    if average {
                        if count == 0 {
                            // The reference returns early (leaving the output untouched);
                            // validation makes this unreachable for consistent shapes.
                            continue;
                        }
                        // Round to the closest integer value, halves away from zero.
                        acc = if acc > 0 {
                            (acc + count / 2) / count
                        } else {
                            (acc - count / 2) / count
                        };
                    }
                    out[out_base + c] = acc.clamp(lo, hi) as i8;
                }
            }
        }
    }
}
