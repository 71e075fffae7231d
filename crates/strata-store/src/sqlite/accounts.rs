//! Tenants, users and management API tokens.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};
use uuid::Uuid;

use super::SqliteStore;
use crate::{
    AccountStore, ApiToken, Millis, NewApiToken, NewUser, Role, StoreError, Tenant, TenantId,
    TokenKind, User,
};

const DEFAULT_TENANT: &str = "default";

pub(super) fn parse_uuid(text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|e| StoreError::Corrupt(format!("bad uuid {text:?}: {e}")))
}

fn user_from_row(row: &Row<'_>, first: usize) -> Result<User, StoreError> {
    let id: String = row.get(first)?;
    let role: String = row.get(first + 4)?;
    Ok(User {
        id: parse_uuid(&id)?,
        tenant: TenantId(row.get(first + 1)?),
        username: row.get(first + 2)?,
        password_hash: row.get(first + 3)?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
        created_at: row.get(first + 5)?,
    })
}

const USER_COLUMNS: &str = "u.id, u.tenant_id, u.username, u.password_hash, u.role, u.created_at";
const TOKEN_COLUMNS: &str = "t.id, t.tenant_id, t.user_id, t.kind, t.name, t.prefix, t.created_at, \
                             t.expires_at, t.revoked_at";

fn token_from_row(row: &Row<'_>) -> Result<ApiToken, StoreError> {
    let id: String = row.get(0)?;
    let user_id: String = row.get(2)?;
    let kind: String = row.get(3)?;
    Ok(ApiToken {
        id: parse_uuid(&id)?,
        tenant: TenantId(row.get(1)?),
        user_id: parse_uuid(&user_id)?,
        kind: TokenKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("token kind {kind:?}")))?,
        name: row.get(4)?,
        prefix: row.get(5)?,
        created_at: row.get(6)?,
        expires_at: row.get(7)?,
        revoked_at: row.get(8)?,
    })
}

fn now_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

