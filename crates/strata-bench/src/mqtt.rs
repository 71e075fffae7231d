//! MQTT broker benchmark: Strata and Mosquitto side by side, driven by the same load
//! generator in one run.
//!
//! Scenarios (issue 3):
//! - `p2p`: QoS 1 point-to-point, 20 publisher/subscriber pairs;
//! - `fanin`: 50 publishers to 1 subscriber, QoS 0;
//! - `fanout`: 1 publisher to 200 subscribers, QoS 0;
//! - `idle`: as many idle connections as the open-file limit allows (about 19,000), from
//!   several generator processes bound to different loopback source addresses.
//!
//! For `p2p`, `fanin` and `fanout`: throughput at saturation, end-to-end latency p50/p99 at a
//! fixed rate below saturation, and the broker's CPU seconds per million delivered messages.
//! For `idle`: the broker's resident memory per connection.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU16;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use strata_proto_mqtt::QoS;
use strata_proto_mqtt::packet::Packet;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Semaphore;

use crate::mqtt_client::{Writer, connect};
use crate::server::{Server, TempDir, cpu_seconds, rss_bytes};
use crate::stats::{median, quantile};

/// `strata bench mqtt` options.
#[derive(Debug, Args)]
pub struct MqttArgs {
    /// Scenarios to run: `all`, or a comma-separated list of p2p, fanin, fanout, idle.
    #[arg(long, default_value = "all")]
    scenario: String,
    /// Runs per scenario and broker (medians are reported); each run gets a fresh broker.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Measured seconds per run (after a 2 s warm-up).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Payload bytes per message (at least 8: a send timestamp).
    #[arg(long, default_value_t = 64)]
    payload: usize,
    /// Mosquitto binary to compare with; `none` skips the peer.
    #[arg(long, default_value = "/usr/sbin/mosquitto")]
    mosquitto: String,
    /// Messages/s per pair for the p2p latency measurement.
    #[arg(long, default_value_t = 1000.0)]
    p2p_rate: f64,
    /// Messages/s per publisher for the fan-in latency measurement.
    #[arg(long, default_value_t = 400.0)]
    fanin_rate: f64,
    /// Messages/s from the publisher for the fan-out latency measurement.
    #[arg(long, default_value_t = 100.0)]
    fanout_rate: f64,
    /// Idle connections in the idle scenario.
    #[arg(long, default_value_t = 19_000)]
    idle: usize,
    /// Load-generator threads.
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// Strata binary (default: this executable).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Also write the Markdown tables to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Also write an SVG chart of the Strata/Mosquitto ratios to this file.
    #[arg(long)]
    svg: Option<PathBuf>,
}

/// Holds idle connections for the idle scenario (run by `strata bench mqtt-idle-client`).
#[derive(Debug, Args)]
pub struct IdleClientArgs {
    /// Broker address.
    #[arg(long)]
    addr: SocketAddr,
    /// Connections to open.
    #[arg(long)]
    count: usize,
    /// Local source address (e.g. 127.0.0.2), to spread over loopback addresses.
    #[arg(long)]
    source: Option<IpAddr>,
    /// Client identifier prefix.
    #[arg(long, default_value = "idle")]
    prefix: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Strata,
    Mosquitto,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Strata => "Strata",
            Kind::Mosquitto => "Mosquitto 2",
        }
    }
}

/// A broker under test.
struct Broker {
    addr: SocketAddr,
    pid: u32,
    _strata: Option<Server>,
    _mosquitto: Option<(Child, TempDir)>,
}

