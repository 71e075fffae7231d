//! Alarms and their history.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use uuid::Uuid;

use super::SqliteStore;
use crate::{
    AlarmEvent, AlarmFilter, AlarmRow, AlarmStore, DeviceKey, Millis, Raised, StoreError, TenantId,
};

const COLUMNS: &str = "id, tenant_id, device, alarm_type, severity, acknowledged, cleared, \
                       details, repeats, created_at, updated_at, acknowledged_at, cleared_at";

fn alarm_from_row(row: &Row<'_>) -> rusqlite::Result<AlarmRow> {
    let id: String = row.get(0)?;
    Ok(AlarmRow {
        id: Uuid::parse_str(&id).unwrap_or(Uuid::nil()),
        tenant: TenantId(row.get(1)?),
        device: DeviceKey(row.get(2)?),
        alarm_type: row.get(3)?,
        severity: row.get(4)?,
        acknowledged: row.get(5)?,
        cleared: row.get(6)?,
        details: row.get(7)?,
        repeats: row.get(8)?,
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
        acknowledged_at: row.get(11)?,
        cleared_at: row.get(12)?,
    })
}

fn history(
    conn: &Connection,
    id: &str,
    at: Millis,
    event: &str,
    details: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO alarm_history (alarm_id, at, event, details) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![id, at, event, details])?;
    Ok(())
}

fn by_id(conn: &Connection, id: &str) -> rusqlite::Result<Option<AlarmRow>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM alarms WHERE id = ?1"))?
        .query_row([id], alarm_from_row)
        .optional()
}

