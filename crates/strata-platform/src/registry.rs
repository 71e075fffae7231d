//! The device registry and device credentials.

use std::collections::HashMap;
use std::sync::RwLock;

use strata_store::{
    Credential, CredentialKind, Device, DeviceFilter, DeviceIdentity, DevicePatch, NewCredential,
    NewDevice, Page,
};
use uuid::Uuid;

use crate::accounts::Principal;
use crate::secrets::{random_token, sha256_hex};
use crate::{Platform, PlatformError, now_millis};

/// Most labels on one device.
pub const MAX_LABELS: usize = 32;
/// Largest metadata document, serialised, in bytes.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// Length of generated device access tokens (about 119 bits).
pub const ACCESS_TOKEN_LEN: usize = 20;

/// Fields of a new device.
#[derive(Debug, Clone, Default)]
pub struct DeviceSpec {
    /// Name, unique in the tenant.
    pub name: String,
    /// Free-form type; `default` when empty.
    pub device_type: Option<String>,
    /// Labels.
    pub labels: Vec<String>,
    /// Free-form JSON object.
    pub metadata: Option<serde_json::Value>,
}

/// A device with the access token generated for it, shown once.
#[derive(Debug, Clone)]
pub struct CreatedDevice {
    /// The device.
    pub device: Device,
    /// The access token in clear; only its hash is stored.
    pub access_token: String,
    /// The credential record.
    pub credential: Credential,
}

/// Device-token lookups are on every ingest, so valid tokens are cached; every revocation,
/// rotation and device deletion evicts them before it returns.
#[derive(Default)]
pub(crate) struct TokenCache {
    inner: RwLock<CacheState>,
}

#[derive(Default)]
struct CacheState {
    by_hash: HashMap<String, DeviceIdentity>,
    /// Bumped by every eviction, so a lookup that raced with one does not re-insert a
    /// credential revoked meanwhile.
    generation: u64,
}

impl TokenCache {
    fn get(&self, hash: &str) -> Result<DeviceIdentity, u64> {
        match self.inner.read() {
            Ok(state) => state.by_hash.get(hash).copied().ok_or(state.generation),
            Err(_) => Err(u64::MAX),
        }
    }

    fn put(&self, hash: String, identity: DeviceIdentity, generation: u64) {
        if let Ok(mut state) = self.inner.write() {
            if state.generation != generation {
                return;
            }
            if state.by_hash.len() > 100_000 {
                state.by_hash.clear();
            }
            state.by_hash.insert(hash, identity);
        }
    }

    fn evict_device(&self, device: Uuid) {
        if let Ok(mut state) = self.inner.write() {
            state.generation += 1;
            state.by_hash.retain(|_, id| id.device_id != device);
        }
    }
}

fn validate_name(name: &str) -> Result<(), PlatformError> {
    if name.trim().is_empty() || name.chars().count() > 128 {
        return Err(PlatformError::invalid("name must be 1 to 128 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(PlatformError::invalid(
            "name must not contain control characters",
        ));
    }
    Ok(())
}

fn validate_type(device_type: &str) -> Result<(), PlatformError> {
    if device_type.trim().is_empty() || device_type.chars().count() > 64 {
        return Err(PlatformError::invalid("type must be 1 to 64 characters"));
    }
    Ok(())
}

fn validate_labels(labels: &[String]) -> Result<(), PlatformError> {
    if labels.len() > MAX_LABELS {
        return Err(PlatformError::invalid(format!(
            "a device can have at most {MAX_LABELS} labels"
        )));
    }
    for label in labels {
        if label.trim().is_empty()
            || label.chars().count() > 64
            || label.chars().any(char::is_control)
        {
            return Err(PlatformError::invalid(format!(
                "label {label:?} must be 1 to 64 printable characters"
            )));
        }
    }
    Ok(())
}

