//! Durable HTTP telemetry ingest: many connections post telemetry as fast as the server
//! acknowledges it; every acknowledged point is on disk (the server commits before answering).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::server::{ADMIN_PASSWORD, Server};
use crate::stats::{median, quantile};

/// `strata bench ingest` options.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Points per request in the batched scenario.
    #[arg(long, default_value_t = 100)]
    pub(crate) batch: usize,
    /// Concurrent HTTP connections.
    #[arg(long, default_value_t = 64)]
    pub(crate) connections: usize,
    /// Devices sending (each request comes from one device).
    #[arg(long, default_value_t = 100)]
    pub(crate) devices: usize,
    /// Keys per timestamp (a batch holds batch/keys timestamps).
    #[arg(long, default_value_t = 10)]
    pub(crate) keys: usize,
    /// Measured seconds per run.
    #[arg(long, default_value_t = 10)]
    pub(crate) seconds: u64,
    /// Runs per scenario (the median is reported); each run gets a fresh server.
    #[arg(long, default_value_t = 3)]
    pub(crate) runs: usize,
    /// Load generator threads (the rest of the machine is the server's).
    #[arg(long, default_value_t = 1)]
    pub(crate) client_threads: usize,
    /// Which scenarios: `batched`, `single` or `both`.
    #[arg(long, default_value = "both")]
    pub(crate) scenario: String,
    /// Server binary (default: this executable).
    #[arg(long)]
    pub(crate) server: Option<PathBuf>,
    /// `storage.sync` for the server: `full` (fsync per commit) or `normal`.
    #[arg(long, default_value = "full")]
    pub(crate) sync: String,
    /// Also write the result table (Markdown) to this file.
    #[arg(long)]
    pub(crate) markdown: Option<PathBuf>,
}

/// One run's figures.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RunResult {
    pub(crate) points_per_sec: f64,
    pub(crate) requests_per_sec: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) server_cpu_us_per_point: f64,
    pub(crate) errors: u64,
}

/// Runs the ingest benchmark.
pub fn run(args: IngestArgs) -> anyhow::Result<()> {
    if args.keys == 0 || args.batch == 0 || args.devices == 0 || args.connections == 0 {
        bail!("--batch, --keys, --devices and --connections must be at least 1");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: IngestArgs) -> anyhow::Result<()> {
    let binary = match &args.server {
        Some(p) => p.clone(),
        None => std::env::current_exe().context("cannot find this executable")?,
    };
    let scenarios: Vec<(&str, usize)> = match args.scenario.as_str() {
        "batched" => vec![("batched", args.batch)],
        "single" => vec![("single-point", 1)],
        "both" => vec![("batched", args.batch), ("single-point", 1)],
        other => bail!("unknown --scenario {other:?}; use batched, single or both"),
    };
    let mut table = String::new();
    writeln!(
        table,
        "| scenario | points/request | points/s | requests/s | p50 ms | p99 ms | server CPU µs/point | errors |"
    )?;
    writeln!(table, "|---|---:|---:|---:|---:|---:|---:|---:|")?;
    for (name, batch) in scenarios {
        let mut results = Vec::new();
        for run in 1..=args.runs {
            let r = one_run(
                &args,
                &binary,
                batch,
                &format!("{name} run {run}/{}", args.runs),
                &[],
            )
            .await?;
            eprintln!(
                "  {name} run {run}: {:.0} points/s, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, \
                 {:.2} µs CPU/point, {} errors",
                r.points_per_sec,
                r.requests_per_sec,
                r.p50_ms,
                r.p99_ms,
                r.server_cpu_us_per_point,
                r.errors
            );
            results.push(r);
        }
        let m = |f: fn(&RunResult) -> f64| median(&results.iter().map(f).collect::<Vec<_>>());
        writeln!(
            table,
            "| {name} | {batch} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
            m(|r| r.points_per_sec),
            m(|r| r.requests_per_sec),
            m(|r| r.p50_ms),
            m(|r| r.p99_ms),
            m(|r| r.server_cpu_us_per_point),
            results.iter().map(|r| r.errors).sum::<u64>()
        )?;
    }
    println!(
        "\nDurable HTTP ingest, median of {} runs of {} s, {} connections, {} devices x {} keys, \
         storage.sync = {}:\n\n{table}",
        args.runs, args.seconds, args.connections, args.devices, args.keys, args.sync
    );
    if let Some(path) = &args.markdown {
        std::fs::write(path, &table).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// One measured run against a fresh server; `rules` are created before the load starts.
pub(crate) async fn one_run(
    args: &IngestArgs,
    binary: &std::path::Path,
    batch: usize,
    label: &str,
    rules: &[serde_json::Value],
) -> anyhow::Result<RunResult> {
    let server = Server::start(binary, &[("STRATA_STORAGE__SYNC", args.sync.as_str())]).await?;
    let tokens = provision(&server.addr, args.devices, rules).await?;
    let tokens = Arc::new(tokens);
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let points = Arc::new(AtomicU64::new(0));
    let requests = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..args.connections {
        let addr = server.addr.clone();
        let tokens = Arc::clone(&tokens);
        let (stop, measuring) = (Arc::clone(&stop), Arc::clone(&measuring));
        let (points, requests, errors) = (
            Arc::clone(&points),
            Arc::clone(&requests),
            Arc::clone(&errors),
        );
        let keys = args.keys;
        let connections = args.connections;
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<u32> = Vec::new();
            let io = TokioIo::new(tokio::net::TcpStream::connect(&addr).await?);
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
            tokio::spawn(conn);
            // Each connection owns distinct devices' timestamps, so no point overwrites another.
            let mut seq: i64 = 0;
            let base_ts: i64 = 1_700_000_000_000;
            let mut device = c % tokens.len();
            while !stop.load(Ordering::Relaxed) {
                let token = &tokens[device];
                let body = payload(batch, keys, &mut || {
                    seq += 1;
                    base_ts + seq * connections as i64 + c as i64
                });
                let req = Request::post("/api/v1/telemetry")
                    .header("host", &addr)
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body)))?;
                let started = Instant::now();
                sender.ready().await?;
                let resp = sender.send_request(req).await?;
                let ok = resp.status().is_success();
                resp.into_body().collect().await?;
                if measuring.load(Ordering::Relaxed) {
                    latencies.push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    if ok {
                        points.fetch_add(batch as u64, Ordering::Relaxed);
                        requests.fetch_add(1, Ordering::Relaxed);
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                device = (device + connections) % tokens.len();
            }
            anyhow::Ok(latencies)
        }));
    }
    // Warm up, then measure.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu_before = server.cpu_seconds()?;
    let started = Instant::now();
    measuring.store(true, Ordering::Relaxed);
    let bar = ProgressBar::new(args.seconds);
    bar.set_style(
        ProgressStyle::with_template("{msg:>24} [{bar:30}] {pos}/{len} s")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(label.to_string());
    for _ in 0..args.seconds {
        tokio::time::sleep(Duration::from_secs(1)).await;
        bar.inc(1);
    }
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds()? - cpu_before;
    bar.finish_and_clear();
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.context("client task panicked")??);
    }
    server.stop().await;
    latencies.sort_unstable();
    let points = points.load(Ordering::Relaxed) as f64;
    Ok(RunResult {
        points_per_sec: points / elapsed,
        requests_per_sec: requests.load(Ordering::Relaxed) as f64 / elapsed,
        p50_ms: quantile(&latencies, 0.5) as f64 / 1000.0,
        p99_ms: quantile(&latencies, 0.99) as f64 / 1000.0,
        server_cpu_us_per_point: if points > 0.0 {
            cpu * 1e6 / points
        } else {
            0.0
        },
        errors: errors.load(Ordering::Relaxed),
    })
}

