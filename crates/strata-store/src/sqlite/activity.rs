//! When devices were last heard from.

use async_trait::async_trait;
use rusqlite::params;

use super::SqliteStore;
use crate::{ActivityStore, DeviceActivity, DeviceKey, StoreError};

#[async_trait]
impl ActivityStore for SqliteStore {
    async fn record_activity(
        &self,
        updates: Vec<(DeviceKey, DeviceActivity)>,
    ) -> Result<(), StoreError> {
        self.writer
            .exec(updates.len(), move |ctx| {
                // A device deleted meanwhile has no row to refer to: skipped by the join.
                let mut stmt = ctx.conn.prepare_cached(
                    "INSERT INTO device_activity
                        (device, last_seen_at, last_connected_at, last_disconnected_at)
                     SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM devices WHERE key = ?1)
                     ON CONFLICT (device) DO UPDATE SET
                        last_seen_at = coalesce(excluded.last_seen_at, last_seen_at),
                        last_connected_at = coalesce(excluded.last_connected_at, last_connected_at),
                        last_disconnected_at =
                            coalesce(excluded.last_disconnected_at, last_disconnected_at)",
                )?;
                for (device, a) in &updates {
                    stmt.execute(params![
                        device.0,
                        a.last_seen_at,
                        a.last_connected_at,
                        a.last_disconnected_at
                    ])?;
                }
                Ok(())
            })
            .await
    }

    async fn all_activity(&self) -> Result<Vec<(DeviceKey, DeviceActivity)>, StoreError> {
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT device, last_seen_at, last_connected_at, last_disconnected_at
                     FROM device_activity",
                )?;
                let rows = stmt.query_map([], |row| {
                    Ok((
                        DeviceKey(row.get(0)?),
                        DeviceActivity {
                            last_seen_at: row.get(1)?,
                            last_connected_at: row.get(2)?,
                            last_disconnected_at: row.get(3)?,
                        },
                    ))
                })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
    }
}
