//! The HTTP/1.1 server loop around the router: `axum::serve` with the limits it lacks.
//!
//! A client that opens connections and sends nothing (or sends a request head a byte at a
//! time, or leaves a keep-alive connection idle) must not hold a socket and a task forever:
//! hyper's header-read timeout needs a timer, which `axum::serve` does not give it. Open
//! connections are bounded too (`http.max_connections`, to be kept below the process's
//! open-file limit), so a flood waits in the kernel's backlog instead of using up the file
//! descriptors the MQTT broker and SQLite need.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, watch};

/// How long a stop waits for responses in flight. Event streams and long-polls would hold
/// it much longer (an event stream forever), so the stop goes on without them after this.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` completes, then lets the requests in flight
/// finish (connections close once their current response is done), for `DRAIN_TIMEOUT` at
/// most. `header_timeout` bounds the wait for each request head (`http.header_timeout`),
/// `max_connections` the connections open at once (`http.max_connections`).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    max_connections: usize,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(max_connections));
    let (stop_tx, stop_rx) = watch::channel(());
    // Every connection task holds a sender; `recv` ends once all of them are gone.
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before accept: the
                    // listener itself is fine. Back off so a full table is not a busy loop.
                    tracing::warn!(error = %e, "HTTP accept failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let mut stop = stop_rx.clone();
        let done = done_tx.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let _done = done;
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let connection = builder
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, "HTTP connection ended with an error");
            }
        });
    }
    // New clients are refused at once rather than left in the backlog during the drain.
    drop(listener);
    drop(stop_rx);
    let _ = stop_tx.send(());
    drop(done_tx);
    if tokio::time::timeout(DRAIN_TIMEOUT, done_rx.recv())
        .await
        .is_err()
    {
        tracing::info!(
            "stopped waiting for HTTP responses still streaming; they end with the process"
        );
    }
    Ok(())
}
