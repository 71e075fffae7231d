//! Base64 for opaque values: standard alphabet in plain text (LwM2M 1.1 §7.4.1), URL-safe
//! alphabet without padding in SenML JSON `vd` (RFC 8428 §4.3). Decoding accepts either
//! alphabet, with or without padding, since peers mix them up.

use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine;
use base64::alphabet;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const LENIENT_STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const LENIENT_URL: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Standard alphabet, padded (plain text).
pub(crate) fn encode_standard(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// URL-safe alphabet, unpadded (SenML `vd`).
pub(crate) fn encode_url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Either alphabet, padding optional; `None` when the text is not base64.
pub(crate) fn decode(text: &[u8]) -> Option<Vec<u8>> {
    LENIENT_STANDARD
        .decode(text)
        .or_else(|_| LENIENT_URL.decode(text))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_alphabets_with_and_without_padding() {
        let bytes = [0xfb, 0xff, 0x01];
        assert_eq!(encode_standard(&bytes), "+/8B");
        assert_eq!(encode_url(&bytes), "-_8B");
        assert_eq!(encode_standard(b"ab"), "YWI=");
        assert_eq!(encode_url(b"ab"), "YWI");
        for text in ["+/8B", "-_8B"] {
            assert_eq!(decode(text.as_bytes()).unwrap(), bytes);
        }
        assert_eq!(decode(b"YWI=").unwrap(), b"ab");
        assert_eq!(decode(b"YWI").unwrap(), b"ab");
        assert_eq!(decode(b"").unwrap(), b"");
        assert!(decode(b"Y").is_none());
        assert!(decode(b"YW I").is_none());
        assert!(decode(b"+_8B").is_none(), "mixed alphabets");
    }
}
