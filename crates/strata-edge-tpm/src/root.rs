//! [`TpmRoot`]: the root of trust in a TPM 2.0.

use std::str::FromStr;

use ed25519_dalek::VerifyingKey;
use sha2::{Digest as _, Sha256};
use strata_edge::trust::{IdentityKey, IdentitySignature, RootOfTrust};
use tss_esapi::{
    Context, TctiNameConf,
    attributes::SessionAttributesBuilder,
    constants::{
        CommandCode, SessionType, Tss2ResponseCodeKind,
        tss::{TPM2_RH_NULL, TPM2_ST_HASHCHECK},
    },
    handles::{
        KeyHandle, NvIndexHandle, NvIndexTpmHandle, ObjectHandle, PersistentTpmHandle,
        SessionHandle, TpmHandle,
    },
    interface_types::{
        algorithm::HashingAlgorithm,
        dynamic_handles::Persistent,
        resource_handles::{Hierarchy, NvAuth, Provision},
        session_handles::{AuthSession, PolicySession},
    },
    structures::{
        Digest, HashcheckTicket, MaxNvBuffer, NvPublic, Private, Public, SensitiveData, Signature,
        SignatureScheme, SymmetricDefinition,
    },
    traits::{Marshall, UnMarshall},
    tss2_esys::TPMT_TK_HASHCHECK,
};
use zeroize::Zeroize;

use crate::error::tpm;
use crate::templates::{self, COUNTER_LEN, PLATFORM_RECORD_LEN};
use crate::{SealedBlob, TpmConfig, TpmError};

/// The root of trust in a TPM 2.0, through the TSS Enhanced System API.
///
/// * **Model key**: sealed under the TPM's storage primary key; the [`SealedBlob`] rests in
///   flash and the key is unsealed into RAM only by [`RootOfTrust::model_key`], over a
///   salted, response-encrypted session.
/// * **Model counter**: an NV counter index; versions count from the counter's value at
///   provisioning (the "base", stored in the platform record).
/// * **Platform key**: the platform's Ed25519 public key in a write-once NV index, read at
///   [`TpmRoot::open`].
/// * **Identity**: an ECDSA P-256 key generated in the TPM, non-exportable, persistent.
///
/// [`TpmRoot::provision`] sets all of this up once (at the factory); [`TpmRoot::open`] opens
/// it on every boot with the blob from flash. The TPM is used by one `TpmRoot` at a time
/// (use `device:/dev/tpmrm0`, the kernel resource manager, if other software shares it).
pub struct TpmRoot {
    ctx: Context,
    config: TpmConfig,
    primary: KeyHandle,
    sealed: KeyHandle,
    identity: KeyHandle,
    counter: NvIndexHandle,
    counter_base: u64,
    platform: VerifyingKey,
    identity_key: IdentityKey,
}

impl core::fmt::Debug for TpmRoot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TpmRoot")
            .field("config", &self.config)
            .field("counter_base", &self.counter_base)
            .field("identity_key", &self.identity_key)
            .finish_non_exhaustive()
    }
}

/// The TPM handles of a [`TpmConfig`], validated.
struct Handles {
    counter: NvIndexTpmHandle,
    platform: NvIndexTpmHandle,
    identity: PersistentTpmHandle,
}

impl Handles {
    fn of(config: &TpmConfig) -> Result<Self, TpmError> {
        let nv = |what, value| {
            NvIndexTpmHandle::new(value).map_err(|_| TpmError::InvalidConfig {
                what,
                value,
                expected: "an NV index handle, 0x01000000..=0x01ffffff",
            })
        };
        Ok(Self {
            counter: nv("counter_index", config.counter_index)?,
            platform: nv("platform_index", config.platform_index)?,
            identity: PersistentTpmHandle::new(config.identity_handle).map_err(|_| {
                TpmError::InvalidConfig {
                    what: "identity_handle",
                    value: config.identity_handle,
                    expected: "a persistent handle, 0x81000000..=0x81ffffff",
                }
            })?,
        })
    }
}

