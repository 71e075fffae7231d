//! The device registry and device credentials.

use async_trait::async_trait;
use rusqlite::{Connection, Row, params};
use uuid::Uuid;

use super::SqliteStore;
use super::accounts::{optional, parse_uuid};
use crate::{
    Credential, CredentialKind, Device, DeviceFilter, DeviceIdentity, DeviceKey, DevicePatch,
    DeviceStore, Millis, NewCredential, NewDevice, Page, StoreError, TenantId,
};

const DEVICE_COLUMNS: &str = "d.key, d.id, d.tenant_id, d.name, d.device_type, d.labels, d.metadata, d.created_at, d.updated_at";

fn device_from_row(row: &Row<'_>) -> Result<Device, StoreError> {
    let id: String = row.get(1)?;
    let labels: String = row.get(5)?;
    let metadata: String = row.get(6)?;
    Ok(Device {
        key: DeviceKey(row.get(0)?),
        id: parse_uuid(&id)?,
        tenant: TenantId(row.get(2)?),
        name: row.get(3)?,
        device_type: row.get(4)?,
        labels: serde_json::from_str(&labels)
            .map_err(|e| StoreError::Corrupt(format!("device labels: {e}")))?,
        metadata: serde_json::from_str(&metadata)
            .map_err(|e| StoreError::Corrupt(format!("device metadata: {e}")))?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
    })
}

fn load_device(
    conn: &Connection,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<Device>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {DEVICE_COLUMNS} FROM devices d WHERE d.tenant_id = ?1 AND d.id = ?2"
    ))?;
    let mut rows = stmt.query(params![tenant.0, id.to_string()])?;
    match rows.next()? {
        Some(row) => Ok(Some(device_from_row(row)?)),
        None => Ok(None),
    }
}

fn device_key(conn: &Connection, tenant: TenantId, id: Uuid) -> Result<Option<i64>, StoreError> {
    optional(conn.query_row(
        "SELECT key FROM devices WHERE tenant_id = ?1 AND id = ?2",
        params![tenant.0, id.to_string()],
        |r| r.get(0),
    ))
}

fn write_labels(
    conn: &Connection,
    tenant: TenantId,
    key: i64,
    labels: &[String],
) -> Result<(), StoreError> {
    conn.execute("DELETE FROM device_labels WHERE device_key = ?1", [key])?;
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO device_labels (tenant_id, label, device_key) VALUES (?1, ?2, ?3)",
    )?;
    for label in labels {
        stmt.execute(params![tenant.0, label, key])?;
    }
    Ok(())
}

fn name_conflict(name: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |e| match StoreError::from(e) {
        StoreError::Conflict(_) => {
            StoreError::Conflict(format!("a device named {name:?} already exists"))
        }
        other => other,
    }
}

fn json_text(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Database(e.to_string()))
}

/// Escapes LIKE wildcards so a search for `50%` finds exactly that.
fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

fn credential_from_row(row: &Row<'_>) -> Result<Credential, StoreError> {
    let id: String = row.get(0)?;
    let device: String = row.get(1)?;
    let kind: String = row.get(2)?;
    Ok(Credential {
        id: parse_uuid(&id)?,
        device_id: parse_uuid(&device)?,
        kind: CredentialKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("credential kind {kind:?}")))?,
        hint: row.get(3)?,
        created_at: row.get(4)?,
        revoked_at: row.get(5)?,
    })
}

