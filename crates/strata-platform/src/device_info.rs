//! A cache of what rules and alarms need to know about a device (name, type, labels), so
//! the ingest path does not read the registry for every message.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use strata_store::{DeviceKey, TenantId};
use uuid::Uuid;

use crate::{Platform, PlatformError};

/// Most devices kept; beyond this the cache starts over (it refills on demand).
const MAX_ENTRIES: usize = 200_000;

/// A device as rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Tenant.
    pub tenant: TenantId,
    /// Public identifier.
    pub id: Uuid,
    /// Storage handle.
    pub key: DeviceKey,
    /// Name.
    pub name: String,
    /// Type.
    pub device_type: String,
    /// Labels.
    pub labels: Vec<String>,
}

#[derive(Debug, Default)]
pub(crate) struct DeviceInfoCache {
    devices: RwLock<HashMap<DeviceKey, Arc<DeviceInfo>>>,
}

impl Platform {
    /// What rules see of a device; `None` if it no longer exists.
    pub async fn device_info(
        &self,
        key: DeviceKey,
    ) -> Result<Option<Arc<DeviceInfo>>, PlatformError> {
        if let Ok(devices) = self.inner.device_info.devices.read()
            && let Some(info) = devices.get(&key)
        {
            return Ok(Some(Arc::clone(info)));
        }
        let Some(device) = self.store().device_by_key(key).await? else {
            return Ok(None);
        };
        let info = Arc::new(DeviceInfo {
            tenant: device.tenant,
            id: device.id,
            key: device.key,
            name: device.name,
            device_type: device.device_type,
            labels: device.labels,
        });
        if let Ok(mut devices) = self.inner.device_info.devices.write() {
            if devices.len() >= MAX_ENTRIES {
                devices.clear();
            }
            devices.insert(key, Arc::clone(&info));
        }
        Ok(Some(info))
    }

    /// Drops a device from the cache (`None`: all of them).
    pub(crate) fn forget_device_info(&self, key: Option<DeviceKey>) {
        if let Ok(mut devices) = self.inner.device_info.devices.write() {
            match key {
                Some(key) => {
                    devices.remove(&key);
                }
                None => devices.clear(),
            }
        }
    }
}