impl TpmRoot {
    /// Provisions the TPM for Strata (once, at the factory) and returns the opened root and
    /// the sealed model key for the device to keep in flash.
    ///
    /// Creates what is missing and keeps what is already there, so a provisioning step that
    /// was interrupted can be run again: the model-version counter (never reset: a new
    /// counter starts at the highest value any counter on this TPM had), the write-once
    /// platform record with `platform_key` (if one exists with another key, this fails with
    /// [`TpmError::PlatformKeyMismatch`]), and the identity key (an existing one is kept, so
    /// the device's identity stays the same). `model_key` is always sealed anew.
    pub fn provision(
        config: &TpmConfig,
        platform_key: &VerifyingKey,
        model_key: &[u8; 32],
    ) -> Result<(Self, SealedBlob), TpmError> {
        let handles = Handles::of(config)?;
        let mut ctx = connect(config)?;
        let primary = create_primary(&mut ctx)?;

        let counter_public =
            templates::counter(handles.counter).map_err(tpm("building the counter template"))?;
        let (counter, written) =
            match find_nv(&mut ctx, handles.counter, &counter_public, "the counter")? {
                Some((handle, public)) => (handle, public.attributes().written()),
                None => password(&mut ctx, |c| {
                    c.nv_define_space(Provision::Owner, None, counter_public.clone())
                })
                .map(|handle| (handle, false))
                .map_err(tpm("TPM2_NV_DefineSpace (model counter)"))?,
            };
        // A counter reads only once it has been incremented.
        if !written {
            password(&mut ctx, |c| c.nv_increment(NvAuth::Owner, counter))
                .map_err(tpm("TPM2_NV_Increment (initialising the counter)"))?;
        }
        let raw = read_counter(&mut ctx, counter)?;

        let record_public = templates::platform_record(handles.platform)
            .map_err(tpm("building the platform record template"))?;
        let (record, written) = match find_nv(
            &mut ctx,
            handles.platform,
            &record_public,
            "the platform record",
        )? {
            Some((handle, public)) => (handle, public.attributes().written()),
            None => password(&mut ctx, |c| {
                c.nv_define_space(Provision::Owner, None, record_public.clone())
            })
            .map(|handle| (handle, false))
            .map_err(tpm("TPM2_NV_DefineSpace (platform record)"))?,
        };
        if written {
            let (stored, _) = read_platform_record(&mut ctx, record)?;
            if stored != *platform_key {
                return Err(TpmError::PlatformKeyMismatch);
            }
        } else {
            let mut data = [0u8; PLATFORM_RECORD_LEN];
            data[..32].copy_from_slice(platform_key.as_bytes());
            data[32..].copy_from_slice(&raw.to_be_bytes());
            write_once(&mut ctx, record, &data)?;
        }

        if find_identity(&mut ctx, handles.identity)?.is_none() {
            create_identity(&mut ctx, primary, handles.identity)?;
        }

        let blob = seal(&mut ctx, primary, model_key)?;
        let root = Self::from_context(ctx, config, primary, &blob)?;
        Ok((root, blob))
    }

    /// Opens the provisioned TPM with the sealed model key from flash (every boot).
    ///
    /// Checks that the counter, the platform record and the identity key are Strata's, reads
    /// the platform key and the identity's public key, and loads (not unseals) `sealed`: a
    /// blob from another TPM, or an altered one, fails here with
    /// [`TpmError::SealedBlobRejected`].
    pub fn open(config: &TpmConfig, sealed: &SealedBlob) -> Result<Self, TpmError> {
        let mut ctx = connect(config)?;
        let primary = create_primary(&mut ctx)?;
        Self::from_context(ctx, config, primary, sealed)
    }

