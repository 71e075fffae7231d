//! Telemetry queries for people and applications.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use strata_platform::now_millis;
use strata_platform::telemetry::RangeRequest;
use strata_store::{Aggregate, Order, TimedValue};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, ApiQuery, Auth};

/// A value at a time.
#[derive(Debug, Serialize, ToSchema)]
pub struct TsValue {
    /// Timestamp, ms since epoch.
    pub ts: i64,
    /// Number, boolean, string or JSON.
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
}

impl From<TimedValue> for TsValue {
    fn from(p: TimedValue) -> Self {
        Self {
            ts: p.ts,
            value: p.value.to_json(),
        }
    }
}

/// Keys to select: comma-separated; all keys when left out.
#[derive(Debug, Deserialize, IntoParams)]
pub struct KeysQuery {
    /// Comma-separated key names, e.g. `temp,hum`.
    pub keys: Option<String>,
}

fn split_keys(keys: Option<&str>) -> Vec<String> {
    keys.map(|k| {
        k.split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

/// Latest value of each key.
#[utoipa::path(get, path = "/api/devices/{id}/telemetry/latest", tag = "telemetry",
    security(("bearer" = [])), params(("id" = Uuid, Path), KeysQuery),
    responses((status = 200, description = "Key -> latest value",
        body = BTreeMap<String, TsValue>,
        example = json!({"temp": {"ts": 1700000000000i64, "value": 21.5}})),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn latest(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<KeysQuery>,
) -> Result<Json<BTreeMap<String, TsValue>>, ApiError> {
    let keys = split_keys(q.keys.as_deref());
    let latest = state.platform.latest_telemetry(&me, id, &keys).await?;
    Ok(Json(
        latest
            .into_iter()
            .map(|l| {
                (
                    l.key,
                    TsValue {
                        ts: l.ts,
                        value: l.value.to_json(),
                    },
                )
            })
            .collect(),
    ))
}

/// Keys a device has sent.
#[utoipa::path(get, path = "/api/devices/{id}/telemetry/keys", tag = "telemetry",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = [String]), (status = 404, body = ErrorBody)))]
pub(crate) async fn keys(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(state.platform.telemetry_keys(&me, id).await?))
}

/// Raw points in a time range.
#[derive(Debug, Deserialize, IntoParams)]
pub struct RangeParams {
    /// Comma-separated key names; all keys when left out.
    pub keys: Option<String>,
    /// Inclusive start, ms since epoch (default: the beginning).
    pub start: Option<i64>,
    /// Exclusive end, ms since epoch (default: no end).
    pub end: Option<i64>,
    /// Most points per key, 1 to 10000 (default 100).
    pub limit: Option<u32>,
    /// `desc` (newest first, default) or `asc`.
    #[param(value_type = Option<String>)]
    pub order: Option<Order>,
    /// For charts: at most this many points per key (2 to 20000), oldest first; a longer
    /// range is thinned to the lowest and highest point of equal time slices (peaks
    /// survive) and the series says `downsampled: true`. `limit`, `order` and paging do not
    /// apply.
    pub max_points: Option<u32>,
}

/// One key's points.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesOut {
    /// Key.
    pub key: String,
    /// Points in the order asked.
    pub points: Vec<TsValue>,
    /// When more points exist: pass it as `start` (asc) or `end` (desc) to get the next page.
    pub next: Option<i64>,
    /// Whether the points were thinned for `max_points`.
    pub downsampled: bool,
}

/// Range query answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct RangeOut {
    /// One entry per key.
    pub series: Vec<SeriesOut>,
}

/// Raw points per key in a time range, with a limit and paging.
#[utoipa::path(get, path = "/api/devices/{id}/telemetry", tag = "telemetry",
    security(("bearer" = [])), params(("id" = Uuid, Path), RangeParams),
    responses((status = 200, body = RangeOut), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn range(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<RangeParams>,
) -> Result<Json<RangeOut>, ApiError> {
    let request = RangeRequest {
        keys: split_keys(q.keys.as_deref()),
        start: q.start.unwrap_or(0),
        end: q.end.unwrap_or(i64::MAX),
        limit: q.limit.unwrap_or(100),
        order: q.order.unwrap_or_default(),
        max_points: q.max_points,
    };
    let pages = state.platform.telemetry_range(&me, id, request).await?;
    Ok(Json(RangeOut {
        series: pages
            .into_iter()
            .map(|p| SeriesOut {
                key: p.key,
                points: p.points.into_iter().map(TsValue::from).collect(),
                next: p.next,
                downsampled: p.downsampled,
            })
            .collect(),
    }))
}

/// Aggregate query parameters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AggregateParams {
    /// Comma-separated key names; all keys when left out.
    pub keys: Option<String>,
    /// Inclusive start, ms (default: 24 hours before `end`).
    pub start: Option<i64>,
    /// Exclusive end, ms (default: now).
    pub end: Option<i64>,
    /// Interval length in ms (default 3600000, one hour); intervals align to `start`.
    pub interval: Option<i64>,
    /// `min`, `max`, `avg` (default), `sum` or `count`.
    #[param(value_type = Option<String>)]
    pub agg: Option<Aggregate>,
}

/// One interval.
#[derive(Debug, Serialize, ToSchema)]
pub struct BucketOut {
    /// Interval start, ms.
    pub ts: i64,
    /// The aggregate; null when no point in the interval is numeric.
    pub value: Option<f64>,
    /// Points in the interval.
    pub count: u64,
}

/// One key's intervals.
#[derive(Debug, Serialize, ToSchema)]
pub struct AggregateSeries {
    /// Key.
    pub key: String,
    /// Non-empty intervals in time order.
    pub buckets: Vec<BucketOut>,
}

/// Aggregate query answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct AggregateOut {
    /// The function applied.
    #[schema(value_type = String, example = "avg")]
    pub agg: Aggregate,
    /// Interval length, ms.
    pub interval: i64,
    /// One entry per key.
    pub series: Vec<AggregateSeries>,
}

