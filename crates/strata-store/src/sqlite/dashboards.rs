//! Dashboards of the web app.

use async_trait::async_trait;
use rusqlite::{Row, params};
use uuid::Uuid;

use super::SqliteStore;
use super::accounts::parse_uuid;
use crate::{DashboardRow, DashboardStore, StoreError, TenantId};

const COLUMNS: &str = "id, tenant_id, name, widgets, created_at, updated_at";

fn from_row(row: &Row<'_>) -> Result<DashboardRow, StoreError> {
    let id: String = row.get(0)?;
    Ok(DashboardRow {
        id: parse_uuid(&id)?,
        tenant: TenantId(row.get(1)?),
        name: row.get(2)?,
        widgets: row.get(3)?,
        created_at: row.get(4)?,
        updated_at: row.get(5)?,
    })
}

fn name_taken(e: rusqlite::Error, name: &str) -> StoreError {
    match StoreError::from(e) {
        StoreError::Conflict(_) => {
            StoreError::Conflict(format!("a dashboard named {name:?} exists already"))
        }
        other => other,
    }
}

#[async_trait]
impl DashboardStore for SqliteStore {
    async fn list_dashboards(&self, tenant: TenantId) -> Result<Vec<DashboardRow>, StoreError> {
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM dashboards WHERE tenant_id = ?1 ORDER BY name"
                ))?;
                let mut rows = stmt.query([tenant.0])?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(from_row(row)?);
                }
                Ok(out)
            })
            .await
    }

    async fn dashboard(
        &self,
        tenant: TenantId,
        id: Uuid,
    ) -> Result<Option<DashboardRow>, StoreError> {
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM dashboards WHERE tenant_id = ?1 AND id = ?2"
                ))?;
                let mut rows = stmt.query(params![tenant.0, id.to_string()])?;
                match rows.next()? {
                    Some(row) => Ok(Some(from_row(row)?)),
                    None => Ok(None),
                }
            })
            .await
    }

    async fn insert_dashboard(&self, row: DashboardRow) -> Result<(), StoreError> {
        self.writer
            .exec(1, move |ctx| {
                ctx.conn
                    .execute(
                        "INSERT INTO dashboards (id, tenant_id, name, widgets, created_at,
                            updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![
                            row.id.to_string(),
                            row.tenant.0,
                            row.name,
                            row.widgets,
                            row.created_at,
                            row.updated_at
                        ],
                    )
                    .map_err(|e| name_taken(e, &row.name))?;
                Ok(())
            })
            .await
    }

    async fn update_dashboard(&self, row: DashboardRow) -> Result<bool, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                let n = ctx
                    .conn
                    .execute(
                        "UPDATE dashboards SET name = ?3, widgets = ?4, updated_at = ?5
                         WHERE tenant_id = ?1 AND id = ?2",
                        params![
                            row.tenant.0,
                            row.id.to_string(),
                            row.name,
                            row.widgets,
                            row.updated_at
                        ],
                    )
                    .map_err(|e| name_taken(e, &row.name))?;
                Ok(n > 0)
            })
            .await
    }

    async fn delete_dashboard(&self, tenant: TenantId, id: Uuid) -> Result<bool, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                let n = ctx.conn.execute(
                    "DELETE FROM dashboards WHERE tenant_id = ?1 AND id = ?2",
                    params![tenant.0, id.to_string()],
                )?;
                Ok(n > 0)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::open_temp;
    use super::*;
    use crate::AccountStore;

    fn row(tenant: TenantId, name: &str) -> DashboardRow {
        DashboardRow {
            id: Uuid::new_v4(),
            tenant,
            name: name.into(),
            widgets: "[]".into(),
            created_at: 1,
            updated_at: 1,
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn dashboards_are_per_tenant() {
        let (_dir, store) = open_temp();
        let a = store.default_tenant().await.unwrap().id;
        let admin = crate::NewUser {
            tenant: a,
            username: "other-admin".into(),
            password_hash: "x".into(),
            role: crate::Role::Admin,
        };
        let b = store.create_tenant("other", admin).await.unwrap().0.id;
        let mine = row(a, "plant");
        store.insert_dashboard(mine.clone()).await.unwrap();
        // Same name in another tenant is fine; the same id from another tenant changes nothing.
        store.insert_dashboard(row(b, "plant")).await.unwrap();
        let hijack = DashboardRow {
            tenant: b,
            name: "stolen".into(),
            ..mine.clone()
        };
        assert!(!store.update_dashboard(hijack).await.unwrap());
        assert_eq!(
            store.dashboard(a, mine.id).await.unwrap(),
            Some(mine.clone())
        );
        assert_eq!(store.dashboard(b, mine.id).await.unwrap(), None);
        // Duplicate name in one tenant is a conflict.
        let err = store.insert_dashboard(row(a, "plant")).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        let updated = DashboardRow {
            widgets: r#"[{"id":"w1"}]"#.into(),
            updated_at: 2,
            ..mine.clone()
        };
        assert!(store.update_dashboard(updated.clone()).await.unwrap());
        assert_eq!(
            store.list_dashboards(a).await.unwrap(),
            vec![updated.clone()]
        );
        assert!(!store.delete_dashboard(b, mine.id).await.unwrap());
        assert!(store.delete_dashboard(a, mine.id).await.unwrap());
        assert!(store.list_dashboards(a).await.unwrap().is_empty());
        // An update racing a delete does not bring the dashboard back.
        assert!(!store.update_dashboard(updated).await.unwrap());
        assert!(store.list_dashboards(a).await.unwrap().is_empty());
    }
}
