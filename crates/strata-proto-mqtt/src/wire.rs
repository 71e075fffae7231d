//! Data representation primitives (MQTT 5.0 section 1.5): integers, variable byte integers,
//! strings, binary data and string pairs. Readers never panic on short input.

use alloc::string::String;
use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::types::PacketId;

/// Largest value a variable byte integer can carry.
pub(crate) const VARINT_MAX: u32 = 268_435_455;

pub(crate) fn read_u8(buf: &mut Bytes) -> Result<u8, DecodeError> {
    if buf.remaining() < 1 {
        return Err(DecodeError::UnexpectedEnd);
    }
    Ok(buf.get_u8())
}

pub(crate) fn read_u16(buf: &mut Bytes) -> Result<u16, DecodeError> {
    if buf.remaining() < 2 {
        return Err(DecodeError::UnexpectedEnd);
    }
    Ok(buf.get_u16())
}

pub(crate) fn read_u32(buf: &mut Bytes) -> Result<u32, DecodeError> {
    if buf.remaining() < 4 {
        return Err(DecodeError::UnexpectedEnd);
    }
    Ok(buf.get_u32())
}

pub(crate) fn read_packet_id(buf: &mut Bytes) -> Result<PacketId, DecodeError> {
    PacketId::new(read_u16(buf)?).ok_or(DecodeError::ZeroPacketId)
}

/// Parses a variable byte integer from the start of `bytes`.
///
/// Returns `Ok(None)` if more bytes are needed, or `(value, length)`.
pub(crate) fn parse_varint(bytes: &[u8]) -> Result<Option<(u32, usize)>, DecodeError> {
    let mut value: u32 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if i == 4 {
            return Err(DecodeError::InvalidVarInt);
        }
        value |= u32::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
    }
    if bytes.len() >= 4 {
        return Err(DecodeError::InvalidVarInt);
    }
    Ok(None)
}

pub(crate) fn read_varint(buf: &mut Bytes) -> Result<u32, DecodeError> {
    match parse_varint(buf.chunk())? {
        Some((value, len)) => {
            buf.advance(len);
            Ok(value)
        }
        None => Err(DecodeError::UnexpectedEnd),
    }
}

pub(crate) fn read_binary(buf: &mut Bytes) -> Result<Bytes, DecodeError> {
    let len = usize::from(read_u16(buf)?);
    if buf.remaining() < len {
        return Err(DecodeError::UnexpectedEnd);
    }
    Ok(buf.split_to(len))
}

pub(crate) fn read_string(buf: &mut Bytes) -> Result<String, DecodeError> {
    let raw = read_binary(buf)?;
    let s = core::str::from_utf8(&raw).map_err(|_| DecodeError::InvalidUtf8)?;
    if s.contains('\0') {
        return Err(DecodeError::NullCharacter);
    }
    Ok(String::from(s))
}

pub(crate) fn varint_len(value: u32) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Writes a variable byte integer; callers check `value <= VARINT_MAX` beforehand.
pub(crate) fn write_varint(buf: &mut BytesMut, mut value: u32) {
    loop {
        let mut byte = (value & 0x7F) as u8;
        value >>= 7;
        if value > 0 {
            byte |= 0x80;
        }
        buf.put_u8(byte);
        if value == 0 {
            break;
        }
    }
}

/// Length on the wire of a string, validating it.
pub(crate) fn string_len(s: &str) -> Result<usize, EncodeError> {
    if s.contains('\0') {
        return Err(EncodeError::NullCharacter);
    }
    binary_len(s.as_bytes())
}

/// Length on the wire of binary data, validating it.
pub(crate) fn binary_len(b: &[u8]) -> Result<usize, EncodeError> {
    if b.len() > usize::from(u16::MAX) {
        return Err(EncodeError::FieldTooLong(b.len()));
    }
    Ok(2 + b.len())
}

/// Writes binary data; callers validate with [`binary_len`] first.
pub(crate) fn write_binary(buf: &mut BytesMut, b: &[u8]) {
    // Validated by binary_len; truncation cannot happen.
    buf.put_u16(b.len() as u16);
    buf.put_slice(b);
}

/// Writes a string; callers validate with [`string_len`] first.
pub(crate) fn write_string(buf: &mut BytesMut, s: &str) {
    write_binary(buf, s.as_bytes());
}

/// Fails with `UnexpectedEnd`/`TrailingBytes` unless `buf` is exhausted.
pub(crate) fn expect_end(buf: &Bytes) -> Result<(), DecodeError> {
    if buf.has_remaining() {
        Err(DecodeError::TrailingBytes(buf.remaining()))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_spec_boundaries() {
        // MQTT 5.0 table 1-1.
        let cases: &[(u32, &[u8])] = &[
            (0, &[0x00]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xFF, 0x7F]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xFF, 0xFF, 0x7F]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
        ];
        for &(value, bytes) in cases {
            let mut out = BytesMut::new();
            write_varint(&mut out, value);
            assert_eq!(&out[..], bytes);
            assert_eq!(varint_len(value), bytes.len());
            assert_eq!(parse_varint(bytes), Ok(Some((value, bytes.len()))));
        }
    }

    #[test]
    fn varint_too_long_and_incomplete() {
        assert_eq!(
            parse_varint(&[0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
            Err(DecodeError::InvalidVarInt)
        );
        assert_eq!(
            parse_varint(&[0xFF, 0xFF, 0xFF, 0xFF]),
            Err(DecodeError::InvalidVarInt)
        );
        assert_eq!(parse_varint(&[0xFF, 0xFF]), Ok(None));
        assert_eq!(parse_varint(&[]), Ok(None));
    }

    #[test]
    fn strings() {
        let mut b = Bytes::from_static(&[0x00, 0x02, b'h', b'i']);
        assert_eq!(read_string(&mut b).unwrap(), "hi");
        let mut b = Bytes::from_static(&[0x00, 0x02, 0xC3, 0x28]);
        assert_eq!(read_string(&mut b), Err(DecodeError::InvalidUtf8));
        let mut b = Bytes::from_static(&[0x00, 0x01, 0x00]);
        assert_eq!(read_string(&mut b), Err(DecodeError::NullCharacter));
        let mut b = Bytes::from_static(&[0x00, 0x05, b'h']);
        assert_eq!(read_string(&mut b), Err(DecodeError::UnexpectedEnd));
        // Encoded surrogate halves (ED A0 80) are not valid UTF-8.
        let mut b = Bytes::from_static(&[0x00, 0x03, 0xED, 0xA0, 0x80]);
        assert_eq!(read_string(&mut b), Err(DecodeError::InvalidUtf8));
    }
}
