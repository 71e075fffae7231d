//! A TPM 2.0 root of trust for Strata's edge SDK: [`TpmRoot`] implements
//! [`strata_edge::trust::RootOfTrust`] with the TSS 2.0 Enhanced System API (`tss-esapi`).
//!
//! The SDK itself is `no_std`; this crate is for devices that run Linux with a TPM (discrete,
//! firmware or a software TPM for tests) and links `libtss2-esys`.
//!
//! # What it does not do
//!
//! * **No provisioning policy.** It does not decide when to provision, where the sealed blob
//!   lives in flash or how the platform key reaches the factory; [`TpmRoot::provision`] takes
//!   the keys and returns the [`SealedBlob`] for the caller to store.
//! * **No measured boot.** The sealed model key is not bound to PCRs (see the threat model).
//! * **No TPM administration.** It never clears the TPM, changes hierarchy authorizations or
//!   undefines NV indices; it uses the owner hierarchy with its (empty) authorization.
//!
//! # Principal types
//!
//! * [`TpmConfig`]: the TCTI (`device:/dev/tpmrm0` on hardware, `swtpm:host=127.0.0.1,port=N`
//!   for a software TPM) and the handles used.
//! * [`TpmRoot`]: [`TpmRoot::provision`] once, [`TpmRoot::open`] on every boot, then use it
//!   through [`RootOfTrust`](strata_edge::trust::RootOfTrust), e.g. with
//!   [`strata_edge::trust::load_model`].
//! * [`SealedBlob`]: the model key sealed to this TPM, with `to_bytes`/`from_bytes` for flash.
//! * [`TpmError`]: what failed, and what to do next.
//!
//! ```text
//!  flash (readable by an attacker)            TPM (keys never leave it)
//!  ┌──────────────────────────────┐           ┌──────────────────────────────────────────┐
//!  │ model container (encrypted,  │           │ owner seed ─► storage primary (P-256)    │
//!  │   signed by the platform)    │  load     │      └─ sealed model key  ◄── SealedBlob │
//!  │ SealedBlob (public+private   │ ───────►  │ NV counter: model version (only goes up) │
//!  │   of the sealed object)      │  unseal   │ NV write-once: platform Ed25519 key      │
//!  └──────────────────────────────┘ ◄─ key ── │ persistent: identity key (P-256 ECDSA)   │
//!                RAM: model key, plaintext    └──────────────────────────────────────────┘
//! ```
//!
//! # Threat model (TPM case)
//!
//! The attacker holds the device, can read and rewrite its flash, and can feed it any file.
//!
//! * **A flash dump yields nothing usable.** The flash holds the model container
//!   (ChaCha20-Poly1305 ciphertext, signed) and the [`SealedBlob`]. The blob's private area is
//!   encrypted and integrity-protected under the TPM's storage primary key, which is derived
//!   inside the TPM from its owner seed and never leaves it. Copied to any other TPM (or to
//!   this one after `tpm2_clear`, which changes the seed), the blob does not load
//!   ([`TpmError::SealedBlobRejected`]); so the model key, and with it the model, stays out
//!   of reach. The integration tests copy a blob to a fresh swtpm to check this.
//! * **Rewriting flash cannot swap the platform key.** The platform's Ed25519 key is read
//!   from a TPM NV index, not from flash. The index is write-once: its only write
//!   authorization is the policy `PolicyCommandCode(NV_Write) ∧ PolicyNvWritten(NO)`, which
//!   the TPM can satisfy only while the index has never been written. (tss-esapi 7 has no
//!   `TPM2_NV_WriteLock`; the policy gives the same lasting lock, enforced by the TPM.)
//! * **No rollback.** The accepted model version is an NV counter (`TPM_NT_COUNTER`): the TPM
//!   only increments it, and a newly defined counter starts at the highest value any counter
//!   on this TPM ever had. Versions count from the value at provisioning (the base, kept in
//!   the write-once record). One raise makes at most [`TpmConfig::max_counter_step`]
//!   increments, because each is an NV write and TPM NV wears out.
//! * **The identity cannot be cloned.** It is a P-256 key generated in the TPM with
//!   `fixedTPM`/`fixedParent`: no command exports it. (TPM 2.0 has no Ed25519, hence
//!   [`strata_edge::trust::IdentityKey::P256`].)
//! * **The key on the bus.** The model key crosses the TPM bus twice: when sealed (command
//!   parameter encryption) and when unsealed (response parameter encryption), both in an HMAC
//!   session salted with the storage primary key (ECDH), AES-128-CFB. A passive bus sniffer
//!   sees only ciphertext. An *active* interposer that impersonates the TPM from the first
//!   command on is out of scope (it would need the primary's public key pinned at the
//!   factory).
//!
//! Out of scope, and what would address it:
//!
//! * **Code execution on the device.** The sealed object, the counter and the NV indices use
//!   the owner hierarchy's empty authorization and no PCR policy, so an attacker who runs
//!   their own code on this device (for example by rewriting the root file system, if boot is
//!   not verified) can unseal the model key, raise the counter (a denial of service), or, with
//!   the owner authorization, undefine the NV indices and provision anew. Verified or measured
//!   boot with a `PolicyPCR` on the sealed object, and an owner authorization set at the
//!   factory, close this; neither is done here.
//! * **Attacks on the running chip or RAM** (probing, glitching, cold boot): the unsealed key
//!   and the decrypted model live in RAM while in use.
//!
//! # Using the TPM
//!
//! * One [`TpmRoot`] talks to the TPM at a time unless the TCTI goes through a resource
//!   manager (`device:/dev/tpmrm0`, the default).
//! * libtss2 opens its TPM connection without close-on-exec, so a child process spawned
//!   while a [`TpmRoot`] is open inherits it. With a socket TCTI (swtpm) the TPM then does not
//!   see the connection close and does not accept the next one; drop the root before spawning.
//! * libtss2 logs the TPM errors it sees (including the expected "handle does not exist" when
//!   provisioning looks for existing state) to stderr; `TSS2_LOG=all+none` silences it.
//!
//! # Tests
//!
//! `tests/swtpm.rs` starts real `swtpm` processes on loopback; see the crate's README.md.

mod blob;
mod config;
mod error;
mod root;
mod templates;

pub use blob::SealedBlob;
pub use config::{
    DEFAULT_COUNTER_INDEX, DEFAULT_IDENTITY_HANDLE, DEFAULT_MAX_COUNTER_STEP,
    DEFAULT_PLATFORM_INDEX, DEFAULT_TCTI, TpmConfig,
};
pub use error::TpmError;
pub use root::TpmRoot;
