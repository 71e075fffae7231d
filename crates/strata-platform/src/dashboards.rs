//! Dashboards of the web app: named sets of widgets, saved per tenant.
//!
//! The platform checks a widget's shape (type, title, device of the tenant, keys) so that
//! a dashboard saved by one client renders in every other; presentation options stay an
//! open JSON object the app owns.

use serde::{Deserialize, Serialize};
use strata_store::{DashboardRow, Millis};
use uuid::Uuid;

use crate::accounts::Principal;
use crate::{Platform, PlatformError, now_millis};

/// Most widgets on one dashboard.
pub const MAX_WIDGETS: usize = 50;
/// Most keys one widget shows.
pub const MAX_KEYS: usize = 16;
/// Largest `options` object of a widget, as JSON text.
pub const MAX_OPTIONS_BYTES: usize = 4096;

/// What a widget shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WidgetType {
    /// Time-series chart of one device's keys.
    Timeseries,
    /// Gauge of one key.
    Gauge,
    /// The latest value of one key.
    Value,
    /// Latest values of several keys (of one device, or of the tenant's devices).
    Table,
    /// Open alarms (of one device or the tenant).
    Alarms,
}

/// One widget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Widget {
    /// Client-chosen identifier, unique on the dashboard.
    pub id: String,
    /// What it shows.
    #[serde(rename = "type")]
    pub kind: WidgetType,
    /// Heading.
    pub title: String,
    /// Device whose data it shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<Uuid>,
    /// Telemetry keys it shows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    /// Presentation options (range, unit, min/max, ...), owned by the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A dashboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dashboard {
    /// Identifier.
    pub id: Uuid,
    /// Name, unique in the tenant.
    pub name: String,
    /// Widgets in display order.
    pub widgets: Vec<Widget>,
    /// Creation time, ms.
    pub created_at: Millis,
    /// Last change, ms.
    pub updated_at: Millis,
}

impl Platform {
    /// Lists the tenant's dashboards.
    pub async fn list_dashboards(
        &self,
        caller: &Principal,
    ) -> Result<Vec<Dashboard>, PlatformError> {
        let rows = self.store().list_dashboards(caller.tenant).await?;
        rows.into_iter().map(from_row).collect()
    }

    /// Gets one dashboard of the tenant.
    pub async fn dashboard(
        &self,
        caller: &Principal,
        id: Uuid,
    ) -> Result<Dashboard, PlatformError> {
        match self.store().dashboard(caller.tenant, id).await? {
            Some(row) => from_row(row),
            None => Err(PlatformError::not_found(format!("no dashboard {id}"))),
        }
    }

    /// Creates a dashboard.
    pub async fn create_dashboard(
        &self,
        caller: &Principal,
        name: &str,
        widgets: Vec<Widget>,
    ) -> Result<Dashboard, PlatformError> {
        caller.require_write()?;
        self.check_dashboard(caller, name, &widgets).await?;
        let now = now_millis();
        let dashboard = Dashboard {
            id: Uuid::new_v4(),
            name: name.trim().to_string(),
            widgets,
            created_at: now,
            updated_at: now,
        };
        self.store()
            .insert_dashboard(to_row(caller, &dashboard)?)
            .await?;
        Ok(dashboard)
    }

    /// Replaces a dashboard's name and widgets.
    pub async fn update_dashboard(
        &self,
        caller: &Principal,
        id: Uuid,
        name: &str,
        widgets: Vec<Widget>,
    ) -> Result<Dashboard, PlatformError> {
        caller.require_write()?;
        let existing = self.dashboard(caller, id).await?;
        self.check_dashboard(caller, name, &widgets).await?;
        let dashboard = Dashboard {
            name: name.trim().to_string(),
            widgets,
            updated_at: now_millis().max(existing.updated_at),
            ..existing
        };
        if !self
            .store()
            .update_dashboard(to_row(caller, &dashboard)?)
            .await?
        {
            return Err(PlatformError::not_found(format!("no dashboard {id}")));
        }
        Ok(dashboard)
    }

    /// Deletes a dashboard.
    pub async fn delete_dashboard(
        &self,
        caller: &Principal,
        id: Uuid,
    ) -> Result<(), PlatformError> {
        caller.require_write()?;
        if !self.store().delete_dashboard(caller.tenant, id).await? {
            return Err(PlatformError::not_found(format!("no dashboard {id}")));
        }
        Ok(())
    }