#[async_trait]
impl AlarmStore for SqliteStore {
    async fn raise_alarm(&self, alarm: AlarmRow) -> Result<Raised, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                let open: Option<String> = ctx
                    .conn
                    .prepare_cached(
                        "SELECT id FROM alarms WHERE device = ?1 AND alarm_type = ?2 AND cleared = 0",
                    )?
                    .query_row(params![alarm.device.0, alarm.alarm_type], |r| r.get(0))
                    .optional()?;
                if let Some(id) = open {
                    // Repeats are counted, not each kept: history records severity changes.
                    let before: String = ctx.conn.query_row(
                        "SELECT severity FROM alarms WHERE id = ?1",
                        [&id],
                        |r| r.get(0),
                    )?;
                    ctx.conn.execute(
                        "UPDATE alarms SET severity = ?2, details = ?3, repeats = repeats + 1,
                            updated_at = ?4 WHERE id = ?1",
                        params![id, alarm.severity, alarm.details, alarm.updated_at],
                    )?;
                    if before != alarm.severity {
                        history(ctx.conn, &id, alarm.updated_at, "updated", &alarm.details)?;
                    }
                    let row = by_id(ctx.conn, &id)?
                        .ok_or_else(|| StoreError::Corrupt("alarm vanished".into()))?;
                    return Ok(Raised::Updated(row));
                }
                let id = alarm.id.to_string();
                ctx.conn.execute(
                    "INSERT INTO alarms (id, tenant_id, device, alarm_type, severity, acknowledged,
                        cleared, details, repeats, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, 0, 0, ?6, 1, ?7, ?7)",
                    params![
                        id,
                        alarm.tenant.0,
                        alarm.device.0,
                        alarm.alarm_type,
                        alarm.severity,
                        alarm.details,
                        alarm.created_at
                    ],
                )?;
                history(ctx.conn, &id, alarm.created_at, "created", &alarm.details)?;
                let row = by_id(ctx.conn, &id)?
                    .ok_or_else(|| StoreError::Corrupt("alarm vanished".into()))?;
                Ok(Raised::Created(row))
            })
            .await
    }

    async fn clear_open_alarm(
        &self,
        device: DeviceKey,
        alarm_type: &str,
        details: String,
        now: Millis,
    ) -> Result<Option<AlarmRow>, StoreError> {
        let alarm_type = alarm_type.to_string();
        self.writer
            .exec(1, move |ctx| {
                let open: Option<String> = ctx
                    .conn
                    .prepare_cached(
                        "SELECT id FROM alarms WHERE device = ?1 AND alarm_type = ?2 AND cleared = 0",
                    )?
                    .query_row(params![device.0, alarm_type], |r| r.get(0))
                    .optional()?;
                let Some(id) = open else {
                    return Ok(None);
                };
                ctx.conn.execute(
                    "UPDATE alarms SET cleared = 1, cleared_at = ?2, updated_at = ?2 WHERE id = ?1",
                    params![id, now],
                )?;
                history(ctx.conn, &id, now, "cleared", &details)?;
                Ok(by_id(ctx.conn, &id)?)
            })
            .await
    }

    async fn update_alarm(
        &self,
        tenant: TenantId,
        id: Uuid,
        clear: bool,
        now: Millis,
    ) -> Result<Option<AlarmRow>, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                let id = id.to_string();
                let Some(current) = by_id(ctx.conn, &id)?.filter(|a| a.tenant == tenant) else {
                    return Ok(None);
                };
                if clear && !current.cleared {
                    ctx.conn.execute(
                        "UPDATE alarms SET cleared = 1, cleared_at = ?2, updated_at = ?2 WHERE id = ?1",
                        params![id, now],
                    )?;
                    history(ctx.conn, &id, now, "cleared", "{\"by\":\"user\"}")?;
                } else if !clear && !current.acknowledged {
                    ctx.conn.execute(
                        "UPDATE alarms SET acknowledged = 1, acknowledged_at = ?2, updated_at = ?2
                         WHERE id = ?1",
                        params![id, now],
                    )?;
                    history(ctx.conn, &id, now, "acknowledged", "{}")?;
                }
                Ok(by_id(ctx.conn, &id)?)
            })
            .await
    }

    async fn alarm(&self, tenant: TenantId, id: Uuid) -> Result<Option<AlarmRow>, StoreError> {
        self.readers
            .read(move |conn| Ok(by_id(conn, &id.to_string())?.filter(|a| a.tenant == tenant)))
            .await
    }

    async fn list_alarms(
        &self,
        tenant: TenantId,
        filter: &AlarmFilter,
        limit: u32,
    ) -> Result<Vec<AlarmRow>, StoreError> {
        let filter = filter.clone();
        self.readers
            .read(move |conn| {
                let mut conditions = vec!["tenant_id = ?1".to_string()];
                let mut values: Vec<Box<dyn rusqlite::ToSql>> = vec![Box::new(tenant.0)];
                let mut push = |condition: &str, value: Box<dyn rusqlite::ToSql>| {
                    values.push(value);
                    conditions.push(format!("{condition} ?{}", values.len()));
                };
                if let Some(device) = filter.device {
                    push("device =", Box::new(device.0));
                }
                if let Some(open) = filter.open {
                    push("cleared =", Box::new(!open));
                }
                if let Some(ack) = filter.acknowledged {
                    push("acknowledged =", Box::new(ack));
                }
                if let Some(severity) = filter.severity {
                    push("severity =", Box::new(severity));
                }
                if let Some(alarm_type) = filter.alarm_type {
                    push("alarm_type =", Box::new(alarm_type));
                }
                values.push(Box::new(limit));
                let sql = format!(
                    "SELECT {COLUMNS} FROM alarms WHERE {} ORDER BY created_at DESC, id LIMIT ?{}",
                    conditions.join(" AND "),
                    values.len()
                );
                let mut stmt = conn.prepare(&sql)?;
                let rows = stmt.query_map(params_from_iter(values.iter()), alarm_from_row)?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
    }

    async fn alarm_history(&self, id: Uuid) -> Result<Vec<AlarmEvent>, StoreError> {
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT at, event, details FROM alarm_history WHERE alarm_id = ?1 ORDER BY id",
                )?;
                let rows = stmt.query_map([id.to_string()], |r| {
                    Ok(AlarmEvent {
                        at: r.get(0)?,
                        event: r.get(1)?,
                        details: r.get(2)?,
                    })
                })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
    }
}
