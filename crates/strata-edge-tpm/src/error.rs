//! Why a TPM operation failed, and what to do about it.

/// A TPM root-of-trust error. Each message says what to do next.
///
/// The variants fall in three groups: the TPM cannot be reached or used
/// ([`Connect`](Self::Connect), [`Tpm`](Self::Tpm)); the TPM's state is not what Strata
/// provisioned ([`NotProvisioned`](Self::NotProvisioned), [`ForeignObject`](Self::ForeignObject),
/// [`PlatformKeyMismatch`](Self::PlatformKeyMismatch), [`SealedBlobRejected`](Self::SealedBlobRejected),
/// [`MalformedBlob`](Self::MalformedBlob)); and local misuse ([`InvalidConfig`](Self::InvalidConfig),
/// [`CounterStepTooLarge`](Self::CounterStepTooLarge)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TpmError {
    /// The TCTI string does not parse.
    #[error(
        "invalid TCTI {tcti:?}: use e.g. `device:/dev/tpmrm0` or \
         `swtpm:host=127.0.0.1,port=2321` ({source})"
    )]
    InvalidTcti {
        /// The TCTI string.
        tcti: String,
        /// The parser's error.
        source: tss_esapi::Error,
    },
    /// No TPM answered at the TCTI.
    #[error(
        "no TPM at {tcti}: start swtpm (or the TPM resource manager) or set the TCTI in \
         TpmConfig ({source})"
    )]
    Connect {
        /// The TCTI string.
        tcti: String,
        /// The TSS error.
        source: tss_esapi::Error,
    },
    /// A handle in [`TpmConfig`](crate::TpmConfig) is outside its range.
    #[error("invalid {what} {value:#010x} in TpmConfig: {expected}")]
    InvalidConfig {
        /// Which setting.
        what: &'static str,
        /// Its value.
        value: u32,
        /// The valid range.
        expected: &'static str,
    },
    /// The TPM has not been provisioned for Strata (an NV index or the identity key is
    /// missing).
    #[error(
        "the TPM is not provisioned for Strata: {what} at {handle:#010x} is missing; run \
         TpmRoot::provision at the factory (or check the handles in TpmConfig)"
    )]
    NotProvisioned {
        /// What is missing.
        what: &'static str,
        /// Its handle.
        handle: u32,
    },
    /// A handle Strata uses holds something Strata did not create there (other attributes,
    /// policy or size).
    #[error(
        "{what} at {handle:#010x} exists but is not Strata's (attributes, policy or size \
         differ): free it (tpm2_nvundefine / tpm2_evictcontrol) or choose other handles in \
         TpmConfig"
    )]
    ForeignObject {
        /// What was expected there.
        what: &'static str,
        /// The handle.
        handle: u32,
    },
    /// The TPM is already provisioned with another platform key, which cannot be replaced.
    #[error(
        "the TPM is already provisioned for another platform key, and that key is write-once: \
         use the platform key it was provisioned with, or clear the TPM (tpm2_clear, which \
         also destroys the sealed model key and the identity) and provision again"
    )]
    PlatformKeyMismatch,
    /// The platform record in the TPM does not hold a valid Ed25519 key.
    #[error(
        "the platform key stored in the TPM is not a valid Ed25519 public key: the TPM was \
         provisioned wrongly; clear it (tpm2_clear) and provision again"
    )]
    InvalidPlatformKey,
    /// The sealed model key blob is not Strata's format.
    #[error(
        "the sealed model key blob is malformed ({0}): restore the blob that \
         TpmRoot::provision returned for this device"
    )]
    MalformedBlob(&'static str),
    /// The TPM refused to load or unseal the sealed blob: it was sealed by another TPM (or
    /// after a TPM clear), or it was altered.
    #[error(
        "this TPM refuses the sealed model key: it was sealed by another TPM (or before a TPM \
         clear) or altered; restore this device's own blob or provision the device again \
         ({source})"
    )]
    SealedBlobRejected {
        /// The TPM's error.
        source: tss_esapi::Error,
    },
    /// Raising the counter would take more increments than allowed (NV wear).
    #[error(
        "refusing to raise the model counter from {from} to {to}: that takes more than {max} \
         TPM NV increments, which wears the TPM's NV; publish model versions in smaller steps \
         or raise TpmConfig::max_counter_step"
    )]
    CounterStepTooLarge {
        /// The current version.
        from: u64,
        /// The requested version.
        to: u64,
        /// The cap ([`TpmConfig::max_counter_step`](crate::TpmConfig::max_counter_step)).
        max: u64,
    },
    /// The counter's value is below the base recorded at provisioning, which a TPM counter
    /// cannot do.
    #[error(
        "the TPM counter at {index:#010x} ({raw}) is below its provisioned base ({base}): the \
         counter was replaced; the device must be re-provisioned"
    )]
    CounterBelowBase {
        /// The counter's NV index.
        index: u32,
        /// Its raw value.
        raw: u64,
        /// The base from the platform record.
        base: u64,
    },
    /// The TPM answered something this crate cannot use (e.g. a signature of another kind).
    #[error("unexpected answer from the TPM to {operation}: {detail}; is this a TPM 2.0?")]
    Unexpected {
        /// The command.
        operation: &'static str,
        /// What was wrong.
        detail: &'static str,
    },
    /// A TPM command failed.
    #[error(
        "the TPM refused {operation} ({source}); check that nothing else is using the TPM \
         and that the owner hierarchy has an empty authorization"
    )]
    Tpm {
        /// The command or step.
        operation: &'static str,
        /// The TSS error.
        source: tss_esapi::Error,
    },
}

/// Wraps a TSS error with the step that failed.
pub(crate) fn tpm(operation: &'static str) -> impl FnOnce(tss_esapi::Error) -> TpmError {
    move |source| TpmError::Tpm { operation, source }
}
