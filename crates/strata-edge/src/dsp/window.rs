//! Window functions. Both are the symmetric forms used by `numpy.hanning` and
//! `numpy.hamming` (denominator `N - 1`); a length-1 window is `[1.0]`.

use super::{DspError, check_len};

fn fill(out: &mut [f32], a0: f64, a1: f64) {
    let n = out.len();
    if n == 1 {
        out[0] = 1.0;
        return;
    }
    let denom = (n - 1) as f64;
    for (i, w) in out.iter_mut().enumerate() {
        let phase = 2.0 * core::f64::consts::PI * i as f64 / denom;
        *w = (a0 - a1 * libm::cos(phase)) as f32;
    }
}

/// Fills `out` with a Hann window: `0.5 - 0.5 cos(2πn / (N - 1))`.
pub fn hann(out: &mut [f32]) {
    fill(out, 0.5, 0.5);
}

/// Fills `out` with a Hamming window: `0.54 - 0.46 cos(2πn / (N - 1))`.
pub fn hamming(out: &mut [f32]) {
    fill(out, 0.54, 0.46);
}

/// Multiplies `signal` by `window` element-wise, in place.
///
/// # Errors
/// [`DspError::LengthMismatch`] if the lengths differ.
pub fn apply(signal: &mut [f32], window: &[f32]) -> Result<(), DspError> {
    check_len(window.len(), signal.len())?;
    for (s, w) in signal.iter_mut().zip(window) {
        *s *= w;
    }
    Ok(())
}
