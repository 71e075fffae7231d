//! The live event stream over WebSocket, for the web app's charts and dashboards.
//!
//! Events are the same as on `/api/events` (SSE) but sent in batches: one text frame holds
//! a JSON array of every event of the last ~50 ms, so a dashboard fed 1,000 updates a
//! second gets ~20 frames a second instead of 1,000.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use strata_platform::accounts::Principal;
use strata_platform::events::Event;
use tokio::sync::broadcast::{self, error::RecvError};
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Auth, SESSION_COOKIE, bearer_header, cookie};

/// How long events gather before a frame goes out.
const BATCH_WINDOW: Duration = Duration::from_millis(50);
/// Most events in one frame (a larger burst goes out in several).
const MAX_BATCH: usize = 2000;
/// How often the socket (and the SSE stream) re-checks that its session is still valid
/// (sign-out, deletion).
pub(crate) const RECHECK: Duration = Duration::from_secs(30);

/// What the client may send: narrows the stream to some devices (`null`: all).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Filter {
    devices: Option<Vec<Uuid>>,
}

/// Opens the live stream. Authenticated by the session cookie (or a bearer token) at the
/// handshake; a handshake from another site's page (Origin neither this host nor one of
/// `http.allowed_origins`) is refused.
#[utoipa::path(get, path = "/api/ws", tag = "events", security(("bearer" = [])),
    responses((status = 101, description = "WebSocket; frames are JSON arrays of events \
        `{\"kind\", \"device_id\", \"ts\", \"data\"}`; send `{\"devices\": [ids] | null}` to filter"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn socket(
    State(state): State<AppState>,
    Auth(me): Auth,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    if !origin_allowed(&headers, &state.platform.config().http.allowed_origins) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_origin",
            "WebSocket handshakes must come from the app's own origin; behind a proxy that \
             rewrites the Host header, add the public origin to http.allowed_origins",
        ));
    }
    let secret = credential(&headers).map(str::to_string);
    // Subscribed before the 101 goes out: a client that acts as soon as it sees the upgrade
    // must get the events its actions cause.
    let events = state.platform.events();
    Ok(ws
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| run(socket, state, me, secret, events)))
}

