//! The model container: a `.tflite` model encrypted for a fleet and signed by the platform.
//!
//! Someone who dumps a device's flash must not obtain the model, and a device must never run
//! a model the platform did not sign, or an older one than it already had (a rollback to a
//! model with a known weakness). So the model travels and rests encrypted (ChaCha20-Poly1305,
//! the key sealed in the device's root of trust, see [`crate::trust`]) and signed (Ed25519 by
//! the platform's key), with a version the device compares with a monotonic counter.
//!
//! # Format (all integers little-endian)
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 4 | magic `SMDL` |
//! | 4 | 1 | format version, 1 |
//! | 5 | 3 | reserved, zero |
//! | 8 | 8 | model version (a device refuses anything below its counter) |
//! | 16 | 8 | key id: the first 8 bytes of SHA-256 of the model key |
//! | 24 | 12 | nonce (unique per container) |
//! | 36 | 4 | ciphertext length `n` |
//! | 40 | `n` | the model, encrypted with ChaCha20-Poly1305; associated data: bytes 0..40 |
//! | 40+`n` | 16 | the AEAD tag |
//! | 56+`n` | 64 | Ed25519 signature over bytes 0..56+`n` |
//!
//! A device checks, in this order: the layout, the signature (before touching the
//! ciphertext), the version against its counter, the key id, then decrypts into RAM it
//! provides ([`Container::decrypt_into`]); the plaintext is never written back to flash.
//! [`pack`] builds a container (the platform side, `strata model pack`).

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce, Tag};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The magic bytes.
pub const MAGIC: &[u8; 4] = b"SMDL";
/// The format version this build reads and writes.
pub const FORMAT_VERSION: u8 = 1;
/// Header bytes before the ciphertext.
pub const HEADER_LEN: usize = 40;
/// AEAD tag bytes.
pub const TAG_LEN: usize = 16;
/// Signature bytes.
pub const SIGNATURE_LEN: usize = 64;
/// Container bytes besides the model itself.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN + SIGNATURE_LEN;

/// Why a container is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerError {
    /// Not a model container (wrong magic) or cut short.
    Malformed,
    /// A format version this build does not read.
    UnsupportedFormat(u8),
    /// The platform's signature does not match: altered, or signed by another key.
    BadSignature,
    /// The model is older than the one the device already accepted.
    Rollback {
        /// The container's model version.
        version: u64,
        /// The device's counter.
        minimum: u64,
    },
    /// Encrypted for another model key.
    WrongKey,
    /// Decryption failed (the ciphertext or tag was altered after signing cannot happen
    /// with a valid signature, so this means a wrong key with a colliding id).
    DecryptionFailed,
    /// The output buffer is smaller than the model.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
    },
}

