//! FULLY_CONNECTED, CONV_2D and DEPTHWISE_CONV_2D (int8, per-tensor or per-channel weights).
//!
//! Reference: TFLM `reference_integer_ops::FullyConnected`, `ConvPerChannel`,
//! `DepthwiseConvPerChannel`; multipliers as in `PopulateConvolutionQuantizationParams`
//! (`QuantizeMultiplier(double(input_scale) * double(filter_scale) / double(output_scale))`).

use super::super::model::{OpDesc, TensorDesc};
use super::super::quant::{
    activation_range_int8, multiply_by_quantized_multiplier, quantize_multiplier,
};
use super::{CHANNEL_BLOCK, compute_padding, read_i32};

/// Requantisation parameters for one block of output channels.
struct Block {
    mult: [i32; CHANNEL_BLOCK],
    shift: [i32; CHANNEL_BLOCK],
    /// Bias (0 without a bias tensor).
    bias: [i32; CHANNEL_BLOCK],
    /// Bias plus `input_offset * sum(weights of the channel)`: the reference adds the input
    /// offset to every input value; folding it here gives the same integer.
    folded_bias: [i32; CHANNEL_BLOCK],
}

impl Block {
    fn new(
        x: &TensorDesc<'_>,
        w: &TensorDesc<'_>,
        out: &TensorDesc<'_>,
        bias: Option<&[u8]>,
        c0: usize,
        n: usize,
        weights_of: impl Fn(usize) -> i32,
    ) -> Self {
        let mut b = Block {
            mult: [0; CHANNEL_BLOCK],
            shift: [0; CHANNEL_BLOCK],
            bias: [0; CHANNEL_BLOCK],
            folded_bias: [0; CHANNEL_BLOCK],
        };
        let input_offset = -x.zero_point;
        let multiplier = |c: usize| {
            let real = f64::from(x.scale) * f64::from(w.channel_scale(c)) / f64::from(out.scale);
            quantize_multiplier(real)
        };
        // Per-tensor weights: one multiplier for every channel.
        let shared = (w.num_scales() <= 1).then(|| multiplier(0));
        for j in 0..n {
            let c = c0 + j;
            let (m, s) = shared.unwrap_or_else(|| multiplier(c));
            b.mult[j] = m;
            b.shift[j] = s;
            b.bias[j] = bias.map_or(0, |bytes| read_i32(bytes, c));
            b.folded_bias[j] = b.bias[j].wrapping_add(input_offset.wrapping_mul(weights_of(c)));
        }
        b
    }
}

#[inline(always)]
fn requantize(acc: i32, mult: i32, shift: i32, zero_point: i32, lo: i32, hi: i32) -> i8 {
    let v = multiply_by_quantized_multiplier(acc, mult, shift).wrapping_add(zero_point);
    v.clamp(lo, hi) as i8
}

/// Sum of `a[i] * b[i]` in int32 (wrapping, as the reference's int32 accumulator).
#[inline(always)]
fn dot(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .fold(0i32, i32::wrapping_add)
}

/// Sum of `w[i] * (x[i] + offset)`, the reference's formula.
#[inline(always)]
fn dot_offset(w: &[i8], x: &[i8], offset: i32) -> i32 {
    w.iter()
        .zip(x)
        .map(|(&a, &b)| i32::from(a) * (i32::from(b) + offset))
        .fold(0i32, i32::wrapping_add)
}

fn sum(w: &[i8]) -> i32 {
    w.iter()
        .map(|&v| i32::from(v))
        .fold(0i32, i32::wrapping_add)
}

pub(super) fn fully_connected(
    op: &OpDesc,
    x: &TensorDesc<'_>,
    w: &TensorDesc<'_>,
    b: Option<&TensorDesc<'_>>,
    o: &TensorDesc<'_>,
    data: [&[u8]; 3],
    out: &mut [u8],
) {
    let input: &[i8] = bytemuck::cast_slice(data[0]);
    let filter: &[i8] = bytemuck::cast_slice(data[1]);
    let bias = b.map(|_| data[2]);
    let out: &mut [i8] = bytemuck::cast_slice_mut(out);
    let depth = w.shape.dim(1);
    let units = w.shape.dim(0);
    let batches = x.shape.num_elements() / depth;
    let (lo, hi) = activation_range_int8(op.activation, o.scale, o.zero_point);
    for c0 in (0..units).step_by(CHANNEL_BLOCK) {
        let n = CHANNEL_BLOCK.min(units - c0);
        let blk = Block::new(x, w, o, bias, c0, n, |c| {
            sum(&filter[c * depth..(c + 1) * depth])
        });
        for batch in 0..batches {
            let xs = &input[batch * depth..(batch + 1) * depth];
            let row = &mut out[batch * units + c0..batch * units + c0 + n];
            for (j, dst) in row.iter_mut().enumerate() {
                let c = c0 + j;
                let acc =
                    dot(&filter[c * depth..(c + 1) * depth], xs).wrapping_add(blk.folded_bias[j]);
                *dst = requantize(acc, blk.mult[j], blk.shift[j], o.zero_point, lo, hi);
            }
        }
    }
}

