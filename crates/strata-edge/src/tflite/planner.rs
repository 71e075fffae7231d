//! Static, lifetime-based greedy memory planner.
//!
//! Every non-constant tensor lives from the operator that produces it (model inputs: from the
//! start) to the last operator that reads it (model outputs: to the end). Tensors are placed
//! largest first, each at the lowest offset where it does not overlap any already placed tensor
//! whose lifetime intersects its own; tensors with disjoint lifetimes therefore share memory.
//! Constant tensors stay in the model buffer and take no arena space. This is the strategy of
//! TFLite Micro's `GreedyMemoryPlanner`, without its per-buffer bookkeeping in the arena.
//!
//! Planning needs no heap: its scratch is a fixed array on the stack
//! ([`MAX_PLANNED_TENSORS`] entries of 16 bytes).

use super::error::Error;
use super::model::Model;

/// Maximum number of non-constant tensors (activations) a model may have.
pub const MAX_PLANNED_TENSORS: usize = 256;

/// Offsets and sizes are multiples of this (keeps int32/float tensors word-aligned
/// relative to the arena start).
pub(crate) const ALIGN: usize = 4;

#[derive(Clone, Copy)]
struct Entry {
    tensor: u32,
    size: u32,
    first: u16,
    last: u16,
    offset: u32,
}

const EMPTY: Entry = Entry {
    tensor: 0,
    size: 0,
    first: 0,
    last: 0,
    offset: 0,
};

fn align_up(x: usize) -> usize {
    x.div_ceil(ALIGN) * ALIGN
}

/// Plans the activations of `model`, calls `emit(tensor, offset)` for each planned tensor and
/// returns the total bytes the activations need.
pub(crate) fn plan(model: &Model<'_>, mut emit: impl FnMut(usize, usize)) -> Result<usize, Error> {
    let mut entries = [EMPTY; MAX_PLANNED_TENSORS];
    let mut count = 0usize;
    let num_ops = model.operator_count();
    let last_op = num_ops.saturating_sub(1) as u16;

    fn find(entries: &[Entry], tensor: usize) -> Option<usize> {
        entries.iter().position(|e| e.tensor as usize == tensor)
    }
    let add = |entries: &mut [Entry; MAX_PLANNED_TENSORS],
               count: &mut usize,
               tensor: usize,
               first: u16|
     -> Result<(), Error> {
        if find(&entries[..*count], tensor).is_some() {
            return Ok(());
        }
        if *count == MAX_PLANNED_TENSORS {
            return Err(Error::TooManyTensors {
                count: model.tensor_count(),
                max: MAX_PLANNED_TENSORS,
            });
        }
        let size = align_up(model.tensor(tensor)?.byte_size());
        entries[*count] = Entry {
            tensor: tensor as u32,
            size: size as u32,
            first,
            last: first,
            offset: 0,
        };
        *count += 1;
        Ok(())
    };

    for k in 0..model.input_count() {
        add(&mut entries, &mut count, model.io_tensor(true, k)?, 0)?;
    }
    for i in 0..num_ops {
        let op = model.op(i)?;
        for &t in &op.inputs[..op.num_inputs] {
            if t < 0 {
                continue;
            }
            let desc = model.op_tensor(t)?;
            if desc.data.is_some() {
                continue;
            }
            let e = find(&entries[..count], t as usize).ok_or(Error::InvalidTensor {
                tensor: i64::from(t),
            })?;
            entries[e].last = entries[e].last.max(i as u16);
        }
        let out = op.output as usize;
        add(&mut entries, &mut count, out, i as u16)?;
    }
    for k in 0..model.output_count() {
        let t = model.io_tensor(false, k)?;
        if let Some(e) = find(&entries[..count], t) {
            entries[e].last = last_op;
        }
    }

    let entries = &mut entries[..count];
    // Largest first; ties by tensor index for a deterministic plan.
    entries.sort_unstable_by(|a, b| b.size.cmp(&a.size).then(a.tensor.cmp(&b.tensor)));

    let mut total = 0usize;
    for i in 0..entries.len() {
        let cur = entries[i];
        let (placed, _) = entries.split_at(i);
        let conflicts =
            |e: &&Entry| e.first <= cur.last && cur.first <= e.last && e.size > 0 && cur.size > 0;
        let fits = |offset: u32| {
            placed
                .iter()
                .filter(conflicts)
                .all(|e| offset + cur.size <= e.offset || e.offset + e.size <= offset)
        };
        let mut best = if fits(0) { Some(0) } else { None };
        for e in placed.iter().filter(conflicts) {
            let candidate = e.offset + e.size;
            if best.is_none_or(|b| candidate < b) && fits(candidate) {
                best = Some(candidate);
            }
        }
        let offset = best.unwrap_or(0);
        entries[i].offset = offset;
        total = total.max((offset + cur.size) as usize);
    }
    for e in entries.iter() {
        emit(e.tensor as usize, e.offset as usize);
    }
    Ok(total)
}
