//! The retention sweep: deletes points older than `telemetry.retention`.

use std::time::Duration;

use crate::{Platform, now_millis};

impl Platform {
    /// Deletes every device's points older than the retention period; returns how many.
    /// Does nothing when retention is `0s`.
    pub async fn sweep_retention(&self) -> Result<u64, crate::PlatformError> {
        let retention = self.config().telemetry.retention;
        if retention.is_zero() {
            return Ok(0);
        }
        let cutoff = now_millis() - retention.as_millis() as i64;
        let mut deleted = 0;
        for device in self.store().all_device_keys().await? {
            deleted += self.store().delete_before(device, cutoff).await?;
        }
        metrics::counter!("strata_retention_deleted_points_total").increment(deleted);
        Ok(deleted)
    }

    /// Runs [`Platform::sweep_retention`] every `telemetry.retention_interval`, forever.
    ///
    /// # Cancel safety
    /// Safe to drop at any point: each device's delete is its own transaction.
    pub async fn run_retention(self) {
        let interval: Duration = self.config().telemetry.retention_interval;
        if self.config().telemetry.retention.is_zero() {
            return;
        }
        let mut ticker = tokio::time::interval(interval);
        loop {
            ticker.tick().await;
            match self.sweep_retention().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "retention sweep"),
                Err(e) => tracing::warn!(error = %e, "retention sweep failed; will retry"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::accounts::Principal;
    use crate::registry::DeviceSpec;
    use strata_config::Config;
    use strata_store::sqlite::{SqliteOptions, SqliteStore};
    use strata_store::{Point, Role, Value};

    #[tokio::test(flavor = "multi_thread")]
    async fn sweep_drops_old_points_and_keeps_latest() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Arc::new(SqliteStore::open(&SqliteOptions::new(dir.path().join("t.db"))).unwrap());
        let mut config = Config::default();
        config.telemetry.retention = Duration::from_secs(3600);
        let p = Platform::new(store.clone(), config).await.unwrap();
        let me = Principal {
            tenant: p.default_tenant(),
            user_id: uuid::Uuid::new_v4(),
            username: "a".into(),
            role: Role::Admin,
            token_id: uuid::Uuid::new_v4(),
        };
        let d = p
            .create_device(
                &me,
                DeviceSpec {
                    name: "d".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .device;
        let now = now_millis();
        let old = now - 2 * 3_600_000;
        let points = [old, old + 1, now]
            .iter()
            .map(|&ts| Point {
                device: d.key,
                key: "k".into(),
                ts,
                value: Value::Int(1),
            })
            .collect();
        p.store().write_points(points).await.unwrap();
        assert_eq!(p.sweep_retention().await.unwrap(), 2);
        assert_eq!(p.sweep_retention().await.unwrap(), 0);
        assert_eq!(p.store().latest(d.key, &[]).await.unwrap()[0].ts, now);
    }
}
