//! Up-front validation: malformed or unsupported models fail in `Model::new` with clear errors.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use strata_edge::tflite::{ElementType, Error, Interpreter, Model};

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

#[test]
fn garbage_is_an_invalid_flatbuffer() {
    assert!(matches!(
        Model::new(&[1, 2, 3]),
        Err(Error::InvalidFlatbuffer(_))
    ));
    let mut bytes = read("models/hello_world_int8.tflite");
    bytes.truncate(100);
    assert!(Model::new(&bytes).is_err());
}

#[test]
fn unsupported_operator_is_reported_with_its_code() {
    let bytes = read("tests/vectors/synthetic_unsupported.tflite");
    let err = Model::new(&bytes).unwrap_err();
    assert_eq!(
        err,
        Error::UnsupportedOperator {
            op_index: 0,
            code: 28
        }
    );
    assert_eq!(
        err.to_string(),
        "operator 0: unsupported builtin operator code 28"
    );
}

#[test]
fn accessors_check_index_and_type() {
    let bytes = read("tests/vectors/synthetic_elementwise.tflite");
    let model = Model::new(&bytes).unwrap();
    assert_eq!(
        model.input_info(0).unwrap().element_type,
        ElementType::Float32
    );
    assert_eq!(
        model.input_info(1).unwrap_err(),
        Error::IndexOutOfRange { index: 1, len: 1 }
    );
    let mut arena = vec![0u8; model.arena_size_required() + 16];
    let mut interp = Interpreter::new(&model, &mut arena).unwrap();
    assert!(matches!(
        interp.input_mut(0),
        Err(Error::TypeMismatch { .. })
    ));
    assert_eq!(
        interp.set_input_f32(0, &[0.0; 3]).unwrap_err(),
        Error::LengthMismatch {
            expected: 108,
            actual: 3
        }
    );
}

#[test]
fn model_bytes_are_borrowed_not_copied() {
    let bytes = read("models/person_detect.tflite");
    let model = Model::new(&bytes).unwrap();
    // The model handle is a few borrowed table references, not a copy of the 300 KB buffer.
    assert!(core::mem::size_of_val(&model) < 256);
    assert_eq!(model.operator_count(), 31);
}
