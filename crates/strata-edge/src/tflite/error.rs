//! The error type of the inference engine.

use core::fmt;

/// Everything that can go wrong while loading a model, preparing an interpreter or running it.
///
/// Model problems are reported up front by [`Model::new`](super::Model::new) (parse and
/// validation) and [`Interpreter::new`](super::Interpreter::new) (arena size), never in the
/// middle of an inference. Variants ending in `Mismatch`/`OutOfRange` are caller misuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a well-formed TFLite flatbuffer (bad offset, missing required
    /// table, unknown enum value).
    InvalidFlatbuffer(FlatbufferError),
    /// A required part of the model is missing, e.g. no subgraph or an operator without
    /// outputs.
    MissingField(&'static str),
    /// The model has more than one subgraph (control flow is not supported).
    UnsupportedSubgraphCount(usize),
    /// An operator the engine does not implement.
    UnsupportedOperator {
        /// Index of the operator in the subgraph.
        op_index: usize,
        /// The TFLite `BuiltinOperator` code (or `-1` for a custom operator).
        code: i32,
    },
    /// A tensor type the engine cannot handle in this position.
    UnsupportedType {
        /// Index of the tensor in the subgraph.
        tensor: usize,
        /// The TFLite `TensorType` code.
        type_code: i8,
    },
    /// An operator whose tensor shapes the engine does not support or that are inconsistent.
    UnsupportedShape {
        /// Index of the operator in the subgraph.
        op_index: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// Quantization parameters the int8 kernels cannot handle (missing scale, non-zero
    /// filter zero point, wrong softmax output quantization...).
    UnsupportedQuantization {
        /// Index of the tensor in the subgraph.
        tensor: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A feature of the model the engine does not support (fused activation, padding mode,
    /// sparse or variable tensors, external buffers...).
    Unsupported {
        /// Index of the operator or tensor concerned.
        index: usize,
        /// What is not supported.
        what: &'static str,
    },
    /// A tensor index in the model is out of range or a constant tensor has no data.
    InvalidTensor {
        /// The offending tensor index.
        tensor: i64,
    },
    /// The model has more tensors than the static planner can handle.
    TooManyTensors {
        /// Tensors in the model.
        count: usize,
        /// Maximum supported.
        max: usize,
    },
    /// The arena passed to [`Interpreter::new`](super::Interpreter::new) is too small.
    ArenaTooSmall {
        /// Bytes the model needs ([`Model::arena_size_required`](super::Model::arena_size_required)).
        required: usize,
        /// Bytes provided.
        provided: usize,
    },
    /// Caller misuse: there is no input or output with this index.
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// Number of inputs or outputs.
        len: usize,
    },
    /// Caller misuse: the tensor has a different element type than the accessor expects.
    TypeMismatch {
        /// Index of the tensor in the subgraph.
        tensor: usize,
    },
    /// Caller misuse: a slice has the wrong number of elements for the tensor.
    LengthMismatch {
        /// Elements the tensor holds.
        expected: usize,
        /// Elements given.
        actual: usize,
    },
}

/// A flatbuffer decoding error (wraps the generated reader's error without exposing it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlatbufferError {
    kind: &'static str,
    location: &'static str,
}

impl From<planus::Error> for Error {
    fn from(e: planus::Error) -> Self {
        use planus::errors::ErrorKind;
        let kind = match e.error_kind {
            ErrorKind::InvalidOffset => "invalid offset",
            ErrorKind::InvalidLength => "invalid length",
            ErrorKind::UnknownEnumTag { .. } => "unknown enum value",
            ErrorKind::UnknownUnionTag { .. } => "unknown union tag",
            ErrorKind::InvalidVtableLength { .. } => "invalid vtable length",
            ErrorKind::InvalidUtf8 { .. } => "invalid utf-8",
            ErrorKind::MissingRequired => "missing required field",
            ErrorKind::MissingNullTerminator => "missing string terminator",
            _ => "malformed buffer",
        };
        Error::InvalidFlatbuffer(FlatbufferError {
            kind,
            location: e.source_location.type_,
        })
    }
}

impl fmt::Display for FlatbufferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in {}", self.kind, self.location)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidFlatbuffer(e) => write!(f, "invalid TFLite flatbuffer: {e}"),
            Error::MissingField(what) => write!(f, "model is missing {what}"),
            Error::UnsupportedSubgraphCount(n) => {
                write!(f, "model has {n} subgraphs; exactly one is supported")
            }
            Error::UnsupportedOperator { op_index, code } => {
                write!(
                    f,
                    "operator {op_index}: unsupported builtin operator code {code}"
                )
            }
            Error::UnsupportedType { tensor, type_code } => {
                write!(
                    f,
                    "tensor {tensor}: unsupported tensor type code {type_code}"
                )
            }
            Error::UnsupportedShape { op_index, reason } => {
                write!(f, "operator {op_index}: unsupported shape: {reason}")
            }
            Error::UnsupportedQuantization { tensor, reason } => {
                write!(f, "tensor {tensor}: unsupported quantization: {reason}")
            }
            Error::Unsupported { index, what } => write!(f, "unsupported {what} (index {index})"),
            Error::InvalidTensor { tensor } => write!(f, "invalid tensor index or data {tensor}"),
            Error::TooManyTensors { count, max } => {
                write!(
                    f,
                    "model has {count} tensors; the planner supports at most {max}"
                )
            }
            Error::ArenaTooSmall { required, provided } => write!(
                f,
                "arena too small: model needs {required} bytes, {provided} provided"
            ),
            Error::IndexOutOfRange { index, len } => {
                write!(f, "index {index} out of range (there are {len})")
            }
            Error::TypeMismatch { tensor } => {
                write!(f, "tensor {tensor} has a different element type")
            }
            Error::LengthMismatch { expected, actual } => {
                write!(f, "expected {expected} elements, got {actual}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
