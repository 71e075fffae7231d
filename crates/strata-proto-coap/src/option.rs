//! Option numbers, content formats and option value helpers (RFC 7252 §5.10, §12.2-3).

/// If-Match.
pub const IF_MATCH: u16 = 1;
/// Uri-Host.
pub const URI_HOST: u16 = 3;
/// ETag.
pub const ETAG: u16 = 4;
/// If-None-Match.
pub const IF_NONE_MATCH: u16 = 5;
/// Observe (RFC 7641).
pub const OBSERVE: u16 = 6;
/// Uri-Port.
pub const URI_PORT: u16 = 7;
/// Location-Path.
pub const LOCATION_PATH: u16 = 8;
/// Uri-Path: one option per path segment.
pub const URI_PATH: u16 = 11;
/// Content-Format.
pub const CONTENT_FORMAT: u16 = 12;
/// Max-Age.
pub const MAX_AGE: u16 = 14;
/// Uri-Query: one option per `key=value`.
pub const URI_QUERY: u16 = 15;
/// Accept.
pub const ACCEPT: u16 = 17;
/// Location-Query.
pub const LOCATION_QUERY: u16 = 20;
/// Block2 (RFC 7959): blocks of a response.
pub const BLOCK2: u16 = 23;
/// Block1 (RFC 7959): blocks of a request.
pub const BLOCK1: u16 = 27;
/// Size2 (RFC 7959): total size of a response body.
pub const SIZE2: u16 = 28;
/// Proxy-Uri.
pub const PROXY_URI: u16 = 35;
/// Proxy-Scheme.
pub const PROXY_SCHEME: u16 = 39;
/// Size1: total size of a request body (or the largest accepted, with 4.13).
pub const SIZE1: u16 = 60;
/// No-Response (RFC 7967).
pub const NO_RESPONSE: u16 = 258;

/// Options this crate's users understand. An unknown *critical* (odd-numbered) option in a
/// request must be answered with 4.02 Bad Option (RFC 7252 §5.4.1). If-Match and
/// If-None-Match are left out on purpose: nothing here evaluates them, and silently
/// ignoring a condition would overwrite what the client meant to protect.
pub const KNOWN: &[u16] = &[
    URI_HOST,
    ETAG,
    OBSERVE,
    URI_PORT,
    LOCATION_PATH,
    URI_PATH,
    CONTENT_FORMAT,
    MAX_AGE,
    URI_QUERY,
    ACCEPT,
    LOCATION_QUERY,
    BLOCK2,
    BLOCK1,
    SIZE2,
    SIZE1,
    NO_RESPONSE,
];

/// True for critical options (odd numbers, RFC 7252 §5.4.6).
pub const fn is_critical(number: u16) -> bool {
    number & 1 == 1
}

/// Content-Format numbers (IANA CoAP Content-Formats registry).
pub mod format {
    /// `text/plain; charset=utf-8`.
    pub const TEXT: u16 = 0;
    /// `application/link-format` (RFC 6690).
    pub const LINK_FORMAT: u16 = 40;
    /// `application/xml`.
    pub const XML: u16 = 41;
    /// `application/octet-stream`.
    pub const OCTET_STREAM: u16 = 42;
    /// `application/json`.
    pub const JSON: u16 = 50;
    /// `application/cbor`.
    pub const CBOR: u16 = 60;
    /// `application/senml+json` (RFC 8428).
    pub const SENML_JSON: u16 = 110;
    /// `application/senml+cbor` (RFC 8428).
    pub const SENML_CBOR: u16 = 112;
    /// `application/vnd.oma.lwm2m+tlv`.
    pub const LWM2M_TLV: u16 = 11542;
    /// `application/vnd.oma.lwm2m+json` (LWM2M 1.0 JSON).
    pub const LWM2M_JSON: u16 = 11543;
    /// Pre-registration TLV number used by LWM2M 1.0 clients.
    pub const LWM2M_TLV_LEGACY: u16 = 1542;
    /// Pre-registration JSON number used by LWM2M 1.0 clients.
    pub const LWM2M_JSON_LEGACY: u16 = 1543;
}

/// Decodes a `uint` option value (RFC 7252 §3.2: big endian, leading zeros may be omitted).
/// Values longer than 4 bytes do not fit and yield `None`.
pub fn decode_uint(value: &[u8]) -> Option<u32> {
    if value.len() > 4 {
        return None;
    }
    Some(value.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

/// Encodes a `uint` option value in the fewest bytes (0 is the empty value).
pub fn encode_uint(value: u32) -> ([u8; 4], usize) {
    let bytes = value.to_be_bytes();
    let skip = (value.leading_zeros() / 8) as usize;
    let mut out = [0u8; 4];
    let len = 4 - skip;
    out[..len].copy_from_slice(&bytes[skip..]);
    (out, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uint_round_trip_uses_fewest_bytes() {
        for (value, len) in [
            (0u32, 0usize),
            (1, 1),
            (255, 1),
            (256, 2),
            (70000, 3),
            (u32::MAX, 4),
        ] {
            let (bytes, n) = encode_uint(value);
            assert_eq!(n, len, "{value}");
            assert_eq!(decode_uint(&bytes[..n]), Some(value));
        }
        assert_eq!(decode_uint(&[0, 0, 0, 0, 1]), None);
        assert_eq!(decode_uint(&[0, 5]), Some(5));
    }
}
