//! The MQTT broker's persistent sessions and retained messages.

use async_trait::async_trait;
use rusqlite::params;

use super::SqliteStore;
use crate::{MqttSessionRow, MqttState, MqttStateStore, StoreError};

#[async_trait]
impl MqttStateStore for SqliteStore {
    async fn save_mqtt_state(&self, state: MqttState) -> Result<(), StoreError> {
        let rows = state.sessions.len() + state.retained.len() + 2;
        self.writer
            .exec(rows, move |ctx| {
                ctx.conn.execute("DELETE FROM mqtt_sessions", [])?;
                ctx.conn.execute("DELETE FROM mqtt_retained", [])?;
                let mut insert = ctx.conn.prepare_cached(
                    "INSERT INTO mqtt_sessions (client_id, expiry_secs, expires_at, state)
                     VALUES (?1, ?2, ?3, ?4)",
                )?;
                for s in &state.sessions {
                    insert.execute(params![s.client_id, s.expiry_secs, s.expires_at, s.state])?;
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
                    "SELECT client_id, expiry_secs, expires_at, state FROM mqtt_sessions",
                )?;
                let mut rows = stmt.query([])?;
                while let Some(row) = rows.next()? {
                    state.sessions.push(MqttSessionRow {
                        client_id: row.get(0)?,
                        expiry_secs: row.get(1)?,
                        expires_at: row.get(2)?,
                        state: row.get(3)?,
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
            }],
            retained: vec![("a/b".into(), vec![9])],
        };
        store.save_mqtt_state(state.clone()).await.unwrap();
        assert_eq!(store.load_mqtt_state().await.unwrap(), state);
        store.save_mqtt_state(MqttState::default()).await.unwrap();
        assert_eq!(store.load_mqtt_state().await.unwrap(), MqttState::default());
    }
}
