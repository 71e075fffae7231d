//! CoAP benchmark: confirmable GET requests/s against Strata and against libcoap's
//! `coap-server-notls`, driven by the same load generator in one run.
//!
//! Each simulated client owns a UDP socket and keeps one request outstanding (NSTART = 1,
//! RFC 7252 §4.7), as real devices do; a request unanswered for a second is sent again with
//! the same message ID. Both servers answer `GET /` with a short static text (libcoap's
//! banner, Strata's pointer to `/.well-known/core`), so the figure measures the CoAP stack:
//! socket, decoding, deduplication, routing, encoding.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use strata_proto_coap::{Code, Message, MessageType, MessageWriter};
use tokio::net::UdpSocket;
use tokio::process::{Child, Command};

use crate::server::{Server, cpu_seconds};
use crate::stats::{median, quantile};

/// `strata bench coap` options.
#[derive(Debug, Args)]
pub struct CoapArgs {
    /// Runs per server (medians are reported); each run gets a fresh server.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Measured seconds per run (after a 1 s warm-up).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Simulated clients, each with its own socket and one request outstanding.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// libcoap server to compare with; `none` skips the peer.
    #[arg(long, default_value = "/usr/bin/coap-server-notls")]
    libcoap: String,
    /// Strata binary (default: this executable).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Also write the Markdown table to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Also write an SVG bar chart of requests/s and CPU per request to this file.
    #[arg(long)]
    svg: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Strata,
    Libcoap,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Strata => "Strata",
            Kind::Libcoap => "libcoap 4.3 coap-server",
        }
    }
}

/// A server under test.
struct Target {
    addr: SocketAddr,
    pid: u32,
    _strata: Option<Server>,
    _libcoap: Option<Child>,
}