    fn from_context(
        mut ctx: Context,
        config: &TpmConfig,
        primary: KeyHandle,
        sealed: &SealedBlob,
    ) -> Result<Self, TpmError> {
        let handles = Handles::of(config)?;
        let counter_public =
            templates::counter(handles.counter).map_err(tpm("building the counter template"))?;
        let counter = provisioned_nv(
            &mut ctx,
            handles.counter,
            &counter_public,
            "the model-version counter",
        )?;
        let record_public = templates::platform_record(handles.platform)
            .map_err(tpm("building the platform record template"))?;
        let record = provisioned_nv(
            &mut ctx,
            handles.platform,
            &record_public,
            "the platform record",
        )?;
        let (platform, counter_base) = read_platform_record(&mut ctx, record)?;
        let (identity, identity_key) =
            find_identity(&mut ctx, handles.identity)?.ok_or(TpmError::NotProvisioned {
                what: "the identity key",
                handle: config.identity_handle,
            })?;
        let sealed = load_sealed(&mut ctx, primary, sealed)?;
        Ok(Self {
            ctx,
            config: config.clone(),
            primary,
            sealed,
            identity,
            counter,
            counter_base,
            platform,
            identity_key,
        })
    }

    /// Seals a new model key (key rotation) and returns its blob for flash; from now on
    /// [`RootOfTrust::model_key`] unseals the new key. The old blob stays valid on this TPM,
    /// so erase it from flash.
    pub fn seal_model_key(&mut self, model_key: &[u8; 32]) -> Result<SealedBlob, TpmError> {
        let blob = seal(&mut self.ctx, self.primary, model_key)?;
        let loaded = load_sealed(&mut self.ctx, self.primary, &blob)?;
        let old = std::mem::replace(&mut self.sealed, loaded);
        self.ctx
            .flush_context(old.into())
            .map_err(tpm("TPM2_FlushContext (old sealed key)"))?;
        Ok(blob)
    }

    /// The configuration this root was opened with.
    pub fn config(&self) -> &TpmConfig {
        &self.config
    }

    fn raw_counter(&mut self) -> Result<u64, TpmError> {
        read_counter(&mut self.ctx, self.counter)
    }
}

impl RootOfTrust for TpmRoot {
    type Error = TpmError;

    fn platform_key(&self) -> VerifyingKey {
        self.platform
    }

    /// Unseals the model key over an HMAC session salted with the storage primary key and
    /// with response encryption, so the key crosses the TPM bus encrypted.
    fn model_key(&mut self) -> Result<[u8; 32], TpmError> {
        let sealed = self.sealed;
        let data = salted(&mut self.ctx, self.primary, false, true, |c| {
            c.unseal(ObjectHandle::from(sealed))
        })
        .map_err(tpm("TPM2_Unseal (model key)"))?;
        let mut key = [0u8; 32];
        let result = if data.value().len() == key.len() {
            key.copy_from_slice(data.value());
            Ok(key)
        } else {
            Err(TpmError::Unexpected {
                operation: "TPM2_Unseal",
                detail: "a sealed model key that is not 32 bytes",
            })
        };
        // Our copy; `SensitiveData` zeroizes its own buffer when dropped.
        key.zeroize();
        drop(data);
        result
    }

    fn model_counter(&mut self) -> Result<u64, TpmError> {
        let raw = self.raw_counter()?;
        raw.checked_sub(self.counter_base)
            .ok_or(TpmError::CounterBelowBase {
                index: self.config.counter_index,
                raw,
                base: self.counter_base,
            })
    }

    /// Increments the NV counter until it reaches `to`, at most
    /// [`TpmConfig::max_counter_step`] increments (NV wear); a larger step fails before any
    /// increment.
    fn raise_model_counter(&mut self, to: u64) -> Result<(), TpmError> {
        let from = self.model_counter()?;
        if to <= from {
            return Ok(());
        }
        let max = self.config.max_counter_step;
        if to - from > max {
            return Err(TpmError::CounterStepTooLarge { from, to, max });
        }
        let counter = self.counter;
        for _ in from..to {
            password(&mut self.ctx, |c| c.nv_increment(NvAuth::Owner, counter))
                .map_err(tpm("TPM2_NV_Increment (model counter)"))?;
        }
        Ok(())
    }