/// A payload of `batch` points: `batch / keys` timestamps (at least one) of up to `keys` keys,
/// each timestamp from `next_ts`.
fn payload(batch: usize, keys: usize, next_ts: &mut impl FnMut() -> i64) -> String {
    let mut out = String::with_capacity(batch * 16 + 64);
    out.push('[');
    let mut left = batch;
    while left > 0 {
        let ts = next_ts();
        let n = left.min(keys);
        if out.len() > 1 {
            out.push(',');
        }
        let _ = write!(out, "{{\"ts\":{ts},\"values\":{{");
        for k in 0..n {
            if k > 0 {
                out.push(',');
            }
            let _ = write!(out, "\"k{k}\":{}.{}", (ts / 7) % 1000, k);
        }
        out.push_str("}}");
        left -= n;
    }
    out.push(']');
    out
}

async fn provision(
    addr: &str,
    devices: usize,
    rules: &[serde_json::Value],
) -> anyhow::Result<Vec<String>> {
    let client = SimpleClient::connect(addr).await?;
    let login = client
        .request(
            "POST",
            "/api/auth/login",
            None,
            json!({"username": "admin", "password": ADMIN_PASSWORD}),
        )
        .await?;
    let token = login["token"].as_str().context("login failed")?.to_string();
    for rule in rules {
        client
            .request("POST", "/api/rules", Some(&token), rule.clone())
            .await
            .context("cannot create a benchmark rule")?;
    }
    let mut tokens = Vec::with_capacity(devices);
    for i in 0..devices {
        let created = client
            .request(
                "POST",
                "/api/devices",
                Some(&token),
                json!({"name": format!("bench-{i}")}),
            )
            .await?;
        tokens.push(
            created["credentials"]["access_token"]
                .as_str()
                .context("device creation failed")?
                .to_string(),
        );
    }
    Ok(tokens)
}

/// A minimal JSON-over-HTTP client for set-up calls.
struct SimpleClient {
    pub(crate) addr: String,
    sender: tokio::sync::Mutex<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
}

impl SimpleClient {
    async fn connect(addr: &str) -> anyhow::Result<Self> {
        let io = TokioIo::new(tokio::net::TcpStream::connect(addr).await?);
        let (sender, conn) = hyper::client::conn::http1::handshake(io).await?;
        tokio::spawn(conn);
        Ok(Self {
            addr: addr.to_string(),
            sender: tokio::sync::Mutex::new(sender),
        })
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.addr)
            .header("content-type", "application/json");
        if let Some(token) = bearer {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let req = req.body(Full::new(Bytes::from(body.to_string())))?;
        let mut sender = self.sender.lock().await;
        sender.ready().await?;
        let resp = sender.send_request(req).await?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            bail!(
                "{method} {path}: {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        Ok(serde_json::from_slice(&bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_has_the_requested_points() {
        let mut seq = 0;
        let body = payload(25, 10, &mut || {
            seq += 1;
            1_700_000_000_000 + seq
        });
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let items = v.as_array().unwrap();
        assert_eq!(items.len(), 3);
        let total: usize = items
            .iter()
            .map(|i| i["values"].as_object().unwrap().len())
            .sum();
        assert_eq!(total, 25);
        assert_eq!(seq, 3);
    }
}
