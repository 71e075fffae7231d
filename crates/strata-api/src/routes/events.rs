//! The live event stream over Server-Sent Events.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiQuery, Auth};

/// Which events.
#[derive(Debug, Deserialize, IntoParams)]
pub struct EventQuery {
    /// Comma-separated kinds: telemetry, attributes, shadow, connect, disconnect, alarm,
    /// lwm2m (registrations and notifications) (default: all).
    kinds: Option<String>,
    /// Only this device's.
    device_id: Option<Uuid>,
}

/// Streams the tenant's events as they happen (Server-Sent Events): each is an SSE event
/// named by its kind, with data `{"kind", "device_id", "ts", "data"}`. A client too slow
/// to keep up gets a `lagged` event telling how many it missed.
#[utoipa::path(get, path = "/api/events", tag = "events", security(("bearer" = [])),
    params(EventQuery),
    responses((status = 200, description = "text/event-stream"),
        (status = 401, body = ErrorBody)))]
pub(crate) async fn stream(
    State(state): State<AppState>,
    Auth(me): Auth,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    // Re-checked while the stream lasts, so signing out or deleting the user ends it.
    let secret = super::live::credential(&headers).map(str::to_string);
    let kinds: Option<Vec<String>> = q
        .kinds
        .map(|k| k.split(',').map(|s| s.trim().to_string()).collect());
    let mut events = state.platform.events();
    let tenant = me.tenant;
    let device = q.device_id;
    let platform = state.platform.clone();
    let stream = async_stream(move |tx| async move {
        let mut recheck = tokio::time::interval(super::live::RECHECK);
        recheck.tick().await;
        loop {
            // Ends with the client, even while no event comes.
            let received = tokio::select! {
                received = events.recv() => received,
                () = tx.closed() => return,
                _ = recheck.tick() => {
                    let valid = match &secret {
                        Some(s) => platform.authenticate(s).await.is_ok(),
                        None => false,
                    };
                    if !valid {
                        return;
                    }
                    continue;
                }
            };
            match received {
                Ok(event) => {
                    if event.tenant != tenant
                        || device.is_some_and(|d| event.device_id != Some(d))
                        || kinds
                            .as_ref()
                            .is_some_and(|k| !k.iter().any(|k| k == event.kind))
                    {
                        continue;
                    }
                    let sse = SseEvent::default()
                        .event(event.kind)
                        .json_data(&*event)
                        .unwrap_or_else(|_| SseEvent::default().comment("unencodable"));
                    if tx.send(Ok(sse)).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    let sse = SseEvent::default()
                        .event("lagged")
                        .data(format!("{{\"missed\":{missed}}}"));
                    if tx.send(Ok(sse)).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// A stream fed by a task (the receiving end of a small channel).
fn async_stream<F, Fut>(produce: F) -> impl Stream<Item = Result<SseEvent, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<SseEvent, Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(produce(tx));
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
