//! SOFTMAX and LOGISTIC for int8.
//!
//! TFLM's int8 softmax (`reference_ops::Softmax<int8_t, int8_t>`) uses gemmlowp fixed point,
//! not a lookup table (the LUT path is only for int16): the input difference to the row maximum
//! is scaled into Q5.26, exponentiated with `exp_on_negative_values`, summed in Q12.19 and
//! normalised with `GetReciprocal`. LOGISTIC (`reference_integer_ops::Logistic`) scales into
//! Q4.27 and uses gemmlowp `logistic`. Both are reproduced here step for step.

use super::super::model::{OpDesc, TensorDesc};
use super::super::quant::{
    calculate_input_radius, exp_on_negative_values, get_reciprocal, logistic as fp_logistic,
    multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_greater_than_one,
    quantize_multiplier, rescale, rounding_divide_by_pot, srdhm,
};

const SCALED_DIFF_INTEGER_BITS: i32 = 5;
const ACCUMULATION_INTEGER_BITS: i32 = 12;

/// `PreprocessSoftmaxScaling(beta, input_scale, 5)`: (multiplier, left shift).
pub(super) fn softmax_params(beta: f32, input_scale: f32) -> (i32, i32) {
    let real = (f64::from(beta)
        * f64::from(input_scale)
        * (1i64 << (31 - SCALED_DIFF_INTEGER_BITS)) as f64)
        .min((1i64 << 31) as f64 - 1.0);
    quantize_multiplier(real)
}

pub(super) fn softmax(op: &OpDesc, x: &TensorDesc<'_>, data: &[u8], out: &mut [u8]) {
    let input: &[i8] = bytemuck::cast_slice(data);
    let out: &mut [i8] = bytemuck::cast_slice_mut(out);
    let (multiplier, left_shift) = softmax_params(op.beta, x.scale);
    let diff_min = -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, left_shift);
    let depth = x.shape.last().max(1);
    let exp_of = |diff: i32| {
        let rescaled =
            multiply_by_quantized_multiplier_greater_than_one(diff, multiplier, left_shift);
        exp_on_negative_values(rescaled, SCALED_DIFF_INTEGER_BITS)
    };
    for (row, dst) in input.chunks_exact(depth).zip(out.chunks_exact_mut(depth)) {
        let max = row.iter().copied().max().unwrap_or(i8::MIN);
        let mut sum_of_exps = 0i32;
        for &v in row {
            let diff = i32::from(v) - i32::from(max);
            if diff >= diff_min {
                sum_of_exps =
                    sum_of_exps.wrapping_add(rescale(exp_of(diff), 0, ACCUMULATION_INTEGER_BITS));
            }
        }
        let (shifted_scale, num_bits_over_unit) =
            get_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS);
        for (&v, d) in row.iter().zip(dst.iter_mut()) {
            let diff = i32::from(v) - i32::from(max);
            *d = if diff >= diff_min {
                let unsat = rounding_divide_by_pot(
                    srdhm(shifted_scale, exp_of(diff)),
                    num_bits_over_unit + 31 - 8,
                );
                (unsat - 128).clamp(-128, 127) as i8
            } else {
                i8::MIN
            };
        }
    }
}

pub(super) fn logistic(x: &TensorDesc<'_>, data: &[u8], out: &mut [u8]) {
    const INPUT_INTEGER_BITS: i32 = 4;
    let input: &[i8] = bytemuck::cast_slice(data);
    let out: &mut [i8] = bytemuck::cast_slice_mut(out);
    // CalculateArithmeticOpDataLogistic: frexp + round, without QuantizeMultiplier's fix-ups.
    let real = f64::from(x.scale) * f64::from(1i32 << (31 - INPUT_INTEGER_BITS));
    let (q, left_shift) = libm::frexp(real);
    let multiplier = libm::round(q * (1i64 << 31) as f64) as i64 as i32;
    let radius = calculate_input_radius(INPUT_INTEGER_BITS, left_shift);
    for (&v, d) in input.iter().zip(out.iter_mut()) {
        let centered = i32::from(v) - x.zero_point;
        *d = if centered <= -radius {
            i8::MIN
        } else if centered >= radius {
            i8::MAX
        } else {
            let in_q4 = multiply_by_quantized_multiplier(centered, multiplier, left_shift);
            let out_q0 = fp_logistic(in_q4, INPUT_INTEGER_BITS);
            let out_q23 = rounding_divide_by_pot(out_q0, 31 - 8);
            (out_q23 - 128).clamp(-128, 127) as i8
        };
    }
}
