//! The MQTT broker's persistent sessions and retained messages.

use async_trait::async_trait;
use rusqlite::params;

use super::SqliteStore;
use uuid::Uuid;

use super::accounts::parse_uuid;
use crate::{AclRuleRow, MqttSessionRow, MqttState, MqttStateStore, StoreError, TenantId};

#[async_trait]
impl MqttStateStore for SqliteStore {
    async fn save_mqtt_state(&self, state: MqttState) -> Result<(), StoreError> {
        let rows = state.sessions.len() + state.retained.len() + 2;
        self.writer
            .exec(rows, move |ctx| {
                ctx.conn.execute("DELETE FROM mqtt_sessions", [])?;
                ctx.conn.execute("DELETE FROM mqtt_retained", [])?;
                let mut insert = ctx.conn.prepare_cached(
                    "INSERT INTO mqtt_sessions (client_id, expiry_secs, expires_at, state, owner)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for s in &state.sessions {
                    insert.execute(params![
                        s.client_id,
                        s.expiry_secs,
                        s.expires_at,
                        s.state,
                        s.owner
                    ])?;
                }
                let mut insert = ctx
                    .conn
                    .prepare_cached("INSERT INTO mqtt_retained (topic, message) VALUES (?1, ?2)")?;
                for (topic, message) in &state.retained {
                    insert.execute(params![topic, message])?;
                }
                Ok(())
            })
            .await
    }

    async fn load_mqtt_state(&self) -> Result<MqttState, StoreError> {
        self.readers
            .read(|conn| {
                let mut state = MqttState::default();
                let mut stmt = conn.prepare_cached(
                    "SELECT client_id, expiry_secs, expires_at, state, owner FROM mqtt_sessions",
                )?;
                let mut rows = stmt.query([])?;
                while let Some(row) = rows.next()? {
                    state.sessions.push(MqttSessionRow {
                        client_id: row.get(0)?,
                        expiry_secs: row.get(1)?,
                        expires_at: row.get(2)?,
                        state: row.get(3)?,
                        owner: row.get(4)?,
                    });
                }
                let mut stmt = conn.prepare_cached("SELECT topic, message FROM mqtt_retained")?;
                let mut rows = stmt.query([])?;
                while let Some(row) = rows.next()? {
                    state.retained.push((row.get(0)?, row.get(1)?));
                }
                Ok(state)
            })
            .await
    }

    async fn list_acl_rules(&self) -> Result<Vec<AclRuleRow>, StoreError> {
        self.readers
            .read(|conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT id, tenant_id, action, filter, target_kind, target, allow, created_at
                     FROM mqtt_acl_rules ORDER BY created_at, id",
                )?;
                let mut rows = stmt.query([])?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    let id: String = row.get(0)?;
                    out.push(AclRuleRow {
                        id: parse_uuid(&id)?,
                        tenant: TenantId(row.get(1)?),
                        action: row.get(2)?,
                        filter: row.get(3)?,
                        target_kind: row.get(4)?,
                        target: row.get(5)?,
                        allow: row.get(6)?,
                        created_at: row.get(7)?,
                    });
                }
                Ok(out)
            })
            .await
    }

    async fn add_acl_rule(&self, rule: AclRuleRow) -> Result<(), StoreError> {
        self.writer
            .exec(1, move |ctx| {
                ctx.conn.execute(
                    "INSERT INTO mqtt_acl_rules
                     (id, tenant_id, action, filter, target_kind, target, allow, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        rule.id.to_string(),
                        rule.tenant.0,
                        rule.action,
                        rule.filter,
                        rule.target_kind,
                        rule.target,
                        rule.allow,
                        rule.created_at
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn delete_acl_rule(&self, tenant: TenantId, id: Uuid) -> Result<bool, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                let n = ctx.conn.execute(
                    "DELETE FROM mqtt_acl_rules WHERE tenant_id = ?1 AND id = ?2",
                    params![tenant.0, id.to_string()],
                )?;
                Ok(n > 0)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn state_round_trips_and_is_replaced_whole() {
        let (_dir, store) = super::super::test_support::open_temp();
        assert_eq!(store.load_mqtt_state().await.unwrap(), MqttState::default());
        let state = MqttState {
            sessions: vec![MqttSessionRow {
                client_id: "c1".into(),
                expiry_secs: 60,
                expires_at: Some(1_800_000_000_000),
                state: vec![1, 2, 3],
                owner: Some("device:x".into()),
            }],
            retained: vec![("a/b".into(), vec![9])],
        };
        store.save_mqtt_state(state.clone()).await.unwrap();
        assert_eq!(store.load_mqtt_state().await.unwrap(), state);
        store.save_mqtt_state(MqttState::default()).await.unwrap();
        assert_eq!(store.load_mqtt_state().await.unwrap(), MqttState::default());
    }
}
