//! The durable queue for external sinks, and its dead letters.

use async_trait::async_trait;
use rusqlite::{Row, params, params_from_iter};
use uuid::Uuid;

use super::SqliteStore;
use crate::{Millis, NewOutboxEntry, OutboxRow, OutboxStore, StoreError, TenantId};

const COLUMNS: &str = "id, tenant_id, rule_id, sink_key, sink, payload, status, attempts, \
                       next_attempt_at, created_at, last_error";

fn outbox_from_row(row: &Row<'_>) -> rusqlite::Result<OutboxRow> {
    let rule: String = row.get(2)?;
    let status: String = row.get(6)?;
    Ok(OutboxRow {
        id: row.get(0)?,
        tenant: TenantId(row.get(1)?),
        rule_id: Uuid::parse_str(&rule).unwrap_or(Uuid::nil()),
        sink_key: row.get(3)?,
        sink: row.get(4)?,
        payload: row.get(5)?,
        dead: status == "dead",
        attempts: row.get(7)?,
        next_attempt_at: row.get(8)?,
        created_at: row.get(9)?,
        last_error: row.get(10)?,
    })
}

pub(super) fn insert_outbox(
    conn: &rusqlite::Connection,
    entries: &[NewOutboxEntry],
    now: Millis,
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO sink_outbox (tenant_id, rule_id, sink_key, sink, payload, status,
            attempts, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?6)",
    )?;
    for e in entries {
        stmt.execute(params![
            e.tenant.0,
            e.rule_id.to_string(),
            e.sink_key,
            e.sink,
            e.payload,
            now
        ])?;
    }
    Ok(())
}

fn id_list(ids: &[i64], first: usize) -> String {
    (0..ids.len())
        .map(|i| format!("?{}", i + first))
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn enqueue(&self, entries: Vec<NewOutboxEntry>, now: Millis) -> Result<(), StoreError> {
        self.writer
            .exec(entries.len(), move |ctx| {
                insert_outbox(ctx.conn, &entries, now)
            })
            .await
    }

    async fn outbox_heads(&self) -> Result<Vec<OutboxRow>, StoreError> {
        self.readers
            .read(|conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM sink_outbox WHERE id IN (
                        SELECT min(id) FROM sink_outbox WHERE status = 'pending' GROUP BY sink_key)"
                ))?;
                let rows = stmt.query_map([], outbox_from_row)?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
    }

    async fn outbox_pending(
        &self,
        sink_key: &str,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let key = sink_key.to_string();
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM sink_outbox WHERE status = 'pending' AND sink_key = ?1
                     ORDER BY id LIMIT ?2"
                ))?;
                let rows = stmt.query_map(params![key, limit], outbox_from_row)?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
    }

    async fn outbox_delivered(&self, ids: Vec<i64>) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.writer
            .exec(ids.len(), move |ctx| {
                for chunk in ids.chunks(500) {
                    ctx.conn.execute(
                        &format!(
                            "DELETE FROM sink_outbox WHERE id IN ({})",
                            id_list(chunk, 1)
                        ),
                        params_from_iter(chunk.iter()),
                    )?;
                }
                Ok(())
            })
            .await
    }

    async fn outbox_failed(
        &self,
        id: i64,
        next_attempt_at: Millis,
        dead: bool,
        error: String,
    ) -> Result<(), StoreError> {
        self.writer
            .exec(1, move |ctx| {
                ctx.conn.execute(
                    "UPDATE sink_outbox SET attempts = attempts + 1, next_attempt_at = ?2,
                        status = ?3, last_error = ?4 WHERE id = ?1",
                    params![
                        id,
                        next_attempt_at,
                        if dead { "dead" } else { "pending" },
                        error
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn outbox_expire(
        &self,
        sink_key: &str,
        created_before: Millis,
        error: String,
    ) -> Result<u64, StoreError> {
        let key = sink_key.to_string();
        self.writer
            .exec(1, move |ctx| {
                let n = ctx.conn.execute(
                    "UPDATE sink_outbox SET status = 'dead', last_error = ?3
                     WHERE status = 'pending' AND sink_key = ?1 AND created_at < ?2",
                    params![key, created_before, error],
                )?;
                Ok(n as u64)
            })
            .await
    }

    async fn outbox_counts(&self, tenant: TenantId) -> Result<(u64, u64), StoreError> {
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT coalesce(sum(status = 'pending'), 0), coalesce(sum(status = 'dead'), 0)
                     FROM sink_outbox WHERE tenant_id = ?1",
                )?;
                Ok(stmt.query_row([tenant.0], |r| Ok((r.get(0)?, r.get(1)?)))?)
            })
            .await
    }

    async fn dead_letters(
        &self,
        tenant: TenantId,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM sink_outbox WHERE status = 'dead' AND tenant_id = ?1
                     ORDER BY id LIMIT ?2"
                ))?;
                let rows = stmt.query_map(params![tenant.0, limit], outbox_from_row)?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
    }

    async fn replay_dead_letters(
        &self,
        tenant: TenantId,
        ids: Vec<i64>,
        now: Millis,
    ) -> Result<u64, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                // A replayed message gets a fresh retry period (`created_at` is its start).
                let set = "UPDATE sink_outbox SET status = 'pending', attempts = 0,
                    next_attempt_at = ?2, created_at = ?2 WHERE status = 'dead' AND tenant_id = ?1";
                let n = if ids.is_empty() {
                    ctx.conn.execute(set, params![tenant.0, now])?
                } else {
                    let mut values: Vec<i64> = vec![tenant.0, now];
                    values.extend(&ids);
                    ctx.conn.execute(
                        &format!("{set} AND id IN ({})", id_list(&ids, 3)),
                        params_from_iter(values.iter()),
                    )?
                };
                Ok(n as u64)
            })
            .await
    }

    async fn delete_dead_letters(
        &self,
        tenant: TenantId,
        ids: Vec<i64>,
    ) -> Result<u64, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                let delete = "DELETE FROM sink_outbox WHERE status = 'dead' AND tenant_id = ?1";
                let n = if ids.is_empty() {
                    ctx.conn.execute(delete, [tenant.0])?
                } else {
                    let mut values: Vec<i64> = vec![tenant.0];
                    values.extend(&ids);
                    ctx.conn.execute(
                        &format!("{delete} AND id IN ({})", id_list(&ids, 2)),
                        params_from_iter(values.iter()),
                    )?
                };
                Ok(n as u64)
            })
            .await
    }
}
