//! Block-wise transfers (RFC 7959): the Block1/Block2 option value, slicing a response body
//! into Block2 blocks, and reassembling a Block1 request body.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::code::Code;
use crate::message::Message;

/// Largest block size exponent over UDP (1024-byte blocks); 7 is BERT, for TCP only.
pub const MAX_SZX: u8 = 6;

/// A Block1 or Block2 option value: block number, more flag and size exponent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockValue {
    /// Block number.
    pub num: u32,
    /// More blocks follow.
    pub more: bool,
    /// Size exponent: the block holds `2^(szx + 4)` bytes (16 to 1024).
    pub szx: u8,
}

impl BlockValue {
    /// Decodes the option's `uint` value; `None` for SZX 7 or a number over 20 bits.
    pub fn decode(value: u32) -> Option<BlockValue> {
        let szx = (value & 0x7) as u8;
        if szx > MAX_SZX || value > 0x00ff_ffff {
            return None;
        }
        Some(BlockValue {
            num: value >> 4,
            more: value & 0x8 != 0,
            szx,
        })
    }

    /// The option's `uint` value.
    pub fn encode(self) -> u32 {
        (self.num << 4) | (u32::from(self.more) << 3) | u32::from(self.szx)
    }

    /// Bytes per block.
    pub fn size(self) -> usize {
        1usize << (self.szx + 4)
    }

    /// Offset of this block in the body.
    pub fn offset(self) -> usize {
        (self.num as usize).saturating_mul(self.size())
    }

    /// The block option `number` of `message`: `None` when absent, `Some(Err(()))` when
    /// malformed (answer 4.02 Bad Option).
    pub fn from_message(message: &Message<'_>, number: u16) -> Option<Result<BlockValue, ()>> {
        let raw = message.option(number)?;
        if raw.len() > 3 {
            return Some(Err(()));
        }
        Some(
            crate::option::decode_uint(raw)
                .and_then(BlockValue::decode)
                .ok_or(()),
        )
    }

    /// The size exponent for `bytes` (rounded down to a power of two, 16 to 1024).
    pub fn szx_for(bytes: usize) -> u8 {
        let mut szx = MAX_SZX;
        while szx > 0 && (1usize << (szx + 4)) > bytes {
            szx -= 1;
        }
        szx
    }
}

/// One block of a response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block2<'a> {
    /// The bytes of this block.
    pub data: &'a [u8],
    /// The Block2 option to send with it; `None` when the whole body fits in one message
    /// and the client did not ask for blocks.
    pub option: Option<BlockValue>,
}

/// Picks the Block2 block of `body` to send: the one `requested` (with late size
/// negotiation, RFC 7959 §2.4: a smaller server size renumbers the block), or the first one
/// when the body is larger than `max_szx` blocks. A block past the end is an error (4.02).
pub fn block2<'a>(
    body: &'a [u8],
    requested: Option<BlockValue>,
    max_szx: u8,
) -> Result<Block2<'a>, Code> {
    let max_szx = max_szx.min(MAX_SZX);
    let block = match requested {
        None if body.len() <= 1usize << (max_szx + 4) => {
            return Ok(Block2 {
                data: body,
                option: None,
            });
        }
        None => BlockValue {
            num: 0,
            more: false,
            szx: max_szx,
        },
        Some(req) if req.szx > max_szx => BlockValue {
            num: req.num << (req.szx - max_szx),
            more: false,
            szx: max_szx,
        },
        Some(req) => req,
    };
    let start = block.offset();
    if start >= body.len() && !(start == 0 && body.is_empty()) {
        return Err(Code::BAD_OPTION);
    }
    let end = (start + block.size()).min(body.len());
    Ok(Block2 {
        data: &body[start..end],
        option: Some(BlockValue {
            more: end < body.len(),
            ..block
        }),
    })
}