impl Target {
    async fn start(kind: Kind, args: &CoapArgs) -> anyhow::Result<Self> {
        match kind {
            Kind::Strata => {
                let binary = match &args.server {
                    Some(p) => p.clone(),
                    None => std::env::current_exe()?,
                };
                let server = Server::start(&binary, &[]).await?;
                let addr: SocketAddr = server.coap.parse().context("CoAP address")?;
                Ok(Self {
                    addr,
                    pid: server.pid,
                    _strata: Some(server),
                    _libcoap: None,
                })
            }
            Kind::Libcoap => {
                let port = free_udp_port()?;
                let child = Command::new(&args.libcoap)
                    .args(["-A", "127.0.0.1", "-p", &port.to_string(), "-v", "0"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .kill_on_drop(true)
                    .spawn()
                    .with_context(|| {
                        format!(
                            "cannot start {} (install Debian's `libcoap3-bin`, or pass \
                             --libcoap none)",
                            args.libcoap
                        )
                    })?;
                let pid = child.id().context("coap-server exited")?;
                let addr = SocketAddr::from(([127, 0, 0, 1], port));
                Ok(Self {
                    addr,
                    pid,
                    _strata: None,
                    _libcoap: Some(child),
                })
            }
        }
    }
}

fn free_udp_port() -> anyhow::Result<u16> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0")?;
    Ok(s.local_addr()?.port())
}

fn get_root(buf: &mut Vec<u8>, message_id: u16, token: u32) -> anyhow::Result<()> {
    MessageWriter::new(
        buf,
        MessageType::Con,
        Code::GET,
        message_id,
        &token.to_be_bytes(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?
    .finish();
    Ok(())
}

/// Waits until the server answers a GET (it may still be binding).
async fn wait_ready(addr: SocketAddr) -> anyhow::Result<()> {
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let mut buf = Vec::new();
    let mut answer = vec![0u8; 2048];
    for attempt in 0..100u16 {
        get_root(&mut buf, attempt, 0)?;
        socket.send_to(&buf, addr).await?;
        if let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_millis(100), socket.recv_from(&mut answer)).await
            && Message::decode(&answer[..n]).is_ok_and(|m| m.code == Code::CONTENT)
        {
            return Ok(());
        }
    }
    bail!("the CoAP server at {addr} did not answer within 10 s")
}

/// Figures of one run.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    throughput: f64,
    cpu_per_100k: f64,
    p50_us: u32,
    p99_us: u32,
    retransmits: u64,
}

struct Shared {
    measuring: AtomicBool,
    stop: AtomicBool,
    answered: AtomicU64,
    retransmits: AtomicU64,
}

async fn drive(
    target: &Target,
    clients: usize,
    seconds: u64,
    label: &str,
) -> anyhow::Result<Figures> {
    wait_ready(target.addr).await?;
    let shared = Arc::new(Shared {
        measuring: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        answered: AtomicU64::new(0),
        retransmits: AtomicU64::new(0),
    });
    let mut tasks = Vec::new();
    for client in 0..clients {
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        socket.connect(target.addr).await?;
        let shared = Arc::clone(&shared);
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<u32> = Vec::new();
            let mut out = Vec::with_capacity(32);
            let mut answer = vec![0u8; 2048];
            let mut message_id = (client as u16).wrapping_mul(977);
            while !shared.stop.load(Ordering::Relaxed) {
                message_id = message_id.wrapping_add(1);
                get_root(&mut out, message_id, client as u32)?;
                let sent = Instant::now();
                socket.send(&out).await?;
                loop {
                    match tokio::time::timeout(Duration::from_secs(1), socket.recv(&mut answer))
                        .await
                    {
                        Ok(Ok(n)) => {
                            let Ok(m) = Message::decode(&answer[..n]) else {
                                continue;
                            };
                            if m.message_id != message_id || m.mtype != MessageType::Ack {
                                continue;
                            }
                            if shared.measuring.load(Ordering::Relaxed) {
                                shared.answered.fetch_add(1, Ordering::Relaxed);
                                latencies.push(sent.elapsed().as_micros() as u32);
                            }
                            break;
                        }
                        Ok(Err(e)) => return Err(anyhow::Error::from(e)),
                        Err(_) => {
                            if shared.stop.load(Ordering::Relaxed) {
                                break;
                            }
                            shared.retransmits.fetch_add(1, Ordering::Relaxed);
                            socket.send(&out).await?;
                        }
                    }
                }
            }
            anyhow::Ok(latencies)
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cpu_before = cpu_seconds(target.pid)?;
    let started = Instant::now();
    shared.measuring.store(true, Ordering::Relaxed);
    let bar = ProgressBar::new(seconds);
    bar.set_style(
        ProgressStyle::with_template("{msg:>36} [{bar:20}] {pos}/{len} s")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(label.to_string());
    for _ in 0..seconds {
        tokio::time::sleep(Duration::from_secs(1)).await;
        bar.inc(1);
    }
    shared.measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(target.pid)? - cpu_before;
    let answered = shared.answered.load(Ordering::Relaxed) as f64;
    shared.stop.store(true, Ordering::Relaxed);
    bar.finish_and_clear();
    let mut latencies = Vec::new();
    for t in tasks {
        match t.await {
            Ok(Ok(l)) => latencies.extend(l),
            Ok(Err(e)) => bail!("{label}: a client failed: {e}"),
            Err(e) => bail!("{label}: a client panicked: {e}"),
        }
    }
    latencies.sort_unstable();
    Ok(Figures {
        throughput: answered / elapsed,
        cpu_per_100k: if answered > 0.0 {
            cpu * 1e5 / answered
        } else {
            0.0
        },
        p50_us: quantile(&latencies, 0.5),
        p99_us: quantile(&latencies, 0.99),
        retransmits: shared.retransmits.load(Ordering::Relaxed),
    })
}

/// Runs the benchmark.
pub fn run(args: CoapArgs) -> anyhow::Result<()> {
    if args.clients == 0 || args.clients > 5_000 {
        bail!("--clients must be from 1 to 5000 (each is a socket)");
    }
    // One generator thread: the server gets the other core.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: CoapArgs) -> anyhow::Result<()> {
    let mut kinds = vec![Kind::Strata];
    if args.libcoap != "none" {
        kinds.push(Kind::Libcoap);
    }
    let mut results: Vec<(Kind, Figures)> = Vec::new();
    for &kind in &kinds {
        let mut runs = Vec::new();
        for run in 0..args.runs.max(1) {
            let target = Target::start(kind, &args).await?;
            let label = format!("{} run {}/{}", kind.name(), run + 1, args.runs.max(1));
            runs.push(drive(&target, args.clients, args.seconds, &label).await?);
        }
        let pick = |f: fn(&Figures) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
        results.push((
            kind,
            Figures {
                throughput: pick(|f| f.throughput),
                cpu_per_100k: pick(|f| f.cpu_per_100k),
                p50_us: pick(|f| f64::from(f.p50_us)) as u32,
                p99_us: pick(|f| f64::from(f.p99_us)) as u32,
                retransmits: runs.iter().map(|f| f.retransmits).sum(),
            },
        ));
    }
    let peer = results
        .iter()
        .find(|(k, _)| *k == Kind::Libcoap)
        .map(|(_, f)| *f);
    let mut table = String::new();
    writeln!(
        table,
        "| server | GET requests/s | vs libcoap | p50 µs | p99 µs | CPU s per 100k requests | retransmissions |"
    )?;
    writeln!(table, "|---|---:|---:|---:|---:|---:|---:|")?;
    for (kind, f) in &results {
        let ratio = match peer {
            Some(p) if p.throughput > 0.0 => format!("{:.2}x", f.throughput / p.throughput),
            _ => "-".into(),
        };
        writeln!(
            table,
            "| {} | {:.0} | {} | {} | {} | {:.2} | {} |",
            kind.name(),
            f.throughput,
            ratio,
            f.p50_us,
            f.p99_us,
            f.cpu_per_100k,
            f.retransmits
        )?;
    }
    println!(
        "\nCoAP GET /, confirmable, {} clients with one request outstanding each, medians of {} runs of {} s:\n",
        args.clients, args.runs, args.seconds
    );
    println!("{table}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &table).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.svg {
        std::fs::write(path, svg_chart(&results))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// Two groups of horizontal bars: requests/s and server CPU µs per request, per server.
fn svg_chart(results: &[(Kind, Figures)]) -> String {
    let (width, label_w, bar_h) = (640.0, 200.0, 22.0);
    let max_rps = results
        .iter()
        .map(|(_, f)| f.throughput)
        .fold(1.0, f64::max);
    let max_cpu = results
        .iter()
        .map(|(_, f)| f.cpu_per_100k)
        .fold(1e-9, f64::max);
    let span = width - label_w - 120.0;
    let mut s = String::new();
    let rows = results.len() as f64;
    let height = 60.0 + 2.0 * (rows * (bar_h + 6.0) + 30.0);
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<text x=\"10\" y=\"20\" \
         font-size=\"14\">CoAP GET, confirmable, the same load generator for both \
         servers</text>"
    );
    let mut y = 40.0;
    for (title, value, max, unit, digits) in [
        ("requests/s (more is better)", 0usize, max_rps, "", 0usize),
        (
            "server CPU µs per request (less is better)",
            1,
            max_cpu,
            " µs",
            1,
        ),
    ] {
        let _ = writeln!(
            s,
            "<text x=\"10\" y=\"{}\" font-weight=\"bold\">{title}</text>",
            y + 12.0
        );
        y += 20.0;
        for (kind, f) in results {
            let v = if value == 0 {
                f.throughput
            } else {
                f.cpu_per_100k * 10.0
            };
            let m = if value == 0 { max } else { max * 10.0 };
            let color = if *kind == Kind::Strata {
                "#2b7bb9"
            } else {
                "#999"
            };
            let w = (v / m) * span;
            let _ = writeln!(
                s,
                "<text x=\"10\" y=\"{:.1}\">{}</text><rect x=\"{label_w}\" y=\"{y:.1}\" \
                 width=\"{w:.1}\" height=\"{bar_h}\" fill=\"{color}\"/><text x=\"{:.1}\" \
                 y=\"{:.1}\">{v:.digits$}{unit}</text>",
                y + 15.0,
                kind.name(),
                label_w + w + 6.0,
                y + 15.0
            );
            y += bar_h + 6.0;
        }
        y += 10.0;
    }
    s.push_str("</svg>\n");
    s
}
