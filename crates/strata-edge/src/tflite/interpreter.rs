//! Running a planned model in a caller-provided arena.

use core::ops::Range;

use super::error::Error;
use super::kernels;
use super::model::{ElementType, Model};
use super::planner;

/// Marks a tensor with no arena storage in the offset table.
const NOT_PLANNED: u32 = u32::MAX;

/// Runs a [`Model`] with all activations in a borrowed arena; never allocates.
///
/// ```text
///  arena: [ activations (planned, shared by lifetime) | offset table: 4 bytes per tensor ]
/// ```
///
/// Typical use: [`Interpreter::new`], write the input through [`Interpreter::input_mut`],
/// [`Interpreter::invoke`], read [`Interpreter::output`]. Inputs keep their contents until the
/// next `invoke` (an arena region may be reused by later tensors during the run).
pub struct Interpreter<'m, 'r> {
    model: Model<'m>,
    arena: &'r mut [u8],
}

impl core::fmt::Debug for Interpreter<'_, '_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Interpreter")
            .field("model", &self.model)
            .field("arena_len", &self.arena.len())
            .finish()
    }
}

impl<'m, 'r> Interpreter<'m, 'r> {
    /// Plans `model` into `arena`.
    ///
    /// # Errors
    /// [`Error::ArenaTooSmall`] if `arena` is shorter than
    /// [`Model::arena_size_required`]; the arena may be longer.
    pub fn new(model: &Model<'m>, arena: &'r mut [u8]) -> Result<Self, Error> {
        let required = model.arena_size_required();
        if arena.len() < required {
            return Err(Error::ArenaTooSmall {
                required,
                provided: arena.len(),
            });
        }
        let arena = &mut arena[..required];
        let act = model.activation_bytes();
        {
            let table = &mut arena[act..];
            for chunk in table.chunks_exact_mut(4) {
                chunk.copy_from_slice(&NOT_PLANNED.to_le_bytes());
            }
            planner::plan(model, |tensor, offset| {
                let at = 4 * tensor;
                table[at..at + 4].copy_from_slice(&(offset as u32).to_le_bytes());
            })?;
        }
        Ok(Interpreter {
            model: *model,
            arena,
        })
    }

    /// The model this interpreter runs.
    pub fn model(&self) -> &Model<'m> {
        &self.model
    }

    fn range(&self, tensor: usize) -> Result<Range<usize>, Error> {
        let act = self.model.activation_bytes();
        let (_, table) = self.arena.split_at(act);
        tensor_range(&self.model, table, tensor)
    }

    fn io_range(&self, input: bool, index: usize, ty: ElementType) -> Result<Range<usize>, Error> {
        let t = self.model.io_tensor(input, index)?;
        if self.model.tensor(t)?.element_type != ty {
            return Err(Error::TypeMismatch { tensor: t });
        }
        self.range(t)
    }

    /// The int8 input tensor `index`, to be filled before [`invoke`](Self::invoke).
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] or [`Error::TypeMismatch`] (input is not int8).
    pub fn input_mut(&mut self, index: usize) -> Result<&mut [i8], Error> {
        let r = self.io_range(true, index, ElementType::Int8)?;
        Ok(bytemuck::cast_slice_mut(&mut self.arena[r]))
    }

    /// Copies `values` into the float32 input tensor `index` (models with a QUANTIZE input).
    ///
    /// # Errors
    /// Index, type or length mismatch.
    pub fn set_input_f32(&mut self, index: usize, values: &[f32]) -> Result<(), Error> {
        let r = self.io_range(true, index, ElementType::Float32)?;
        let dst = &mut self.arena[r];
        if dst.len() != 4 * values.len() {
            return Err(Error::LengthMismatch {
                expected: dst.len() / 4,
                actual: values.len(),
            });
        }
        for (d, v) in dst.chunks_exact_mut(4).zip(values) {
            d.copy_from_slice(&v.to_le_bytes());
        }
        Ok(())
    }

    /// The int8 output tensor `index`, valid after [`invoke`](Self::invoke).
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] or [`Error::TypeMismatch`] (output is not int8).
    pub fn output(&self, index: usize) -> Result<&[i8], Error> {
        let r = self.io_range(false, index, ElementType::Int8)?;
        Ok(bytemuck::cast_slice(&self.arena[r]))
    }

    /// Copies the float32 output tensor `index` (models ending in DEQUANTIZE) into `out`.
    ///
    /// # Errors
    /// Index, type or length mismatch.
    pub fn output_f32(&self, index: usize, out: &mut [f32]) -> Result<(), Error> {
        let r = self.io_range(false, index, ElementType::Float32)?;
        let src = &self.arena[r];
        if src.len() != 4 * out.len() {
            return Err(Error::LengthMismatch {
                expected: src.len() / 4,
                actual: out.len(),
            });
        }
        for (o, s) in out.iter_mut().zip(src.chunks_exact(4)) {
            *o = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
        }
        Ok(())
    }

    /// Raw bytes of any planned tensor, for debugging. The memory of a tensor is reused once
    /// its last reader has run, so after [`invoke`](Self::invoke) only tensors still live at
    /// the end (model outputs) are guaranteed to hold their values.
    #[doc(hidden)]
    pub fn tensor_bytes(&self, tensor: usize) -> Result<&[u8], Error> {
        Ok(&self.arena[self.range(tensor)?])
    }

    /// Runs every operator once, from the current inputs to the outputs.
    ///
    /// # Errors
    /// Only flatbuffer errors that validation already excluded; a model that loaded runs.
    pub fn invoke(&mut self) -> Result<(), Error> {
        let act = self.model.activation_bytes();
        let (activations, table) = self.arena.split_at_mut(act);
        for i in 0..self.model.operator_count() {
            let op = self.model.op(i)?;
            kernels::eval(&self.model, &op, activations, table)?;
        }
        Ok(())
    }
}

/// Arena byte range of a planned tensor.
pub(crate) fn tensor_range(
    model: &Model<'_>,
    table: &[u8],
    tensor: usize,
) -> Result<Range<usize>, Error> {
    let len = model.tensor(tensor)?.byte_size();
    tensor_range_with_len(table, tensor, len)
}

/// Arena byte range of a planned tensor of `len` bytes.
pub(crate) fn tensor_range_with_len(
    table: &[u8],
    tensor: usize,
    len: usize,
) -> Result<Range<usize>, Error> {
    let at = 4 * tensor;
    let bytes = table.get(at..at + 4).ok_or(Error::InvalidTensor {
        tensor: tensor as i64,
    })?;
    let offset = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if offset == NOT_PLANNED {
        return Err(Error::InvalidTensor {
            tensor: tensor as i64,
        });
    }
    let start = offset as usize;
    Ok(start..start + len)
}