fn validate_metadata(metadata: &serde_json::Value) -> Result<(), PlatformError> {
    if !metadata.is_object() {
        return Err(PlatformError::invalid("metadata must be a JSON object"));
    }
    if metadata.to_string().len() > MAX_METADATA_BYTES {
        return Err(PlatformError::invalid(format!(
            "metadata must be at most {MAX_METADATA_BYTES} bytes"
        )));
    }
    Ok(())
}

fn dedup(mut labels: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    labels.retain(|l| seen.insert(l.clone()));
    labels
}

impl Platform {
    /// Registers a device and generates its access token.
    pub async fn create_device(
        &self,
        caller: &Principal,
        spec: DeviceSpec,
    ) -> Result<CreatedDevice, PlatformError> {
        caller.require_write()?;
        validate_name(&spec.name)?;
        let device_type = spec.device_type.unwrap_or_else(|| "default".into());
        validate_type(&device_type)?;
        validate_labels(&spec.labels)?;
        let metadata = spec.metadata.unwrap_or_else(|| serde_json::json!({}));
        validate_metadata(&metadata)?;
        let device = self
            .store()
            .create_device(
                NewDevice {
                    tenant: caller.tenant,
                    name: spec.name,
                    device_type,
                    labels: dedup(spec.labels),
                    metadata,
                },
                now_millis(),
            )
            .await?;
        let (access_token, credential) = self.issue_access_token(caller, device.id).await?;
        Ok(CreatedDevice {
            device,
            access_token,
            credential,
        })
    }

    /// One device of the caller's tenant.
    pub async fn device(&self, caller: &Principal, id: Uuid) -> Result<Device, PlatformError> {
        self.store()
            .get_device(caller.tenant, id)
            .await?
            .ok_or_else(|| PlatformError::not_found(format!("no device {id}")))
    }

    /// A page of the caller's devices.
    pub async fn list_devices(
        &self,
        caller: &Principal,
        filter: &DeviceFilter,
        offset: u64,
        limit: u32,
    ) -> Result<Page<Device>, PlatformError> {
        self.list_devices_by_status(caller, filter, None, offset, limit)
            .await
    }

    /// Lists devices, optionally only those online (`Some(true)`) or offline.
    pub async fn list_devices_by_status(
        &self,
        caller: &Principal,
        filter: &DeviceFilter,
        online: Option<bool>,
        offset: u64,
        limit: u32,
    ) -> Result<Page<Device>, PlatformError> {
        if !(1..=1000).contains(&limit) {
            return Err(PlatformError::parameter("limit must be from 1 to 1000"));
        }
        let mut filter = filter.clone();
        if let Some(online) = online {
            // Connectivity lives in memory; the store filters by the online set so that
            // totals and paging stay right.
            filter.keys = Some((online, self.online_devices()));
        }
        Ok(self
            .store()
            .list_devices(caller.tenant, &filter, offset, limit)
            .await?)
    }

    /// Changes some fields of a device.
    pub async fn update_device(
        &self,
        caller: &Principal,
        id: Uuid,
        mut patch: DevicePatch,
    ) -> Result<Device, PlatformError> {
        caller.require_write()?;
        if let Some(name) = &patch.name {
            validate_name(name)?;
        }
        if let Some(device_type) = &patch.device_type {
            validate_type(device_type)?;
        }
        if let Some(labels) = patch.labels.take() {
            validate_labels(&labels)?;
            patch.labels = Some(dedup(labels));
        }
        if let Some(metadata) = &patch.metadata {
            validate_metadata(metadata)?;
        }
        let device = self
            .store()
            .update_device(caller.tenant, id, patch, now_millis())
            .await?
            .ok_or_else(|| PlatformError::not_found(format!("no device {id}")))?;
        self.forget_device_info(Some(device.key));
        Ok(device)
    }