/// Browsers send cookies with cross-site WebSocket handshakes; the Origin header (which
/// pages cannot forge) must name this host or a configured origin. Non-browser clients send
/// no Origin.
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if allowed.iter().any(|a| {
        a.trim_end_matches('/')
            .eq_ignore_ascii_case(origin.trim_end_matches('/'))
    }) {
        return true;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .split_once("://")
        .map_or("", |(_, rest)| rest.trim_end_matches('/'));
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

/// The secret the handshake authenticated with, to re-check it later.
pub(crate) fn credential(headers: &HeaderMap) -> Option<&str> {
    bearer_header(headers).or_else(|| cookie(headers, SESSION_COOKIE))
}

async fn run(
    socket: WebSocket,
    state: AppState,
    me: Principal,
    secret: Option<String>,
    mut events: broadcast::Receiver<Arc<Event>>,
) {
    let (mut sink, mut stream) = socket.split();
    let mut devices: Option<HashSet<Uuid>> = None;
    let mut batch: Vec<Arc<Event>> = Vec::new();
    let mut lagged = 0u64;
    let mut flush = tokio::time::interval(BATCH_WINDOW);
    // The flush branch sleeps while nothing is batched: ticks missed meanwhile must not
    // fire in a burst (which would send every event alone) once events come again.
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.tick().await;
    loop {
        tokio::select! {
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<Filter>(&text) {
                    Ok(filter) => devices = filter.devices.map(|d| d.into_iter().collect()),
                    Err(e) => {
                        let reply = serde_json::json!([{"kind": "error", "device_id": null,
                            "ts": strata_platform::now_millis(),
                            "data": {"message": format!(
                                "expected {{\"devices\": [ids] | null}}: {e}")}}]);
                        if sink.send(Message::Text(reply.to_string().into())).await.is_err() {
                            return;
                        }
                    }
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            received = events.recv() => match received {
                Ok(event) => {
                    let wanted = event.tenant == me.tenant
                        && devices.as_ref().is_none_or(|d| {
                            event.device_id.is_some_and(|id| d.contains(&id))
                        });
                    if wanted {
                        batch.push(event);
                        if batch.len() >= MAX_BATCH
                            && send_batch(&mut sink, &mut batch, &mut lagged).await.is_err()
                        {
                            return;
                        }
                    }
                }
                Err(RecvError::Lagged(missed)) => lagged += missed,
                Err(RecvError::Closed) => return,
            },
            _ = flush.tick(), if !batch.is_empty() || lagged > 0 => {
                if send_batch(&mut sink, &mut batch, &mut lagged).await.is_err() {
                    return;
                }
            }
            _ = recheck.tick() => {
                let valid = match &secret {
                    Some(s) => state.platform.authenticate(s).await.is_ok(),
                    None => false,
                };
                if !valid {
                    let _ = sink.send(Message::Close(None)).await;
                    return;
                }
            }
        }
    }
}

async fn send_batch<S>(
    sink: &mut S,
    batch: &mut Vec<Arc<Event>>,
    lagged: &mut u64,
) -> Result<(), axum::Error>
where
    S: futures_util::Sink<Message, Error = axum::Error> + Unpin,
{
    let mut frame = String::with_capacity(batch.len() * 128 + 2);
    frame.push('[');
    for (i, event) in batch.iter().enumerate() {
        if i > 0 {
            frame.push(',');
        }
        match serde_json::to_string(&**event) {
            Ok(json) => frame.push_str(&json),
            Err(_) => frame.push_str("null"),
        }
    }
    if *lagged > 0 {
        // The client was too slow: tell it how many it missed, as SSE does.
        if !batch.is_empty() {
            frame.push(',');
        }
        frame.push_str(&format!(
            "{{\"kind\":\"lagged\",\"device_id\":null,\"ts\":{},\"data\":{{\"missed\":{lagged}}}}}",
            strata_platform::now_millis()
        ));
        *lagged = 0;
    }
    frame.push(']');
    batch.clear();
    sink.send(Message::Text(frame.into())).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn origin_must_match_host() {
        let same_origin = |h: &HeaderMap| origin_allowed(h, &[]);
        assert!(same_origin(&headers(&[(header::HOST, "127.0.0.1:8080")])));
        assert!(same_origin(&headers(&[
            (header::HOST, "127.0.0.1:8080"),
            (header::ORIGIN, "http://127.0.0.1:8080"),
        ])));
        assert!(!same_origin(&headers(&[
            (header::HOST, "127.0.0.1:8080"),
            (header::ORIGIN, "https://evil.example"),
        ])));
        assert!(!same_origin(&headers(&[(
            header::ORIGIN,
            "http://127.0.0.1:8080"
        )])));
    }

    #[test]
    fn configured_origins_pass_behind_a_proxy() {
        let allowed = ["https://iot.example.com".to_string()];
        // The proxy rewrote Host; the browser's Origin is the public one.
        let proxied =
            |origin: &str| headers(&[(header::HOST, "127.0.0.1:8080"), (header::ORIGIN, origin)]);
        assert!(origin_allowed(
            &proxied("https://iot.example.com"),
            &allowed
        ));
        assert!(origin_allowed(
            &proxied("https://IOT.example.com"),
            &allowed
        ));
        assert!(!origin_allowed(&proxied("https://evil.example"), &allowed));
        assert!(!origin_allowed(
            &proxied("http://iot.example.com"),
            &allowed
        ));
    }

    #[test]
    fn credential_from_cookie_or_bearer() {
        let h = headers(&[(header::COOKIE, "a=b; strata_session=sts_x; c=d")]);
        assert_eq!(credential(&h), Some("sts_x"));
        let h = headers(&[(header::AUTHORIZATION, "Bearer stk_y")]);
        assert_eq!(credential(&h), Some("stk_y"));
        assert_eq!(credential(&HeaderMap::new()), None);
    }
}
