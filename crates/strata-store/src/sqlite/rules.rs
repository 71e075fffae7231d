//! Rules.

use async_trait::async_trait;
use rusqlite::params;
use uuid::Uuid;

use super::SqliteStore;
use crate::{RuleRow, RuleStore, StoreError, TenantId};

#[async_trait]
impl RuleStore for SqliteStore {
    async fn all_rules(&self) -> Result<Vec<RuleRow>, StoreError> {
        self.readers
            .read(|conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT id, tenant_id, name, definition, created_at, updated_at FROM rules
                     ORDER BY created_at, id",
                )?;
                let rows = stmt.query_map([], |row| {
                    let id: String = row.get(0)?;
                    Ok((
                        id,
                        RuleRow {
                            id: Uuid::nil(),
                            tenant: TenantId(row.get(1)?),
                            name: row.get(2)?,
                            definition: row.get(3)?,
                            created_at: row.get(4)?,
                            updated_at: row.get(5)?,
                        },
                    ))
                })?;
                let mut out = Vec::new();
                for row in rows {
                    let (id, mut rule) = row?;
                    rule.id = Uuid::parse_str(&id)
                        .map_err(|e| StoreError::Corrupt(format!("rule id {id:?}: {e}")))?;
                    out.push(rule);
                }
                Ok(out)
            })
            .await
    }

    async fn put_rule(&self, rule: RuleRow) -> Result<(), StoreError> {
        self.writer
            .exec(1, move |ctx| {
                let taken: Option<String> = ctx
                    .conn
                    .query_row(
                        "SELECT id FROM rules WHERE tenant_id = ?1 AND name = ?2",
                        params![rule.tenant.0, rule.name],
                        |r| r.get(0),
                    )
                    .ok();
                if taken.is_some_and(|id| id != rule.id.to_string()) {
                    return Err(StoreError::Conflict(format!(
                        "a rule named {:?} exists already",
                        rule.name
                    )));
                }
                ctx.conn.execute(
                    "INSERT INTO rules (id, tenant_id, name, definition, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                        definition = excluded.definition, updated_at = excluded.updated_at
                     WHERE tenant_id = excluded.tenant_id",
                    params![
                        rule.id.to_string(),
                        rule.tenant.0,
                        rule.name,
                        rule.definition,
                        rule.created_at,
                        rule.updated_at
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn delete_rule(&self, tenant: TenantId, id: Uuid) -> Result<bool, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                let n = ctx.conn.execute(
                    "DELETE FROM rules WHERE tenant_id = ?1 AND id = ?2",
                    params![tenant.0, id.to_string()],
                )?;
                Ok(n == 1)
            })
            .await
    }
}
