//! Integer arithmetic shared by the int8 kernels, copied operation for operation from TensorFlow
//! Lite Micro (`tensorflow/lite/kernels/internal/common.h`, `quantization_util.cc`) and gemmlowp's
//! `fixedpoint.h`, so results are bit-exact with the reference interpreter.
//!
//! TFLM is built without `TFLITE_SINGLE_ROUNDING`, so `MultiplyByQuantizedMultiplier` rounds
//! twice (a rounding doubling high multiply, then a rounding right shift); so do we.
//!
//! C++ signed overflow is undefined; where the reference relies on two's-complement wrapping in
//! practice we use explicit `wrapping_*` operations.

use super::model::Activation;

/// `tflite::QuantizeMultiplier`: splits a positive real multiplier into a Q31 significand and a
/// power-of-two exponent (`real ≈ significand * 2^(shift - 31)`).
pub(crate) fn quantize_multiplier(double_multiplier: f64) -> (i32, i32) {
    if double_multiplier == 0.0 {
        return (0, 0);
    }
    let (q, mut shift) = libm::frexp(double_multiplier);
    // TfLiteRound == std::round: half away from zero.
    let mut q_fixed = libm::round(q * (1i64 << 31) as f64) as i64;
    if q_fixed == 1i64 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        shift = 0;
        q_fixed = 0;
    }
    (q_fixed as i32, shift)
}

/// gemmlowp `SaturatingRoundingDoublingHighMul` for int32.
#[inline(always)]
pub(crate) fn srdhm(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = i64::from(a) * i64::from(b);
    let nudge = if ab >= 0 {
        1i64 << 30
    } else {
        1 - (1i64 << 30)
    };
    // C++ integer division truncates toward zero, as does Rust's `/`.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// gemmlowp `RoundingDivideByPOT`: round-half-away-from-zero arithmetic right shift.
#[inline(always)]
pub(crate) fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> exponent) + i32::from(remainder > threshold)
}

/// `tflite::MultiplyByQuantizedMultiplier` (double-rounding variant).
#[inline(always)]
pub(crate) fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let left_shift = if shift > 0 { shift } else { 0 };
    let right_shift = if shift > 0 { 0 } else { -shift };
    rounding_divide_by_pot(
        srdhm(x.wrapping_mul(1 << left_shift), multiplier),
        right_shift,
    )
}

/// `tflite::MultiplyByQuantizedMultiplierGreaterThanOne`.
#[inline(always)]
pub(crate) fn multiply_by_quantized_multiplier_greater_than_one(
    x: i32,
    multiplier: i32,
    left_shift: i32,
) -> i32 {
    srdhm(x.wrapping_mul(1 << left_shift), multiplier)
}

/// `tflite::MultiplyByQuantizedMultiplierSmallerThanOneExp`.
#[inline(always)]
pub(crate) fn multiply_by_quantized_multiplier_smaller_than_one_exp(
    x: i32,
    multiplier: i32,
    left_shift: i32,
) -> i32 {
    rounding_divide_by_pot(srdhm(x, multiplier), -left_shift)
}

/// `tflite::CalculateActivationRangeQuantized` for int8 outputs.
pub(crate) fn activation_range_int8(act: Activation, scale: f32, zero_point: i32) -> (i32, i32) {
    let qmin = i32::from(i8::MIN);
    let qmax = i32::from(i8::MAX);
    // zero_point + static_cast<int32_t>(TfLiteRound(f / scale)), all in float.
    let quantize = |f: f32| zero_point + libm::roundf(f / scale) as i32;
    match act {
        Activation::None => (qmin, qmax),
        Activation::Relu => (qmin.max(quantize(0.0)), qmax),
        Activation::Relu6 => (qmin.max(quantize(0.0)), qmax.min(quantize(6.0))),
        Activation::ReluN1To1 => (qmin.max(quantize(-1.0)), qmax.min(quantize(1.0))),
    }
}

