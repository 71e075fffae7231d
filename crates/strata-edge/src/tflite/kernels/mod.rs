//! Operator validation (at load time) and evaluation (at invoke time).
//!
//! Each kernel follows the arithmetic of TFLite Micro's reference int8 kernel of the same name;
//! the loops are reorganised for speed (channel blocks, hoisted requantisation parameters, input
//! zero-point folded into the bias where the reference adds it per element) without changing any
//! integer result.

mod activation;
mod conv;
mod elementwise;
mod misc;
mod pool;

use core::ops::Range;

use super::error::Error;
use super::interpreter::tensor_range_with_len;
use super::model::{ElementType, Model, OpDesc, OpKind, Padding, TensorDesc};

/// Output channels processed per block; per-channel requantisation parameters for one block
/// live on the stack (4 arrays of this many `i32`).
pub(crate) const CHANNEL_BLOCK: usize = 64;

fn shape_err(op_index: usize, reason: &'static str) -> Error {
    Error::UnsupportedShape { op_index, reason }
}

fn quant_err(tensor: i32, reason: &'static str) -> Error {
    Error::UnsupportedQuantization {
        tensor: tensor.max(0) as usize,
        reason,
    }
}

fn expect_type(t: &TensorDesc<'_>, index: i32, ty: ElementType) -> Result<(), Error> {
    if t.element_type == ty {
        Ok(())
    } else {
        Err(Error::UnsupportedType {
            tensor: index.max(0) as usize,
            type_code: match t.element_type {
                ElementType::Float32 => 0,
                ElementType::Int32 => 2,
                ElementType::Int8 => 9,
            },
        })
    }
}

/// `tflite::ComputeOutSize`.
pub(crate) fn compute_out_size(
    padding: Padding,
    image: i32,
    filter: i32,
    stride: i32,
    dilation: i32,
) -> i32 {
    let effective = (filter - 1) * dilation + 1;
    if stride == 0 {
        return 0;
    }
    match padding {
        Padding::Same => (image + stride - 1) / stride,
        Padding::Valid => (image + stride - effective) / stride,
    }
}

/// `tflite::ComputePaddingWithOffset` (the reference kernels use only the returned value).
pub(crate) fn compute_padding(
    stride: i32,
    dilation: i32,
    input: i32,
    filter: i32,
    out: i32,
) -> i32 {
    let effective = (filter - 1) * dilation + 1;
    let total = ((out - 1) * stride + effective - input).max(0);
    total / 2
}

/// Checks an int8 activation tensor has per-tensor quantization.
fn check_int8_activation(t: &TensorDesc<'_>, index: i32) -> Result<(), Error> {
    expect_type(t, index, ElementType::Int8)?;
    if t.scales.is_none() || t.scale <= 0.0 || !t.scale.is_finite() {
        return Err(quant_err(index, "int8 tensor without a positive scale"));
    }
    if !(-128..=127).contains(&t.zero_point) {
        return Err(quant_err(index, "zero point outside int8 range"));
    }
    Ok(())
}