/// What a Block1 block did to its transfer.
#[derive(Debug, PartialEq, Eq)]
pub enum Block1Outcome {
    /// Stored; answer 2.31 Continue with this Block1 option.
    Continue(BlockValue),
    /// The last block: here is the whole body (answer the request with the Block1 option
    /// echoed, `more` false).
    Complete(Vec<u8>, BlockValue),
    /// Answer with this error code (4.08 out of order, 4.13 too large with Size1).
    Error(Code),
}

struct Partial {
    body: Vec<u8>,
    touched: u64,
}

/// Reassembles Block1 request bodies, one per key (e.g. peer plus URI). Bodies that stop
/// arriving are dropped by [`Block1Assembler::expire`].
pub struct Block1Assembler<K: Ord> {
    partials: BTreeMap<K, Partial>,
    max_body: usize,
    max_transfers: usize,
}

impl<K: Ord> Block1Assembler<K> {
    /// Accepts bodies up to `max_body` bytes and at most `max_transfers` unfinished at once.
    pub fn new(max_body: usize, max_transfers: usize) -> Self {
        Block1Assembler {
            partials: BTreeMap::new(),
            max_body,
            max_transfers,
        }
    }

    /// The largest body accepted (sent as Size1 with 4.13).
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// Adds one block. Blocks must arrive in order; block 0 (re)starts a transfer; the
    /// block size may shrink between blocks (the offset is what counts).
    pub fn push(&mut self, now: u64, key: K, block: BlockValue, payload: &[u8]) -> Block1Outcome {
        if block.more && payload.len() != block.size() {
            // Every block but the last carries exactly its size (RFC 7959 §2.2).
            self.partials.remove(&key);
            return Block1Outcome::Error(Code::BAD_REQUEST);
        }
        let offset = block.offset();
        if offset.saturating_add(payload.len()) > self.max_body {
            self.partials.remove(&key);
            return Block1Outcome::Error(Code::REQUEST_ENTITY_TOO_LARGE);
        }
        if block.num == 0 {
            if !self.partials.contains_key(&key) && self.partials.len() >= self.max_transfers {
                return Block1Outcome::Error(Code::SERVICE_UNAVAILABLE);
            }
            if !block.more {
                self.partials.remove(&key);
                return Block1Outcome::Complete(payload.to_vec(), block);
            }
            self.partials.insert(
                key,
                Partial {
                    body: payload.to_vec(),
                    touched: now,
                },
            );
            return Block1Outcome::Continue(block);
        }
        let Some(partial) = self.partials.get_mut(&key) else {
            return Block1Outcome::Error(Code::REQUEST_ENTITY_INCOMPLETE);
        };
        if partial.body.len() != offset {
            if offset < partial.body.len() && offset + payload.len() <= partial.body.len() {
                // A retransmitted block already stored: acknowledge it again.
                return Block1Outcome::Continue(block);
            }
            self.partials.remove(&key);
            return Block1Outcome::Error(Code::REQUEST_ENTITY_INCOMPLETE);
        }
        partial.body.extend_from_slice(payload);
        partial.touched = now;
        if block.more {
            Block1Outcome::Continue(block)
        } else {
            match self.partials.remove(&key) {
                Some(done) => Block1Outcome::Complete(done.body, block),
                None => Block1Outcome::Error(Code::REQUEST_ENTITY_INCOMPLETE),
            }
        }
    }

    /// Drops transfers untouched since `now - idle`.
    pub fn expire(&mut self, now: u64, idle: u64) {
        self.partials
            .retain(|_, p| now.saturating_sub(p.touched) < idle);
    }

    /// Unfinished transfers whose key matches (e.g. those of one peer).
    pub fn count(&self, matches: impl Fn(&K) -> bool) -> usize {
        self.partials.keys().filter(|k| matches(k)).count()
    }

    /// Bytes held by unfinished transfers.
    pub fn held_bytes(&self) -> usize {
        self.partials.values().map(|p| p.body.len()).sum()
    }