pub(super) fn conv2d(
    op: &OpDesc,
    x: &TensorDesc<'_>,
    w: &TensorDesc<'_>,
    b: Option<&TensorDesc<'_>>,
    o: &TensorDesc<'_>,
    data: [&[u8]; 3],
    out: &mut [u8],
) {
    let input: &[i8] = bytemuck::cast_slice(data[0]);
    let filter: &[i8] = bytemuck::cast_slice(data[1]);
    let bias = b.map(|_| data[2]);
    let out: &mut [i8] = bytemuck::cast_slice_mut(out);
    let (batches, ih, iw, ic) = (
        x.shape.dim(0),
        x.shape.dim(1),
        x.shape.dim(2),
        x.shape.dim(3),
    );
    let (oc, kh, kw, fic) = (
        w.shape.dim(0),
        w.shape.dim(1),
        w.shape.dim(2),
        w.shape.dim(3),
    );
    let (oh, ow) = (o.shape.dim(1), o.shape.dim(2));
    let groups = ic / fic;
    let filters_per_group = oc / groups;
    let (sh, sw) = (op.stride_h as usize, op.stride_w as usize);
    let (dh, dw) = (op.dilation_h as usize, op.dilation_w as usize);
    let pad_h = compute_padding(op.stride_h, op.dilation_h, ih as i32, kh as i32, oh as i32);
    let pad_w = compute_padding(op.stride_w, op.dilation_w, iw as i32, kw as i32, ow as i32);
    let input_offset = -x.zero_point;
    let (lo, hi) = activation_range_int8(op.activation, o.scale, o.zero_point);
    let filter_len = kh * kw * fic;
    let pointwise = kh == 1
        && kw == 1
        && sh == 1
        && sw == 1
        && groups == 1
        && pad_h == 0
        && pad_w == 0
        && oh == ih
        && ow == iw;
    for c0 in (0..oc).step_by(CHANNEL_BLOCK) {
        let n = CHANNEL_BLOCK.min(oc - c0);
        let blk = Block::new(x, w, o, bias, c0, n, |c| {
            sum(&filter[c * filter_len..(c + 1) * filter_len])
        });
        if pointwise {
            // 1x1, stride 1, no padding, one group: a matrix product, one dot per output.
            let ws = &filter[c0 * ic..(c0 + n) * ic];
            for (xs, orow) in input.chunks_exact(ic).zip(out.chunks_exact_mut(oc)) {
                let orow = &mut orow[c0..c0 + n];
                for (j, (dst, w)) in orow.iter_mut().zip(ws.chunks_exact(ic)).enumerate() {
                    let acc = dot(w, xs).wrapping_add(blk.folded_bias[j]);
                    *dst = requantize(acc, blk.mult[j], blk.shift[j], o.zero_point, lo, hi);
                }
            }
            continue;
        }
        for batch in 0..batches {
            for oy in 0..oh {
                let iy0 = (oy * sh) as i32 - pad_h;
                for ox in 0..ow {
                    let ix0 = (ox * sw) as i32 - pad_w;
                    let interior = iy0 >= 0
                        && ix0 >= 0
                        && iy0 as usize + (kh - 1) * dh < ih
                        && ix0 as usize + (kw - 1) * dw < iw;
                    let out_base = ((batch * oh + oy) * ow + ox) * oc;
                    for j in 0..n {
                        let c = c0 + j;
                        let group_base = (c / filters_per_group) * fic;
                        let wc = &filter[c * filter_len..(c + 1) * filter_len];
                        let mut acc = if interior {
                            blk.folded_bias[j]
                        } else {
                            blk.bias[j]
                        };
                        for ky in 0..kh {
                            let iy = iy0 + (ky * dh) as i32;
                            if iy < 0 || iy as usize >= ih {
                                continue;
                            }
                            for kx in 0..kw {
                                let ix = ix0 + (kx * dw) as i32;
                                if ix < 0 || ix as usize >= iw {
                                    continue;
                                }
                                let at = ((batch * ih + iy as usize) * iw + ix as usize) * ic
                                    + group_base;
                                let xs = &input[at..at + fic];
                                let ws = &wc[(ky * kw + kx) * fic..(ky * kw + kx + 1) * fic];
                                let d = if interior {
                                    dot(ws, xs)
                                } else {
                                    dot_offset(ws, xs, input_offset)
                                };
                                acc = acc.wrapping_add(d);
                            }
                        }
                        out[out_base + c] =
                            requantize(acc, blk.mult[j], blk.shift[j], o.zero_point, lo, hi);
                    }
                }
            }
        }
    }
}

