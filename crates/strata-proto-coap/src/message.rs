//! The message codec (RFC 7252 §3): a zero-copy view over a received datagram and a writer
//! that encodes straight into a buffer.

use alloc::vec::Vec;

use crate::code::{Code, MessageType};
use crate::error::{DecodeError, EncodeError};
use crate::option;

/// Longest token (RFC 7252 §3).
pub const MAX_TOKEN_LEN: usize = 8;

/// A decoded message borrowing the datagram it came in.
///
/// [`Message::decode`] validates the whole option sequence up front, so iterating over
/// [`Message::options`] later cannot fail.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// Type.
    pub mtype: MessageType,
    /// Method or response code.
    pub code: Code,
    /// Message ID (deduplication and ACK/RST matching).
    pub message_id: u16,
    /// Token (request/response matching), 0 to 8 bytes.
    pub token: &'a [u8],
    options: &'a [u8],
    /// Payload (empty when there is none).
    pub payload: &'a [u8],
}

impl core::fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Message")
            .field("mtype", &self.mtype)
            .field("code", &self.code)
            .field("message_id", &self.message_id)
            .field("token", &self.token)
            .field("options", &self.options().collect::<Vec<_>>())
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

impl<'a> Message<'a> {
    /// Decodes one datagram. Every message format error of RFC 7252 §3 is an error here:
    /// the caller answers a confirmable one with RST (see [`DecodeError::reply_with_reset`]).
    pub fn decode(datagram: &'a [u8]) -> Result<Message<'a>, DecodeError> {
        let [first, code, id_hi, id_lo, rest @ ..] = datagram else {
            return Err(DecodeError::TooShort);
        };
        if first >> 6 != 1 {
            return Err(DecodeError::UnsupportedVersion(first >> 6));
        }
        let mtype = MessageType::from_bits(first >> 4);
        let token_len = usize::from(first & 0x0f);
        let message_id = u16::from_be_bytes([*id_hi, *id_lo]);
        let code = Code(*code);
        let header = Header { mtype, message_id };
        if token_len > MAX_TOKEN_LEN {
            return Err(DecodeError::TokenLength(header));
        }
        let Some((token, after_token)) = rest.split_at_checked(token_len) else {
            return Err(DecodeError::TokenLength(header));
        };
        if code.is_empty() && (token_len != 0 || !after_token.is_empty()) {
            return Err(DecodeError::NonEmptyEmptyMessage(header));
        }
        if matches!(code.class(), 1 | 6 | 7) {
            return Err(DecodeError::ReservedClass(header));
        }
        let options_len =
            validate_options(after_token).map_err(|_| DecodeError::Options(header))?;
        let (options, after_options) = after_token.split_at(options_len);
        let payload = match after_options {
            [] => &[][..],
            [0xff] => return Err(DecodeError::EmptyPayload(header)),
            [0xff, payload @ ..] => payload,
            // validate_options stops only at the end or at the marker.
            _ => return Err(DecodeError::Options(header)),
        };
        Ok(Message {
            mtype,
            code,
            message_id,
            token,
            options,
            payload,
        })
    }

    /// Every option in order: `(number, value)`; repeated options come once per value.
    pub fn options(&self) -> Options<'a> {
        Options {
            rest: self.options,
            number: 0,
        }
    }