    /// Unfinished transfers.
    pub fn len(&self) -> usize {
        self.partials.len()
    }

    /// True when no transfer is unfinished.
    pub fn is_empty(&self) -> bool {
        self.partials.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_value_round_trip() {
        let b = BlockValue {
            num: 5,
            more: true,
            szx: 6,
        };
        assert_eq!(b.encode(), 0x5e);
        assert_eq!(BlockValue::decode(0x5e), Some(b));
        assert_eq!(BlockValue::decode(0x07), None);
        assert_eq!(b.size(), 1024);
        assert_eq!(b.offset(), 5120);
        assert_eq!(BlockValue::szx_for(1100), 6);
        assert_eq!(BlockValue::szx_for(100), 2);
        assert_eq!(BlockValue::szx_for(3), 0);
    }

    #[test]
    fn block2_slices_and_negotiates() {
        let body: Vec<u8> = (0..2500u32).map(|i| i as u8).collect();
        let first = block2(&body, None, 6).unwrap();
        assert_eq!(first.data.len(), 1024);
        assert_eq!(
            first.option,
            Some(BlockValue {
                num: 0,
                more: true,
                szx: 6
            })
        );
        let last = block2(
            &body,
            Some(BlockValue {
                num: 2,
                more: false,
                szx: 6,
            }),
            6,
        )
        .unwrap();
        assert_eq!(last.data, &body[2048..]);
        assert!(!last.option.unwrap().more);
        // Client asks 1024-byte block 1; server uses 256: block 4 of 256.
        let renum = block2(
            &body,
            Some(BlockValue {
                num: 1,
                more: false,
                szx: 6,
            }),
            4,
        )
        .unwrap();
        assert_eq!(renum.option.unwrap().num, 4);
        assert_eq!(renum.data, &body[1024..1280]);
        assert_eq!(
            block2(
                &body,
                Some(BlockValue {
                    num: 3,
                    more: false,
                    szx: 6
                }),
                6
            ),
            Err(Code::BAD_OPTION)
        );
        let small = block2(b"hi", None, 6).unwrap();
        assert_eq!((small.data, small.option), (&b"hi"[..], None));
    }

    #[test]
    fn block1_reassembles_in_order_and_rejects_gaps() {
        let mut a = Block1Assembler::new(4096, 4);
        let blk = |num, more| BlockValue { num, more, szx: 0 };
        assert_eq!(
            a.push(0, 1, blk(0, true), &[1; 16]),
            Block1Outcome::Continue(blk(0, true))
        );
        // A retransmitted block is acknowledged again without being stored twice.
        assert_eq!(
            a.push(0, 1, blk(1, true), &[2; 16]),
            Block1Outcome::Continue(blk(1, true))
        );
        assert_eq!(
            a.push(0, 1, blk(1, true), &[2; 16]),
            Block1Outcome::Continue(blk(1, true))
        );
        match a.push(0, 1, blk(2, false), &[3; 5]) {
            Block1Outcome::Complete(body, _) => assert_eq!(body.len(), 37),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            a.push(0, 2, blk(3, true), &[0; 16]),
            Block1Outcome::Error(Code::REQUEST_ENTITY_INCOMPLETE)
        );
        assert_eq!(
            a.push(0, 3, blk(0, true), &[0; 15]),
            Block1Outcome::Error(Code::BAD_REQUEST)
        );
        let mut small = Block1Assembler::new(20, 4);
        assert_eq!(
            small.push(0, 1, blk(0, true), &[0; 16]),
            Block1Outcome::Continue(blk(0, true))
        );
        assert_eq!(
            small.push(0, 1, blk(1, true), &[0; 16]),
            Block1Outcome::Error(Code::REQUEST_ENTITY_TOO_LARGE)
        );
        small.push(0, 5, blk(0, true), &[0; 16]);
        small.expire(10_000, 5_000);
        assert!(small.is_empty());
    }
}