/// `tflite::CalculateInputRadius`.
pub(crate) fn calculate_input_radius(input_integer_bits: i32, input_left_shift: i32) -> i32 {
    let total_signed_bits = 31;
    let max_input_rescaled = 1.0
        * ((1i64 << input_integer_bits) - 1) as f64
        * (1i64 << (total_signed_bits - input_integer_bits)) as f64
        / (1i64 << input_left_shift) as f64;
    libm::floor(max_input_rescaled) as i32
}

// ---- gemmlowp fixed point -------------------------------------------------------------------

/// gemmlowp `SaturatingRoundingMultiplyByPOT<exponent>` for int32.
#[inline(always)]
fn saturating_rounding_multiply_by_pot(x: i32, exponent: i32) -> i32 {
    if exponent == 0 {
        x
    } else if exponent > 0 {
        let threshold = (1i32 << (31 - exponent)) - 1;
        if x > threshold {
            i32::MAX
        } else if x < -threshold {
            i32::MIN
        } else {
            x.wrapping_shl(exponent as u32)
        }
    } else {
        rounding_divide_by_pot(x, -exponent)
    }
}

/// gemmlowp `Rescale<dst_bits>` of a raw value with `src_bits` integer bits.
#[inline(always)]
pub(crate) fn rescale(x: i32, src_bits: i32, dst_bits: i32) -> i32 {
    saturating_rounding_multiply_by_pot(x, src_bits - dst_bits)
}

/// gemmlowp `exp_on_interval_between_negative_one_quarter_and_0_excl` (Q0.31 in and out).
fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: i32) -> i32 {
    const CONSTANT_TERM: i32 = 1_895_147_668; // exp(-1/8)
    const CONSTANT_1_OVER_3: i32 = 715_827_883;
    let x = a.wrapping_add(1 << 28);
    let x2 = srdhm(x, x);
    let x3 = srdhm(x2, x);
    let x4 = srdhm(x2, x2);
    let x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2);
    let poly = saturating_rounding_multiply_by_pot(
        srdhm(x4_over_4.wrapping_add(x3), CONSTANT_1_OVER_3).wrapping_add(x2),
        -1,
    );
    CONSTANT_TERM.wrapping_add(srdhm(CONSTANT_TERM, x.wrapping_add(poly)))
}

/// gemmlowp `exp_on_negative_values` for a fixed-point input with `integer_bits` integer bits;
/// returns Q0.31.
pub(crate) fn exp_on_negative_values(a: i32, integer_bits: i32) -> i32 {
    let fractional_bits = 31 - integer_bits;
    let one_quarter = 1i32 << (fractional_bits - 2);
    // gemmlowp: `kOneQuarter - InputF::FromScalar(1)`; FromScalar sets the *raw* value.
    let mask = one_quarter - 1;
    let a_mod_quarter_minus_one_quarter = (a & mask).wrapping_sub(one_quarter);
    let mut result = exp_on_interval_between_negative_one_quarter_and_0_excl(rescale(
        a_mod_quarter_minus_one_quarter,
        integer_bits,
        0,
    ));
    let remainder = a_mod_quarter_minus_one_quarter.wrapping_sub(a);
    const BARREL: [(i32, i32); 7] = [
        (-2, 1_672_461_947),
        (-1, 1_302_514_674),
        (0, 790_015_084),
        (1, 290_630_308),
        (2, 39_332_535),
        (3, 720_401),
        (4, 242),
    ];
    for (exponent, multiplier) in BARREL {
        if integer_bits > exponent {
            let shift = fractional_bits + exponent;
            if remainder & (1i32 << shift) != 0 {
                result = srdhm(result, multiplier);
            }
        }
    }
    if integer_bits > 5 {
        let clamp = -(1i32 << (36 - integer_bits));
        if a < clamp {
            result = 0;
        }
    }
    if a == 0 { i32::MAX } else { result }
}

/// gemmlowp `RoundingHalfSum` for int32.
fn rounding_half_sum(a: i32, b: i32) -> i32 {
    let sum = i64::from(a) + i64::from(b);
    let sign = if sum >= 0 { 1 } else { -1 };
    ((sum + sign) / 2) as i32
}