    /// The first value of option `number`.
    pub fn option(&self, number: u16) -> Option<&'a [u8]> {
        self.options()
            .skip_while(|(n, _)| *n < number)
            .take_while(|(n, _)| *n == number)
            .map(|(_, v)| v)
            .next()
    }

    /// Every value of option `number`.
    pub fn option_values(&self, number: u16) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        self.options()
            .skip_while(move |(n, _)| *n < number)
            .take_while(move |(n, _)| *n == number)
            .map(|(_, v)| v)
    }

    /// The first value of a `uint` option (`None` if absent or longer than 4 bytes).
    pub fn uint_option(&self, number: u16) -> Option<u32> {
        self.option(number).and_then(option::decode_uint)
    }

    /// Uri-Path segments (bytes; usually UTF-8).
    pub fn path(&self) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        self.option_values(option::URI_PATH)
    }

    /// Uri-Query items (`key=value` bytes).
    pub fn queries(&self) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        self.option_values(option::URI_QUERY)
    }

    /// The value of query item `key=...`, if present and UTF-8.
    pub fn query(&self, key: &str) -> Option<&'a str> {
        self.queries().find_map(|q| {
            let q = core::str::from_utf8(q).ok()?;
            let (k, v) = q.split_once('=').unwrap_or((q, ""));
            (k == key).then_some(v)
        })
    }

    /// Content-Format, if given.
    pub fn content_format(&self) -> Option<u16> {
        self.uint_option(option::CONTENT_FORMAT)
            .and_then(|v| u16::try_from(v).ok())
    }

    /// Accept, if given.
    pub fn accept(&self) -> Option<u16> {
        self.uint_option(option::ACCEPT)
            .and_then(|v| u16::try_from(v).ok())
    }

    /// Observe, if given (0 register, 1 deregister in requests; a sequence number in
    /// notifications).
    pub fn observe(&self) -> Option<u32> {
        self.uint_option(option::OBSERVE)
    }

    /// The first critical option this server does not know (answer 4.02 Bad Option).
    pub fn unknown_critical_option(&self, known: &[u16]) -> Option<u16> {
        self.options()
            .map(|(n, _)| n)
            .find(|n| option::is_critical(*n) && !known.contains(n))
    }

    /// The header fields used to answer a message that could not be decoded further.
    pub fn header(&self) -> Header {
        Header {
            mtype: self.mtype,
            message_id: self.message_id,
        }
    }
}

/// Type and message ID of a message, kept by decode errors so a confirmable message with a
/// format error can still be answered with RST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Type.
    pub mtype: MessageType,
    /// Message ID.
    pub message_id: u16,
}

/// Iterator over the options of a decoded [`Message`].
#[derive(Clone)]
pub struct Options<'a> {
    rest: &'a [u8],
    number: u16,
}

impl<'a> Iterator for Options<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        // The region was validated by `Message::decode`; a failure here ends iteration.
        let (delta, len, header) = option_header(self.rest).ok()??;
        let value = self.rest.get(header..header + len)?;
        self.rest = self.rest.get(header + len..)?;
        self.number = self.number.checked_add(delta)?;
        Some((self.number, value))
    }
}

/// Reads one option header: `Ok(None)` at the end or at the payload marker, else
/// `(delta, length, header bytes)`.
fn option_header(bytes: &[u8]) -> Result<Option<(u16, usize, usize)>, ()> {
    let Some(&first) = bytes.first() else {
        return Ok(None);
    };
    if first == 0xff {
        return Ok(None);
    }
    let mut at = 1;
    let mut extended = |nibble: u8| -> Result<u32, ()> {
        match nibble {
            0..=12 => Ok(u32::from(nibble)),
            13 => {
                let b = *bytes.get(at).ok_or(())?;
                at += 1;
                Ok(u32::from(b) + 13)
            }
            14 => {
                let hi = *bytes.get(at).ok_or(())?;
                let lo = *bytes.get(at + 1).ok_or(())?;
                at += 2;
                Ok(u32::from(u16::from_be_bytes([hi, lo])) + 269)
            }
            // 15 is reserved for the payload marker (RFC 7252 §3.1).
            _ => Err(()),
        }
    };
    let delta = extended(first >> 4)?;
    let len = extended(first & 0x0f)?;
    let delta = u16::try_from(delta).map_err(|_| ())?;
    Ok(Some((delta, len as usize, at)))
}

/// Checks the option region and returns its length (up to the payload marker or the end).
fn validate_options(bytes: &[u8]) -> Result<usize, ()> {
    let mut at = 0usize;
    let mut number = 0u16;
    while let Some((delta, len, header)) = option_header(&bytes[at..])? {
        number = number.checked_add(delta).ok_or(())?;
        let end = at
            .checked_add(header)
            .and_then(|v| v.checked_add(len))
            .ok_or(())?;
        if end > bytes.len() {
            return Err(());
        }
        at = end;
    }
    Ok(at)
}

/// Encodes a message straight into a `Vec<u8>`. Options must be added in ascending number
/// order (repeats allowed); the payload comes last.
///
/// ```
/// use strata_proto_coap::{Code, Message, MessageType, MessageWriter, option};
/// let mut buf = Vec::new();
/// let mut w = MessageWriter::new(&mut buf, MessageType::Con, Code::GET, 7, b"tk").unwrap();
/// w.option(option::URI_PATH, b"sensors").unwrap();
/// w.option(option::URI_PATH, b"temp").unwrap();
/// w.finish();
/// let m = Message::decode(&buf).unwrap();
/// assert_eq!(m.path().collect::<Vec<_>>(), [&b"sensors"[..], b"temp"]);
/// ```
pub struct MessageWriter<'b> {
    buf: &'b mut Vec<u8>,
    last_option: u16,
    closed: bool,
}