    /// Signs the SHA-256 digest of `message` with the TPM's identity key (ECDSA P-256).
    fn sign(&mut self, message: &[u8]) -> Result<IdentitySignature, TpmError> {
        let digest = Digest::try_from(Sha256::digest(message).to_vec())
            .map_err(tpm("preparing the digest to sign"))?;
        let validation = HashcheckTicket::try_from(TPMT_TK_HASHCHECK {
            tag: TPM2_ST_HASHCHECK,
            hierarchy: TPM2_RH_NULL,
            digest: Default::default(),
        })
        .map_err(tpm("preparing the hash check ticket"))?;
        let identity = self.identity;
        let signature = password(&mut self.ctx, |c| {
            c.sign(identity, digest, SignatureScheme::Null, validation)
        })
        .map_err(tpm("TPM2_Sign (identity)"))?;
        let Signature::EcDsa(ecdsa) = signature else {
            return Err(TpmError::Unexpected {
                operation: "TPM2_Sign",
                detail: "a signature that is not ECDSA",
            });
        };
        let not_p256 = || TpmError::Unexpected {
            operation: "TPM2_Sign",
            detail: "an ECDSA signature wider than P-256",
        };
        let r = padded::<32>(ecdsa.signature_r().value()).ok_or_else(not_p256)?;
        let s = padded::<32>(ecdsa.signature_s().value()).ok_or_else(not_p256)?;
        Ok(IdentitySignature::P256 { r, s })
    }

    fn identity(&self) -> IdentityKey {
        self.identity_key
    }
}

/// Connects to the TPM named by the config's TCTI.
fn connect(config: &TpmConfig) -> Result<Context, TpmError> {
    let tcti = TctiNameConf::from_str(&config.tcti).map_err(|source| TpmError::InvalidTcti {
        tcti: config.tcti.clone(),
        source,
    })?;
    Context::new(tcti).map_err(|source| TpmError::Connect {
        tcti: config.tcti.clone(),
        source,
    })
}

/// Runs `f` authorised by a password session (the empty owner, index and object
/// authorizations Strata uses).
fn password<T>(
    ctx: &mut Context,
    f: impl FnOnce(&mut Context) -> tss_esapi::Result<T>,
) -> tss_esapi::Result<T> {
    ctx.execute_with_session(Some(AuthSession::Password), f)
}

/// Runs `f` in an HMAC session salted with the storage primary key (its session key comes
/// from an ECDH exchange with that key, so someone watching the bus cannot derive it), with
/// the first command parameter encrypted if `command` and the first response parameter
/// encrypted if `response` (AES-128-CFB).
fn salted<T>(
    ctx: &mut Context,
    primary: KeyHandle,
    command: bool,
    response: bool,
    f: impl FnOnce(&mut Context) -> tss_esapi::Result<T>,
) -> tss_esapi::Result<T> {
    let session = ctx
        .start_auth_session(
            Some(primary),
            None,
            None,
            SessionType::Hmac,
            SymmetricDefinition::AES_128_CFB,
            HashingAlgorithm::Sha256,
        )?
        .ok_or(tss_esapi::Error::WrapperError(
            tss_esapi::WrapperErrorKind::WrongValueFromTpm,
        ))?;
    let (attributes, mask) = SessionAttributesBuilder::new()
        .with_decrypt(command)
        .with_encrypt(response)
        .build();
    let result = ctx
        .tr_sess_set_attributes(session, attributes, mask)
        .and_then(|()| ctx.execute_with_session(Some(session), f));
    // A session the TPM already closed cannot be flushed; the context retries on drop.
    let _ = ctx.flush_context(SessionHandle::from(session).into());
    result
}