    /// Deletes a device, its credentials and all its telemetry.
    pub async fn delete_device(&self, caller: &Principal, id: Uuid) -> Result<(), PlatformError> {
        caller.require_write()?;
        let device = self.store().get_device(caller.tenant, id).await?;
        let deleted = self.store().delete_device(caller.tenant, id).await?;
        self.inner.device_tokens.evict_device(id);
        self.forget_device_info(None);
        if let Some(device) = device {
            self.forget_device(device.key);
            self.inner.links.forget(&Self::identity_of(&device));
        }
        if !deleted {
            return Err(PlatformError::not_found(format!("no device {id}")));
        }
        Ok(())
    }

    /// Generates a new access token for a device, revoking the previous ones.
    pub async fn issue_access_token(
        &self,
        caller: &Principal,
        device_id: Uuid,
    ) -> Result<(String, Credential), PlatformError> {
        caller.require_write()?;
        self.device(caller, device_id).await?;
        let token = random_token(ACCESS_TOKEN_LEN);
        let credential = self
            .store()
            .add_credential(
                NewCredential {
                    tenant: caller.tenant,
                    device_id,
                    kind: CredentialKind::AccessToken,
                    lookup: sha256_hex(&token),
                    secret: None,
                    hint: format!("{}…", &token[..4]),
                },
                true,
                now_millis(),
            )
            .await?;
        self.inner.device_tokens.evict_device(device_id);
        Ok((token, credential))
    }

    /// Registers an X.509 client certificate of a device by its SHA-256 fingerprint (hex,
    /// with or without `:` separators, any case). A device may hold several; a fingerprint
    /// belongs to one device at a time.
    pub async fn add_x509_fingerprint(
        &self,
        caller: &Principal,
        device_id: Uuid,
        fingerprint: &str,
    ) -> Result<Credential, PlatformError> {
        caller.require_write()?;
        self.device(caller, device_id).await?;
        let fingerprint = normalize_fingerprint(fingerprint).ok_or_else(|| {
            PlatformError::invalid(
                "`fingerprint_sha256` must be the 64 hex digits of the certificate's SHA-256                  (e.g. from `openssl x509 -noout -fingerprint -sha256 -in device.pem`)",
            )
        })?;
        self.add_unique_credential(
            caller,
            device_id,
            CredentialKind::X509Fingerprint,
            &fingerprint,
            None,
            "this certificate is already registered to a device; revoke it there first",
        )
        .await
    }

    /// Adds a credential whose lookup (fingerprint, endpoint name, PSK identity) may belong
    /// to one device at a time; `taken` is the conflict message.
    async fn add_unique_credential(
        &self,
        caller: &Principal,
        device_id: Uuid,
        kind: CredentialKind,
        lookup: &str,
        secret: Option<Vec<u8>>,
        taken: &str,
    ) -> Result<Credential, PlatformError> {
        if self
            .store()
            .find_device_by_credential(kind, lookup)
            .await?
            .is_some()
        {
            return Err(PlatformError::new(crate::ErrorCode::Conflict, taken));
        }
        Ok(self
            .store()
            .add_credential(
                NewCredential {
                    tenant: caller.tenant,
                    device_id,
                    kind,
                    lookup: lookup.to_string(),
                    secret,
                    hint: lookup.to_string(),
                },
                false,
                now_millis(),
            )
            .await?)
    }

    /// Lets an LwM2M client register with endpoint name `endpoint` as this device (NoSec
    /// mode: the name is the only proof, so use it on trusted networks or with DTLS).
    pub async fn add_lwm2m_endpoint(
        &self,
        caller: &Principal,
        device_id: Uuid,
        endpoint: &str,
    ) -> Result<Credential, PlatformError> {
        caller.require_write()?;
        self.device(caller, device_id).await?;
        if endpoint.is_empty() || endpoint.len() > 256 || endpoint.chars().any(char::is_control) {
            return Err(PlatformError::invalid(
                "`endpoint` must be 1 to 256 characters without control characters",
            ));
        }
        self.add_unique_credential(
            caller,
            device_id,
            CredentialKind::Lwm2mEndpoint,
            endpoint,
            None,
            "this LwM2M endpoint name belongs to a device already; revoke it there first",
        )
        .await
    }

