//! Runs a `.tflite` model on an all-zero input and prints the output and arena size.
//!
//! ```text
//! cargo run --release -p strata-edge --example infer -- crates/strata-edge/models/person_detect.tflite 10
//! ```
//! The optional second argument repeats the inference (for profiling, e.g. under callgrind).
#![allow(clippy::unwrap_used)]

use strata_edge::tflite::{Interpreter, Model};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: infer MODEL.tflite [REPEAT]");
    let repeat: usize = args.next().map_or(1, |s| s.parse().unwrap());
    let bytes = std::fs::read(&path).unwrap();
    let model = Model::new(&bytes).unwrap();
    let mut arena = vec![0u8; model.arena_size_required()];
    let mut interp = Interpreter::new(&model, &mut arena).unwrap();
    for _ in 0..repeat {
        interp.input_mut(0).unwrap().fill(0);
        interp.invoke().unwrap();
    }
    println!(
        "{path}: arena {} bytes, output {:?}",
        model.arena_size_required(),
        interp.output(0).unwrap()
    );
}
