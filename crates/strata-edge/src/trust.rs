//! The device's root of trust: what must survive a flash dump.
//!
//! Threat model: an attacker holds a device, can read and rewrite its external flash, and can
//! feed it any file. They must not obtain a model (it is stored encrypted; the key lives in
//! the root of trust and the plaintext only in RAM, see [`crate::container`]), must not make
//! the device run a model the platform did not sign (the platform's public key is part of the
//! root of trust, not of the flash image), and must not roll the device back to an older
//! model (the accepted version is a monotonic counter inside the root of trust, which cannot
//! be lowered). Out of scope: attacks on the running chip (probing RAM, glitching), which a
//! secure element or TPM makes harder but no software can prevent.
//!
//! [`RootOfTrust`] is the seam: [`SoftwareRoot`] keeps everything in memory for development
//! and tests (it protects nothing against a flash dump); a TPM 2.0 implementation
//! (`strata-edge-tpm`) seals the model key to the TPM and uses its NV counter.
//!
//! The device identity is an Ed25519 key in software and a P-256 ECDSA key in a TPM (TPM 2.0
//! has no Ed25519), so [`IdentityKey`] and [`IdentitySignature`] name the algorithm, and
//! [`IdentityKey::verify`] checks either kind in software.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::container::{self, ContainerError};

/// What a device's secure element, TPM or trusted firmware provides.
pub trait RootOfTrust {
    /// Why an operation failed.
    type Error;
    /// The platform's public key that models must be signed with.
    fn platform_key(&self) -> VerifyingKey;
    /// The model key, unsealed for this use.
    fn model_key(&mut self) -> Result<[u8; 32], Self::Error>;
    /// The highest model version accepted so far.
    fn model_counter(&mut self) -> Result<u64, Self::Error>;
    /// Raises the counter (never lowers it).
    fn raise_model_counter(&mut self, to: u64) -> Result<(), Self::Error>;
    /// Signs `message` with the device's identity key (Ed25519 over the message, or ECDSA
    /// P-256 over its SHA-256 digest).
    fn sign(&mut self, message: &[u8]) -> Result<IdentitySignature, Self::Error>;
    /// The device's identity public key.
    fn identity(&self) -> IdentityKey;
}

/// A device identity public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentityKey {
    /// An Ed25519 public key.
    Ed25519([u8; 32]),
    /// A NIST P-256 ECDSA public key (as a TPM 2.0 holds it).
    P256 {
        /// The point in SEC1 uncompressed form: `0x04 || x || y`, big-endian coordinates.
        sec1_uncompressed: [u8; 65],
    },
}

/// A signature by a device identity key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentitySignature {
    /// An Ed25519 signature over the message.
    Ed25519([u8; 64]),
    /// An ECDSA P-256 signature over the SHA-256 digest of the message.
    P256 {
        /// `r`, big-endian.
        r: [u8; 32],
        /// `s`, big-endian.
        s: [u8; 32],
    },
}

/// Why an identity signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentityError {
    /// The signature is for another algorithm than the key.
    AlgorithmMismatch,
    /// The public key is not a valid key of its algorithm (e.g. not a point on P-256).
    InvalidKey,
    /// The signature does not match the message and key.
    BadSignature,
}

impl core::fmt::Display for IdentityError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::AlgorithmMismatch => {
                write!(
                    f,
                    "the signature's algorithm differs from the identity key's"
                )
            }
            Self::InvalidKey => write!(f, "the identity public key is not a valid key"),
            Self::BadSignature => write!(
                f,
                "the identity signature does not verify: another key, or an altered message"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for IdentityError {}

impl IdentityKey {
    /// Verifies `signature` over `message` in software: Ed25519 (strict) over the message, or
    /// ECDSA P-256 over its SHA-256 digest.
    pub fn verify(
        &self,
        message: &[u8],
        signature: &IdentitySignature,
    ) -> Result<(), IdentityError> {
        match (self, signature) {
            (Self::Ed25519(key), IdentitySignature::Ed25519(sig)) => {
                let key = VerifyingKey::from_bytes(key).map_err(|_| IdentityError::InvalidKey)?;
                key.verify_strict(message, &Signature::from_bytes(sig))
                    .map_err(|_| IdentityError::BadSignature)
            }
            (Self::P256 { sec1_uncompressed }, IdentitySignature::P256 { r, s }) => {
                use p256::ecdsa::signature::Verifier;
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(sec1_uncompressed)
                    .map_err(|_| IdentityError::InvalidKey)?;
                let sig = p256::ecdsa::Signature::from_scalars(*r, *s)
                    .map_err(|_| IdentityError::BadSignature)?;
                key.verify(message, &sig)
                    .map_err(|_| IdentityError::BadSignature)
            }
            _ => Err(IdentityError::AlgorithmMismatch),
        }
    }
}

/// Why a model could not be loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadError<E> {
    /// The container was refused.
    Container(ContainerError),
    /// The root of trust failed.
    Trust(E),
}

/// Verifies, decrypts (into `ram`) and accepts a model container: signature, rollback and
/// key checks, then the counter is raised to the model's version.
pub fn load_model<'r, T: RootOfTrust>(
    root: &mut T,
    container_bytes: &[u8],
    ram: &'r mut [u8],
) -> Result<&'r [u8], LoadError<T::Error>> {
    let minimum = root.model_counter().map_err(LoadError::Trust)?;
    let key = root.model_key().map_err(LoadError::Trust)?;
    let (model, version) =
        container::open(container_bytes, &root.platform_key(), minimum, &key, ram)
            .map_err(LoadError::Container)?;
    if version > minimum {
        root.raise_model_counter(version)
            .map_err(LoadError::Trust)?;
    }
    Ok(model)
}

