//! Versioned schema migrations, tracked in `PRAGMA user_version`.
//!
//! Append new steps to [`MIGRATIONS`]; never edit a step that has shipped.

use rusqlite::Connection;

use crate::StoreError;

/// Each entry moves the schema from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: tenants, accounts, device registry, telemetry.
    r#"
    CREATE TABLE tenants (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id),
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id),
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        prefix TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        revoked_at INTEGER
    );
    CREATE INDEX api_tokens_by_tenant ON api_tokens(tenant_id, kind);
    CREATE TABLE devices (
        key INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id),
        name TEXT NOT NULL,
        device_type TEXT NOT NULL,
        labels TEXT NOT NULL,
        metadata TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (tenant_id, name)
    );
    CREATE TABLE device_labels (
        tenant_id INTEGER NOT NULL,
        label TEXT NOT NULL,
        device_key INTEGER NOT NULL REFERENCES devices(key) ON DELETE CASCADE,
        PRIMARY KEY (tenant_id, label, device_key)
    ) WITHOUT ROWID;
    CREATE INDEX device_labels_by_device ON device_labels(device_key);
    CREATE TABLE device_credentials (
        id TEXT PRIMARY KEY,
        tenant_id INTEGER NOT NULL,
        device_key INTEGER NOT NULL REFERENCES devices(key) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        lookup TEXT NOT NULL,
        secret BLOB,
        hint TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    );
    CREATE UNIQUE INDEX device_credentials_live ON device_credentials(kind, lookup)
        WHERE revoked_at IS NULL;
    CREATE INDEX device_credentials_by_device ON device_credentials(device_key);
    CREATE TABLE telemetry_keys (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    );
    -- Keyed by device first so one commit touches one page region per device, not per series;
    -- a key's range query scans the device's rows in time order and filters the key.
    CREATE TABLE telemetry (
        device INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        key INTEGER NOT NULL,
        kind INTEGER NOT NULL,
        value,
        PRIMARY KEY (device, ts, key)
    ) WITHOUT ROWID;
    CREATE TABLE telemetry_latest (
        device INTEGER NOT NULL,
        key INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        kind INTEGER NOT NULL,
        value,
        PRIMARY KEY (device, key)
    ) WITHOUT ROWID;
    "#,
    // 2: the MQTT broker's persistent sessions and retained messages.
    r#"
    CREATE TABLE mqtt_sessions (
        client_id TEXT PRIMARY KEY,
        expiry_secs INTEGER NOT NULL,
        expires_at INTEGER,
        state BLOB NOT NULL
    );
    CREATE TABLE mqtt_retained (
        topic TEXT PRIMARY KEY,
        message BLOB NOT NULL
    );
    "#,
    // 3: MQTT access rules.
    r#"
    CREATE TABLE mqtt_acl_rules (
        id TEXT PRIMARY KEY,
        tenant_id INTEGER NOT NULL REFERENCES tenants (id),
        action TEXT NOT NULL,
        filter TEXT NOT NULL,
        target_kind TEXT NOT NULL,
        target TEXT NOT NULL,
        allow INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    );
    "#,
    // 4: client attributes of devices.
    r#"
    CREATE TABLE device_attributes (
        device INTEGER NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (device, key)
    ) WITHOUT ROWID;
    "#,
    // 5: device shadows, RPC calls, connectivity.
    r#"
    CREATE TABLE device_shadows (
        device INTEGER NOT NULL REFERENCES devices (key) ON DELETE CASCADE,
        name TEXT NOT NULL,
        document TEXT NOT NULL,
        version INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (device, name)
    ) WITHOUT ROWID;
    CREATE TABLE rpc_calls (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        device INTEGER NOT NULL REFERENCES devices (key) ON DELETE CASCADE,
        method TEXT NOT NULL,
        params TEXT NOT NULL,
        oneway INTEGER NOT NULL,
        persistent INTEGER NOT NULL,
        status TEXT NOT NULL,
        response TEXT,
        error TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX rpc_calls_by_device ON rpc_calls (device, id);
    CREATE INDEX rpc_calls_open ON rpc_calls (expires_at) WHERE status IN ('queued', 'sent');
    CREATE TABLE device_activity (
        device INTEGER PRIMARY KEY REFERENCES devices (key) ON DELETE CASCADE,
        last_seen_at INTEGER,
        last_connected_at INTEGER,
        last_disconnected_at INTEGER
    );
    "#,
    // 6: rules, the sink outbox (with dead letters), alarms.
    r#"
    CREATE TABLE rules (
        id TEXT PRIMARY KEY,
        tenant_id INTEGER NOT NULL REFERENCES tenants (id),
        name TEXT NOT NULL,
        definition TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (tenant_id, name)
    );
    CREATE TABLE sink_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant_id INTEGER NOT NULL,
        rule_id TEXT NOT NULL,
        sink_key TEXT NOT NULL,
        sink TEXT NOT NULL,
        payload BLOB NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        last_error TEXT
    );
    CREATE INDEX sink_outbox_queue ON sink_outbox (status, sink_key, id);
    CREATE TABLE alarms (
        id TEXT PRIMARY KEY,
        tenant_id INTEGER NOT NULL,
        device INTEGER NOT NULL REFERENCES devices (key) ON DELETE CASCADE,
        alarm_type TEXT NOT NULL,
        severity TEXT NOT NULL,
        acknowledged INTEGER NOT NULL,
        cleared INTEGER NOT NULL,
        details TEXT NOT NULL,
        repeats INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        acknowledged_at INTEGER,
        cleared_at INTEGER
    );
    CREATE UNIQUE INDEX alarms_one_open ON alarms (device, alarm_type) WHERE cleared = 0;
    CREATE INDEX alarms_by_tenant ON alarms (tenant_id, created_at);
    CREATE TABLE alarm_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        alarm_id TEXT NOT NULL REFERENCES alarms (id) ON DELETE CASCADE,
        at INTEGER NOT NULL,
        event TEXT NOT NULL,
        details TEXT NOT NULL
    );
    CREATE INDEX alarm_history_by_alarm ON alarm_history (alarm_id, id);
    "#,
    // 7: who owns an MQTT session (a session is resumed only by its owner); device keys
    // are never handed out twice (a deleted device's key would otherwise go to the next).
    r#"
    ALTER TABLE mqtt_sessions ADD COLUMN owner TEXT;
    CREATE TABLE device_key_seq (last INTEGER NOT NULL);
    INSERT INTO device_key_seq SELECT coalesce(max(key), 0) FROM devices;
    "#,
    // 8: dashboards of the web app, saved per tenant.
    r#"
    CREATE TABLE dashboards (
        id TEXT PRIMARY KEY,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id),
        name TEXT NOT NULL,
        widgets TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (tenant_id, name)
    );
    "#,
    // 9: tenant ids are never handed out twice (a deleted tenant's id, still held by open
    // sockets and in-flight requests, must not come to name another tenant).
    r#"
    CREATE TABLE tenant_id_seq (last INTEGER NOT NULL);
    INSERT INTO tenant_id_seq SELECT coalesce(max(id), 0) FROM tenants;
    "#,
];

/// The schema version this build writes.
pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`LATEST`], one transaction per step.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > LATEST {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known: LATEST,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as i64 + 1;
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(version, "applied schema migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_from_empty_and_is_idempotent() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, LATEST);
    }

    #[test]
    fn refuses_newer_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", LATEST + 1)
            .unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(StoreError::SchemaTooNew { .. })
        ));
    }
}
