//! Device shadows.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};

use super::SqliteStore;
use crate::{DeviceKey, ShadowRow, ShadowStore, StoreError};

fn shadow_from_row(row: &Row<'_>) -> rusqlite::Result<ShadowRow> {
    Ok(ShadowRow {
        device: DeviceKey(row.get(0)?),
        name: row.get(1)?,
        document: row.get(2)?,
        version: row.get(3)?,
        updated_at: row.get(4)?,
    })
}

#[async_trait]
impl ShadowStore for SqliteStore {
    async fn shadow(&self, device: DeviceKey, name: &str) -> Result<Option<ShadowRow>, StoreError> {
        let name = name.to_string();
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT device, name, document, version, updated_at FROM device_shadows
                     WHERE device = ?1 AND name = ?2",
                )?;
                Ok(stmt
                    .query_row(params![device.0, name], shadow_from_row)
                    .optional()?)
            })
            .await
    }

    async fn shadows(&self, device: DeviceKey) -> Result<Vec<ShadowRow>, StoreError> {
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT device, name, document, version, updated_at FROM device_shadows
                     WHERE device = ?1 ORDER BY name",
                )?;
                let rows = stmt.query_map([device.0], shadow_from_row)?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
    }

    async fn put_shadow(&self, row: ShadowRow, expected: i64) -> Result<bool, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                let changed =
                    if expected == 0 {
                        ctx.conn.execute(
                        "INSERT INTO device_shadows (device, name, document, version, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (device, name) DO NOTHING",
                        params![row.device.0, row.name, row.document, row.version, row.updated_at],
                    )?
                    } else {
                        ctx.conn.execute(
                            "UPDATE device_shadows SET document = ?3, version = ?4, updated_at = ?5
                         WHERE device = ?1 AND name = ?2 AND version = ?6",
                            params![
                                row.device.0,
                                row.name,
                                row.document,
                                row.version,
                                row.updated_at,
                                expected
                            ],
                        )?
                    };
                Ok(changed == 1)
            })
            .await
    }

    async fn delete_shadow(&self, device: DeviceKey, name: &str) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.writer
            .exec(1, move |ctx| {
                let n = ctx.conn.execute(
                    "DELETE FROM device_shadows WHERE device = ?1 AND name = ?2",
                    params![device.0, name],
                )?;
                Ok(n == 1)
            })
            .await
    }
}
