//! Strata's device SDK: signal processing and int8 TinyML inference for microcontrollers.
#![cfg_attr(not(feature = "std"), no_std)]

pub mod dsp;
pub mod tflite;