/// Creates the storage primary key (deterministic: same key every boot on this TPM).
fn create_primary(ctx: &mut Context) -> Result<KeyHandle, TpmError> {
    let public = templates::storage_primary().map_err(tpm("building the primary template"))?;
    password(ctx, |c| {
        c.create_primary(Hierarchy::Owner, public, None, None, None, None)
    })
    .map(|created| created.key_handle)
    .map_err(|source| match kind(&source) {
        Some(Tss2ResponseCodeKind::Initialize) => TpmError::Tpm {
            operation: "TPM2_CreatePrimary: the TPM is not started (run `tpm2_startup -c`, or \
                        start swtpm with --flags startup-clear)",
            source,
        },
        _ => TpmError::Tpm {
            operation: "TPM2_CreatePrimary (storage primary key)",
            source,
        },
    })
}

/// The response code kind of a TPM error.
fn kind(error: &tss_esapi::Error) -> Option<Tss2ResponseCodeKind> {
    match error {
        tss_esapi::Error::Tss2Error(rc) => rc.kind(),
        tss_esapi::Error::WrapperError(_) => None,
    }
}

/// Whether a TPM error says the handle does not exist.
fn is_missing(error: &tss_esapi::Error) -> bool {
    kind(error) == Some(Tss2ResponseCodeKind::Handle)
}

/// Finds an NV index and checks it is one Strata made from `expected`; `None` if absent.
fn find_nv(
    ctx: &mut Context,
    index: NvIndexTpmHandle,
    expected: &NvPublic,
    what: &'static str,
) -> Result<Option<(NvIndexHandle, NvPublic)>, TpmError> {
    let handle =
        match ctx.execute_without_session(|c| c.tr_from_tpm_public(TpmHandle::NvIndex(index))) {
            Ok(handle) => NvIndexHandle::from(handle),
            Err(e) if is_missing(&e) => return Ok(None),
            Err(source) => {
                return Err(TpmError::Tpm {
                    operation: "TPM2_NV_ReadPublic",
                    source,
                });
            }
        };
    let (public, _) = ctx
        .execute_without_session(|c| c.nv_read_public(handle))
        .map_err(tpm("TPM2_NV_ReadPublic"))?;
    if !templates::same_nv_index(&public, expected) {
        return Err(TpmError::ForeignObject {
            what,
            handle: u32::from(index),
        });
    }
    Ok(Some((handle, public)))
}

/// Finds a provisioned (defined and written) NV index.
fn provisioned_nv(
    ctx: &mut Context,
    index: NvIndexTpmHandle,
    expected: &NvPublic,
    what: &'static str,
) -> Result<NvIndexHandle, TpmError> {
    match find_nv(ctx, index, expected, what)? {
        Some((handle, public)) if public.attributes().written() => Ok(handle),
        _ => Err(TpmError::NotProvisioned {
            what,
            handle: u32::from(index),
        }),
    }
}

fn read_nv<const N: usize>(ctx: &mut Context, handle: NvIndexHandle) -> Result<[u8; N], TpmError> {
    let size = u16::try_from(N).map_err(|_| TpmError::Unexpected {
        operation: "TPM2_NV_Read",
        detail: "a read larger than 64 KiB",
    })?;
    let data = password(ctx, |c| c.nv_read(NvAuth::NvIndex(handle), handle, size, 0))
        .map_err(tpm("TPM2_NV_Read"))?;
    <[u8; N]>::try_from(data.value()).map_err(|_| TpmError::Unexpected {
        operation: "TPM2_NV_Read",
        detail: "an NV read of the wrong size",
    })
}

fn read_counter(ctx: &mut Context, counter: NvIndexHandle) -> Result<u64, TpmError> {
    read_nv::<COUNTER_LEN>(ctx, counter).map(u64::from_be_bytes)
}

/// The platform key and the counter base.
fn read_platform_record(
    ctx: &mut Context,
    record: NvIndexHandle,
) -> Result<(VerifyingKey, u64), TpmError> {
    let data = read_nv::<PLATFORM_RECORD_LEN>(ctx, record)?;
    let (key, base) = data.split_at(32);
    let key = <[u8; 32]>::try_from(key).map_err(|_| TpmError::InvalidPlatformKey)?;
    let base = <[u8; 8]>::try_from(base).map_err(|_| TpmError::InvalidPlatformKey)?;
    let key = VerifyingKey::from_bytes(&key).map_err(|_| TpmError::InvalidPlatformKey)?;
    Ok((key, u64::from_be_bytes(base)))
}