/// A root of trust in plain memory, for development and tests only.
#[derive(Debug, Clone)]
pub struct SoftwareRoot {
    identity: SigningKey,
    platform: VerifyingKey,
    model_key: [u8; 32],
    counter: u64,
}

impl SoftwareRoot {
    /// A root with the given keys and a counter at 0.
    pub fn new(identity: [u8; 32], platform: VerifyingKey, model_key: [u8; 32]) -> Self {
        Self {
            identity: SigningKey::from_bytes(&identity),
            platform,
            model_key,
            counter: 0,
        }
    }
}

/// [`SoftwareRoot`] cannot fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Never {}

impl RootOfTrust for SoftwareRoot {
    type Error = Never;

    fn platform_key(&self) -> VerifyingKey {
        self.platform
    }

    fn model_key(&mut self) -> Result<[u8; 32], Never> {
        Ok(self.model_key)
    }

    fn model_counter(&mut self) -> Result<u64, Never> {
        Ok(self.counter)
    }

    fn raise_model_counter(&mut self, to: u64) -> Result<(), Never> {
        self.counter = self.counter.max(to);
        Ok(())
    }

    fn sign(&mut self, message: &[u8]) -> Result<IdentitySignature, Never> {
        Ok(IdentitySignature::Ed25519(
            self.identity.sign(message).to_bytes(),
        ))
    }

    fn identity(&self) -> IdentityKey {
        IdentityKey::Ed25519(self.identity.verifying_key().to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loaded_model_raises_the_counter_and_older_ones_are_refused() {
        let platform = SigningKey::from_bytes(&[3u8; 32]);
        let model_key = [4u8; 32];
        let mut root = SoftwareRoot::new([5u8; 32], platform.verifying_key(), model_key);
        let pack = |version: u64, model: &[u8]| {
            let mut out = [0u8; 512];
            let n = container::pack(
                model,
                version,
                &model_key,
                &[version as u8; 12],
                &platform,
                &mut out,
            )
            .unwrap();
            (out, n)
        };
        let (v2, n2) = pack(2, b"model two");
        let (v1, n1) = pack(1, b"model one");
        let mut ram = [0u8; 64];
        assert_eq!(
            load_model(&mut root, &v2[..n2], &mut ram).unwrap(),
            b"model two"
        );
        assert_eq!(root.model_counter(), Ok(2));
        assert_eq!(
            load_model(&mut root, &v1[..n1], &mut ram),
            Err(LoadError::Container(ContainerError::Rollback {
                version: 1,
                minimum: 2
            }))
        );
        // The same version again is fine (a reboot reloads the current model).
        assert!(load_model(&mut root, &v2[..n2], &mut ram).is_ok());
    }

    #[test]
    fn identity_signatures_verify_and_mismatches_are_refused() {
        let mut root = SoftwareRoot::new(
            [5u8; 32],
            SigningKey::from_bytes(&[3u8; 32]).verifying_key(),
            [4u8; 32],
        );
        let sig = root.sign(b"hello").unwrap();
        let identity = root.identity();
        assert_eq!(identity.verify(b"hello", &sig), Ok(()));
        assert_eq!(
            identity.verify(b"hellO", &sig),
            Err(IdentityError::BadSignature)
        );
        let other = IdentityKey::Ed25519(
            SigningKey::from_bytes(&[6u8; 32])
                .verifying_key()
                .to_bytes(),
        );
        assert_eq!(
            other.verify(b"hello", &sig),
            Err(IdentityError::BadSignature)
        );
        assert_eq!(
            identity.verify(
                b"hello",
                &IdentitySignature::P256 {
                    r: [1; 32],
                    s: [1; 32]
                }
            ),
            Err(IdentityError::AlgorithmMismatch)
        );
    }

    #[test]
    fn p256_signatures_verify_over_the_sha256_of_the_message() {
        use p256::ecdsa::signature::Signer as _;
        let signing = p256::ecdsa::SigningKey::from_bytes(&[7u8; 32].into()).unwrap();
        let point = signing.verifying_key().to_encoded_point(false);
        let mut sec1_uncompressed = [0u8; 65];
        sec1_uncompressed.copy_from_slice(point.as_bytes());
        let key = IdentityKey::P256 { sec1_uncompressed };
        let sig: p256::ecdsa::Signature = signing.sign(b"hello");
        let (r, s) = sig.split_bytes();
        let sig = IdentitySignature::P256 {
            r: r.into(),
            s: s.into(),
        };
        assert_eq!(key.verify(b"hello", &sig), Ok(()));
        assert_eq!(key.verify(b"hellO", &sig), Err(IdentityError::BadSignature));
        let mut off_curve = sec1_uncompressed;
        off_curve[64] ^= 1;
        assert_eq!(
            IdentityKey::P256 {
                sec1_uncompressed: off_curve
            }
            .verify(b"hello", &sig),
            Err(IdentityError::InvalidKey)
        );
        assert_eq!(
            key.verify(b"hello", &IdentitySignature::Ed25519([0; 64])),
            Err(IdentityError::AlgorithmMismatch)
        );
    }
}