fn insert_user(conn: &rusqlite::Connection, user: NewUser) -> Result<User, StoreError> {
    let created = User {
        id: Uuid::new_v4(),
        tenant: user.tenant,
        username: user.username,
        password_hash: user.password_hash,
        role: user.role,
        created_at: now_millis(),
    };
    conn.execute(
        "INSERT INTO users (id, tenant_id, username, password_hash, role, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            created.id.to_string(),
            created.tenant.0,
            created.username,
            created.password_hash,
            created.role.as_str(),
            created.created_at
        ],
    )
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict(format!(
            "a user named {:?} already exists",
            created.username
        )),
        other => other,
    })?;
    Ok(created)
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn default_tenant(&self) -> Result<Tenant, StoreError> {
        self.writer
            .exec(1, |ctx| {
                ctx.conn.execute(
                    "INSERT INTO tenants (name, created_at) VALUES (?1, ?2)
                     ON CONFLICT (name) DO NOTHING",
                    params![DEFAULT_TENANT, now_millis()],
                )?;
                let id: i64 = ctx.conn.query_row(
                    "SELECT id FROM tenants WHERE name = ?1",
                    [DEFAULT_TENANT],
                    |r| r.get(0),
                )?;
                Ok(Tenant {
                    id: TenantId(id),
                    name: DEFAULT_TENANT.into(),
                })
            })
            .await
    }

    async fn count_users(&self) -> Result<u64, StoreError> {
        self.readers
            .read(|conn| {
                let n: i64 = conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
                Ok(n as u64)
            })
            .await
    }

    async fn create_user(&self, user: NewUser) -> Result<User, StoreError> {
        self.writer
            .exec(1, move |ctx| insert_user(ctx.conn, user))
            .await
    }

    async fn find_user(&self, username: &str) -> Result<Option<User>, StoreError> {
        let username = username.to_string();
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {USER_COLUMNS} FROM users u WHERE u.username = ?1"
                ))?;
                let mut rows = stmt.query([username])?;
                match rows.next()? {
                    Some(row) => Ok(Some(user_from_row(row, 0)?)),
                    None => Ok(None),
                }
            })
            .await
    }

    async fn create_token(&self, token: NewApiToken) -> Result<ApiToken, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                let created = ApiToken {
                    id: Uuid::new_v4(),
                    tenant: token.tenant,
                    user_id: token.user_id,
                    kind: token.kind,
                    name: token.name,
                    prefix: token.prefix,
                    created_at: now_millis(),
                    expires_at: token.expires_at,
                    revoked_at: None,
                };
                ctx.conn.execute(
                    "INSERT INTO api_tokens (id, tenant_id, user_id, kind, name, prefix,
                        secret_hash, created_at, expires_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        created.id.to_string(),
                        created.tenant.0,
                        created.user_id.to_string(),
                        created.kind.as_str(),
                        created.name,
                        created.prefix,
                        token.secret_hash,
                        created.created_at,
                        created.expires_at
                    ],
                )?;
                Ok(created)
            })
            .await
    }

    async fn find_token(
        &self,
        secret_hash: &str,
        now: Millis,
    ) -> Result<Option<(ApiToken, User)>, StoreError> {
        let secret_hash = secret_hash.to_string();
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {TOKEN_COLUMNS}, {USER_COLUMNS}
                     FROM api_tokens t JOIN users u ON u.id = t.user_id
                     WHERE t.secret_hash = ?1 AND t.revoked_at IS NULL
                       AND (t.expires_at IS NULL OR t.expires_at > ?2)"
                ))?;
                let mut rows = stmt.query(params![secret_hash, now])?;
                match rows.next()? {
                    Some(row) => Ok(Some((token_from_row(row)?, user_from_row(row, 9)?))),
                    None => Ok(None),
                }
            })
            .await
    }

    async fn list_tokens(
        &self,
        tenant: TenantId,
        kind: TokenKind,
    ) -> Result<Vec<ApiToken>, StoreError> {
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {TOKEN_COLUMNS} FROM api_tokens t
                     WHERE t.tenant_id = ?1 AND t.kind = ?2 ORDER BY t.created_at"
                ))?;
                let mut rows = stmt.query(params![tenant.0, kind.as_str()])?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(token_from_row(row)?);
                }
                Ok(out)
            })
            .await
    }

    async fn prune_sessions(&self, before: Millis) -> Result<u64, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                let n = ctx.conn.execute(
                    "DELETE FROM api_tokens WHERE kind = 'session'
                     AND (expires_at < ?1 OR revoked_at < ?1)",
                    [before],
                )?;
                Ok(n as u64)
            })
            .await
    }

    async fn revoke_token(
        &self,
        tenant: TenantId,
        id: Uuid,
        now: Millis,
    ) -> Result<bool, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                let n = ctx.conn.execute(
                    "UPDATE api_tokens SET revoked_at = ?3
                     WHERE tenant_id = ?1 AND id = ?2 AND revoked_at IS NULL",
                    params![tenant.0, id.to_string(), now],
                )?;
                Ok(n > 0)
            })
            .await
    }

    async fn create_tenant(
        &self,
        name: &str,
        admin: NewUser,
    ) -> Result<(Tenant, User), StoreError> {
        let name = name.to_string();
        self.writer
            .exec(2, move |ctx| {
                // One savepoint: a refused admin leaves no tenant behind.
                let id: i64 = ctx.conn.query_row(
                    "UPDATE tenant_id_seq SET last = max(last + 1,
                        (SELECT coalesce(max(id), 0) + 1 FROM tenants)) RETURNING last",
                    [],
                    |r| r.get(0),
                )?;
                ctx.conn
                    .execute(
                        "INSERT INTO tenants (id, name, created_at) VALUES (?1, ?2, ?3)",
                        params![id, name, now_millis()],
                    )
                    .map_err(|e| match StoreError::from(e) {
                        StoreError::Conflict(_) => {
                            StoreError::Conflict(format!("a tenant named {name:?} already exists"))
                        }
                        other => other,
                    })?;
                let tenant = Tenant {
                    id: TenantId(id),
                    name,
                };
                let admin = insert_user(
                    ctx.conn,
                    NewUser {
                        tenant: tenant.id,
                        ..admin
                    },
                )?;
                Ok((tenant, admin))
            })
            .await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.readers
            .read(|conn| {
                let mut stmt = conn.prepare_cached("SELECT id, name FROM tenants ORDER BY name")?;
                let rows = stmt.query_map([], |r| {
                    Ok(Tenant {
                        id: TenantId(r.get(0)?),
                        name: r.get(1)?,
                    })
                })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
    }

    async fn list_users(&self, tenant: TenantId) -> Result<Vec<User>, StoreError> {
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {USER_COLUMNS} FROM users u WHERE u.tenant_id = ?1 ORDER BY u.username"
                ))?;
                let mut rows = stmt.query([tenant.0])?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(user_from_row(row, 0)?);
                }
                Ok(out)
            })
            .await
    }

    async fn delete_user(&self, tenant: TenantId, id: Uuid) -> Result<bool, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                let id = id.to_string();
                // Checked in the writer's transaction, so two admins deleting each other at
                // once cannot leave the tenant with no admin.
                let (is_admin, admins): (bool, i64) = ctx.conn.query_row(
                    "SELECT coalesce(max(id = ?2 AND role = 'admin'), 0),
                            count(*) FILTER (WHERE role = 'admin')
                     FROM users WHERE tenant_id = ?1",
                    params![tenant.0, id],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )?;
                if is_admin && admins <= 1 {
                    return Err(StoreError::Conflict(
                        "this is the tenant's last admin; make another user admin first".into(),
                    ));
                }
                // Tokens first: their sessions and keys must die with the account.
                ctx.conn.execute(
                    "DELETE FROM api_tokens WHERE tenant_id = ?1 AND user_id = ?2",
                    params![tenant.0, id],
                )?;
                let n = ctx.conn.execute(
                    "DELETE FROM users WHERE tenant_id = ?1 AND id = ?2",
                    params![tenant.0, id],
                )?;
                Ok(n > 0)
            })
            .await
    }

    async fn remove_tenant_accounts(&self, tenant: TenantId) -> Result<bool, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                if !tenant_exists(ctx.conn, tenant)? {
                    return Ok(false);
                }
                ctx.conn
                    .execute("DELETE FROM api_tokens WHERE tenant_id = ?1", [tenant.0])?;
                ctx.conn
                    .execute("DELETE FROM users WHERE tenant_id = ?1", [tenant.0])?;
                Ok(true)
            })
            .await
    }

    async fn delete_tenant(&self, tenant: TenantId) -> Result<bool, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                if !tenant_exists(ctx.conn, tenant)? {
                    return Ok(false);
                }
                let devices: i64 = ctx.conn.query_row(
                    "SELECT count(*) FROM devices WHERE tenant_id = ?1",
                    [tenant.0],
                    |row| row.get(0),
                )?;
                if devices > 0 {
                    return Err(StoreError::Conflict(format!(
                        "the tenant still has {devices} devices; delete them first"
                    )));
                }
                for table in [
                    "api_tokens",
                    "users",
                    "rules",
                    "mqtt_acl_rules",
                    "sink_outbox",
                    "dashboards",
                ] {
                    ctx.conn.execute(
                        &format!("DELETE FROM {table} WHERE tenant_id = ?1"),
                        [tenant.0],
                    )?;
                }
                ctx.conn
                    .execute("DELETE FROM tenants WHERE id = ?1", [tenant.0])?;
                Ok(true)
            })
            .await
    }
}

