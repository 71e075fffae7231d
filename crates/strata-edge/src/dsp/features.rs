//! Time- and frequency-domain features for condition monitoring.
//!
//! Time-domain statistics use two passes (mean first) in `f32`. Kurtosis is Pearson's
//! (`m4 / m2²`, 3 for a Gaussian; subtract 3 for the excess/Fisher form), with biased moments,
//! as `scipy.stats.kurtosis(x, fisher=False)`.

use super::fft::bin_frequency;

/// Root mean square (0 for an empty slice).
pub fn rms(x: &[f32]) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    libm::sqrtf(x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32)
}

/// Largest absolute value (0 for an empty slice).
pub fn peak(x: &[f32]) -> f32 {
    x.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

/// Crest factor: peak / RMS (0 when the RMS is 0).
pub fn crest_factor(x: &[f32]) -> f32 {
    let r = rms(x);
    if r == 0.0 { 0.0 } else { peak(x) / r }
}

/// Arithmetic mean (0 for an empty slice).
pub fn mean(x: &[f32]) -> f32 {
    if x.is_empty() {
        0.0
    } else {
        x.iter().sum::<f32>() / x.len() as f32
    }
}

/// Pearson kurtosis `m4 / m2²` with biased central moments (0 for a constant signal).
pub fn kurtosis(x: &[f32]) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    let mu = mean(x);
    let (mut m2, mut m4) = (0.0f32, 0.0f32);
    for v in x {
        let d = v - mu;
        let d2 = d * d;
        m2 += d2;
        m4 += d2 * d2;
    }
    let n = x.len() as f32;
    let (m2, m4) = (m2 / n, m4 / n);
    if m2 == 0.0 { 0.0 } else { m4 / (m2 * m2) }
}

/// The four standard time-domain features of a vibration frame.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TimeFeatures {
    /// Root mean square.
    pub rms: f32,
    /// Largest absolute value.
    pub peak: f32,
    /// Peak / RMS.
    pub crest_factor: f32,
    /// Pearson kurtosis (3 for Gaussian noise; impulsive faults raise it).
    pub kurtosis: f32,
}

impl TimeFeatures {
    /// Computes all four features of `x`.
    pub fn of(x: &[f32]) -> Self {
        let rms = rms(x);
        let peak = peak(x);
        TimeFeatures {
            rms,
            peak,
            crest_factor: if rms == 0.0 { 0.0 } else { peak / rms },
            kurtosis: kurtosis(x),
        }
    }
}

/// Sum of the power-spectrum bins whose frequency lies in `[f_lo, f_hi)` Hz.
///
/// `power` holds bins `0..=N/2` of an `fft_len`-point transform (see
/// [`power_spectrum`](super::fft::power_spectrum)).
pub fn band_energy(power: &[f32], fft_len: usize, sample_rate: f32, f_lo: f32, f_hi: f32) -> f32 {
    power
        .iter()
        .enumerate()
        .filter(|&(k, _)| {
            let f = bin_frequency(k, fft_len, sample_rate);
            f >= f_lo && f < f_hi
        })
        .map(|(_, p)| p)
        .sum()
}

/// Fills `out[i]` with the energy of band `bands[i]` (`(f_lo, f_hi)` in Hz).
pub fn band_energies<const B: usize>(
    power: &[f32],
    fft_len: usize,
    sample_rate: f32,
    bands: &[(f32, f32); B],
) -> [f32; B] {
    let mut out = [0.0; B];
    for (o, &(lo, hi)) in out.iter_mut().zip(bands) {
        *o = band_energy(power, fft_len, sample_rate, lo, hi);
    }
    out
}

/// Frequency (Hz) of the largest bin of a spectrum, ignoring DC (bin 0). Returns 0 for a
/// spectrum with fewer than two bins.
pub fn dominant_frequency(spectrum: &[f32], fft_len: usize, sample_rate: f32) -> f32 {
    let mut best = (0usize, f32::NEG_INFINITY);
    for (k, &v) in spectrum.iter().enumerate().skip(1) {
        if v > best.1 {
            best = (k, v);
        }
    }
    bin_frequency(best.0, fft_len, sample_rate)
}