impl core::fmt::Display for ContainerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Malformed => write!(f, "not a Strata model container, or truncated"),
            Self::UnsupportedFormat(v) => write!(f, "container format {v} is not supported"),
            Self::BadSignature => write!(
                f,
                "the platform signature does not verify: the container was altered or signed \
                 by another key"
            ),
            Self::Rollback { version, minimum } => write!(
                f,
                "model version {version} is older than the accepted version {minimum} (rollback)"
            ),
            Self::WrongKey => write!(f, "the model is encrypted for another model key"),
            Self::DecryptionFailed => write!(f, "the model does not decrypt with this key"),
            Self::BufferTooSmall { needed } => {
                write!(f, "the output buffer needs {needed} bytes")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ContainerError {}

/// A parsed (not yet verified) container, borrowing its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Container<'a> {
    bytes: &'a [u8],
    /// The model version.
    pub version: u64,
    /// The key id (first 8 bytes of SHA-256 of the model key).
    pub key_id: [u8; 8],
    nonce: [u8; 12],
    ciphertext_len: usize,
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

/// The key id of a model key.
pub fn key_id(model_key: &[u8; 32]) -> [u8; 8] {
    let digest = Sha256::digest(model_key);
    let mut id = [0u8; 8];
    id.copy_from_slice(&digest[..8]);
    id
}

impl<'a> Container<'a> {
    /// Parses the layout; verifies nothing yet.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ContainerError> {
        if bytes.len() < OVERHEAD || &bytes[..4] != MAGIC {
            return Err(ContainerError::Malformed);
        }
        if bytes[4] != FORMAT_VERSION {
            return Err(ContainerError::UnsupportedFormat(bytes[4]));
        }
        let mut len = [0u8; 4];
        len.copy_from_slice(&bytes[36..40]);
        let ciphertext_len = u32::from_le_bytes(len) as usize;
        if bytes.len() != OVERHEAD + ciphertext_len {
            return Err(ContainerError::Malformed);
        }
        let mut key_id = [0u8; 8];
        key_id.copy_from_slice(&bytes[16..24]);
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&bytes[24..36]);
        Ok(Self {
            bytes,
            version: u64_at(bytes, 8),
            key_id,
            nonce,
            ciphertext_len,
        })
    }

    /// The model's size in bytes.
    pub fn model_len(&self) -> usize {
        self.ciphertext_len
    }

    fn signed_part(&self) -> &'a [u8] {
        &self.bytes[..self.bytes.len() - SIGNATURE_LEN]
    }

    /// Checks the platform's signature.
    pub fn verify(&self, platform: &VerifyingKey) -> Result<(), ContainerError> {
        let mut sig = [0u8; SIGNATURE_LEN];
        sig.copy_from_slice(&self.bytes[self.bytes.len() - SIGNATURE_LEN..]);
        platform
            .verify_strict(self.signed_part(), &Signature::from_bytes(&sig))
            .map_err(|_| ContainerError::BadSignature)
    }

    /// Decrypts the model into `out` (RAM the caller provides) and returns it. Call
    /// [`Container::verify`] first; [`open`] does every check in order.
    pub fn decrypt_into<'o>(
        &self,
        model_key: &[u8; 32],
        out: &'o mut [u8],
    ) -> Result<&'o [u8], ContainerError> {
        if key_id(model_key) != self.key_id {
            return Err(ContainerError::WrongKey);
        }
        let n = self.ciphertext_len;
        let Some(out) = out.get_mut(..n) else {
            return Err(ContainerError::BufferTooSmall { needed: n });
        };
        out.copy_from_slice(&self.bytes[HEADER_LEN..HEADER_LEN + n]);
        let tag = Tag::from_slice(&self.bytes[HEADER_LEN + n..HEADER_LEN + n + TAG_LEN]);
        let cipher = ChaCha20Poly1305::new(Key::from_slice(model_key));
        let header = &self.bytes[..HEADER_LEN];
        if cipher
            .decrypt_in_place_detached(Nonce::from_slice(&self.nonce), header, out, tag)
            .is_err()
        {
            // Leave no half-decrypted bytes behind.
            out.fill(0);
            return Err(ContainerError::DecryptionFailed);
        }
        Ok(out)
    }
}

/// Verifies and decrypts a container: the signature first, then the version against
/// `minimum_version` (the device's monotonic counter), then the key, then decryption into
/// `out`. Returns the model's bytes and version; raise the counter to that version once the
/// model is in use.
pub fn open<'o>(
    bytes: &[u8],
    platform: &VerifyingKey,
    minimum_version: u64,
    model_key: &[u8; 32],
    out: &'o mut [u8],
) -> Result<(&'o [u8], u64), ContainerError> {
    let container = Container::parse(bytes)?;
    container.verify(platform)?;
    if container.version < minimum_version {
        return Err(ContainerError::Rollback {
            version: container.version,
            minimum: minimum_version,
        });
    }
    let model = container.decrypt_into(model_key, out)?;
    Ok((model, container.version))
}

