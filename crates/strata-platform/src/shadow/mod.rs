//! Device shadows: per device a classic shadow (`default`) and any number of named ones,
//! each with `desired` and `reported` state, a computed `delta`, a version and per-field
//! timestamps (see [`document`] for the rules).
//!
//! Updates are JSON merge patches checked against the version they name (optimistic
//! concurrency); an update without a version applies to whatever is current. When the
//! desired state differs from the reported state after an update, the device is sent the
//! delta through every link that reaches it ([`crate::downlink`]), and again whenever it
//! subscribes to the delta (so a device that was away gets what it missed).
//!
//! Attributes and shadows: client attributes (`v1/devices/me/attributes`) stay a flat store
//! of facts a device reports about itself (firmware version, serial number) and are not
//! mirrored into the shadow. Desired configuration (what ThingsBoard calls shared
//! attributes) belongs in the shadow's `desired` section.

pub mod document;

use serde_json::{Map, Value, json};
use strata_store::{DeviceIdentity, ShadowRow};
use uuid::Uuid;

use crate::accounts::Principal;
use crate::downlink::Downlink;
use crate::{ErrorCode, Platform, PlatformError, now_millis};
pub use document::{ShadowState, ShadowUpdate};

/// The classic (unnamed) shadow's name.
pub const DEFAULT_SHADOW: &str = "default";
/// Most shadows one device may have.
pub const MAX_SHADOWS_PER_DEVICE: usize = 100;
/// Attempts at an update without a version when others keep winning the race.
const MAX_ATTEMPTS: usize = 8;

/// A shadow as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Shadow {
    /// Name.
    pub name: String,
    /// State and metadata.
    pub state: ShadowState,
    /// Version (1 after the first update).
    pub version: i64,
    /// Last update (ms).
    pub updated_at: i64,
}

impl Shadow {
    /// The document as served over every protocol:
    /// `{"name", "state": {"desired", "reported", "delta"?}, "metadata": {...}, "version",
    /// "timestamp"}`; `delta` is absent when the device has what is desired.
    pub fn to_json(&self) -> Value {
        let mut state = json!({
            "desired": self.state.desired,
            "reported": self.state.reported,
        });
        if let Some(delta) = self.state.delta() {
            state["delta"] = Value::Object(delta);
        }
        json!({
            "name": self.name,
            "state": state,
            "metadata": {
                "desired": self.state.desired_metadata,
                "reported": self.state.reported_metadata,
            },
            "version": self.version,
            "timestamp": self.updated_at,
        })
    }

    fn from_row(row: ShadowRow) -> Result<Self, PlatformError> {
        let state = serde_json::from_str(&row.document).map_err(|e| {
            tracing::error!(error = %e, shadow = %row.name, "unreadable shadow document");
            PlatformError::new(ErrorCode::Internal, "the stored shadow is unreadable")
        })?;
        Ok(Self {
            name: row.name,
            state,
            version: row.version,
            updated_at: row.updated_at,
        })
    }
}

/// Checks a shadow name: 1 to 64 of `A-Z a-z 0-9 _ - :`.
pub fn check_name(name: &str) -> Result<(), PlatformError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':'));
    if ok {
        Ok(())
    } else {
        Err(PlatformError::parameter(format!(
            "shadow names have 1 to 64 characters from A-Z, a-z, 0-9, `_`, `-` and `:` (got {name:?})"
        )))
    }
}

impl Platform {
    /// A device's shadows.
    pub async fn shadows(
        &self,
        caller: &Principal,
        device_id: Uuid,
    ) -> Result<Vec<Shadow>, PlatformError> {
        let device = self.device(caller, device_id).await?;
        self.store()
            .shadows(device.key)
            .await?
            .into_iter()
            .map(Shadow::from_row)
            .collect()
    }

    /// One shadow of a device (management API).
    pub async fn shadow(
        &self,
        caller: &Principal,
        device_id: Uuid,
        name: &str,
    ) -> Result<Shadow, PlatformError> {
        let device = self.device(caller, device_id).await?;
        self.device_shadow(&Self::identity_of(&device), name).await
    }

    /// Updates a shadow of a device (management API); see [`ShadowUpdate::parse`].
    pub async fn update_shadow(
        &self,
        caller: &Principal,
        device_id: Uuid,
        name: &str,
        body: Value,
    ) -> Result<Shadow, PlatformError> {
        caller.require_write()?;
        let device = self.device(caller, device_id).await?;
        let update = ShadowUpdate::parse(body)?;
        self.apply_shadow_update(&Self::identity_of(&device), name, &update)
            .await
    }

    /// Deletes a shadow of a device (management API).
    pub async fn delete_shadow(
        &self,
        caller: &Principal,
        device_id: Uuid,
        name: &str,
    ) -> Result<(), PlatformError> {
        caller.require_write()?;
        let device = self.device(caller, device_id).await?;
        self.device_delete_shadow(&Self::identity_of(&device), name)
            .await
    }

    /// One shadow of an authenticated device.
    pub async fn device_shadow(
        &self,
        device: &DeviceIdentity,
        name: &str,
    ) -> Result<Shadow, PlatformError> {
        check_name(name)?;
        match self.store().shadow(device.device_key, name).await? {
            Some(row) => Shadow::from_row(row),
            None => Err(PlatformError::not_found(format!(
                "the device has no shadow {name:?} yet; an update creates it"
            ))),
        }
    }

