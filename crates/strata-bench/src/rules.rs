//! The rule engine's cost: durable telemetry ingest (HTTP, one message of 10 values per
//! request) with 0, 10 and 100 active rules, each run on a fresh server.
//!
//! Every rule runs a filter script on every message and matches about one message in ten
//! (a threshold on one of the values); matched messages are transformed by a script and
//! republished on MQTT, and every fifth rule also sends them to a webhook, a receiver this
//! process runs (so those go through the durable outbox and the delivery workers). The
//! figure of merit is the throughput with rules against the throughput without, and the
//! latency the rules add.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Args;
use http_body_util::Full;
use hyper::Response;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::ingest::{IngestArgs, RunResult, one_run};
use crate::stats::median;

/// `strata bench rules` options.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Rule counts to compare, comma-separated (the first is the baseline).
    #[arg(long, default_value = "0,10,100")]
    rules: String,
    /// Every how many rules one also posts its matches to a webhook (0: none, so only the
    /// rule engine and MQTT republishing are measured).
    #[arg(long, default_value_t = 5)]
    webhook_every: usize,
    /// Measured seconds per run.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Runs per rule count (the median is reported); each run gets a fresh server.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Concurrent HTTP connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Devices sending.
    #[arg(long, default_value_t = 100)]
    devices: usize,
    /// Server binary (default: this executable).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Also write the result table (Markdown) to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Also draw the throughput ratios as an SVG chart to this file.
    #[arg(long)]
    svg: Option<PathBuf>,
}

/// Values per message; the payload generator gives `k0`..`k9` values in 0..1000.
const KEYS: usize = 10;

fn rule_set(count: usize, webhook: &str, webhook_every: usize) -> Vec<Value> {
    (0..count)
        .map(|i| {
            let key = format!("k{}", i % KEYS);
            let mut actions =
                vec![json!({"type": "mqtt", "topic": format!("bench/{{device_name}}/r{i}")})];
            if webhook_every > 0 && i % webhook_every == 0 {
                actions.push(json!({"type": "webhook", "url": webhook}));
            }
            json!({
                "name": format!("bench-{i}"),
                "trigger": "telemetry",
                "filter": format!("\"{key}\" in msg && msg.{key} >= 900.0"),
                "transform": format!("#{{value: msg.{key}, rule: {i}, device: meta.device_name}}"),
                "actions": actions,
            })
        })
        .collect()
}