impl<'b> MessageWriter<'b> {
    /// Starts a message; `buf` is cleared first.
    pub fn new(
        buf: &'b mut Vec<u8>,
        mtype: MessageType,
        code: Code,
        message_id: u16,
        token: &[u8],
    ) -> Result<Self, EncodeError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(EncodeError::TokenTooLong);
        }
        buf.clear();
        buf.push(0x40 | (mtype.bits() << 4) | token.len() as u8);
        buf.push(code.0);
        buf.extend_from_slice(&message_id.to_be_bytes());
        buf.extend_from_slice(token);
        Ok(MessageWriter {
            buf,
            last_option: 0,
            closed: false,
        })
    }

    /// Adds an option; `number` must not be below the previous option's.
    pub fn option(&mut self, number: u16, value: &[u8]) -> Result<&mut Self, EncodeError> {
        if self.closed {
            return Err(EncodeError::AfterPayload);
        }
        if number < self.last_option {
            return Err(EncodeError::OptionOrder {
                number,
                after: self.last_option,
            });
        }
        if value.len() > usize::from(u16::MAX) + 269 {
            return Err(EncodeError::OptionTooLong(number));
        }
        let delta = u32::from(number - self.last_option);
        let len = value.len() as u32;
        let (delta_nibble, delta_ext, delta_ext_len) = nibble(delta);
        let (len_nibble, len_ext, len_ext_len) = nibble(len);
        self.buf.push((delta_nibble << 4) | len_nibble);
        self.buf.extend_from_slice(&delta_ext[..delta_ext_len]);
        self.buf.extend_from_slice(&len_ext[..len_ext_len]);
        self.buf.extend_from_slice(value);
        self.last_option = number;
        Ok(self)
    }

    /// Adds a `uint` option in the fewest bytes.
    pub fn uint_option(&mut self, number: u16, value: u32) -> Result<&mut Self, EncodeError> {
        let (bytes, len) = option::encode_uint(value);
        self.option(number, &bytes[..len])
    }

    /// Adds one Uri-Path option per `/`-separated segment of `path` (leading `/` ignored).
    pub fn path(&mut self, path: &str) -> Result<&mut Self, EncodeError> {
        for segment in path
            .trim_start_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
        {
            self.option(option::URI_PATH, segment.as_bytes())?;
        }
        Ok(self)
    }

    /// Adds the payload marker and payload (nothing when `payload` is empty). Call it last:
    /// options written after the payload would corrupt the message.
    pub fn payload(&mut self, payload: &[u8]) {
        if !payload.is_empty() {
            self.buf.push(0xff);
            self.buf.extend_from_slice(payload);
        }
        self.closed = true;
    }

    /// Ends a message (optional; dropping the writer does the same).
    pub fn finish(self) {}
}

/// Splits an option delta or length into its nibble and extended bytes.
fn nibble(value: u32) -> (u8, [u8; 2], usize) {
    match value {
        0..=12 => (value as u8, [0, 0], 0),
        13..=268 => (13, [(value - 13) as u8, 0], 1),
        _ => {
            let v = (value - 269) as u16;
            (14, v.to_be_bytes(), 2)
        }
    }
}

