//! RPC calls to devices.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};

use super::SqliteStore;
use crate::{DeviceKey, Millis, NewRpcCall, RpcCall, RpcStatus, RpcStore, StoreError};

const COLUMNS: &str = "id, device, method, params, oneway, persistent, status, response, error, \
                       created_at, expires_at, updated_at";

fn call_from_row(row: &Row<'_>) -> rusqlite::Result<RpcCall> {
    let status: String = row.get(6)?;
    Ok(RpcCall {
        id: row.get(0)?,
        device: DeviceKey(row.get(1)?),
        method: row.get(2)?,
        params_json: row.get(3)?,
        oneway: row.get(4)?,
        persistent: row.get(5)?,
        // An unknown name can only come from a newer build; it reads as failed.
        status: RpcStatus::parse(&status).unwrap_or(RpcStatus::Failed),
        response_json: row.get(7)?,
        error: row.get(8)?,
        created_at: row.get(9)?,
        expires_at: row.get(10)?,
        updated_at: row.get(11)?,
    })
}

#[async_trait]
impl RpcStore for SqliteStore {
    async fn create_rpc(
        &self,
        call: NewRpcCall,
        status: RpcStatus,
        now: Millis,
    ) -> Result<RpcCall, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                ctx.conn.execute(
                    "INSERT INTO rpc_calls (device, method, params, oneway, persistent, status,
                        created_at, expires_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?7)",
                    params![
                        call.device.0,
                        call.method,
                        call.params_json,
                        call.oneway,
                        call.persistent,
                        status.as_str(),
                        now,
                        call.expires_at
                    ],
                )?;
                Ok(RpcCall {
                    id: ctx.conn.last_insert_rowid(),
                    device: call.device,
                    method: call.method,
                    params_json: call.params_json,
                    oneway: call.oneway,
                    persistent: call.persistent,
                    status,
                    response_json: None,
                    error: None,
                    created_at: now,
                    expires_at: call.expires_at,
                    updated_at: now,
                })
            })
            .await
    }

    async fn rpc(&self, device: DeviceKey, id: i64) -> Result<Option<RpcCall>, StoreError> {
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM rpc_calls WHERE device = ?1 AND id = ?2"
                ))?;
                Ok(stmt
                    .query_row(params![device.0, id], call_from_row)
                    .optional()?)
            })
            .await
    }

    async fn list_rpc(&self, device: DeviceKey, limit: u32) -> Result<Vec<RpcCall>, StoreError> {
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM rpc_calls WHERE device = ?1 ORDER BY id DESC LIMIT ?2"
                ))?;
                let rows = stmt.query_map(params![device.0, limit], call_from_row)?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
    }

    async fn queued_rpc(&self, device: DeviceKey, now: Millis) -> Result<Vec<RpcCall>, StoreError> {
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM rpc_calls
                     WHERE device = ?1 AND status = 'queued' AND persistent AND expires_at > ?2
                     ORDER BY id"
                ))?;
                let rows = stmt.query_map(params![device.0, now], call_from_row)?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
    }

    async fn count_queued_rpc(&self, device: DeviceKey, now: Millis) -> Result<u64, StoreError> {
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT COUNT(*) FROM rpc_calls
                     WHERE device = ?1 AND status = 'queued' AND persistent AND expires_at > ?2",
                )?;
                let n: i64 = stmt.query_row(params![device.0, now], |row| row.get(0))?;
                Ok(u64::try_from(n).unwrap_or(0))
            })
            .await
    }

    async fn transition_rpc(
        &self,
        id: i64,
        from: &[RpcStatus],
        to: RpcStatus,
        response_json: Option<String>,
        error: Option<String>,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let from: Vec<&'static str> = from.iter().map(|s| s.as_str()).collect();
        self.writer
            .exec(1, move |ctx| {
                let placeholders = (0..from.len())
                    .map(|i| format!("?{}", i + 6))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "UPDATE rpc_calls SET status = ?2, response = coalesce(?3, response),
                        error = coalesce(?4, error), updated_at = ?5
                     WHERE id = ?1 AND status IN ({placeholders})"
                );
                let mut values: Vec<Box<dyn rusqlite::ToSql>> = vec![
                    Box::new(id),
                    Box::new(to.as_str()),
                    Box::new(response_json),
                    Box::new(error),
                    Box::new(now),
                ];
                values.extend(
                    from.iter()
                        .map(|s| Box::new(*s) as Box<dyn rusqlite::ToSql>),
                );
                let n = ctx
                    .conn
                    .execute(&sql, rusqlite::params_from_iter(values.iter()))?;
                Ok(n == 1)
            })
            .await
    }

    async fn prune_rpc(&self, before: Millis) -> Result<u64, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                let n = ctx.conn.execute(
                    "DELETE FROM rpc_calls WHERE status NOT IN ('queued', 'sent') AND updated_at < ?1",
                    [before],
                )?;
                Ok(n as u64)
            })
            .await
    }

    async fn expire_rpc(&self, now: Millis) -> Result<Vec<RpcCall>, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                let mut stmt = ctx.conn.prepare_cached(&format!(
                    "UPDATE rpc_calls SET status = 'expired', updated_at = ?1,
                        error = 'not answered before its expiry'
                     WHERE status IN ('queued', 'sent') AND expires_at <= ?1
                     RETURNING {COLUMNS}"
                ))?;
                let rows = stmt.query_map([now], call_from_row)?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::open_temp;
    use super::*;
    use crate::{AccountStore, DeviceStore, NewDevice};

    #[tokio::test(flavor = "multi_thread")]
    async fn only_persistent_calls_wait_in_the_queue() {
        let (_dir, store) = open_temp();
        let tenant = store.default_tenant().await.unwrap().id;
        let device = store
            .create_device(
                NewDevice {
                    tenant,
                    name: "pump".into(),
                    device_type: "pump".into(),
                    labels: vec![],
                    metadata: serde_json::json!({}),
                },
                1,
            )
            .await
            .unwrap()
            .key;
        let call = |persistent: bool| NewRpcCall {
            device,
            method: "reboot".into(),
            params_json: "null".into(),
            oneway: false,
            persistent,
            expires_at: 10_000,
        };
        // A plain call is queued only while it is being sent; a poll or a subscription at
        // that moment must not pick it up.
        store
            .create_rpc(call(false), RpcStatus::Queued, 1)
            .await
            .unwrap();
        let kept = store
            .create_rpc(call(true), RpcStatus::Queued, 2)
            .await
            .unwrap();
        let queued = store.queued_rpc(device, 3).await.unwrap();
        assert_eq!(queued.iter().map(|c| c.id).collect::<Vec<_>>(), [kept.id]);
        assert!(store.queued_rpc(device, 10_000).await.unwrap().is_empty());
    }
}