/// Writes the platform record through the write-once policy (the only way it can be
/// written, and only while it never has been).
fn write_once(
    ctx: &mut Context,
    record: NvIndexHandle,
    data: &[u8; PLATFORM_RECORD_LEN],
) -> Result<(), TpmError> {
    let session = ctx
        .start_auth_session(
            None,
            None,
            None,
            SessionType::Policy,
            SymmetricDefinition::AES_128_CFB,
            HashingAlgorithm::Sha256,
        )
        .map_err(tpm("TPM2_StartAuthSession (policy)"))?
        .ok_or(TpmError::Unexpected {
            operation: "TPM2_StartAuthSession",
            detail: "no session handle",
        })?;
    let result = PolicySession::try_from(session)
        .and_then(|policy| {
            ctx.execute_without_session(|c| {
                c.policy_command_code(policy, CommandCode::NvWrite)?;
                c.policy_nv_written(policy, false)
            })
        })
        .and_then(|()| MaxNvBuffer::try_from(data.to_vec()))
        .and_then(|buffer| {
            ctx.execute_with_session(Some(session), |c| {
                c.nv_write(NvAuth::NvIndex(record), record, buffer, 0)
            })
        });
    // A session the TPM already closed cannot be flushed; the context retries on drop.
    let _ = ctx.flush_context(SessionHandle::from(session).into());
    result.map_err(tpm("TPM2_NV_Write (platform record, write-once policy)"))
}

/// Finds the persistent identity key and checks it is Strata's kind of key.
fn find_identity(
    ctx: &mut Context,
    handle: PersistentTpmHandle,
) -> Result<Option<(KeyHandle, IdentityKey)>, TpmError> {
    let object = match ctx
        .execute_without_session(|c| c.tr_from_tpm_public(TpmHandle::Persistent(handle)))
    {
        Ok(object) => KeyHandle::from(object),
        Err(e) if is_missing(&e) => return Ok(None),
        Err(source) => {
            return Err(TpmError::Tpm {
                operation: "TPM2_ReadPublic (identity key)",
                source,
            });
        }
    };
    let (public, _, _) = ctx
        .execute_without_session(|c| c.read_public(object))
        .map_err(tpm("TPM2_ReadPublic (identity key)"))?;
    let foreign = TpmError::ForeignObject {
        what: "the identity key",
        handle: u32::from(handle),
    };
    if !templates::is_identity_key(&public) {
        return Err(foreign);
    }
    let Public::Ecc { unique, .. } = &public else {
        return Err(foreign);
    };
    let mut sec1_uncompressed = [0u8; 65];
    sec1_uncompressed[0] = 0x04;
    let (Some(x), Some(y)) = (
        padded::<32>(unique.x().value()),
        padded::<32>(unique.y().value()),
    ) else {
        return Err(foreign);
    };
    sec1_uncompressed[1..33].copy_from_slice(&x);
    sec1_uncompressed[33..].copy_from_slice(&y);
    Ok(Some((object, IdentityKey::P256 { sec1_uncompressed })))
}

/// Generates the identity key in the TPM and makes it persistent at `handle`.
fn create_identity(
    ctx: &mut Context,
    primary: KeyHandle,
    handle: PersistentTpmHandle,
) -> Result<(), TpmError> {
    let public = templates::identity_key().map_err(tpm("building the identity template"))?;
    let created = password(ctx, |c| c.create(primary, public, None, None, None, None))
        .map_err(tpm("TPM2_Create (identity key)"))?;
    let transient = password(ctx, |c| {
        c.load(primary, created.out_private, created.out_public)
    })
    .map_err(tpm("TPM2_Load (identity key)"))?;
    let persisted = password(ctx, |c| {
        c.evict_control(
            Provision::Owner,
            transient.into(),
            Persistent::Persistent(handle),
        )
    });
    let flushed = ctx.flush_context(transient.into());
    persisted.map_err(tpm("TPM2_EvictControl (identity key)"))?;
    flushed.map_err(tpm("TPM2_FlushContext (identity key)"))?;
    Ok(())
}

