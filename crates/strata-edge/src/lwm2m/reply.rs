//! Responses: what a handler answers ([`Reply`]), how it goes on the wire (options in
//! ascending order, Block2 slicing), and content negotiation for reads and notifications.

use super::alloc::string::String;
use super::alloc::vec::Vec;
use strata_proto_coap::block::BlockValue;
use strata_proto_coap::lwm2m::{self, ContentError, Path, Record};
use strata_proto_coap::option::{self, format};
use strata_proto_coap::{Code, EncodeError, MessageWriter};

/// Block size of responses this client slices (1024 bytes).
pub(crate) const SZX: u8 = 6;

/// An answer to a request, before it is encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) code: Code,
    pub(crate) content_format: Option<u16>,
    pub(crate) observe: Option<u32>,
    pub(crate) location: Vec<String>,
    pub(crate) block1: Option<BlockValue>,
    pub(crate) size1: Option<u32>,
    pub(crate) payload: Vec<u8>,
}

impl Reply {
    /// An empty answer.
    pub(crate) fn code(code: Code) -> Reply {
        Reply {
            code,
            content_format: None,
            observe: None,
            location: Vec::new(),
            block1: None,
            size1: None,
            payload: Vec::new(),
        }
    }

    /// An error with a diagnostic payload (RFC 7252 §5.5.2).
    pub(crate) fn error(code: Code, message: &str) -> Reply {
        Reply {
            payload: message.as_bytes().to_vec(),
            ..Reply::code(code)
        }
    }

    /// 2.05 Content in `format`.
    pub(crate) fn content(format: u16, payload: Vec<u8>) -> Reply {
        Reply {
            content_format: Some(format),
            payload,
            ..Reply::code(Code::CONTENT)
        }
    }
}

/// Writes `reply`'s options (Observe 6, Location-Path 8, Content-Format 12, Block2 23,
/// Block1 27, Size2 28, Size1 60) and `body`, one block of its payload.
pub(crate) fn write(
    w: &mut MessageWriter<'_>,
    reply: &Reply,
    block2: Option<BlockValue>,
    body: &[u8],
) -> Result<(), EncodeError> {
    if let Some(seq) = reply.observe {
        w.uint_option(option::OBSERVE, seq)?;
    }
    for segment in &reply.location {
        w.option(option::LOCATION_PATH, segment.as_bytes())?;
    }
    if let Some(cf) = reply.content_format {
        w.uint_option(option::CONTENT_FORMAT, u32::from(cf))?;
    }
    if let Some(b2) = block2 {
        w.uint_option(option::BLOCK2, b2.encode())?;
    }
    if let Some(b1) = reply.block1 {
        w.uint_option(option::BLOCK1, b1.encode())?;
    }
    if let Some(b2) = block2
        && b2.num == 0
    {
        w.uint_option(option::SIZE2, reply.payload.len() as u32)?;
    }
    if let Some(size1) = reply.size1 {
        w.uint_option(option::SIZE1, size1)?;
    }
    w.payload(body);
    Ok(())
}

/// The data format to answer a read in: the Accept option, TLV when absent. `None` when
/// this client cannot produce it (answer 4.06).
pub(crate) fn read_format(accept: Option<u16>) -> Option<u16> {
    let f = accept.unwrap_or(format::LWM2M_TLV);
    lwm2m::is_supported(f).then_some(f)
}

/// Encodes `records` at `path` in `format`, or the error reply.
pub(crate) fn encode(format: u16, path: &Path, records: &[Record]) -> Result<Vec<u8>, Reply> {
    lwm2m::encode(format, path, records).map_err(|e| match e {
        ContentError::Unsupported(m) => Reply::error(Code::NOT_ACCEPTABLE, &m),
        other => Reply::error(Code::INTERNAL_SERVER_ERROR, &alloc_string(&other)),
    })
}

/// Maps a payload decoding error to its reply: 4.15 for a format that cannot carry the
/// value, 4.00 for bad bytes or types.
pub(crate) fn decode_error(e: &ContentError) -> Reply {
    match e {
        ContentError::Unsupported(m) => Reply::error(Code::UNSUPPORTED_CONTENT_FORMAT, m),
        other => Reply::error(Code::BAD_REQUEST, &alloc_string(other)),
    }
}

fn alloc_string(e: &ContentError) -> String {
    use core::fmt::Write;
    let mut s = String::new();
    let _ = write!(s, "{e}");
    s
}