    /// Adds a DTLS pre-shared key: `identity` (what the device sends in its handshake) and
    /// `key` (16 to 64 bytes; a random 16-byte key when `None`). Returns the credential and
    /// the key, shown this once.
    pub async fn add_psk(
        &self,
        caller: &Principal,
        device_id: Uuid,
        identity: &str,
        key: Option<Vec<u8>>,
    ) -> Result<(Credential, Vec<u8>), PlatformError> {
        caller.require_write()?;
        self.device(caller, device_id).await?;
        if identity.is_empty() || identity.len() > 128 || identity.chars().any(char::is_control) {
            return Err(PlatformError::invalid(
                "`identity` must be 1 to 128 characters without control characters",
            ));
        }
        let key = match key {
            Some(k) if (16..=64).contains(&k.len()) => k,
            Some(_) => {
                return Err(PlatformError::invalid(
                    "`key_hex` must hold 16 to 64 bytes (32 to 128 hex digits)",
                ));
            }
            None => {
                use rand::RngCore as _;
                let mut k = vec![0u8; 16];
                rand::rng().fill_bytes(&mut k);
                k
            }
        };
        let credential = self
            .add_unique_credential(
                caller,
                device_id,
                CredentialKind::Psk,
                identity,
                Some(key.clone()),
                "this PSK identity belongs to a device already; revoke it there first",
            )
            .await?;
        Ok((credential, key))
    }

    /// The device and key of a DTLS PSK identity.
    pub async fn psk_for_identity(
        &self,
        identity: &str,
    ) -> Result<Option<(DeviceIdentity, Vec<u8>)>, PlatformError> {
        Ok(self
            .store()
            .find_credential_secret(CredentialKind::Psk, identity)
            .await?)
    }

    /// The device an LwM2M endpoint name registers as, if one was assigned.
    pub async fn device_for_lwm2m_endpoint(
        &self,
        endpoint: &str,
    ) -> Result<Option<DeviceIdentity>, PlatformError> {
        Ok(self
            .store()
            .find_device_by_credential(CredentialKind::Lwm2mEndpoint, endpoint)
            .await?)
    }

    /// Authenticates a device by the SHA-256 fingerprint of the client certificate it
    /// presented in a TLS handshake (the signature was checked by the TLS layer).
    pub async fn authenticate_device_certificate(
        &self,
        fingerprint: &str,
    ) -> Result<DeviceIdentity, PlatformError> {
        let refused = || {
            PlatformError::unauthorized(
                "this client certificate is not registered to any device; register its \
                 fingerprint with POST /api/devices/{id}/credentials/x509",
            )
        };
        let fingerprint = normalize_fingerprint(fingerprint).ok_or_else(refused)?;
        self.store()
            .find_device_by_credential(CredentialKind::X509Fingerprint, &fingerprint)
            .await?
            .ok_or_else(refused)
    }

    /// A device's credentials, without secrets.
    pub async fn list_credentials(
        &self,
        caller: &Principal,
        device_id: Uuid,
    ) -> Result<Vec<Credential>, PlatformError> {
        self.device(caller, device_id).await?;
        Ok(self
            .store()
            .list_credentials(caller.tenant, device_id)
            .await?)
    }

    /// Revokes one credential of a device.
    pub async fn revoke_credential(
        &self,
        caller: &Principal,
        device_id: Uuid,
        credential_id: Uuid,
    ) -> Result<(), PlatformError> {
        caller.require_write()?;
        let revoked = self
            .store()
            .revoke_credential(caller.tenant, device_id, credential_id, now_millis())
            .await?;
        self.inner.device_tokens.evict_device(device_id);
        if !revoked {
            return Err(PlatformError::not_found(format!(
                "no live credential {credential_id} on device {device_id}"
            )));
        }
        // A revoked credential stops working now, not at the next reconnect: the device's
        // connections end and it signs in again with what it has left.
        if let Some(device) = self.store().get_device(caller.tenant, device_id).await? {
            self.inner.links.disconnect(&Self::identity_of(&device));
        }
        Ok(())
    }