/// Encodes an empty message (an ACK or RST for `message_id`, or a CoAP ping when `Con`).
pub fn empty(mtype: MessageType, message_id: u16) -> [u8; 4] {
    let id = message_id.to_be_bytes();
    [0x40 | (mtype.bits() << 4), 0, id[0], id[1]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::option::{CONTENT_FORMAT, URI_PATH, URI_QUERY};
    use alloc::vec;

    #[test]
    fn decodes_rfc7252_example_get() {
        // CON GET mid 0x7d34, path "temperature" (RFC 7252 Appendix A, figure 16 shape).
        let mut bytes = vec![0x40, 0x01, 0x7d, 0x34, 0xbb];
        bytes.extend_from_slice(b"temperature");
        let m = Message::decode(&bytes).unwrap();
        assert_eq!(m.mtype, MessageType::Con);
        assert_eq!(m.code, Code::GET);
        assert_eq!(m.message_id, 0x7d34);
        assert_eq!(m.path().collect::<Vec<_>>(), [&b"temperature"[..]]);
        assert!(m.payload.is_empty());
    }

    #[test]
    fn round_trips_long_options_and_payload() {
        let long = vec![b'x'; 300];
        let mut buf = Vec::new();
        let mut w =
            MessageWriter::new(&mut buf, MessageType::Non, Code::POST, 1, &[1, 2, 3]).unwrap();
        w.option(URI_PATH, b"a").unwrap();
        w.option(URI_PATH, &long).unwrap();
        w.uint_option(CONTENT_FORMAT, 11542).unwrap();
        w.option(URI_QUERY, b"ep=node-1").unwrap();
        w.option(2000, b"").unwrap();
        w.payload(b"hello");
        let m = Message::decode(&buf).unwrap();
        assert_eq!(m.token, &[1, 2, 3]);
        assert_eq!(m.path().collect::<Vec<_>>(), [&b"a"[..], &long[..]]);
        assert_eq!(m.content_format(), Some(11542));
        assert_eq!(m.query("ep"), Some("node-1"));
        assert_eq!(m.option(2000), Some(&b""[..]));
        assert_eq!(m.payload, b"hello");
        assert_eq!(m.unknown_critical_option(option::KNOWN), None);
    }

    #[test]
    fn rejects_format_errors() {
        assert_eq!(Message::decode(&[0x40, 1, 0]), Err(DecodeError::TooShort));
        assert!(matches!(
            Message::decode(&[0x80, 1, 0, 0]),
            Err(DecodeError::UnsupportedVersion(2))
        ));
        // Token length 9.
        assert!(matches!(
            Message::decode(&[0x49, 1, 0, 0]),
            Err(DecodeError::TokenLength(_))
        ));
        // Token length 2 but only 1 byte.
        assert!(matches!(
            Message::decode(&[0x42, 1, 0, 0, 9]),
            Err(DecodeError::TokenLength(_))
        ));
        // Empty message with a payload.
        assert!(matches!(
            Message::decode(&[0x40, 0, 0, 0, 0xff, 1]),
            Err(DecodeError::NonEmptyEmptyMessage(_))
        ));
        // Payload marker without payload.
        assert!(matches!(
            Message::decode(&[0x40, 1, 0, 0, 0xff]),
            Err(DecodeError::EmptyPayload(_))
        ));
        // Option delta 15 that is not the marker.
        assert!(matches!(
            Message::decode(&[0x40, 1, 0, 0, 0xf1, 0]),
            Err(DecodeError::Options(_))
        ));
        // Option running past the end.
        assert!(matches!(
            Message::decode(&[0x40, 1, 0, 0, 0xb5, b'a']),
            Err(DecodeError::Options(_))
        ));
        // Reserved class 7.
        assert!(matches!(
            Message::decode(&[0x40, 0xe0, 0, 0]),
            Err(DecodeError::ReservedClass(_))
        ));
    }

    #[test]
    fn writer_refuses_descending_options() {
        let mut buf = Vec::new();
        let mut w = MessageWriter::new(&mut buf, MessageType::Con, Code::GET, 1, &[]).unwrap();
        w.option(URI_QUERY, b"a").unwrap();
        assert!(w.option(URI_PATH, b"b").is_err());
        let mut buf = Vec::new();
        assert!(MessageWriter::new(&mut buf, MessageType::Con, Code::GET, 1, &[0; 9]).is_err());
    }

    #[test]
    fn empty_messages() {
        let ack = empty(MessageType::Ack, 0x1234);
        let m = Message::decode(&ack).unwrap();
        assert_eq!(
            (m.mtype, m.code, m.message_id),
            (MessageType::Ack, Code::EMPTY, 0x1234)
        );
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            crate::fuzz::decode(&bytes);
        }

        #[test]
        fn endpoint_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            crate::fuzz::endpoint(&bytes);
        }

        #[test]
        fn options_round_trip(mut opts in proptest::collection::vec((0u16..3000, proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)), 0..8),
                              payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..32)) {
            opts.sort_by_key(|(n, _)| *n);
            let mut buf = Vec::new();
            let mut w = MessageWriter::new(&mut buf, MessageType::Con, Code::PUT, 9, b"t").unwrap();
            for (n, v) in &opts {
                w.option(*n, v).unwrap();
            }
            w.payload(&payload);
            let m = Message::decode(&buf).unwrap();
            let back: Vec<(u16, Vec<u8>)> = m.options().map(|(n, v)| (n, v.to_vec())).collect();
            proptest::prop_assert_eq!(back, opts);
            proptest::prop_assert_eq!(m.payload, &payload[..]);
        }
    }
}