/// gemmlowp `one_over_one_plus_x_for_x_in_0_1` (Q0.31 in and out).
pub(crate) fn one_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    let half_denominator = rounding_half_sum(a, i32::MAX);
    const C48_OVER_17: i32 = 1_515_870_810;
    const CNEG32_OVER_17: i32 = -1_010_580_540;
    let mut x = C48_OVER_17.wrapping_add(srdhm(half_denominator, CNEG32_OVER_17));
    for _ in 0..3 {
        let half_denominator_times_x = srdhm(half_denominator, x);
        let one_minus = (1i32 << 29).wrapping_sub(half_denominator_times_x);
        x = x.wrapping_add(rescale(srdhm(x, one_minus), 4, 2));
    }
    // Rescale<0>(ExactMulByPot<-1>(x)): raw kept, integer bits 2 -> 1 -> 0.
    rescale(x, 1, 0)
}

/// gemmlowp `logistic` for an input with `integer_bits` integer bits; returns Q0.31.
pub(crate) fn logistic(a: i32, integer_bits: i32) -> i32 {
    if a == 0 {
        return 1 << 30;
    }
    let abs = if a > 0 { a } else { a.wrapping_neg() };
    let positive =
        one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(abs.wrapping_neg(), integer_bits));
    if a > 0 {
        positive
    } else {
        i32::MAX.wrapping_sub(positive)
    }
}

/// `tflite::GetReciprocal`: returns the Q0.31 reciprocal significand and the number of bits of
/// `x` (with `x_integer_digits` integer bits) above 1.0.
pub(crate) fn get_reciprocal(x: i32, x_integer_digits: i32) -> (i32, i32) {
    let headroom_plus_one = (x as u32).leading_zeros() as i32;
    let num_bits_over_unit = x_integer_digits - headroom_plus_one;
    let shifted_sum_minus_one =
        ((x as u32).wrapping_shl(headroom_plus_one as u32)).wrapping_sub(1u32 << 31) as i32;
    (
        one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one),
        num_bits_over_unit,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantize_multiplier_matches_frexp_rounding() {
        assert_eq!(quantize_multiplier(0.5), (1 << 30, 0));
        assert_eq!(quantize_multiplier(1.0), (1 << 30, 1));
        assert_eq!(quantize_multiplier(0.0), (0, 0));
        let (m, s) = quantize_multiplier(0.003_921_568_627_451);
        assert_eq!(s, -7);
        assert!(m > 1 << 30);
    }

    #[test]
    fn rounding_divide_rounds_half_away_from_zero() {
        assert_eq!(rounding_divide_by_pot(5, 1), 3);
        assert_eq!(rounding_divide_by_pot(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot(4, 1), 2);
        assert_eq!(rounding_divide_by_pot(-4, 2), -1);
        assert_eq!(rounding_divide_by_pot(7, 0), 7);
    }

    #[test]
    fn srdhm_saturates() {
        assert_eq!(srdhm(i32::MIN, i32::MIN), i32::MAX);
        assert_eq!(srdhm(1 << 30, 1 << 30), 1 << 29);
    }

    #[test]
    fn fixed_point_exp_and_logistic_are_close_to_float() {
        for i in 0..200 {
            let x = -(i as f64) * 0.1; // [-20, 0]
            let raw = (x * f64::from(1u32 << 26)) as i32; // 5 integer bits
            let e = f64::from(exp_on_negative_values(raw, 5)) / f64::from(1u32 << 31);
            assert!((e - libm::exp(x)).abs() < 1e-6, "exp({x}) = {e}");
        }
        for i in -70..70 {
            let x = i as f64 * 0.1;
            let raw = (x * f64::from(1u32 << 27)) as i32; // 4 integer bits
            let l = f64::from(logistic(raw, 4)) / f64::from(1u32 << 31);
            let want = 1.0 / (1.0 + libm::exp(-x));
            assert!((l - want).abs() < 1e-6, "logistic({x}) = {l}");
        }
    }
}