/// Seals `model_key` under the primary; the command parameter (the key) is encrypted on the
/// bus.
fn seal(
    ctx: &mut Context,
    primary: KeyHandle,
    model_key: &[u8; 32],
) -> Result<SealedBlob, TpmError> {
    let public = templates::sealed_data().map_err(tpm("building the sealed-data template"))?;
    // `SensitiveData` holds its copy in a zeroizing buffer.
    let data =
        SensitiveData::try_from(model_key.to_vec()).map_err(tpm("preparing the model key"))?;
    let created = salted(ctx, primary, true, false, |c| {
        c.create(primary, public, None, Some(data), None, None)
    })
    .map_err(tpm("TPM2_Create (sealing the model key)"))?;
    let public = created
        .out_public
        .marshall()
        .map_err(tpm("marshalling the sealed key's public area"))?;
    SealedBlob::new(created.out_private.value().to_vec(), public)
}

/// Loads a sealed blob under the primary: the TPM checks its integrity and that it was
/// sealed by this TPM.
fn load_sealed(
    ctx: &mut Context,
    primary: KeyHandle,
    blob: &SealedBlob,
) -> Result<KeyHandle, TpmError> {
    let public = Public::unmarshall(&blob.public)
        .map_err(|_| TpmError::MalformedBlob("the public area does not parse"))?;
    if !matches!(public, Public::KeyedHash { .. }) {
        return Err(TpmError::MalformedBlob("not a sealed data object"));
    }
    let private = Private::try_from(blob.private.clone())
        .map_err(|_| TpmError::MalformedBlob("the private area is too large"))?;
    password(ctx, |c| c.load(primary, private, public)).map_err(|source| match source {
        tss_esapi::Error::Tss2Error(_) => TpmError::SealedBlobRejected { source },
        tss_esapi::Error::WrapperError(_) => TpmError::MalformedBlob("the TSS refused its layout"),
    })
}

/// Left-pads a big-endian integer to `N` bytes; `None` if it is wider.
fn padded<const N: usize>(value: &[u8]) -> Option<[u8; N]> {
    let value = match value.iter().position(|b| *b != 0) {
        Some(first) => &value[first..],
        None => &[],
    };
    let mut out = [0u8; N];
    let start = N.checked_sub(value.len())?;
    out[start..].copy_from_slice(value);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_keeps_the_value_and_refuses_wider_ones() {
        assert_eq!(padded::<4>(&[1, 2]), Some([0, 0, 1, 2]));
        assert_eq!(padded::<2>(&[0, 0, 1, 2]), Some([1, 2]));
        assert_eq!(padded::<2>(&[1, 2, 3]), None);
        assert_eq!(padded::<2>(&[]), Some([0, 0]));
    }

    #[test]
    fn bad_handles_and_tctis_are_reported_before_touching_a_tpm() {
        let mut config = TpmConfig::default();
        config.counter_index(0x8100_0001);
        assert!(matches!(
            Handles::of(&config),
            Err(TpmError::InvalidConfig {
                what: "counter_index",
                ..
            })
        ));
        let mut config = TpmConfig::default();
        config.tcti("carrier-pigeon:coop=3");
        let err = connect(&config).expect_err("not a TCTI");
        assert!(matches!(err, TpmError::InvalidTcti { .. }), "{err}");
    }

    #[test]
    fn a_closed_port_says_to_start_swtpm() {
        // Bind then drop a listener, so the port is very likely closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let mut config = TpmConfig::default();
        config.tcti(format!("swtpm:host=127.0.0.1,port={port}"));
        let err = connect(&config).expect_err("nobody listens");
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("no TPM at swtpm:host=127.0.0.1,port={port}"))
                && message.contains("start swtpm"),
            "{message}"
        );
    }
}
