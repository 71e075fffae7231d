//! Fixed-capacity ring buffer.

/// Element types a [`RingBuffer`] can hold; `ZERO` lets `new` be a `const fn`.
pub trait Sample: Copy {
    /// The value unused slots hold.
    const ZERO: Self;
}

macro_rules! sample_impls {
    ($($t:ty => $z:expr),*) => { $(impl Sample for $t { const ZERO: Self = $z; })* };
}
sample_impls!(f32 => 0.0, f64 => 0.0, i8 => 0, i16 => 0, i32 => 0, u8 => 0, u16 => 0, u32 => 0);

/// A ring buffer of at most `N` samples that overwrites the oldest sample when full.
///
/// `const fn new()` means it can live in a `static` (behind the caller's mutex) with no
/// allocation:
///
/// ```
/// use strata_edge::dsp::RingBuffer;
/// let mut rb: RingBuffer<f32, 4> = RingBuffer::new();
/// for x in 0..6 {
///     rb.push(x as f32);
/// }
/// let mut frame = [0.0; 4];
/// rb.copy_to_slice(&mut frame);
/// assert_eq!(frame, [2.0, 3.0, 4.0, 5.0]);
/// ```
#[derive(Debug, Clone)]
pub struct RingBuffer<T: Sample, const N: usize> {
    buf: [T; N],
    /// Index of the oldest sample.
    head: usize,
    len: usize,
}

impl<T: Sample, const N: usize> Default for RingBuffer<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Sample, const N: usize> RingBuffer<T, N> {
    /// An empty buffer.
    pub const fn new() -> Self {
        RingBuffer {
            buf: [T::ZERO; N],
            head: 0,
            len: 0,
        }
    }

    /// Capacity `N`.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Number of samples held.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether no sample is held.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `N` samples are held (the next push overwrites the oldest).
    pub const fn is_full(&self) -> bool {
        self.len == N
    }

    /// Appends `value`; when full, drops and returns the oldest sample.
    pub fn push(&mut self, value: T) -> Option<T> {
        if N == 0 {
            return Some(value);
        }
        if self.len < N {
            self.buf[(self.head + self.len) % N] = value;
            self.len += 1;
            None
        } else {
            let old = self.buf[self.head];
            self.buf[self.head] = value;
            self.head = (self.head + 1) % N;
            Some(old)
        }
    }

    /// Appends every sample of `values` (oldest first), overwriting as needed.
    pub fn extend_from_slice(&mut self, values: &[T]) {
        for &v in values {
            self.push(v);
        }
    }

    /// Removes and returns the oldest sample.
    pub fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let v = self.buf[self.head];
        self.head = (self.head + 1) % N;
        self.len -= 1;
        Some(v)
    }

    /// The sample `i` positions after the oldest.
    pub fn get(&self, i: usize) -> Option<T> {
        (i < self.len).then(|| self.buf[(self.head + i) % N])
    }

    /// The newest sample.
    pub fn latest(&self) -> Option<T> {
        self.len.checked_sub(1).and_then(|i| self.get(i))
    }

    /// Drops every sample.
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    /// Iterates oldest to newest.
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        (0..self.len).map(move |i| self.buf[(self.head + i) % N])
    }

    /// Copies the newest `out.len()` samples (oldest first) into `out`, e.g. a frame for an
    /// FFT; returns how many were copied (fewer if the buffer holds fewer).
    pub fn copy_to_slice(&self, out: &mut [T]) -> usize {
        let n = out.len().min(self.len);
        let skip = self.len - n;
        for (i, o) in out[..n].iter_mut().enumerate() {
            *o = self.buf[(self.head + skip + i) % N];
        }
        n
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    static FRAME: RingBuffer<i16, 8> = RingBuffer::new();

    #[test]
    fn static_buffer_is_empty() {
        assert!(FRAME.is_empty());
        assert_eq!(FRAME.capacity(), 8);
    }

    #[test]
    fn push_overwrites_oldest_and_pop_is_fifo() {
        let mut rb: RingBuffer<i32, 3> = RingBuffer::new();
        assert_eq!(rb.push(1), None);
        assert_eq!(rb.push(2), None);
        assert_eq!(rb.push(3), None);
        assert!(rb.is_full());
        assert_eq!(rb.push(4), Some(1));
        assert_eq!(rb.iter().collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(rb.latest(), Some(4));
        assert_eq!(rb.get(0), Some(2));
        assert_eq!(rb.get(3), None);
        assert_eq!(rb.pop(), Some(2));
        assert_eq!(rb.len(), 2);
        let mut out = [0; 5];
        assert_eq!(rb.copy_to_slice(&mut out), 2);
        assert_eq!(&out[..2], &[3, 4]);
        rb.clear();
        assert_eq!(rb.pop(), None);
    }

    #[test]
    fn zero_capacity_passes_values_through() {
        let mut rb: RingBuffer<u8, 0> = RingBuffer::new();
        assert_eq!(rb.push(7), Some(7));
        assert!(rb.is_empty());
    }
}
