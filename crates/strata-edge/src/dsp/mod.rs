//! Signal processing for vibration and audio front ends, without allocation.
//!
//! Every function works in place or on caller-provided buffers; lengths are checked and reported
//! as [`DspError`]. Transforms use `microfft` (radix-2, power-of-two lengths 2..=4096).
//!
//! * [`window`]: Hann and Hamming windows (symmetric, as `numpy.hanning`/`numpy.hamming`).
//! * [`fft`]: real FFT, amplitude and power spectra.
//! * [`features`]: RMS, peak, crest factor, kurtosis, band energies, dominant frequency.
//! * [`envelope`]: Hilbert envelope (via FFT) and envelope spectrum for bearing-fault analysis.
//! * [`frontend`]: the TFLM audio front end (micro_speech's 49x40 log-mel features), in fixed
//!   point and bit-exact with the reference.
//! * [`RingBuffer`]: fixed-capacity sample buffer with a `const fn new()`, usable as a `static`.

pub mod envelope;
pub mod features;
pub mod fft;
pub mod frontend;
mod ring;
pub mod window;

pub use microfft::Complex32;
pub use ring::{RingBuffer, Sample};

use core::fmt;

/// Errors of the DSP functions: all are caller misuse (wrong buffer lengths).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DspError {
    /// The transform length is not a power of two in `2..=4096`.
    UnsupportedLength {
        /// Length given.
        len: usize,
    },
    /// A buffer has the wrong length for the operation.
    LengthMismatch {
        /// Length required.
        expected: usize,
        /// Length given.
        actual: usize,
    },
    /// A parameter is out of its domain (e.g. a non-finite frequency).
    InvalidParameter {
        /// What is wrong.
        what: &'static str,
    },
}

impl fmt::Display for DspError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DspError::UnsupportedLength { len } => {
                write!(f, "FFT length {len} is not a power of two in 2..=4096")
            }
            DspError::LengthMismatch { expected, actual } => {
                write!(f, "buffer length {actual}, expected {expected}")
            }
            DspError::InvalidParameter { what } => f.write_str(what),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for DspError {}

pub(crate) fn check_len(actual: usize, expected: usize) -> Result<(), DspError> {
    if actual == expected {
        Ok(())
    } else {
        Err(DspError::LengthMismatch { expected, actual })
    }
}