/// Validates operator `index` of `model` at load time.
pub(crate) fn validate(model: &Model<'_>, index: usize, op: &OpDesc) -> Result<(), Error> {
    let input = |k: usize| -> Result<Option<TensorDesc<'_>>, Error> {
        match op.inputs.get(k).copied() {
            Some(t) if k < op.num_inputs && t >= 0 => model.op_tensor(t).map(Some),
            _ => Ok(None),
        }
    };
    let require = |k: usize| -> Result<TensorDesc<'_>, Error> {
        input(k)?.ok_or(shape_err(index, "missing operator input"))
    };
    let output = model.op_tensor(op.output)?;
    if output.data.is_some() {
        return Err(shape_err(index, "operator output is a constant tensor"));
    }
    if op.stride_w <= 0 || op.stride_h <= 0 || op.dilation_w <= 0 || op.dilation_h <= 0 {
        return Err(shape_err(index, "non-positive stride or dilation"));
    }
    match op.kind {
        OpKind::FullyConnected | OpKind::Conv2d | OpKind::DepthwiseConv2d => {
            let x = require(0)?;
            let w = require(1)?;
            check_int8_activation(&x, op.inputs[0])?;
            check_int8_activation(&output, op.output)?;
            expect_type(&w, op.inputs[1], ElementType::Int8)?;
            if w.data.is_none() {
                return Err(shape_err(index, "weights must be constant"));
            }
            if let Some(zps) = w.zero_points
                && zps.iter().any(|z| z != 0)
            {
                return Err(quant_err(op.inputs[1], "non-zero int8 weight zero point"));
            }
            let out_channels = match op.kind {
                OpKind::FullyConnected => {
                    if w.shape.rank() != 2 {
                        return Err(shape_err(index, "fully-connected weights must be 2-D"));
                    }
                    let depth = w.shape.dim(1);
                    if depth == 0 || x.shape.num_elements() % depth != 0 {
                        return Err(shape_err(
                            index,
                            "input size not a multiple of weight depth",
                        ));
                    }
                    let units = w.shape.dim(0);
                    if output.shape.last() != units
                        || output.shape.num_elements() != units * (x.shape.num_elements() / depth)
                    {
                        return Err(shape_err(index, "fully-connected output shape"));
                    }
                    units
                }
                _ => {
                    if x.shape.rank() != 4 || w.shape.rank() != 4 || output.shape.rank() != 4 {
                        return Err(shape_err(index, "convolution tensors must be 4-D"));
                    }
                    let (kh, kw) = (w.shape.dims()[1], w.shape.dims()[2]);
                    let (ih, iw) = (x.shape.dims()[1], x.shape.dims()[2]);
                    let oh = compute_out_size(op.padding, ih, kh, op.stride_h, op.dilation_h);
                    let ow = compute_out_size(op.padding, iw, kw, op.stride_w, op.dilation_w);
                    if output.shape.dims()[1] != oh
                        || output.shape.dims()[2] != ow
                        || output.shape.dim(0) != x.shape.dim(0)
                    {
                        return Err(shape_err(index, "convolution output size"));
                    }
                    let oc = output.shape.dim(3);
                    let ic = x.shape.dim(3);
                    if op.kind == OpKind::Conv2d {
                        let fic = w.shape.dim(3);
                        if w.shape.dim(0) != oc || fic == 0 || ic % fic != 0 {
                            return Err(shape_err(index, "convolution channel counts"));
                        }
                        let groups = ic / fic;
                        if oc % groups != 0 {
                            return Err(shape_err(index, "convolution groups"));
                        }
                    } else if w.shape.dim(0) != 1 || w.shape.dim(3) != oc || ic == 0 || oc % ic != 0
                    {
                        return Err(shape_err(index, "depthwise channel counts"));
                    }
                    oc
                }
            };
            let n = w.num_scales();
            if n != 1 && n != out_channels {
                return Err(quant_err(op.inputs[1], "weight scales per channel"));
            }
            if let Some(b) = input(2)? {
                expect_type(&b, op.inputs[2], ElementType::Int32)?;
                if b.data.is_none() || b.shape.num_elements() != out_channels {
                    return Err(shape_err(index, "bias must be constant, one per channel"));
                }
            }
        }
        OpKind::AveragePool2d | OpKind::MaxPool2d => {
            let x = require(0)?;
            check_int8_activation(&x, op.inputs[0])?;
            check_int8_activation(&output, op.output)?;
            if x.shape.rank() != 4 || output.shape.rank() != 4 {
                return Err(shape_err(index, "pool tensors must be 4-D"));
            }
            if op.filter_w <= 0 || op.filter_h <= 0 {
                return Err(shape_err(index, "pool filter size"));
            }
            let oh = compute_out_size(op.padding, x.shape.dims()[1], op.filter_h, op.stride_h, 1);
            let ow = compute_out_size(op.padding, x.shape.dims()[2], op.filter_w, op.stride_w, 1);
            if output.shape.dims()[1] != oh
                || output.shape.dims()[2] != ow
                || output.shape.dim(3) != x.shape.dim(3)
                || output.shape.dim(0) != x.shape.dim(0)
            {
                return Err(shape_err(index, "pool output size"));
            }
            if x.scale != output.scale || x.zero_point != output.zero_point {
                return Err(quant_err(
                    op.output,
                    "pool input and output quantization differ",
                ));
            }
        }
        OpKind::Reshape => {
            let x = require(0)?;
            if x.element_type != output.element_type
                || x.shape.num_elements() != output.shape.num_elements()
            {
                return Err(shape_err(index, "reshape changes type or element count"));
            }
        }
        OpKind::Softmax | OpKind::Logistic => {
            let x = require(0)?;
            check_int8_activation(&x, op.inputs[0])?;
            check_int8_activation(&output, op.output)?;
            if output.zero_point != -128 {
                return Err(quant_err(op.output, "int8 output zero point must be -128"));
            }
            if x.shape.num_elements() != output.shape.num_elements() {
                return Err(shape_err(index, "input and output sizes differ"));
            }
            if op.kind == OpKind::Softmax {
                let (m, _) = activation::softmax_params(op.beta, x.scale);
                if m <= 0 {
                    return Err(quant_err(op.inputs[0], "softmax input scale"));
                }
            }
        }
        OpKind::Add | OpKind::Mul => {
            let a = require(0)?;
            let b = require(1)?;
            check_int8_activation(&a, op.inputs[0])?;
            check_int8_activation(&b, op.inputs[1])?;
            check_int8_activation(&output, op.output)?;
            if elementwise::broadcast_shape(&a.shape, &b.shape) != Some(output.shape.num_elements())
            {
                return Err(shape_err(
                    index,
                    "inputs do not broadcast to the output shape",
                ));
            }
        }
        OpKind::Quantize => {
            let x = require(0)?;
            check_int8_activation(&output, op.output)?;
            match x.element_type {
                ElementType::Float32 => {}
                ElementType::Int8 => check_int8_activation(&x, op.inputs[0])?,
                ElementType::Int32 => {
                    return Err(Error::UnsupportedType {
                        tensor: op.inputs[0] as usize,
                        type_code: 2,
                    });
                }
            }
            if x.shape.num_elements() != output.shape.num_elements() {
                return Err(shape_err(index, "input and output sizes differ"));
            }
        }
        OpKind::Dequantize => {
            let x = require(0)?;
            check_int8_activation(&x, op.inputs[0])?;
            expect_type(&output, op.output, ElementType::Float32)?;
            if x.shape.num_elements() != output.shape.num_elements() {
                return Err(shape_err(index, "input and output sizes differ"));
            }
        }
    }
    Ok(())
}

