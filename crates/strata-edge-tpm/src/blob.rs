//! The sealed model key as it rests in flash.

use crate::TpmError;

/// Magic bytes of a sealed blob.
const MAGIC: &[u8; 4] = b"STPM";
/// The format version this build reads and writes.
const FORMAT_VERSION: u8 = 1;
/// Magic, version, two `u16` lengths.
const HEADER_LEN: usize = 4 + 1 + 2 + 2;

/// The model key sealed to one TPM: the TPM object's public and private areas, which the
/// device keeps in flash.
///
/// The private area is encrypted and integrity-protected by the TPM under its storage
/// primary key, which derives from the TPM's owner seed and never leaves the TPM. A copy of
/// this blob is useless anywhere else: another TPM (or this one after `tpm2_clear`) refuses
/// to load it, and any altered byte makes the load fail.
///
/// # Format
///
/// | offset | size | field |
/// |---:|---:|---|
/// | 0 | 4 | magic `STPM` |
/// | 4 | 1 | format version, 1 |
/// | 5 | 2 | private area length `p`, big-endian |
/// | 7 | 2 | public area length `q`, big-endian |
/// | 9 | `p` | `TPM2B_PRIVATE` contents, as the TPM returned them |
/// | 9+`p` | `q` | `TPMT_PUBLIC`, marshalled |
#[derive(Clone, PartialEq, Eq)]
pub struct SealedBlob {
    pub(crate) private: Vec<u8>,
    pub(crate) public: Vec<u8>,
}

impl core::fmt::Debug for SealedBlob {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SealedBlob")
            .field("private_len", &self.private.len())
            .field("public_len", &self.public.len())
            .finish()
    }
}

impl SealedBlob {
    /// The bytes to store in flash.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.private.len() + self.public.len());
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_VERSION);
        // Both lengths fit: the constructors only accept what a u16 holds.
        out.extend_from_slice(&len_u16(&self.private).to_be_bytes());
        out.extend_from_slice(&len_u16(&self.public).to_be_bytes());
        out.extend_from_slice(&self.private);
        out.extend_from_slice(&self.public);
        out
    }

    /// Parses bytes read from flash. Only the layout is checked here; the TPM checks the
    /// contents when [`TpmRoot::open`](crate::TpmRoot::open) loads the blob.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TpmError> {
        let Some((header, rest)) = bytes.split_first_chunk::<HEADER_LEN>() else {
            return Err(TpmError::MalformedBlob("shorter than its header"));
        };
        if &header[..4] != MAGIC {
            return Err(TpmError::MalformedBlob("not a Strata sealed blob (magic)"));
        }
        if header[4] != FORMAT_VERSION {
            return Err(TpmError::MalformedBlob("unsupported format version"));
        }
        let private_len = usize::from(u16::from_be_bytes([header[5], header[6]]));
        let public_len = usize::from(u16::from_be_bytes([header[7], header[8]]));
        if rest.len() != private_len + public_len {
            return Err(TpmError::MalformedBlob("length does not match its header"));
        }
        if private_len == 0 || public_len == 0 {
            return Err(TpmError::MalformedBlob("empty private or public area"));
        }
        let (private, public) = rest.split_at(private_len);
        Ok(Self {
            private: private.to_vec(),
            public: public.to_vec(),
        })
    }

    pub(crate) fn new(private: Vec<u8>, public: Vec<u8>) -> Result<Self, TpmError> {
        if u16::try_from(private.len()).is_err() || u16::try_from(public.len()).is_err() {
            return Err(TpmError::Unexpected {
                operation: "TPM2_Create",
                detail: "a sealed object larger than 64 KiB",
            });
        }
        Ok(Self { private, public })
    }
}

fn len_u16(bytes: &[u8]) -> u16 {
    u16::try_from(bytes.len()).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_malformed_layouts_are_refused() {
        let blob = SealedBlob::new(vec![1, 2, 3], vec![4, 5]).expect("small areas");
        let bytes = blob.to_bytes();
        assert_eq!(&bytes[..5], b"STPM\x01");
        assert_eq!(SealedBlob::from_bytes(&bytes).expect("round trip"), blob);
        for cut in 0..bytes.len() {
            assert!(
                SealedBlob::from_bytes(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(SealedBlob::from_bytes(&longer).is_err());
        let mut magic = bytes.clone();
        magic[0] = b'X';
        assert!(SealedBlob::from_bytes(&magic).is_err());
        let mut version = bytes;
        version[4] = 2;
        assert!(SealedBlob::from_bytes(&version).is_err());
    }
}
