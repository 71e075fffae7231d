//! Proves `strata-edge` builds without `std`.
//!
//! This crate is `#![no_std]` and defines its own `#[panic_handler]`; if `std` entered the
//! dependency graph (through `strata-edge` or any of its dependencies), `cargo build -p
//! strata-edge-nostd-check` would fail with "duplicate lang item `panic_impl`". It also uses the
//! SDK's main entry points with statically allocated buffers, the way firmware would.
//!
//! Only the host target is installed here, so the check builds for the host; on a machine with
//! an embedded target, `cargo build -p strata-edge-nostd-check --target thumbv7em-none-eabihf`
//! is the stronger form.
#![no_std]

use core::panic::PanicInfo;

use strata_edge::dsp::{self, RingBuffer};
use strata_edge::tflite::{Error, Interpreter, Model};

#[panic_handler]
fn panic(_info: &PanicInfo<'_>) -> ! {
    loop {}
}

/// Runs one int8 inference on `model_bytes` with `arena`, copying `input` in and the first
/// `out.len()` output values out.
///
/// # Errors
/// Any model, arena or index error from the SDK.
pub fn classify(
    model_bytes: &[u8],
    arena: &mut [u8],
    input: &[i8],
    out: &mut [i8],
) -> Result<(), Error> {
    let model = Model::new(model_bytes)?;
    let mut interp = Interpreter::new(&model, arena)?;
    let dst = interp.input_mut(0)?;
    let n = dst.len().min(input.len());
    dst[..n].copy_from_slice(&input[..n]);
    interp.invoke()?;
    let y = interp.output(0)?;
    let n = y.len().min(out.len());
    out[..n].copy_from_slice(&y[..n]);
    Ok(())
}

/// A frame buffer as a firmware would keep it: a `static`-compatible ring of samples.
pub static EMPTY_FRAME: RingBuffer<f32, 256> = RingBuffer::new();

/// Dominant frequency of a 256-sample frame, with the windowed FFT in `work`.
///
/// # Errors
/// Only length errors, which cannot happen with these fixed sizes.
pub fn dominant_frequency(
    frame: &RingBuffer<f32, 256>,
    sample_rate: f32,
    work: &mut [f32; 256],
    window: &mut [f32; 256],
) -> Result<f32, dsp::DspError> {
    frame.copy_to_slice(work);
    dsp::window::hann(window);
    dsp::window::apply(work, window)?;
    let mut amp = [0.0f32; 129];
    dsp::fft::amplitude_spectrum(work, &mut amp)?;
    Ok(dsp::features::dominant_frequency(&amp, 256, sample_rate))
}
