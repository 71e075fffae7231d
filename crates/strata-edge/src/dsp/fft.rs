//! Real FFT and spectra on top of `microfft` (in place, no allocation).

use super::{Complex32, DspError, check_len};

macro_rules! by_len {
    ($buf:expr, $module:ident, $($n:literal => $f:ident),* $(,)?) => {
        match $buf.len() {
            $($n => {
                let arr: &mut [_; $n] = $buf
                    .try_into()
                    .map_err(|_| DspError::UnsupportedLength { len: $n })?;
                let out: &mut [_] = microfft::$module::$f(arr);
                Ok(out)
            })*
            len => Err(DspError::UnsupportedLength { len }),
        }
    };
}

/// In-place real FFT of `buf` (length a power of two in `2..=4096`); returns the first `N/2`
/// bins, reusing `buf`'s memory.
///
/// As in `microfft`, the real-valued Nyquist bin `X[N/2]` is packed into the imaginary part
/// of bin 0 (`X[0]` is real). [`amplitude_spectrum`] and [`power_spectrum`] unpack it.
///
/// # Errors
/// [`DspError::UnsupportedLength`].
pub fn rfft(buf: &mut [f32]) -> Result<&mut [Complex32], DspError> {
    by_len!(buf, real,
        2 => rfft_2, 4 => rfft_4, 8 => rfft_8, 16 => rfft_16, 32 => rfft_32, 64 => rfft_64,
        128 => rfft_128, 256 => rfft_256, 512 => rfft_512, 1024 => rfft_1024,
        2048 => rfft_2048, 4096 => rfft_4096)
}

/// In-place complex FFT (length a power of two in `2..=4096`).
///
/// # Errors
/// [`DspError::UnsupportedLength`].
pub fn cfft(buf: &mut [Complex32]) -> Result<&mut [Complex32], DspError> {
    by_len!(buf, complex,
        2 => cfft_2, 4 => cfft_4, 8 => cfft_8, 16 => cfft_16, 32 => cfft_32, 64 => cfft_64,
        128 => cfft_128, 256 => cfft_256, 512 => cfft_512, 1024 => cfft_1024,
        2048 => cfft_2048, 4096 => cfft_4096)
}

/// In-place inverse complex FFT, normalised by `1/N` (as `numpy.fft.ifft`).
///
/// # Errors
/// [`DspError::UnsupportedLength`].
pub fn ifft(buf: &mut [Complex32]) -> Result<&mut [Complex32], DspError> {
    by_len!(buf, inverse,
        2 => ifft_2, 4 => ifft_4, 8 => ifft_8, 16 => ifft_16, 32 => ifft_32, 64 => ifft_64,
        128 => ifft_128, 256 => ifft_256, 512 => ifft_512, 1024 => ifft_1024,
        2048 => ifft_2048, 4096 => ifft_4096)
}

fn spectrum(
    signal: &mut [f32],
    out: &mut [f32],
    f: impl Fn(f32, f32) -> f32,
) -> Result<(), DspError> {
    let n = signal.len();
    check_len(out.len(), n / 2 + 1)?;
    let bins = rfft(signal)?;
    let nyquist = bins[0].im;
    out[0] = f(bins[0].re, 0.0);
    for (o, c) in out[1..n / 2].iter_mut().zip(&bins[1..]) {
        *o = f(c.re, c.im);
    }
    out[n / 2] = f(nyquist, 0.0);
    Ok(())
}

/// Amplitude spectrum `|X[k]|` for `k = 0..=N/2` (unnormalised, as `abs(numpy.fft.rfft(x))`).
/// `signal` is transformed in place and its contents are lost.
///
/// # Errors
/// Unsupported length, or `out.len() != N/2 + 1`.
pub fn amplitude_spectrum(signal: &mut [f32], out: &mut [f32]) -> Result<(), DspError> {
    spectrum(signal, out, |re, im| libm::sqrtf(re * re + im * im))
}

/// Power spectrum `|X[k]|^2` for `k = 0..=N/2` (unnormalised). `signal` is overwritten.
///
/// # Errors
/// Unsupported length, or `out.len() != N/2 + 1`.
pub fn power_spectrum(signal: &mut [f32], out: &mut [f32]) -> Result<(), DspError> {
    spectrum(signal, out, |re, im| re * re + im * im)
}

/// Frequency in Hz of bin `k` of an `fft_len`-point transform at `sample_rate` Hz.
pub fn bin_frequency(k: usize, fft_len: usize, sample_rate: f32) -> f32 {
    k as f32 * sample_rate / fft_len as f32
}