pub(super) fn depthwise_conv2d(
    op: &OpDesc,
    x: &TensorDesc<'_>,
    w: &TensorDesc<'_>,
    b: Option<&TensorDesc<'_>>,
    o: &TensorDesc<'_>,
    data: [&[u8]; 3],
    out: &mut [u8],
) {
    let input: &[i8] = bytemuck::cast_slice(data[0]);
    let filter: &[i8] = bytemuck::cast_slice(data[1]);
    let bias = b.map(|_| data[2]);
    let out: &mut [i8] = bytemuck::cast_slice_mut(out);
    let (batches, ih, iw, ic) = (
        x.shape.dim(0),
        x.shape.dim(1),
        x.shape.dim(2),
        x.shape.dim(3),
    );
    let (kh, kw, oc) = (w.shape.dim(1), w.shape.dim(2), w.shape.dim(3));
    let (oh, ow) = (o.shape.dim(1), o.shape.dim(2));
    let multiplier = oc / ic;
    let (sh, sw) = (op.stride_h as usize, op.stride_w as usize);
    let (dh, dw) = (op.dilation_h as usize, op.dilation_w as usize);
    let pad_h = compute_padding(op.stride_h, op.dilation_h, ih as i32, kh as i32, oh as i32);
    let pad_w = compute_padding(op.stride_w, op.dilation_w, iw as i32, kw as i32, ow as i32);
    let input_offset = -x.zero_point;
    let (lo, hi) = activation_range_int8(op.activation, o.scale, o.zero_point);
    // Blocks hold whole groups of `multiplier` output channels (one input channel each) when
    // they fit, so the inner loop is a broadcast multiply-accumulate over the group.
    let block = if multiplier <= CHANNEL_BLOCK {
        (CHANNEL_BLOCK / multiplier) * multiplier
    } else {
        CHANNEL_BLOCK
    };
    for c0 in (0..oc).step_by(block) {
        let n = block.min(oc - c0);
        let grouped = multiplier > 1 && multiplier <= CHANNEL_BLOCK;
        let blk = Block::new(x, w, o, bias, c0, n, |_| 0);
        let mut acc = [0i32; CHANNEL_BLOCK];
        for batch in 0..batches {
            for oy in 0..oh {
                let iy0 = (oy * sh) as i32 - pad_h;
                for ox in 0..ow {
                    let ix0 = (ox * sw) as i32 - pad_w;
                    let acc = &mut acc[..n];
                    acc.copy_from_slice(&blk.bias[..n]);
                    for ky in 0..kh {
                        let iy = iy0 + (ky * dh) as i32;
                        if iy < 0 || iy as usize >= ih {
                            continue;
                        }
                        for kx in 0..kw {
                            let ix = ix0 + (kx * dw) as i32;
                            if ix < 0 || ix as usize >= iw {
                                continue;
                            }
                            let at = ((batch * ih + iy as usize) * iw + ix as usize) * ic;
                            let xs = &input[at..at + ic];
                            let wt = (ky * kw + kx) * oc + c0;
                            let ws = &filter[wt..wt + n];
                            if multiplier == 1 {
                                let xs = &xs[c0..c0 + n];
                                for ((a, &wv), &xv) in acc.iter_mut().zip(ws).zip(xs) {
                                    *a = a.wrapping_add(
                                        i32::from(wv) * (i32::from(xv) + input_offset),
                                    );
                                }
                            } else if grouped {
                                let xs = &xs[c0 / multiplier..(c0 + n) / multiplier];
                                for ((a, w), &xv) in acc
                                    .chunks_exact_mut(multiplier)
                                    .zip(ws.chunks_exact(multiplier))
                                    .zip(xs)
                                {
                                    let xv = i32::from(xv) + input_offset;
                                    for (a, &wv) in a.iter_mut().zip(w) {
                                        *a = a.wrapping_add(i32::from(wv) * xv);
                                    }
                                }
                            } else {
                                for (j, (a, &wv)) in acc.iter_mut().zip(ws).enumerate() {
                                    let xv = xs[(c0 + j) / multiplier];
                                    *a = a.wrapping_add(
                                        i32::from(wv) * (i32::from(xv) + input_offset),
                                    );
                                }
                            }
                        }
                    }
                    let out_base = ((batch * oh + oy) * ow + ox) * oc + c0;
                    for (j, dst) in out[out_base..out_base + n].iter_mut().enumerate() {
                        *dst = requantize(acc[j], blk.mult[j], blk.shift[j], o.zero_point, lo, hi);
                    }
                }
            }
        }
    }
}
