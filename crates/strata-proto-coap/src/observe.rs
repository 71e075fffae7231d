//! Observe (RFC 7641) helpers: notification sequence numbers and the client's freshness rule.

/// Observe values are 24-bit.
pub const SEQUENCE_MASK: u32 = 0x00ff_ffff;

/// Observe option value in a GET that registers.
pub const REGISTER: u32 = 0;
/// Observe option value in a GET that cancels.
pub const DEREGISTER: u32 = 1;

/// Counts notification sequence numbers for one observation (wrapping at 2^24).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sequence(u32);

impl Sequence {
    /// Starts at `first` (masked to 24 bits).
    pub const fn new(first: u32) -> Self {
        Sequence(first & SEQUENCE_MASK)
    }

    /// The next value to send.
    pub fn next_value(&mut self) -> u32 {
        let v = self.0;
        self.0 = (self.0 + 1) & SEQUENCE_MASK;
        v
    }
}

/// RFC 7641 §3.4: is a notification `(v2, t2)` newer than the last one `(v1, t1)`? Times in
/// ms; after 128 s any notification counts as newer.
pub fn is_fresh(v1: u32, t1: u64, v2: u32, t2: u64) -> bool {
    const HALF: u32 = 1 << 23;
    let (v1, v2) = (v1 & SEQUENCE_MASK, v2 & SEQUENCE_MASK);
    (v1 < v2 && v2 - v1 < HALF) || (v1 > v2 && v1 - v2 > HALF) || t2 > t1.saturating_add(128_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_handles_wrap_and_reordering() {
        assert!(is_fresh(5, 0, 6, 1));
        assert!(!is_fresh(6, 0, 5, 1));
        assert!(is_fresh(SEQUENCE_MASK, 0, 0, 1));
        assert!(is_fresh(6, 0, 5, 200_000));
        let mut s = Sequence::new(SEQUENCE_MASK);
        assert_eq!(s.next_value(), SEQUENCE_MASK);
        assert_eq!(s.next_value(), 0);
    }
}