    /// Authenticates a device by its access token.
    pub async fn authenticate_device(&self, token: &str) -> Result<DeviceIdentity, PlatformError> {
        let refused = || {
            PlatformError::unauthorized(
                "unknown or revoked device access token; get the current token from the \
                 device's credentials",
            )
        };
        if token.is_empty() || token.len() > 256 {
            return Err(refused());
        }
        let hash = sha256_hex(token);
        let generation = match self.inner.device_tokens.get(&hash) {
            Ok(identity) => return Ok(identity),
            Err(generation) => generation,
        };
        let identity = self
            .store()
            .find_device_by_credential(CredentialKind::AccessToken, &hash)
            .await?
            .ok_or_else(refused)?;
        self.inner.device_tokens.put(hash, identity, generation);
        Ok(identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use crate::test_support::platform;
    use strata_store::Role;

    fn admin(p: &Platform) -> Principal {
        Principal {
            tenant: p.default_tenant(),
            user_id: Uuid::new_v4(),
            username: "a".into(),
            role: Role::Admin,
            token_id: Uuid::new_v4(),
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn device_tokens_rotate_and_revoke() {
        let (_dir, p) = platform().await;
        let me = admin(&p);
        let created = p
            .create_device(
                &me,
                DeviceSpec {
                    name: "d1".into(),
                    labels: vec!["a".into(), "a".into()],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(created.device.labels, ["a"]);
        let id = p.authenticate_device(&created.access_token).await.unwrap();
        assert_eq!(id.device_id, created.device.id);

        let (new_token, _) = p.issue_access_token(&me, created.device.id).await.unwrap();
        assert!(p.authenticate_device(&created.access_token).await.is_err());
        let cred = p
            .authenticate_device(&new_token)
            .await
            .unwrap()
            .credential_id;
        p.revoke_credential(&me, created.device.id, cred)
            .await
            .unwrap();
        assert!(p.authenticate_device(&new_token).await.is_err());

        let viewer = Principal {
            role: Role::Viewer,
            ..me.clone()
        };
        assert_eq!(
            p.create_device(
                &viewer,
                DeviceSpec {
                    name: "x".into(),
                    ..Default::default()
                }
            )
            .await
            .unwrap_err()
            .code,
            ErrorCode::Forbidden
        );
        let bad = p
            .create_device(
                &me,
                DeviceSpec {
                    name: " ".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(bad.code, ErrorCode::InvalidPayload);
    }
}

/// The SHA-256 fingerprint (lower-case hex) of the first certificate in a PEM text, or
/// `None` if it holds no certificate.
pub fn x509_fingerprint_from_pem(pem: &str) -> Option<String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    use sha2::{Digest, Sha256};

    let der = CertificateDer::from_pem_slice(pem.as_bytes()).ok()?;
    Some(hex::encode(Sha256::digest(der.as_ref())))
}

/// Lower-case hex without separators, or `None` if this is not a SHA-256 fingerprint.
fn normalize_fingerprint(raw: &str) -> Option<String> {
    let hex: String = raw
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit())).then_some(hex)
}

#[cfg(test)]
mod fingerprint_tests {
    use super::normalize_fingerprint;

    #[test]
    fn fingerprints_are_normalised() {
        let colons = "AB:".repeat(31) + "AB";
        assert_eq!(normalize_fingerprint(&colons), Some("ab".repeat(32)));
        assert_eq!(
            normalize_fingerprint(&"0f".repeat(32)),
            Some("0f".repeat(32))
        );
        assert_eq!(normalize_fingerprint("abc"), None);
        assert_eq!(normalize_fingerprint(&"zz".repeat(32)), None);
    }
}
