//! Envelope analysis for rolling-element bearing faults.
//!
//! A bearing defect hits a structural resonance once per ball pass; the vibration is that
//! resonance amplitude-modulated at the fault frequency (BPFO, BPFI, ...). The Hilbert envelope
//! demodulates it and the envelope spectrum shows the fault frequency and its harmonics.
//! Band-pass filtering around the resonance before this step is up to the caller.

use super::fft::{amplitude_spectrum, cfft, ifft};
use super::{Complex32, DspError, check_len};

/// Magnitude of the analytic signal (`abs(scipy.signal.hilbert(x))`), computed with an FFT:
/// `X = FFT(x)`, keep DC and Nyquist, double positive frequencies, zero negative ones, then
/// `|IFFT(X)|`.
///
/// `scratch` and `out` must have the length of `signal` (a power of two in `2..=4096`).
///
/// # Errors
/// Unsupported length or mismatched buffers.
pub fn hilbert_envelope(
    signal: &[f32],
    scratch: &mut [Complex32],
    out: &mut [f32],
) -> Result<(), DspError> {
    let n = signal.len();
    check_len(scratch.len(), n)?;
    check_len(out.len(), n)?;
    for (c, &x) in scratch.iter_mut().zip(signal) {
        *c = Complex32::new(x, 0.0);
    }
    let spec = cfft(scratch)?;
    for (k, c) in spec.iter_mut().enumerate() {
        if k == 0 || k == n / 2 {
            continue;
        } else if k < n / 2 {
            *c *= 2.0;
        } else {
            *c = Complex32::new(0.0, 0.0);
        }
    }
    let analytic = ifft(spec)?;
    for (o, c) in out.iter_mut().zip(analytic.iter()) {
        *o = libm::sqrtf(c.re * c.re + c.im * c.im);
    }
    Ok(())
}

/// Envelope spectrum: the Hilbert envelope of `signal`, mean removed, then its amplitude
/// spectrum (`N/2 + 1` bins into `out`). `work` (length `N`) receives the envelope and is then
/// transformed in place.
///
/// # Errors
/// Unsupported length or mismatched buffers.
pub fn envelope_spectrum(
    signal: &[f32],
    scratch: &mut [Complex32],
    work: &mut [f32],
    out: &mut [f32],
) -> Result<(), DspError> {
    hilbert_envelope(signal, scratch, work)?;
    let mean = super::features::mean(work);
    for v in work.iter_mut() {
        *v -= mean;
    }
    amplitude_spectrum(work, out)
}
