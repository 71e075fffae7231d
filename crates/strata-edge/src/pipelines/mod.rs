//! The three edge pipelines of the seed, as reusable no-heap building blocks: each turns
//! raw sensor data into the few bytes worth sending.
//!
//! * [`vibration`]: a synthetic accelerometer (shaft, bearing geometry, outer- and
//!   inner-race defects) and the bearing-health features and classifier that run on it.
//! * [`keyword`]: micro_speech keyword spotting on the audio front end's 49x40 features,
//!   with posterior smoothing so one word gives one detection.
//! * [`person`]: person_detect on 96x96 grayscale frames, reporting a score, never the frame.
//!
//! The device loops that send the results live in `strata device simulate <pipeline>`.

pub mod keyword;
pub mod person;
pub mod vibration;