/// Aggregates (min, max, avg, sum, count) over fixed intervals.
#[utoipa::path(get, path = "/api/devices/{id}/telemetry/aggregate", tag = "telemetry",
    security(("bearer" = [])), params(("id" = Uuid, Path), AggregateParams),
    responses((status = 200, body = AggregateOut), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn aggregate(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<AggregateParams>,
) -> Result<Json<AggregateOut>, ApiError> {
    let end = q.end.unwrap_or_else(|| now_millis() + 1);
    let start = q.start.unwrap_or(end.saturating_sub(24 * 3_600_000));
    let interval = q.interval.unwrap_or(3_600_000);
    let agg = q.agg.unwrap_or(Aggregate::Avg);
    let series = state
        .platform
        .telemetry_aggregate(
            &me,
            id,
            split_keys(q.keys.as_deref()),
            start,
            end,
            interval,
            agg,
        )
        .await?;
    Ok(Json(AggregateOut {
        agg,
        interval,
        series: series
            .into_iter()
            .map(|(key, buckets)| AggregateSeries {
                key,
                buckets: buckets
                    .into_iter()
                    .map(|b| BucketOut {
                        ts: b.start,
                        value: b.value,
                        count: b.count,
                    })
                    .collect(),
            })
            .collect(),
    }))
}

/// Delete parameters: `start` and `end` are required so nobody deletes everything by accident.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DeleteParams {
    /// Comma-separated key names; all keys when left out.
    pub keys: Option<String>,
    /// Inclusive start, ms.
    pub start: i64,
    /// Exclusive end, ms.
    pub end: i64,
}

/// Points deleted.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    /// How many.
    pub deleted: u64,
}

/// Deletes points in a time range; latest values are recomputed.
#[utoipa::path(delete, path = "/api/devices/{id}/telemetry", tag = "telemetry",
    security(("bearer" = [])), params(("id" = Uuid, Path), DeleteParams),
    responses((status = 200, body = Deleted), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<DeleteParams>,
) -> Result<Json<Deleted>, ApiError> {
    let keys = split_keys(q.keys.as_deref());
    let deleted = state
        .platform
        .delete_telemetry(&me, id, &keys, q.start, q.end)
        .await?;
    Ok(Json(Deleted { deleted }))
}