    /// Deletes a shadow of an authenticated device.
    pub async fn device_delete_shadow(
        &self,
        device: &DeviceIdentity,
        name: &str,
    ) -> Result<(), PlatformError> {
        check_name(name)?;
        if self.store().delete_shadow(device.device_key, name).await? {
            Ok(())
        } else {
            Err(PlatformError::not_found(format!("no shadow {name:?}")))
        }
    }

    /// Applies an update to a shadow (creating it), durably, then sends the delta if the
    /// desired state was touched and differs from the reported one.
    pub async fn apply_shadow_update(
        &self,
        device: &DeviceIdentity,
        name: &str,
        update: &ShadowUpdate,
    ) -> Result<Shadow, PlatformError> {
        check_name(name)?;
        for _ in 0..MAX_ATTEMPTS {
            let current = self.store().shadow(device.device_key, name).await?;
            let (mut state, version) = match current {
                Some(row) => {
                    let shadow = Shadow::from_row(row)?;
                    (shadow.state, shadow.version)
                }
                None => {
                    let count = self.store().shadows(device.device_key).await?.len();
                    if count >= MAX_SHADOWS_PER_DEVICE {
                        return Err(PlatformError::new(
                            ErrorCode::PayloadTooLarge,
                            format!(
                                "a device has at most {MAX_SHADOWS_PER_DEVICE} shadows; delete \
                                 one before creating {name:?}"
                            ),
                        ));
                    }
                    (ShadowState::default(), 0)
                }
            };
            if let Some(expected) = update.version
                && expected != version
            {
                return Err(PlatformError::new(
                    ErrorCode::Conflict,
                    format!(
                        "version conflict: the update names version {expected}, the shadow is at \
                         version {version}; read it again and retry"
                    ),
                ));
            }
            let now = now_millis();
            state.apply(update, now);
            let document = serde_json::to_string(&state)
                .map_err(|e| PlatformError::new(ErrorCode::Internal, e.to_string()))?;
            if document.len() > document::MAX_DOCUMENT_BYTES {
                return Err(PlatformError::new(
                    ErrorCode::PayloadTooLarge,
                    format!(
                        "the shadow would be {} bytes; at most {} are kept (delete fields with null)",
                        document.len(),
                        document::MAX_DOCUMENT_BYTES
                    ),
                ));
            }
            let row = ShadowRow {
                device: device.device_key,
                name: name.to_string(),
                document,
                version: version + 1,
                updated_at: now,
            };
            if !self.store().put_shadow(row, version).await? {
                // Someone else updated it between our read and write.
                if update.version.is_some() {
                    return Err(PlatformError::new(
                        ErrorCode::Conflict,
                        "version conflict: the shadow changed meanwhile; read it again and retry",
                    ));
                }
                continue;
            }
            metrics::counter!("strata_shadow_updates_total").increment(1);
            let shadow = Shadow {
                name: name.to_string(),
                state,
                version: version + 1,
                updated_at: now,
            };
            if update.desired.is_some() {
                self.send_delta(device, &shadow);
            }
            let document = shadow.to_json();
            self.emit(|| crate::events::Event {
                tenant: device.tenant,
                kind: "shadow",
                device_id: Some(device.device_id),
                ts: now,
                data: document.clone(),
            });
            self.run_device_rules(crate::rules::Trigger::Shadow, device, || document)
                .await;
            return Ok(shadow);
        }
        Err(PlatformError::new(
            ErrorCode::Conflict,
            "the shadow is being updated by others too often; retry",
        ))
    }

    /// Sends the delta of every shadow of the device whose desired state is not reported
    /// yet (for a device that just subscribed to its deltas).
    pub async fn send_pending_deltas(&self, device: &DeviceIdentity) -> Result<(), PlatformError> {
        for row in self.store().shadows(device.device_key).await? {
            let shadow = Shadow::from_row(row)?;
            self.send_delta(device, &shadow);
        }
        Ok(())
    }

    fn send_delta(&self, device: &DeviceIdentity, shadow: &Shadow) {
        let Some(delta) = shadow.state.delta() else {
            return;
        };
        let metadata = shadow.state.delta_metadata(&delta);
        let message = Downlink::ShadowDelta {
            shadow: shadow.name.clone(),
            version: shadow.version,
            timestamp: shadow.updated_at,
            delta,
            metadata,
        };
        self.inner.links.send(device, &message, true);
    }

    /// The identity of a device as the management API addresses it (no credential).
    pub(crate) fn identity_of(device: &strata_store::Device) -> DeviceIdentity {
        DeviceIdentity {
            tenant: device.tenant,
            device_id: device.id,
            device_key: device.key,
            credential_id: Uuid::nil(),
        }
    }
}

/// The delta message as sent to devices: `{"state": {...}, "metadata": {...}, "version",
/// "timestamp"}` (AWS IoT's delta shape).
pub fn delta_json(
    version: i64,
    timestamp: i64,
    delta: &Map<String, Value>,
    metadata: &Map<String, Value>,
) -> Value {
    json!({"state": delta, "metadata": metadata, "version": version, "timestamp": timestamp})
}
