//! Strata's device SDK: signal processing and int8 TinyML inference for microcontrollers.
//!
//! `strata-edge` is `no_std` by default and never allocates in its DSP or inference paths:
//! every buffer (FFT frames, scratch, the tensor arena) is provided by the caller, and fixed
//! capacities are const generics so buffers can be `static`s.
//!
//! # What it does not do
//!
//! * **No I/O.** It reads no sensors, files or sockets; the application moves samples in and
//!   results out.
//! * **No heap in inference or DSP.** [`tflite::Model`] borrows the `.tflite` bytes (zero-copy)
//!   and [`tflite::Interpreter`] runs in a caller-provided `&mut [u8]` arena. The flatbuffer
//!   runtime (`planus`) links `alloc` for its writer side, which the SDK never calls.
//! * **No clocks, threads or logging.** Everything is deterministic and host-testable.
//!
//! # Principal types
//!
//! * [`tflite::Model`]: a validated, borrowed `.tflite` model. All problems (unsupported
//!   operator, tensor type, shape, quantization) are reported by [`tflite::Model::new`] as a
//!   [`tflite::Error`]; [`tflite::Model::arena_size_required`] says how big the arena must be.
//! * [`tflite::Interpreter`]: runs the model in the arena, bit-exact with the TensorFlow Lite
//!   Micro reference kernels (FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D, AVERAGE/MAX_POOL_2D,
//!   RESHAPE, SOFTMAX, LOGISTIC, ADD, MUL, QUANTIZE, DEQUANTIZE, fused RELU/RELU6).
//! * [`container`]: the encrypted (ChaCha20-Poly1305) and signed (Ed25519) model container,
//!   with a version against rollback; [`trust::RootOfTrust`] holds the keys and the counter.
//! * [`dsp`]: windows, real FFT (`microfft`), spectral features, bearing-fault envelope
//!   analysis, and [`dsp::RingBuffer`], a fixed-capacity sample buffer with `const fn new()`.
//!
//! ```no_run
//! use strata_edge::tflite::{Interpreter, Model};
//!
//! static MODEL: &[u8] = &[]; // e.g. include_bytes!("person_detect.tflite")
//! let model = Model::new(MODEL)?;
//! let mut arena = [0u8; 64 * 1024]; // >= model.arena_size_required()
//! let mut interp = Interpreter::new(&model, &mut arena)?;
//! interp.input_mut(0)?.fill(0);
//! interp.invoke()?;
//! let scores: &[i8] = interp.output(0)?;
//! # let _ = scores;
//! # Ok::<(), strata_edge::tflite::Error>(())
//! ```
//!
//! # Feature flags
//!
//! * `alloc`: the LwM2M client ([`lwm2m`], on `strata-proto-coap`); the DSP and inference
//!   paths never allocate either way.
//! * `std` (implies `alloc`): implements `std::error::Error` for the error types.
//!
//! The crate `strata-edge-nostd-check` proves the default build has no `std` in its graph.
#![cfg_attr(not(feature = "std"), no_std)]

pub mod container;
pub mod dsp;
#[cfg(feature = "alloc")]
pub mod lwm2m;
pub mod pipelines;
pub mod tflite;
pub mod trust;