    async fn check_dashboard(
        &self,
        caller: &Principal,
        name: &str,
        widgets: &[Widget],
    ) -> Result<(), PlatformError> {
        if name.trim().is_empty() || name.len() > 128 {
            return Err(PlatformError::invalid(
                "dashboard name must be 1 to 128 characters",
            ));
        }
        if widgets.len() > MAX_WIDGETS {
            return Err(PlatformError::invalid(format!(
                "a dashboard holds at most {MAX_WIDGETS} widgets; split it into several"
            )));
        }
        let mut ids = std::collections::HashSet::new();
        for (index, w) in widgets.iter().enumerate() {
            let at = |msg: String| PlatformError::invalid(format!("widgets[{index}]: {msg}"));
            if w.id.is_empty() || w.id.len() > 64 {
                return Err(at("id must be 1 to 64 characters".into()));
            }
            if !ids.insert(w.id.as_str()) {
                return Err(at(format!("id {:?} is used twice", w.id)));
            }
            if w.title.len() > 128 {
                return Err(at("title must be at most 128 characters".into()));
            }
            if w.keys.len() > MAX_KEYS || w.keys.iter().any(|k| k.is_empty() || k.len() > 256) {
                return Err(at(format!(
                    "keys must be at most {MAX_KEYS} names of 1 to 256 characters"
                )));
            }
            let needs_device = matches!(
                w.kind,
                WidgetType::Timeseries | WidgetType::Gauge | WidgetType::Value
            );
            if needs_device && w.device_id.is_none() {
                return Err(at(format!("a {:?} widget needs device_id", w.kind)));
            }
            if needs_device && w.keys.is_empty() {
                return Err(at(format!("a {:?} widget needs at least one key", w.kind)));
            }
            if let Some(device) = w.device_id {
                // A widget may only point at the tenant's own devices.
                if self
                    .store()
                    .get_device(caller.tenant, device)
                    .await?
                    .is_none()
                {
                    return Err(at(format!("no device {device}")));
                }
            }
            let options_len = w
                .options
                .as_ref()
                .map(|o| serde_json::to_vec(o).map(|v| v.len()).unwrap_or(usize::MAX))
                .unwrap_or(0);
            if options_len > MAX_OPTIONS_BYTES {
                return Err(at(format!(
                    "options must be at most {MAX_OPTIONS_BYTES} bytes of JSON"
                )));
            }
        }
        Ok(())
    }
}

fn to_row(caller: &Principal, d: &Dashboard) -> Result<DashboardRow, PlatformError> {
    Ok(DashboardRow {
        id: d.id,
        tenant: caller.tenant,
        name: d.name.clone(),
        widgets: serde_json::to_string(&d.widgets)
            .map_err(|e| PlatformError::invalid(e.to_string()))?,
        created_at: d.created_at,
        updated_at: d.updated_at,
    })
}

fn from_row(row: DashboardRow) -> Result<Dashboard, PlatformError> {
    let widgets = serde_json::from_str(&row.widgets).map_err(|e| {
        tracing::error!(dashboard = %row.id, error = %e, "stored dashboard does not parse");
        PlatformError::new(crate::ErrorCode::Internal, "stored dashboard is damaged")
    })?;
    Ok(Dashboard {
        id: row.id,
        name: row.name,
        widgets,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::platform;
    use strata_store::Role;

    fn widget(id: &str, kind: WidgetType, device: Option<Uuid>) -> Widget {
        Widget {
            id: id.into(),
            kind,
            title: "t".into(),
            device_id: device,
            keys: vec!["temperature".into()],
            options: None,
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn dashboards_are_checked_and_isolated() {
        let (_dir, p) = platform().await;
        let admin = crate::test_support::admin(&p).await;
        let device = crate::test_support::device(&p, &admin, "pump").await;
        let d = p
            .create_dashboard(
                &admin,
                "plant",
                vec![widget("a", WidgetType::Timeseries, Some(device))],
            )
            .await
            .unwrap();
        // Unknown device, missing device, duplicate ids are rejected with the widget index.
        for bad in [
            vec![widget("a", WidgetType::Value, Some(Uuid::new_v4()))],
            vec![widget("a", WidgetType::Gauge, None)],
            vec![
                widget("a", WidgetType::Alarms, None),
                widget("a", WidgetType::Alarms, None),
            ],
        ] {
            let err = p.create_dashboard(&admin, "x", bad).await.unwrap_err();
            assert!(err.to_string().contains("widgets["), "{err}");
        }
        // Another tenant neither sees nor changes it.
        let (_, other_admin) = p
            .create_tenant(&admin, "acme", "acme-admin", "password123")
            .await
            .unwrap();
        let other = crate::test_support::principal_for(&p, &other_admin).await;
        assert!(p.list_dashboards(&other).await.unwrap().is_empty());
        assert!(p.dashboard(&other, d.id).await.is_err());
        assert!(
            p.update_dashboard(&other, d.id, "mine", vec![])
                .await
                .is_err()
        );
        assert!(p.delete_dashboard(&other, d.id).await.is_err());
        // A viewer reads but cannot change.
        let viewer_user = p
            .add_user(&admin, "viewer1", "password123", Role::Viewer)
            .await
            .unwrap();
        let viewer = crate::test_support::principal_for(&p, &viewer_user).await;
        assert_eq!(p.list_dashboards(&viewer).await.unwrap().len(), 1);
        assert!(p.delete_dashboard(&viewer, d.id).await.is_err());
        let renamed = p
            .update_dashboard(&admin, d.id, "plant 2", vec![])
            .await
            .unwrap();
        assert_eq!(p.dashboard(&admin, d.id).await.unwrap(), renamed);
    }
}