/// Builds a container for `model` into `out` (which needs `model.len() + OVERHEAD` bytes)
/// and returns its length. `nonce` must never repeat for the same model key (draw it at
/// random).
pub fn pack(
    model: &[u8],
    version: u64,
    model_key: &[u8; 32],
    nonce: &[u8; 12],
    platform: &SigningKey,
    out: &mut [u8],
) -> Result<usize, ContainerError> {
    let total = model.len() + OVERHEAD;
    let len = u32::try_from(model.len()).map_err(|_| ContainerError::Malformed)?;
    let Some(out) = out.get_mut(..total) else {
        return Err(ContainerError::BufferTooSmall { needed: total });
    };
    out[..4].copy_from_slice(MAGIC);
    out[4] = FORMAT_VERSION;
    out[5..8].fill(0);
    out[8..16].copy_from_slice(&version.to_le_bytes());
    out[16..24].copy_from_slice(&key_id(model_key));
    out[24..36].copy_from_slice(nonce);
    out[36..40].copy_from_slice(&len.to_le_bytes());
    let (header, rest) = out.split_at_mut(HEADER_LEN);
    let (body, tail) = rest.split_at_mut(model.len());
    body.copy_from_slice(model);
    let cipher = ChaCha20Poly1305::new(Key::from_slice(model_key));
    let tag = cipher
        .encrypt_in_place_detached(Nonce::from_slice(nonce), header, body)
        .map_err(|_| ContainerError::Malformed)?;
    tail[..TAG_LEN].copy_from_slice(&tag);
    let signature = platform.sign(&out[..total - SIGNATURE_LEN]);
    out[total - SIGNATURE_LEN..].copy_from_slice(&signature.to_bytes());
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &[u8] = b"TFL3 pretend this is a model with weights 0123456789";

    fn keys() -> (SigningKey, [u8; 32]) {
        (SigningKey::from_bytes(&[7u8; 32]), [9u8; 32])
    }

    fn packed(version: u64) -> ([u8; 256], usize) {
        let (signing, model_key) = keys();
        let mut out = [0u8; 256];
        let n = pack(MODEL, version, &model_key, &[1u8; 12], &signing, &mut out).unwrap();
        (out, n)
    }

    #[test]
    fn round_trip_and_the_model_is_not_in_the_clear() {
        let (signing, model_key) = keys();
        let (bytes, n) = packed(3);
        let bytes = &bytes[..n];
        assert_eq!(n, MODEL.len() + OVERHEAD);
        assert!(
            !bytes.windows(8).any(|w| w == &MODEL[..8]),
            "plaintext leaked"
        );
        let mut ram = [0u8; 128];
        let (model, version) =
            open(bytes, &signing.verifying_key(), 3, &model_key, &mut ram).unwrap();
        assert_eq!(model, MODEL);
        assert_eq!(version, 3);
    }

    #[test]
    fn any_changed_byte_is_refused_before_decryption() {
        let (signing, model_key) = keys();
        let (bytes, n) = packed(1);
        for i in 0..n {
            let mut altered = bytes;
            altered[i] ^= 0x40;
            let mut ram = [0u8; 128];
            let err = open(
                &altered[..n],
                &signing.verifying_key(),
                0,
                &model_key,
                &mut ram,
            )
            .unwrap_err();
            assert!(
                matches!(
                    err,
                    ContainerError::BadSignature
                        | ContainerError::Malformed
                        | ContainerError::UnsupportedFormat(_)
                ),
                "byte {i}: {err:?}"
            );
            assert!(ram.iter().all(|b| *b == 0), "byte {i}: decrypted anyway");
        }
    }

    #[test]
    fn other_signers_rollbacks_and_wrong_keys_are_refused() {
        let (signing, model_key) = keys();
        let (bytes, n) = packed(5);
        let bytes = &bytes[..n];
        let mut ram = [0u8; 128];
        let stranger = SigningKey::from_bytes(&[8u8; 32]).verifying_key();
        assert_eq!(
            open(bytes, &stranger, 0, &model_key, &mut ram),
            Err(ContainerError::BadSignature)
        );
        assert_eq!(
            open(bytes, &signing.verifying_key(), 6, &model_key, &mut ram),
            Err(ContainerError::Rollback {
                version: 5,
                minimum: 6
            })
        );
        assert_eq!(
            open(bytes, &signing.verifying_key(), 0, &[1u8; 32], &mut ram),
            Err(ContainerError::WrongKey)
        );
        let mut small = [0u8; 8];
        assert_eq!(
            open(bytes, &signing.verifying_key(), 0, &model_key, &mut small),
            Err(ContainerError::BufferTooSmall {
                needed: MODEL.len()
            })
        );
        assert_eq!(
            Container::parse(&bytes[..n - 1]).unwrap_err(),
            ContainerError::Malformed
        );
        assert_eq!(
            Container::parse(b"nope").unwrap_err(),
            ContainerError::Malformed
        );
    }
}