#[async_trait]
impl DeviceStore for SqliteStore {
    async fn create_device(&self, device: NewDevice, now: Millis) -> Result<Device, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                let id = Uuid::new_v4();
                // Keys are never reused: a deleted device's key (still held by its live
                // connections and caches) must not come to name another device.
                let key: i64 = ctx.conn.query_row(
                    "UPDATE device_key_seq SET last = max(last + 1,
                        (SELECT coalesce(max(key), 0) + 1 FROM devices)) RETURNING last",
                    [],
                    |r| r.get(0),
                )?;
                ctx.conn
                    .execute(
                        "INSERT INTO devices (key, id, tenant_id, name, device_type, labels,
                            metadata, created_at, updated_at)
                         VALUES (?8, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                        params![
                            id.to_string(),
                            device.tenant.0,
                            device.name,
                            device.device_type,
                            json_text(&device.labels)?,
                            json_text(&device.metadata)?,
                            now,
                            key
                        ],
                    )
                    .map_err(name_conflict(&device.name))?;
                write_labels(ctx.conn, device.tenant, key, &device.labels)?;
                Ok(Device {
                    id,
                    key: DeviceKey(key),
                    tenant: device.tenant,
                    name: device.name,
                    device_type: device.device_type,
                    labels: device.labels,
                    metadata: device.metadata,
                    created_at: now,
                    updated_at: now,
                })
            })
            .await
    }

    async fn get_device(&self, tenant: TenantId, id: Uuid) -> Result<Option<Device>, StoreError> {
        self.readers
            .read(move |conn| load_device(conn, tenant, id))
            .await
    }

    async fn device_by_key(&self, key: DeviceKey) -> Result<Option<Device>, StoreError> {
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {DEVICE_COLUMNS} FROM devices d WHERE d.key = ?1"
                ))?;
                let mut rows = stmt.query([key.0])?;
                match rows.next()? {
                    Some(row) => Ok(Some(device_from_row(row)?)),
                    None => Ok(None),
                }
            })
            .await
    }

    async fn list_devices(
        &self,
        tenant: TenantId,
        filter: &DeviceFilter,
        offset: u64,
        limit: u32,
    ) -> Result<Page<Device>, StoreError> {
        let filter = filter.clone();
        self.readers
            .read(move |conn| {
                let mut conditions = vec!["d.tenant_id = ?1".to_string()];
                let mut values: Vec<rusqlite::types::Value> = vec![tenant.0.into()];
                if let Some(label) = filter.label {
                    values.push(label.into());
                    conditions.push(format!(
                        "d.key IN (SELECT device_key FROM device_labels
                                   WHERE tenant_id = ?1 AND label = ?{})",
                        values.len()
                    ));
                }
                if let Some(text) = filter.name_contains {
                    values.push(like_pattern(&text).into());
                    conditions.push(format!("d.name LIKE ?{} ESCAPE '\\'", values.len()));
                }
                if let Some(device_type) = filter.device_type {
                    values.push(device_type.into());
                    conditions.push(format!("d.device_type = ?{}", values.len()));
                }
                if let Some((inside, keys)) = filter.keys {
                    // One JSON array parameter, however many keys (no SQL variable limit).
                    let list: Vec<i64> = keys.iter().map(|k| k.0).collect();
                    values.push(serde_json::to_string(&list).unwrap_or_default().into());
                    conditions.push(format!(
                        "d.key {} (SELECT value FROM json_each(?{}))",
                        if inside { "IN" } else { "NOT IN" },
                        values.len()
                    ));
                }
                let condition = conditions.join(" AND ");
                let total: i64 = conn.query_row(
                    &format!("SELECT count(*) FROM devices d WHERE {condition}"),
                    rusqlite::params_from_iter(values.iter()),
                    |r| r.get(0),
                )?;
                values.push((limit as i64).into());
                values.push((offset.min(i64::MAX as u64) as i64).into());
                let sql = format!(
                    "SELECT {DEVICE_COLUMNS} FROM devices d WHERE {condition}
                     ORDER BY d.name, d.key LIMIT ?{} OFFSET ?{}",
                    values.len() - 1,
                    values.len()
                );
                let mut stmt = conn.prepare_cached(&sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
                let mut items = Vec::new();
                while let Some(row) = rows.next()? {
                    items.push(device_from_row(row)?);
                }
                Ok(Page {
                    items,
                    total: total as u64,
                })
            })
            .await
    }

    async fn update_device(
        &self,
        tenant: TenantId,
        id: Uuid,
        patch: DevicePatch,
        now: Millis,
    ) -> Result<Option<Device>, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                let Some(mut device) = load_device(ctx.conn, tenant, id)? else {
                    return Ok(None);
                };
                if let Some(name) = patch.name {
                    device.name = name;
                }
                if let Some(device_type) = patch.device_type {
                    device.device_type = device_type;
                }
                if let Some(metadata) = patch.metadata {
                    device.metadata = metadata;
                }
                if let Some(labels) = patch.labels {
                    write_labels(ctx.conn, tenant, device.key.0, &labels)?;
                    device.labels = labels;
                }
                device.updated_at = now;
                ctx.conn
                    .execute(
                        "UPDATE devices SET name = ?2, device_type = ?3, labels = ?4,
                            metadata = ?5, updated_at = ?6
                         WHERE key = ?1",
                        params![
                            device.key.0,
                            device.name,
                            device.device_type,
                            json_text(&device.labels)?,
                            json_text(&device.metadata)?,
                            now
                        ],
                    )
                    .map_err(name_conflict(&device.name))?;
                Ok(Some(device))
            })
            .await
    }

    async fn delete_device(&self, tenant: TenantId, id: Uuid) -> Result<bool, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                let Some(key) = device_key(ctx.conn, tenant, id)? else {
                    return Ok(false);
                };
                ctx.conn
                    .execute("DELETE FROM telemetry WHERE device = ?1", [key])?;
                ctx.conn
                    .execute("DELETE FROM telemetry_latest WHERE device = ?1", [key])?;
                ctx.latest.retain(|(device, _), _| *device != key);
                ctx.conn
                    .execute("DELETE FROM device_attributes WHERE device = ?1", [key])?;
                ctx.conn
                    .execute("DELETE FROM devices WHERE key = ?1", [key])?;
                Ok(true)
            })
            .await
    }

    async fn add_credential(
        &self,
        credential: NewCredential,
        replace: bool,
        now: Millis,
    ) -> Result<Credential, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                let key = device_key(ctx.conn, credential.tenant, credential.device_id)?
                    .ok_or_else(|| StoreError::Conflict("no such device".into()))?;
                if replace {
                    ctx.conn.execute(
                        "UPDATE device_credentials SET revoked_at = ?3
                         WHERE device_key = ?1 AND kind = ?2 AND revoked_at IS NULL",
                        params![key, credential.kind.as_str(), now],
                    )?;
                }
                let id = Uuid::new_v4();
                ctx.conn
                    .execute(
                        "INSERT INTO device_credentials (id, tenant_id, device_key, kind, lookup,
                            secret, hint, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        params![
                            id.to_string(),
                            credential.tenant.0,
                            key,
                            credential.kind.as_str(),
                            credential.lookup,
                            credential.secret,
                            credential.hint,
                            now
                        ],
                    )
                    .map_err(|e| match StoreError::from(e) {
                        StoreError::Conflict(_) => StoreError::Conflict(format!(
                            "this {} is already in use by a device",
                            credential.kind.as_str()
                        )),
                        other => other,
                    })?;
                Ok(Credential {
                    id,
                    device_id: credential.device_id,
                    kind: credential.kind,
                    hint: credential.hint,
                    created_at: now,
                    revoked_at: None,
                })
            })
            .await
    }

    async fn list_credentials(
        &self,
        tenant: TenantId,
        device_id: Uuid,
    ) -> Result<Vec<Credential>, StoreError> {
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT c.id, d.id, c.kind, c.hint, c.created_at, c.revoked_at
                     FROM device_credentials c JOIN devices d ON d.key = c.device_key
                     WHERE d.tenant_id = ?1 AND d.id = ?2
                     ORDER BY c.created_at, c.id",
                )?;
                let mut rows = stmt.query(params![tenant.0, device_id.to_string()])?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(credential_from_row(row)?);
                }
                Ok(out)
            })
            .await
    }

    async fn revoke_credential(
        &self,
        tenant: TenantId,
        device_id: Uuid,
        credential_id: Uuid,
        now: Millis,
    ) -> Result<bool, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                let Some(key) = device_key(ctx.conn, tenant, device_id)? else {
                    return Ok(false);
                };
                let n = ctx.conn.execute(
                    "UPDATE device_credentials SET revoked_at = ?3
                     WHERE device_key = ?1 AND id = ?2 AND revoked_at IS NULL",
                    params![key, credential_id.to_string(), now],
                )?;
                Ok(n > 0)
            })
            .await
    }

    async fn find_device_by_credential(
        &self,
        kind: CredentialKind,
        lookup: &str,
    ) -> Result<Option<DeviceIdentity>, StoreError> {
        Ok(self
            .find_credential_secret(kind, lookup)
            .await?
            .map(|(device, _)| device))
    }

    async fn find_credential_secret(
        &self,
        kind: CredentialKind,
        lookup: &str,
    ) -> Result<Option<(DeviceIdentity, Vec<u8>)>, StoreError> {
        let lookup = lookup.to_string();
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT d.tenant_id, d.id, d.key, c.id, c.secret
                     FROM device_credentials c JOIN devices d ON d.key = c.device_key
                     WHERE c.kind = ?1 AND c.lookup = ?2 AND c.revoked_at IS NULL",
                )?;
                let mut rows = stmt.query(params![kind.as_str(), lookup])?;
                let Some(row) = rows.next()? else {
                    return Ok(None);
                };
                let device: String = row.get(1)?;
                let credential: String = row.get(3)?;
                let secret: Option<Vec<u8>> = row.get(4)?;
                Ok(Some((
                    DeviceIdentity {
                        tenant: TenantId(row.get(0)?),
                        device_id: parse_uuid(&device)?,
                        device_key: DeviceKey(row.get(2)?),
                        credential_id: parse_uuid(&credential)?,
                    },
                    secret.unwrap_or_default(),
                )))
            })
            .await
    }

    async fn all_device_keys(&self) -> Result<Vec<DeviceKey>, StoreError> {
        self.readers
            .read(|conn| {
                let mut stmt = conn.prepare_cached("SELECT key FROM devices ORDER BY key")?;
                let keys = stmt
                    .query_map([], |r| r.get(0).map(DeviceKey))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(keys)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::open_temp;
    use super::*;
    use crate::AccountStore;

    fn new_device(tenant: TenantId, name: &str, labels: &[&str]) -> NewDevice {
        NewDevice {
            tenant,
            name: name.into(),
            device_type: "sensor".into(),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            metadata: serde_json::json!({"floor": 2}),
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn keys_of_deleted_devices_are_never_reused() {
        let (_dir, store) = open_temp();
        let t = store.default_tenant().await.unwrap().id;
        let a = store
            .create_device(new_device(t, "a", &[]), 1)
            .await
            .unwrap();
        assert!(store.delete_device(t, a.id).await.unwrap());
        let b = store
            .create_device(new_device(t, "b", &[]), 2)
            .await
            .unwrap();
        assert!(b.key.0 > a.key.0, "{:?} after {:?}", b.key, a.key);
        // A failed creation does not use up a key either way, and keys stay increasing.
        assert!(
            store
                .create_device(new_device(t, "b", &[]), 3)
                .await
                .is_err()
        );
        let c = store
            .create_device(new_device(t, "c", &[]), 4)
            .await
            .unwrap();
        assert!(c.key.0 > b.key.0);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn crud_filter_and_tenant_scope() {
        let (_dir, store) = open_temp();
        let t = store.default_tenant().await.unwrap().id;
        let other = TenantId(t.0 + 1000);
        let a = store
            .create_device(new_device(t, "boiler-1", &["hall", "heating"]), 1)
            .await
            .unwrap();
        store
            .create_device(new_device(t, "fan_50%", &["hall"]), 2)
            .await
            .unwrap();
        store
            .create_device(new_device(t, "meter", &[]), 3)
            .await
            .unwrap();
        assert!(matches!(
            store.create_device(new_device(t, "meter", &[]), 3).await,
            Err(StoreError::Conflict(_))
        ));

        let all = store
            .list_devices(t, &DeviceFilter::default(), 0, 10)
            .await
            .unwrap();
        assert_eq!(all.total, 3);
        let names: Vec<_> = all.items.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["boiler-1", "fan_50%", "meter"]);

        let hall = DeviceFilter {
            label: Some("hall".into()),
            ..Default::default()
        };
        let page = store.list_devices(t, &hall, 1, 1).await.unwrap();
        assert_eq!(page.total, 2);
        assert_eq!(page.items[0].name, "fan_50%");

        let search = DeviceFilter {
            name_contains: Some("50%".into()),
            ..Default::default()
        };
        assert_eq!(
            store.list_devices(t, &search, 0, 10).await.unwrap().total,
            1
        );
        let search = DeviceFilter {
            name_contains: Some("BOIL".into()),
            ..Default::default()
        };
        assert_eq!(
            store.list_devices(t, &search, 0, 10).await.unwrap().total,
            1
        );
        // By key set (how the platform filters by connectivity), with correct totals.
        let only = DeviceFilter {
            keys: Some((true, vec![a.key])),
            ..Default::default()
        };
        let page = store.list_devices(t, &only, 0, 10).await.unwrap();
        assert_eq!((page.total, page.items[0].id), (1, a.id));
        let others = DeviceFilter {
            keys: Some((false, vec![a.key])),
            ..Default::default()
        };
        assert_eq!(
            store.list_devices(t, &others, 0, 10).await.unwrap().total,
            2
        );
        let none = DeviceFilter {
            keys: Some((true, vec![])),
            ..Default::default()
        };
        assert_eq!(store.list_devices(t, &none, 0, 10).await.unwrap().total, 0);

        assert!(store.get_device(other, a.id).await.unwrap().is_none());
        assert_eq!(store.get_device(t, a.id).await.unwrap(), Some(a.clone()));
        assert!(!store.delete_device(other, a.id).await.unwrap());

        let updated = store
            .update_device(
                t,
                a.id,
                DevicePatch {
                    labels: Some(vec!["roof".into()]),
                    ..Default::default()
                },
                9,
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(updated.labels, ["roof"]);
        assert_eq!(updated.updated_at, 9);
        assert_eq!(store.list_devices(t, &hall, 0, 10).await.unwrap().total, 1);
        let renamed = store
            .update_device(
                t,
                a.id,
                DevicePatch {
                    name: Some("meter".into()),
                    ..Default::default()
                },
                10,
            )
            .await;
        assert!(matches!(renamed, Err(StoreError::Conflict(_))));

        assert!(store.delete_device(t, a.id).await.unwrap());
        assert!(store.get_device(t, a.id).await.unwrap().is_none());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn credentials_rotate_and_revoke() {
        let (_dir, store) = open_temp();
        let t = store.default_tenant().await.unwrap().id;
        let d = store
            .create_device(new_device(t, "x", &[]), 1)
            .await
            .unwrap();
        let cred = |lookup: &str| NewCredential {
            tenant: t,
            device_id: d.id,
            kind: CredentialKind::AccessToken,
            lookup: lookup.into(),
            secret: None,
            hint: "abc".into(),
        };
        let first = store.add_credential(cred("h1"), true, 1).await.unwrap();
        let found = store
            .find_device_by_credential(CredentialKind::AccessToken, "h1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.device_key, d.key);
        assert_eq!(found.credential_id, first.id);

        store.add_credential(cred("h2"), true, 2).await.unwrap();
        assert!(
            store
                .find_device_by_credential(CredentialKind::AccessToken, "h1")
                .await
                .unwrap()
                .is_none()
        );
        let second = store
            .find_device_by_credential(CredentialKind::AccessToken, "h2")
            .await
            .unwrap()
            .unwrap();
        assert!(
            store
                .revoke_credential(t, d.id, second.credential_id, 3)
                .await
                .unwrap()
        );
        assert!(
            store
                .find_device_by_credential(CredentialKind::AccessToken, "h2")
                .await
                .unwrap()
                .is_none()
        );
        let listed = store.list_credentials(t, d.id).await.unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed.iter().all(|c| c.revoked_at.is_some()));
    }
}