/// Whether the tenant exists.
fn tenant_exists(conn: &rusqlite::Connection, tenant: TenantId) -> Result<bool, StoreError> {
    Ok(optional(conn.query_row(
        "SELECT 1 FROM tenants WHERE id = ?1",
        [tenant.0],
        |_| Ok(()),
    ))?
    .is_some())
}

/// Looks up one optional value; shared by the other modules.
pub(super) fn optional<T>(r: rusqlite::Result<T>) -> Result<Option<T>, StoreError> {
    r.optional().map_err(StoreError::from)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::open_temp;
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn users_and_tokens() {
        let (_dir, store) = open_temp();
        let tenant = store.default_tenant().await.unwrap();
        assert_eq!(store.default_tenant().await.unwrap(), tenant);
        let user = store
            .create_user(NewUser {
                tenant: tenant.id,
                username: "admin".into(),
                password_hash: "h".into(),
                role: Role::Admin,
            })
            .await
            .unwrap();
        let dup = store
            .create_user(NewUser {
                tenant: tenant.id,
                username: "admin".into(),
                password_hash: "h".into(),
                role: Role::Admin,
            })
            .await;
        assert!(matches!(dup, Err(StoreError::Conflict(_))));
        assert_eq!(store.count_users().await.unwrap(), 1);
        assert_eq!(store.find_user("admin").await.unwrap(), Some(user.clone()));

        let token = store
            .create_token(NewApiToken {
                tenant: tenant.id,
                user_id: user.id,
                kind: TokenKind::ApiKey,
                name: "ci".into(),
                prefix: "stk_ab".into(),
                secret_hash: "abc".into(),
                expires_at: Some(1000),
            })
            .await
            .unwrap();
        assert!(store.find_token("abc", 999).await.unwrap().is_some());
        assert!(store.find_token("abc", 1000).await.unwrap().is_none());
        assert!(store.revoke_token(tenant.id, token.id, 5).await.unwrap());
        assert!(store.find_token("abc", 0).await.unwrap().is_none());
        assert!(!store.revoke_token(tenant.id, token.id, 5).await.unwrap());
        assert_eq!(
            store
                .list_tokens(tenant.id, TokenKind::ApiKey)
                .await
                .unwrap()
                .len(),
            1
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn ended_sessions_are_pruned_and_api_keys_stay() {
        let (_dir, store) = open_temp();
        let tenant = store.default_tenant().await.unwrap().id;
        let user = store
            .create_user(NewUser {
                tenant,
                username: "u".into(),
                password_hash: "h".into(),
                role: Role::Admin,
            })
            .await
            .unwrap();
        let token = |kind, hash: &str, expires_at| NewApiToken {
            tenant,
            user_id: user.id,
            kind,
            name: hash.into(),
            prefix: "x".into(),
            secret_hash: hash.into(),
            expires_at,
        };
        store
            .create_token(token(TokenKind::Session, "expired", Some(100)))
            .await
            .unwrap();
        let revoked = store
            .create_token(token(TokenKind::Session, "revoked", Some(10_000)))
            .await
            .unwrap();
        store.revoke_token(tenant, revoked.id, 150).await.unwrap();
        store
            .create_token(token(TokenKind::Session, "live", Some(10_000)))
            .await
            .unwrap();
        let key = store
            .create_token(token(TokenKind::ApiKey, "key", Some(100)))
            .await
            .unwrap();
        store.revoke_token(tenant, key.id, 150).await.unwrap();

        assert_eq!(store.prune_sessions(200).await.unwrap(), 2);
        assert!(store.find_token("live", 200).await.unwrap().is_some());
        let sessions = store.list_tokens(tenant, TokenKind::Session).await.unwrap();
        assert_eq!(sessions.len(), 1);
        let keys = store.list_tokens(tenant, TokenKind::ApiKey).await.unwrap();
        assert_eq!(keys.len(), 1, "API keys are listed even when revoked");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_last_admin_of_a_tenant_stays() {
        let (_dir, store) = open_temp();
        let tenant = store.default_tenant().await.unwrap().id;
        let user = |name: &str, role| NewUser {
            tenant,
            username: name.into(),
            password_hash: "h".into(),
            role,
        };
        let ada = store.create_user(user("ada", Role::Admin)).await.unwrap();
        let bob = store.create_user(user("bob", Role::Admin)).await.unwrap();
        let eve = store.create_user(user("eve", Role::Viewer)).await.unwrap();
        // Two admins deleting each other at once: one wins, the other is refused.
        let (a, b) = tokio::join!(
            store.delete_user(tenant, ada.id),
            store.delete_user(tenant, bob.id)
        );
        let outcomes = [a, b];
        assert_eq!(outcomes.iter().filter(|r| matches!(r, Ok(true))).count(), 1);
        assert!(
            outcomes
                .iter()
                .any(|r| matches!(r, Err(StoreError::Conflict(m)) if m.contains("last admin"))),
            "{outcomes:?}"
        );
        // Other users go as before; an unknown id is not found.
        assert!(store.delete_user(tenant, eve.id).await.unwrap());
        assert!(!store.delete_user(tenant, eve.id).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_tenant_goes_once_its_devices_are_gone() {
        use crate::{DeviceStore, NewDevice};
        let (_dir, store) = open_temp();
        let admin = NewUser {
            tenant: TenantId(0),
            username: "acme-admin".into(),
            password_hash: "h".into(),
            role: Role::Admin,
        };
        let (acme, _) = store.create_tenant("acme", admin).await.unwrap();
        let device = store
            .create_device(
                NewDevice {
                    tenant: acme.id,
                    name: "pump".into(),
                    device_type: "pump".into(),
                    labels: vec![],
                    metadata: serde_json::json!({}),
                },
                1,
            )
            .await
            .unwrap();
        assert!(store.remove_tenant_accounts(acme.id).await.unwrap());
        assert!(store.list_users(acme.id).await.unwrap().is_empty());
        let err = store.delete_tenant(acme.id).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert!(store.delete_device(acme.id, device.id).await.unwrap());
        assert!(store.delete_tenant(acme.id).await.unwrap());
        assert!(!store.delete_tenant(acme.id).await.unwrap());
        assert!(!store.remove_tenant_accounts(acme.id).await.unwrap());
        let names: Vec<String> = store
            .list_tenants()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert!(!names.contains(&"acme".to_string()), "{names:?}");
        // The name is free again; the id is not.
        let admin = NewUser {
            tenant: TenantId(0),
            username: "acme-admin".into(),
            password_hash: "h".into(),
            role: Role::Admin,
        };
        let (again, _) = store.create_tenant("acme", admin).await.unwrap();
        assert!(again.id.0 > acme.id.0, "{again:?} after {acme:?}");
    }
}