/// Runs the rule-engine benchmark.
pub fn run(args: RulesArgs) -> anyhow::Result<()> {
    let counts: Vec<usize> = args
        .rules
        .split(',')
        .map(|c| c.trim().parse())
        .collect::<Result<_, _>>()
        .context("--rules is a comma-separated list of rule counts, e.g. 0,10,100")?;
    if counts.is_empty() {
        bail!("--rules needs at least one count");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(run_async(args, counts))
}

async fn run_async(args: RulesArgs, counts: Vec<usize>) -> anyhow::Result<()> {
    let binary = match &args.server {
        Some(p) => p.clone(),
        None => std::env::current_exe().context("cannot find this executable")?,
    };
    let (webhook, delivered) = webhook_receiver().await?;
    let ingest = IngestArgs {
        batch: KEYS,
        connections: args.connections,
        devices: args.devices,
        keys: KEYS,
        seconds: args.seconds,
        runs: args.runs,
        client_threads: 1,
        scenario: "batched".into(),
        server: None,
        sync: "full".into(),
        markdown: None,
    };
    let mut rows: Vec<(usize, RunResult, u64)> = Vec::new();
    for &count in &counts {
        let rules = rule_set(count, &webhook, args.webhook_every);
        let mut results = Vec::new();
        let before = delivered.load(Ordering::Relaxed);
        for run in 1..=args.runs {
            let label = format!("{count} rules run {run}/{}", args.runs);
            let r = one_run(&ingest, &binary, KEYS, &label, &rules).await?;
            eprintln!(
                "  {count} rules run {run}: {:.0} messages/s, p50 {:.2} ms, p99 {:.2} ms, {:.1} µs CPU/message",
                r.requests_per_sec,
                r.p50_ms,
                r.p99_ms,
                r.server_cpu_us_per_point * KEYS as f64
            );
            results.push(r);
        }
        let m = |f: fn(&RunResult) -> f64| median(&results.iter().map(f).collect::<Vec<_>>());
        let median_run = RunResult {
            points_per_sec: m(|r| r.points_per_sec),
            requests_per_sec: m(|r| r.requests_per_sec),
            p50_ms: m(|r| r.p50_ms),
            p99_ms: m(|r| r.p99_ms),
            server_cpu_us_per_point: m(|r| r.server_cpu_us_per_point),
            errors: results.iter().map(|r| r.errors).sum(),
        };
        rows.push((
            count,
            median_run,
            delivered.load(Ordering::Relaxed) - before,
        ));
    }
    let base = rows.first().map(|r| r.1).unwrap_or_default();
    let mut table = String::new();
    writeln!(
        table,
        "| active rules | messages/s | vs no rules | p50 ms | p99 ms | added p50 ms | server CPU µs/message | webhook deliveries | errors |"
    )?;
    writeln!(table, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    let mut chart = Vec::new();
    for (count, r, hooks) in &rows {
        let ratio = if base.requests_per_sec > 0.0 {
            r.requests_per_sec / base.requests_per_sec
        } else {
            0.0
        };
        chart.push((format!("{count} rules"), ratio));
        writeln!(
            table,
            "| {count} | {:.0} | {:.2}x | {:.2} | {:.2} | {:+.2} | {:.1} | {hooks} | {} |",
            r.requests_per_sec,
            ratio,
            r.p50_ms,
            r.p99_ms,
            r.p50_ms - base.p50_ms,
            r.server_cpu_us_per_point * KEYS as f64,
            r.errors
        )?;
    }
    println!(
        "\nDurable HTTP ingest through the rule engine, median of {} runs of {} s, {} connections, \
         {} devices, one message of {KEYS} values per request, webhook on every {} rule(s) \
         (0: none):\n\n{table}",
        args.runs, args.seconds, args.connections, args.devices, args.webhook_every
    );
    if let Some(path) = &args.markdown {
        std::fs::write(path, &table).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.svg {
        std::fs::write(path, svg_chart(&chart))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// A webhook receiver answering 200 to everything; returns its URL and a delivery count.
async fn webhook_receiver() -> anyhow::Result<(String, Arc<AtomicU64>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let count = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| {
                    counter.fetch_add(1, Ordering::Relaxed);
                    async {
                        Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::new())))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((url, count))
}

fn svg_chart(rows: &[(String, f64)]) -> String {
    let width = 560.0;
    let bar_h = 24.0;
    let top = 40.0;
    let label_w = 120.0;
    let scale = |v: f64| (v.clamp(0.0, 1.2) / 1.2) * (width - label_w - 80.0);
    let height = top + rows.len() as f64 * (bar_h + 10.0) + 30.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n\
         <text x=\"10\" y=\"20\" font-size=\"14\">Ingest throughput with rules (1.0 = no rules; target 0.8)</text>\n"
    );
    let target = label_w + scale(0.8);
    let _ = writeln!(
        s,
        "<line x1=\"{target}\" y1=\"{}\" x2=\"{target}\" y2=\"{}\" stroke=\"#c33\" stroke-dasharray=\"4\"/>",
        top - 8.0,
        height - 20.0
    );
    for (i, (name, ratio)) in rows.iter().enumerate() {
        let y = top + i as f64 * (bar_h + 10.0);
        let _ = writeln!(
            s,
            "<text x=\"10\" y=\"{}\">{name}</text>\
             <rect x=\"{label_w}\" y=\"{y}\" width=\"{:.1}\" height=\"{bar_h}\" fill=\"#2b7bb9\"/>\
             <text x=\"{:.1}\" y=\"{}\">{ratio:.2}x</text>",
            y + bar_h - 7.0,
            scale(*ratio),
            label_w + scale(*ratio) + 4.0,
            y + bar_h - 7.0
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_set_has_the_count_and_some_webhooks() {
        let rules = rule_set(10, "http://127.0.0.1:1/hook", 5);
        assert_eq!(rules.len(), 10);
        let hooks = rules
            .iter()
            .filter(|r| r["actions"].as_array().is_some_and(|a| a.len() == 2))
            .count();
        assert_eq!(hooks, 2);
        assert!(svg_chart(&[("0 rules".into(), 1.0)]).contains("<svg"));
    }
}
