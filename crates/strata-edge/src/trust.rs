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
//! and tests (it protects nothing against a flash dump); a TPM 2.0 implementation seals the
//! model key to the TPM and uses its NV counter.

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
    /// Signs with the device's identity key.
    fn sign(&mut self, message: &[u8]) -> Result<Signature, Self::Error>;
    /// The device's identity public key.
    fn identity(&self) -> VerifyingKey;
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

    fn sign(&mut self, message: &[u8]) -> Result<Signature, Never> {
        Ok(self.identity.sign(message))
    }

    fn identity(&self) -> VerifyingKey {
        self.identity.verifying_key()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Verifier;

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
        let sig = root.sign(b"hello").unwrap();
        assert!(root.identity().verify(b"hello", &sig).is_ok());
    }
}
