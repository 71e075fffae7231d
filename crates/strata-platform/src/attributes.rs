//! Client attributes: values a device reports about itself (firmware version, serial
//! number, configuration in use), kept as the latest value per name rather than as a time
//! series. Uploaded as a JSON object over MQTT (`v1/devices/me/attributes`, as ThingsBoard
//! firmware does); a `null` value deletes an attribute. Shared and server-side attributes
//! and their relation to device shadows come with the shadow service.

use serde_json::Value;
use strata_store::DeviceIdentity;
use uuid::Uuid;

use crate::accounts::Principal;
use crate::{Platform, PlatformError, now_millis};

/// Most attributes in one upload.
const MAX_ATTRIBUTES: usize = 1000;
/// Longest attribute name.
const MAX_KEY_BYTES: usize = 256;

/// One attribute as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeValue {
    /// Name.
    pub key: String,
    /// Value.
    pub value: Value,
    /// When it was last set (ms).
    pub updated_at: i64,
}

impl Platform {
    /// Sets client attributes of an authenticated device from a JSON object; returns how
    /// many were set or deleted. Durable when this returns.
    pub async fn set_client_attributes(
        &self,
        device: &DeviceIdentity,
        payload: Value,
    ) -> Result<usize, PlatformError> {
        let Value::Object(map) = payload else {
            return Err(PlatformError::invalid(
                "attributes must be a JSON object of names and values, e.g. {\"fw\":\"1.2\"}",
            ));
        };
        if map.is_empty() || map.len() > MAX_ATTRIBUTES {
            return Err(PlatformError::invalid(format!(
                "send from 1 to {MAX_ATTRIBUTES} attributes at a time"
            )));
        }
        let mut values = Vec::with_capacity(map.len());
        for (key, value) in map {
            if key.is_empty() || key.len() > MAX_KEY_BYTES {
                return Err(PlatformError::invalid(format!(
                    "attribute names must have 1 to {MAX_KEY_BYTES} bytes"
                )));
            }
            let text = (!value.is_null()).then(|| value.to_string());
            values.push((key, text));
        }
        let count = values.len();
        let changed: serde_json::Map<String, Value> = values
            .iter()
            .map(|(k, v)| {
                let value = v
                    .as_deref()
                    .and_then(|t| serde_json::from_str(t).ok())
                    .unwrap_or(Value::Null);
                (k.clone(), value)
            })
            .collect();
        self.store()
            .set_attributes(device.device_key, values, now_millis())
            .await?;
        self.device_seen(device);
        let msg = Value::Object(changed);
        self.emit(|| crate::events::Event {
            tenant: device.tenant,
            kind: "attributes",
            device_id: Some(device.device_id),
            ts: now_millis(),
            data: msg.clone(),
        });
        self.run_device_rules(crate::rules::Trigger::Attributes, device, || msg)
            .await;
        Ok(count)
    }

    /// A device's client attributes.
    pub async fn client_attributes(
        &self,
        caller: &Principal,
        device_id: Uuid,
    ) -> Result<Vec<AttributeValue>, PlatformError> {
        let device = self.device(caller, device_id).await?;
        let stored = self.store().attributes(device.key).await?;
        Ok(stored
            .into_iter()
            .map(|a| AttributeValue {
                value: serde_json::from_str(&a.value_json).unwrap_or(Value::Null),
                key: a.key,
                updated_at: a.updated_at,
            })
            .collect())
    }
}