impl Broker {
    async fn start(kind: Kind, args: &MqttArgs) -> anyhow::Result<Self> {
        match kind {
            Kind::Strata => {
                let binary = match &args.server {
                    Some(p) => p.clone(),
                    None => std::env::current_exe()?,
                };
                let server = Server::start(
                    &binary,
                    &[
                        ("STRATA_MQTT__ALLOW_ANONYMOUS", "true"),
                        ("STRATA_MQTT__MAX_QUEUED_MESSAGES", "100000"),
                        // mimalloc backs its arenas with transparent huge pages where the
                        // kernel allows it, which makes resident memory move in 2 MiB steps;
                        // 4 KiB pages (as Mosquitto's glibc heap gets) keep the idle figure
                        // a measurement of the broker rather than of page granularity.
                        ("MIMALLOC_ALLOW_THP", "0"),
                    ],
                )
                .await?;
                let addr: SocketAddr = server.mqtt.parse().context("MQTT address")?;
                Ok(Self {
                    addr,
                    pid: server.pid,
                    _strata: Some(server),
                    _mosquitto: None,
                })
            }
            Kind::Mosquitto => {
                let dir = TempDir::new()?;
                let port = free_port()?;
                let conf = dir.0.join("mosquitto.conf");
                std::fs::write(
                    &conf,
                    format!(
                        "listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n\
                         max_queued_messages 100000\nmax_inflight_messages 64\n\
                         persistence false\nlog_type error\nmax_connections -1\n"
                    ),
                )?;
                let child = Command::new(&args.mosquitto)
                    .arg("-c")
                    .arg(&conf)
                    .stdout(Stdio::null())
                    .stderr(Stdio::inherit())
                    .kill_on_drop(true)
                    .spawn()
                    .with_context(|| {
                        format!(
                            "cannot start {} (install Debian's `mosquitto`, or pass \
                             --mosquitto none)",
                            args.mosquitto
                        )
                    })?;
                let pid = child.id().context("mosquitto exited")?;
                let addr = SocketAddr::from(([127, 0, 0, 1], port));
                let started = Instant::now();
                while tokio::net::TcpStream::connect(addr).await.is_err() {
                    if started.elapsed() > Duration::from_secs(10) {
                        bail!("mosquitto did not listen within 10 s");
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Ok(Self {
                    addr,
                    pid,
                    _strata: None,
                    _mosquitto: Some((child, dir)),
                })
            }
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Nanoseconds since the generator started; carried in payloads for latency.
fn clock() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    P2p,
    FanIn,
    FanOut,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::P2p => "(a) p2p QoS 1, 20 pairs",
            Scenario::FanIn => "(b) fan-in QoS 0, 50 to 1",
            Scenario::FanOut => "(c) fan-out QoS 0, 1 to 200",
        }
    }

    /// (subscriber filters, publisher topics, qos)
    fn layout(self) -> (Vec<String>, Vec<String>, QoS) {
        match self {
            Scenario::P2p => {
                let topics: Vec<String> = (0..20).map(|i| format!("bench/p2p/{i}")).collect();
                (topics.clone(), topics, QoS::AtLeastOnce)
            }
            Scenario::FanIn => (
                vec!["bench/in/#".into()],
                (0..50).map(|i| format!("bench/in/{i}")).collect(),
                QoS::AtMostOnce,
            ),
            Scenario::FanOut => (
                (0..200).map(|_| "bench/out".to_string()).collect(),
                vec!["bench/out".into()],
                QoS::AtMostOnce,
            ),
        }
    }
}

/// Figures of one run.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    throughput: f64,
    cpu_per_million: f64,
    p50_ms: f64,
    p99_ms: f64,
}

struct Shared {
    measuring: AtomicBool,
    stop: AtomicBool,
    received: AtomicU64,
    latencies: Mutex<Vec<u32>>,
}

/// Drives one scenario against one broker: `rate` None saturates, Some(r) sends r messages/s
/// per publisher and records latencies.
async fn drive(
    broker: &Broker,
    scenario: Scenario,
    rate: Option<f64>,
    seconds: u64,
    payload: usize,
    label: &str,
) -> anyhow::Result<Figures> {
    let (filters, topics, qos) = scenario.layout();
    let shared = Arc::new(Shared {
        measuring: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        received: AtomicU64::new(0),
        latencies: Mutex::new(Vec::new()),
    });
    let mut tasks = Vec::new();
    for (i, filter) in filters.iter().enumerate() {
        let (mut reader, mut writer) = connect(broker.addr, None, &format!("sub-{i}"), 0)
            .await
            .with_context(|| format!("{label}: connecting subscriber {i}"))?;
        writer
            .subscribe(&mut reader, filter, qos)
            .await
            .with_context(|| format!("{label}: subscribing {i}"))?;
        let shared = Arc::clone(&shared);
        let record = rate.is_some();
        tasks.push(tokio::spawn(async move {
            // Latencies go straight into the shared list: the task is aborted at the end, so
            // nothing may wait in a local buffer (the fixed rate keeps the lock cheap).
            while !shared.stop.load(Ordering::Relaxed) {
                let packet = match reader.next().await {
                    Ok(p) => p,
                    Err(_) => break,
                };
                if let Packet::Publish(p) = packet {
                    if shared.measuring.load(Ordering::Relaxed) {
                        shared.received.fetch_add(1, Ordering::Relaxed);
                        if record && p.payload.len() >= 8 {
                            let mut ts = [0u8; 8];
                            ts.copy_from_slice(&p.payload[..8]);
                            let sent = u64::from_le_bytes(ts);
                            let micros = (clock().saturating_sub(sent) / 1000) as u32;
                            if let Ok(mut all) = shared.latencies.lock() {
                                all.push(micros);
                            }
                        }
                    }
                    if let Some(id) = p.packet_id
                        && (writer.puback(id).is_err() || writer.flush().await.is_err())
                    {
                        break;
                    }
                }
            }
            anyhow::Ok(())
        }));
    }
    for (i, topic) in topics.iter().enumerate() {
        let (mut reader, mut writer) = connect(broker.addr, None, &format!("pub-{i}"), 0)
            .await
            .with_context(|| format!("{label}: connecting publisher {i}"))?;
        let shared = Arc::clone(&shared);
        let topic = topic.clone();
        let window = Arc::new(Semaphore::new(32));
        let acks = Arc::clone(&window);
        let ack_stop = Arc::clone(&shared);
        tasks.push(tokio::spawn(async move {
            // Acknowledgements free window slots.
            while !ack_stop.stop.load(Ordering::Relaxed) {
                match reader.next().await {
                    Ok(Packet::PubAck(_)) => acks.add_permits(1),
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            anyhow::Ok(())
        }));
        tasks.push(tokio::spawn(async move {
            publish_loop(&mut writer, &topic, qos, rate, payload, &window, &shared).await
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu_before = cpu_seconds(broker.pid)?;
    let started = Instant::now();
    shared.measuring.store(true, Ordering::Relaxed);
    let bar = ProgressBar::new(seconds);
    bar.set_style(
        ProgressStyle::with_template("{msg:>44} [{bar:20}] {pos}/{len} s")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(label.to_string());
    for _ in 0..seconds {
        tokio::time::sleep(Duration::from_secs(1)).await;
        bar.inc(1);
    }
    shared.measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(broker.pid)? - cpu_before;
    bar.finish_and_clear();
    shared.stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.abort();
        let _ = t.await;
    }
    let received = shared.received.load(Ordering::Relaxed) as f64;
    let mut lat = shared
        .latencies
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default();
    lat.sort_unstable();
    Ok(Figures {
        throughput: received / elapsed,
        cpu_per_million: if received > 0.0 {
            cpu * 1e6 / received
        } else {
            0.0
        },
        p50_ms: quantile(&lat, 0.5) as f64 / 1000.0,
        p99_ms: quantile(&lat, 0.99) as f64 / 1000.0,
    })
}

async fn publish_loop(
    writer: &mut Writer,
    topic: &str,
    qos: QoS,
    rate: Option<f64>,
    payload: usize,
    window: &Semaphore,
    shared: &Shared,
) -> anyhow::Result<()> {
    let mut body = vec![0u8; payload.max(8)];
    let mut next_id: u16 = 0;
    let mut ticker = rate.map(|r| {
        let mut t = tokio::time::interval(Duration::from_secs_f64(1.0 / r.max(0.1)));
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    while !shared.stop.load(Ordering::Relaxed) {
        let batch = if ticker.is_some() { 1 } else { 32 };
        if let Some(t) = ticker.as_mut() {
            t.tick().await;
        }
        for _ in 0..batch {
            let id = if qos == QoS::AtMostOnce {
                None
            } else {
                window.acquire().await?.forget();
                next_id = next_id.wrapping_add(1).max(1);
                NonZeroU16::new(next_id)
            };
            body[..8].copy_from_slice(&clock().to_le_bytes());
            writer.publish(topic, qos, id, &body)?;
            if qos != QoS::AtMostOnce && window.available_permits() == 0 {
                break;
            }
        }
        writer.flush().await?;
    }
    Ok(())
}

/// Runs the benchmark.
pub fn run(args: MqttArgs) -> anyhow::Result<()> {
    if args.payload < 8 {
        bail!("--payload must be at least 8 bytes (it carries a send timestamp)");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: MqttArgs) -> anyhow::Result<()> {
    let wanted: Vec<&str> = if args.scenario == "all" {
        vec!["p2p", "fanin", "fanout", "idle"]
    } else {
        args.scenario.split(',').map(str::trim).collect()
    };
    let mut kinds = vec![Kind::Strata];
    if args.mosquitto != "none" {
        kinds.push(Kind::Mosquitto);
    }
    let mut table = String::new();
    writeln!(
        table,
        "| scenario | broker | throughput msg/s | vs Mosquitto | p50 ms | p99 ms | CPU s per 1M msgs | vs Mosquitto |"
    )?;
    writeln!(table, "|---|---|---:|---:|---:|---:|---:|---:|")?;
    let mut chart: Vec<(String, f64, f64)> = Vec::new();
    for name in &wanted {
        let scenario = match *name {
            "p2p" => Scenario::P2p,
            "fanin" => Scenario::FanIn,
            "fanout" => Scenario::FanOut,
            "idle" => continue,
            other => bail!("unknown scenario {other:?}; use p2p, fanin, fanout, idle or all"),
        };
        let rate = match scenario {
            Scenario::P2p => args.p2p_rate,
            Scenario::FanIn => args.fanin_rate,
            Scenario::FanOut => args.fanout_rate,
        };
        let mut results: Vec<(Kind, Figures)> = Vec::new();
        for &kind in &kinds {
            let mut sat = Vec::new();
            let mut fixed = Vec::new();
            for run in 1..=args.runs {
                let broker = Broker::start(kind, &args).await?;
                let label = format!("{} {} saturate {run}", kind.name(), name);
                sat.push(drive(&broker, scenario, None, args.seconds, args.payload, &label).await?);
                drop(broker);
                let broker = Broker::start(kind, &args).await?;
                let label = format!("{} {} {rate}/s {run}", kind.name(), name);
                fixed.push(
                    drive(
                        &broker,
                        scenario,
                        Some(rate),
                        args.seconds,
                        args.payload,
                        &label,
                    )
                    .await?,
                );
            }
            let m = |v: &[Figures], f: fn(&Figures) -> f64| {
                median(&v.iter().map(f).collect::<Vec<_>>())
            };
            let figures = Figures {
                throughput: m(&sat, |f| f.throughput),
                cpu_per_million: m(&sat, |f| f.cpu_per_million),
                p50_ms: m(&fixed, |f| f.p50_ms),
                p99_ms: m(&fixed, |f| f.p99_ms),
            };
            eprintln!(
                "  {} {}: {:.0} msg/s, {:.2} CPU s/1M, p50 {:.2} ms, p99 {:.2} ms",
                scenario.name(),
                kind.name(),
                figures.throughput,
                figures.cpu_per_million,
                figures.p50_ms,
                figures.p99_ms
            );
            results.push((kind, figures));
        }
        let peer = results
            .iter()
            .find(|(k, _)| *k == Kind::Mosquitto)
            .map(|(_, f)| *f);
        for (kind, f) in &results {
            let (tput_ratio, cpu_ratio) = match peer {
                Some(p) if p.throughput > 0.0 && p.cpu_per_million > 0.0 => (
                    format!("{:.2}x", f.throughput / p.throughput),
                    format!("{:.2}x", f.cpu_per_million / p.cpu_per_million),
                ),
                _ => ("-".into(), "-".into()),
            };
            writeln!(
                table,
                "| {} | {} | {:.0} | {tput_ratio} | {:.2} | {:.2} | {:.2} | {cpu_ratio} |",
                scenario.name(),
                kind.name(),
                f.throughput,
                f.p50_ms,
                f.p99_ms,
                f.cpu_per_million
            )?;
            if *kind == Kind::Strata
                && let Some(p) = peer
            {
                chart.push((
                    scenario.name().to_string(),
                    f.throughput / p.throughput.max(1e-9),
                    p.cpu_per_million / f.cpu_per_million.max(1e-9),
                ));
            }
        }
    }
    if wanted.contains(&"idle") {
        writeln!(
            table,
            "\n| idle connections | broker | connections held | resident memory per connection |"
        )?;
        writeln!(table, "|---|---|---:|---:|")?;
        for &kind in &kinds {
            let mut per_conn = Vec::new();
            let mut held = 0;
            for _ in 0..args.runs {
                let broker = Broker::start(kind, &args).await?;
                let (n, bytes) = idle(&broker, args.idle).await?;
                held = n;
                per_conn.push(bytes);
            }
            let m = median(&per_conn);
            eprintln!(
                "  idle {}: {held} connections, {:.0} bytes each",
                kind.name(),
                m
            );
            writeln!(
                table,
                "| (d) idle | {} | {held} | {:.2} KB |",
                kind.name(),
                m / 1024.0
            )?;
        }
    }
    println!(
        "\nMQTT, median of {} runs of {} s each (latency at a fixed rate: p2p {}/s per pair, \
         fan-in {}/s per publisher, fan-out {}/s), payload {} bytes:\n\n{table}",
        args.runs, args.seconds, args.p2p_rate, args.fanin_rate, args.fanout_rate, args.payload
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

/// Opens `count` idle connections from child processes and returns (held, bytes per
/// connection of the broker's resident memory).
/// How long the broker is left alone before each memory reading: allocators give freed
/// memory back to the system lazily, and a reading taken before that counts start-up garbage.
const IDLE_SETTLE: Duration = Duration::from_secs(5);

async fn idle(broker: &Broker, count: usize) -> anyhow::Result<(usize, f64)> {
    tokio::time::sleep(IDLE_SETTLE).await;
    let before = rss_bytes(broker.pid)?;
    let per_process = 9_500;
    let processes = count.div_ceil(per_process);
    let exe = std::env::current_exe()?;
    let mut children = Vec::new();
    let mut held = 0;
    // Memory per connection is the slope after the first generator process: the first
    // connections also pay one-off costs (allocator arenas, table warm-up) that are not per
    // connection. With a single process the whole count is used.
    let mut baseline: Option<(u64, usize)> = None;
    for p in 0..processes {
        let n = per_process.min(count - p * per_process);
        let mut child = Command::new(&exe)
            .args(["bench", "mqtt-idle-client", "--addr"])
            .arg(broker.addr.to_string())
            .arg("--count")
            .arg(n.to_string())
            .arg("--source")
            .arg(next_source_address().to_string())
            .arg("--prefix")
            .arg(format!("idle{p}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
            .await
            .context("idle clients did not connect within 120 s")??
            .unwrap_or_default();
        held += line
            .strip_prefix("ready ")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .with_context(|| format!("idle client failed: {line:?}"))?;
        children.push(child);
        if p == 0 && processes > 1 {
            tokio::time::sleep(IDLE_SETTLE).await;
            baseline = Some((rss_bytes(broker.pid)?, held));
        }
    }
    tokio::time::sleep(IDLE_SETTLE).await;
    let after = rss_bytes(broker.pid)?;
    for mut c in children {
        let _ = c.kill().await;
    }
    let (from_rss, from_held) = baseline.unwrap_or((before, 0));
    Ok((
        held,
        after.saturating_sub(from_rss) as f64 / held.saturating_sub(from_held).max(1) as f64,
    ))
}

/// A loopback source address not used by an earlier generator process of this run: the
/// closed connections of a previous run sit in TIME_WAIT and hold their source ports, and one
/// address has only about 28,000 of them.
fn next_source_address() -> std::net::Ipv4Addr {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::net::Ipv4Addr::new(127, 1 + (n / 250 % 250) as u8, 0, (n % 250 + 1) as u8)
}

/// `strata bench mqtt-idle-client`: opens connections and holds them until killed.
pub fn run_idle_client(args: IdleClientArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut held = Vec::with_capacity(args.count);
        let sem = Arc::new(Semaphore::new(256));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..args.count {
            let permit = Arc::clone(&sem).acquire_owned().await?;
            let id = format!("{}-{i}", args.prefix);
            let (addr, source) = (args.addr, args.source);
            tasks.spawn(async move {
                let result = connect(addr, source, &id, 0).await;
                drop(permit);
                result
            });
            while let Some(done) = tasks.try_join_next() {
                let (mut r, w) = done??;
                r.shrink();
                held.push((r, w));
            }
        }
        while let Some(done) = tasks.join_next().await {
            let (mut r, w) = done??;
            r.shrink();
            held.push((r, w));
        }
        println!("ready {}", held.len());
        // Hold until killed.
        std::future::pending::<()>().await;
        anyhow::Ok(())
    })
}

fn svg_chart(rows: &[(String, f64, f64)]) -> String {
    let width = 640.0;
    let bar_h = 18.0;
    let top = 40.0;
    let label_w = 220.0;
    let scale = |v: f64| (v.min(5.0) / 5.0) * (width - label_w - 40.0);
    let height = top + rows.len() as f64 * (2.0 * bar_h + 16.0) + 30.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n\
         <text x=\"10\" y=\"20\" font-size=\"14\">Strata vs Mosquitto (x times better; 1.0 = equal)</text>\n"
    );
    let one = label_w + scale(1.0);
    let _ = writeln!(
        s,
        "<line x1=\"{one}\" y1=\"{}\" x2=\"{one}\" y2=\"{}\" stroke=\"#999\" stroke-dasharray=\"4\"/>",
        top - 8.0,
        height - 20.0
    );
    for (i, (name, tput, cpu)) in rows.iter().enumerate() {
        let y = top + i as f64 * (2.0 * bar_h + 16.0);
        let _ = writeln!(s, "<text x=\"10\" y=\"{}\">{name}</text>", y + bar_h);
        let _ = writeln!(
            s,
            "<rect x=\"{label_w}\" y=\"{y}\" width=\"{:.1}\" height=\"{}\" fill=\"#2b7bb9\"/>\
             <text x=\"{:.1}\" y=\"{}\">throughput {tput:.2}x</text>",
            scale(*tput),
            bar_h - 2.0,
            label_w + scale(*tput) + 4.0,
            y + bar_h - 5.0
        );
        let _ = writeln!(
            s,
            "<rect x=\"{label_w}\" y=\"{}\" width=\"{:.1}\" height=\"{}\" fill=\"#4caf50\"/>\
             <text x=\"{:.1}\" y=\"{}\">CPU efficiency {cpu:.2}x</text>",
            y + bar_h,
            scale(*cpu),
            bar_h - 2.0,
            label_w + scale(*cpu) + 4.0,
            y + 2.0 * bar_h - 5.0
        );
    }
    s.push_str("</svg>\n");
    s
}