fn sub_range<'x>(head: &'x [u8], tail: &'x [u8], out: &Range<usize>, r: Range<usize>) -> &'x [u8] {
    if r.end <= out.start {
        &head[r]
    } else {
        // The planner never overlaps an input with the output of the same operator.
        let base = out.end;
        &tail[r.start.saturating_sub(base)..r.end.saturating_sub(base)]
    }
}

/// Evaluates one operator. `activations` is the planned region of the arena and `table`
/// the tensor offset table.
pub(crate) fn eval(
    model: &Model<'_>,
    op: &OpDesc,
    activations: &mut [u8],
    table: &[u8],
) -> Result<(), Error> {
    let out_desc = model.op_tensor(op.output)?;
    let out_range = tensor_range_with_len(table, op.output as usize, out_desc.byte_size())?;
    let mut descs: [Option<TensorDesc<'_>>; 3] = [None; 3];
    let mut ranges: [Option<Range<usize>>; 3] = [None, None, None];
    for k in 0..op.num_inputs {
        let t = op.inputs[k];
        if t < 0 {
            continue;
        }
        let d = model.op_tensor(t)?;
        if d.data.is_none() {
            ranges[k] = Some(tensor_range_with_len(table, t as usize, d.byte_size())?);
        }
        descs[k] = Some(d);
    }
    let (head, rest) = activations.split_at_mut(out_range.start);
    let (out, tail) = rest.split_at_mut(out_range.len());
    let (head, tail): (&[u8], &[u8]) = (head, tail);
    let mut data: [&[u8]; 3] = [&[]; 3];
    for k in 0..3 {
        if let Some(d) = &descs[k] {
            data[k] = match (d.data, ranges[k].clone()) {
                (Some(c), _) => c,
                (None, Some(r)) => sub_range(head, tail, &out_range, r),
                (None, None) => &[],
            };
        }
    }
    let missing = || Error::InvalidTensor { tensor: -1 };
    let x = descs[0].ok_or_else(missing)?;
    match op.kind {
        OpKind::FullyConnected => {
            let w = descs[1].ok_or_else(missing)?;
            conv::fully_connected(op, &x, &w, descs[2].as_ref(), &out_desc, data, out);
        }
        OpKind::Conv2d => {
            let w = descs[1].ok_or_else(missing)?;
            conv::conv2d(op, &x, &w, descs[2].as_ref(), &out_desc, data, out);
        }
        OpKind::DepthwiseConv2d => {
            let w = descs[1].ok_or_else(missing)?;
            conv::depthwise_conv2d(op, &x, &w, descs[2].as_ref(), &out_desc, data, out);
        }
        OpKind::AveragePool2d | OpKind::MaxPool2d => {
            pool::pool(op, &x, &out_desc, data[0], out);
        }
        OpKind::Reshape => out.copy_from_slice(&data[0][..out.len()]),
        OpKind::Softmax => activation::softmax(op, &x, data[0], out),
        OpKind::Logistic => activation::logistic(&x, data[0], out),
        OpKind::Add | OpKind::Mul => {
            let b = descs[1].ok_or_else(missing)?;
            elementwise::eval(op, &x, &b, &out_desc, data[0], data[1], out);
        }
        OpKind::Quantize => misc::quantize(&x, &out_desc, data[0], out),
        OpKind::Dequantize => misc::dequantize(&x, data[0], out),
    }
    Ok(())
}

/// Reads little-endian int32 element `i` of a constant tensor.
#[inline(always)]
pub(crate) fn read_i32(bytes: &[u8], i: usize) -> i32 {
    let b = &bytes[4 * i..4 * i + 4];
    i32::from_le_bytes([b[0], b[1], b[2], b[3]])
}
