//! Client attributes of devices.

use async_trait::async_trait;
use rusqlite::params;

use super::SqliteStore;
use crate::{Attribute, AttributeStore, DeviceKey, Millis, StoreError};

#[async_trait]
impl AttributeStore for SqliteStore {
    async fn set_attributes(
        &self,
        device: DeviceKey,
        values: Vec<(String, Option<String>)>,
        now: Millis,
    ) -> Result<(), StoreError> {
        self.writer
            .exec(values.len(), move |ctx| {
                let mut upsert = ctx.conn.prepare_cached(
                    "INSERT INTO device_attributes (device, key, value, updated_at)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (device, key) DO UPDATE
                     SET value = excluded.value, updated_at = excluded.updated_at",
                )?;
                for (key, value) in &values {
                    if let Some(value) = value {
                        upsert.execute(params![device.0, key, value, now])?;
                    }
                }
                let mut delete = ctx.conn.prepare_cached(
                    "DELETE FROM device_attributes WHERE device = ?1 AND key = ?2",
                )?;
                for (key, value) in &values {
                    if value.is_none() {
                        delete.execute(params![device.0, key])?;
                    }
                }
                Ok(())
            })
            .await
    }

    async fn attributes(&self, device: DeviceKey) -> Result<Vec<Attribute>, StoreError> {
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT key, value, updated_at FROM device_attributes
                     WHERE device = ?1 ORDER BY key",
                )?;
                let mut rows = stmt.query([device.0])?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(Attribute {
                        key: row.get(0)?,
                        value_json: row.get(1)?,
                        updated_at: row.get(2)?,
                    });
                }
                Ok(out)
            })
            .await
    }
}
