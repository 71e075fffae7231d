//! `strata serve`: wires configuration, storage, services and listeners together.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use metrics_exporter_prometheus::PrometheusBuilder;
use strata_api::AppState;
use strata_broker::{Broker, BrokerConfig, BrokerHandle};
use strata_config::{Config, LogFormat, MqttConfig, SyncMode};
use strata_platform::Platform;
use strata_platform::accounts::Bootstrap;
use strata_store::sqlite::{SqliteOptions, SqliteStore, Sync};
use tracing_subscriber::EnvFilter;

pub(crate) fn run(config: Config) -> anyhow::Result<()> {
    init_logging(&config)?;
    // Outgoing TLS (https webhooks) uses the process-wide provider: ring, as the broker.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("strata")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(config))
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&config.log.level).with_context(|| {
        format!(
            "configuration key `log.level`: {:?} is not a valid log filter (try `info`)",
            config.log.level
        )
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let metrics = PrometheusBuilder::new()
        .set_buckets(strata_api::LATENCY_BUCKETS)
        .context("invalid metric buckets")?
        .install_recorder()
        .context("cannot install the metrics recorder")?;

    let store = SqliteStore::open(&SqliteOptions {
        path: config.sqlite_path(),
        sync: match config.storage.sync {
            SyncMode::Full => Sync::Full,
            SyncMode::Normal => Sync::Normal,
        },
        max_batch_rows: config.storage.max_batch_rows,
        writer_queue: config.storage.writer_queue,
        read_connections: config.storage.read_connections,
    })
    .with_context(|| {
        format!(
            "cannot open the data directory {} (set data_dir or --data-dir to a writable place)",
            config.data_dir.display()
        )
    })?;
    let listen = config.http.listen;
    let mqtt = config.mqtt.clone();
    let platform = Platform::new(Arc::new(store), config)
        .await
        .context("cannot initialise the platform")?;

    let admin = std::env::var("STRATA_ADMIN_USERNAME").unwrap_or_else(|_| "admin".into());
    let password = std::env::var("STRATA_ADMIN_PASSWORD").ok();
    match platform
        .bootstrap_admin(&admin, password.as_deref())
        .await
        .context("cannot create the admin account (STRATA_ADMIN_PASSWORD)")?
    {
        Bootstrap::AlreadyDone => {}
        Bootstrap::Created { username } => {
            tracing::info!(%username, "created the admin account with STRATA_ADMIN_PASSWORD");
        }
        Bootstrap::CreatedWithGeneratedPassword { username, password } => {
            println!(
                "strata: created admin account {username:?} with password {password}\n\
                 strata: this password is shown only once; sign in with POST /api/auth/login \
                 (set STRATA_ADMIN_PASSWORD before the first start to choose it)"
            );
        }
    }

    let rules_file = platform.config().rules.file.clone();
    if !rules_file.as_os_str().is_empty() {
        let loaded = platform
            .load_rules_file(&rules_file)
            .await
            .with_context(|| format!("cannot load rules.file {}", rules_file.display()))?;
        tracing::info!(loaded, file = %rules_file.display(), "rules loaded");
    }

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| {
            format!("cannot listen on {listen} (in use? choose another with --http-listen)")
        })?;
    let local = listener.local_addr()?;
    let broker = if mqtt.enabled {
        // Sessions and retained messages of the previous run come back before any client
        // can connect.
        let saved = platform
            .store()
            .load_mqtt_state()
            .await
            .context("cannot load the MQTT sessions of the previous run")?;
        Some(start_broker(
            &mqtt,
            &platform,
            crate::mqtt::from_store(saved),
        )?)
    } else {
        None
    };
    let mut lwm2m = None;
    if platform.config().coap.enabled {
        let coap = platform.config().coap.clone();
        let server = if platform.config().lwm2m.enabled {
            Some(lwm2m_server(&platform)?)
        } else {
            None
        };
        let started = crate::coap::start(&coap, &platform, server.clone()).await?;
        let addr = started.plain;
        println!("strata: CoAP listening on coap://{addr}");
        tracing::info!(%addr, "CoAP listening");
        if let Some(secure) = started.secure {
            println!("strata: CoAP over DTLS listening on coaps://{secure}");
            tracing::info!(addr = %secure, "CoAP over DTLS listening");
        }
        if let Some(server) = server {
            if addr.ip().is_unspecified() && platform.config().lwm2m.server_uri.is_empty() {
                tracing::warn!(
                    %addr,
                    "CoAP listens on all addresses: set lwm2m.server_uri to the address devices \
                     reach, or bootstrap and firmware pull will hand them 127.0.0.1"
                );
                server.set_server_uri(&format!("coap://127.0.0.1:{}", addr.port()));
            } else {
                server.set_server_uri(&format!("coap://{addr}"));
            }
            let s = server.clone();
            supervise("LwM2M expiry", move || s.clone().run_expiry());
            lwm2m = Some(server);
        }
    }
    // Tests and scripts wait for this exact line on stdout; it comes last, when every
    // listener is up.
    println!("strata: HTTP API listening on http://{local}");
    let _ = std::io::stdout().flush();
    tracing::info!(%local, "HTTP API listening");

    let p = platform.clone();
    supervise("retention", move || p.clone().run_retention());
    let p = platform.clone();
    supervise("sink delivery", move || p.clone().run_sinks());
    let p = platform.clone();
    supervise("connectivity rules", move || {
        p.clone().run_connectivity_rules()
    });
    let p = platform.clone();
    supervise("activity flush", move || p.clone().run_activity_flush());
    let p = platform.clone();
    supervise("RPC expiry", move || p.clone().run_rpc_expiry());
    let p = platform.clone();
    supervise("session pruning", move || p.clone().run_session_pruning());
    if let Some((handle, _)) = &broker {
        tokio::spawn(crate::mqtt::save_periodically(
            handle.clone(),
            platform.clone(),
            mqtt.persist_interval,
        ));
    }
    let upkeep = metrics.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });

    let state = AppState {
        platform: platform.clone(),
        metrics: Some(metrics),
        lwm2m,
    };
    let served = strata_api::serve(listener, state, shutdown_signal()).await;
    if let Some((handle, threads)) = broker {
        handle.shutdown();
        for thread in threads {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        // Every client is disconnected now, so every session is complete: keep them.
        let state = crate::mqtt::to_store(handle.snapshot());
        let sessions = state.sessions.len();
        match state_saved(&platform, state).await {
            Ok(()) => tracing::info!(sessions, "MQTT sessions saved"),
            Err(e) => tracing::error!(error = %e, "cannot save the MQTT sessions"),
        }
    }
    if let Err(e) = platform.flush_activity().await {
        tracing::warn!(error = %e, "cannot record device activity at stop");
    }
    served.context("HTTP server failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// The LwM2M server with the built-in object model plus `lwm2m.models_dir`.
fn lwm2m_server(platform: &Platform) -> anyhow::Result<strata_lwm2m::Lwm2mServer> {
    let config = &platform.config().lwm2m;
    let mut models = strata_lwm2m::model::Models::builtin();
    if !config.models_dir.as_os_str().is_empty() {
        let loaded = models.load_dir(&config.models_dir).with_context(|| {
            format!(
                "lwm2m.models_dir: cannot load the object definitions in {}",
                config.models_dir.display()
            )
        })?;
        tracing::info!(loaded, dir = %config.models_dir.display(), "LwM2M object definitions loaded");
    }
    Ok(strata_lwm2m::Lwm2mServer::new(
        platform.clone(),
        models,
        strata_lwm2m::Lwm2mConfig {
            allow_unknown_endpoints: config.allow_unknown_endpoints,
            queue_wait: config.queue_wait,
            queue_awake: config.queue_awake,
            server_uri: config.server_uri.clone(),
            bootstrap_lifetime: config.bootstrap_lifetime.as_secs().min(u64::from(u32::MAX)) as u32,
        },
        rand::random(),
    ))
}

/// Runs a background loop, restarting it (after a pause, with an error logged) should it
/// panic, so one bad input cannot silently stop deliveries or sweeps for good. A loop that
/// returns is done (e.g. retention when it is switched off).
fn supervise<F, Fut>(name: &'static str, make: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            match tokio::spawn(make()).await {
                Ok(()) => {
                    tracing::debug!(task = name, "background task done");
                    return;
                }
                Err(e) if e.is_panic() => {
                    tracing::error!(task = name, "background task panicked; restarting");
                }
                Err(_) => return,
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

type BrokerThreads = Vec<std::thread::JoinHandle<std::io::Result<()>>>;

async fn state_saved(
    platform: &Platform,
    state: strata_store::MqttState,
) -> Result<(), strata_store::StoreError> {
    platform.store().save_mqtt_state(state).await
}

fn start_broker(
    config: &MqttConfig,
    platform: &Platform,
    saved: strata_broker::PersistedState,
) -> anyhow::Result<(BrokerHandle, BrokerThreads)> {
    let broker_slot = Arc::new(std::sync::OnceLock::new());
    let hooks = Arc::new(crate::mqtt::PlatformHooks {
        platform: platform.clone(),
        runtime: tokio::runtime::Handle::current(),
        allow_anonymous: config.allow_anonymous,
        broker: Arc::clone(&broker_slot),
    });
    let mut tls = Vec::new();
    let mut secure_websocket = Vec::new();
    if config.tls.enabled || config.websocket.secure_enabled {
        let server_config =
            strata_broker::server_config_from_pem(&config.tls.cert_file, &config.tls.key_file)
                .context(
                    "mqtt.tls: cannot load the certificate (check mqtt.tls.cert_file and \
                     mqtt.tls.key_file)",
                )?;
        if config.tls.enabled {
            tls.push((config.tls.listen, Arc::clone(&server_config)));
        }
        if config.websocket.secure_enabled {
            secure_websocket.push((config.websocket.secure_listen, server_config));
        }
    }
    let websocket = if config.websocket.enabled {
        vec![config.websocket.listen]
    } else {
        Vec::new()
    };
    let broker_config = BrokerConfig {
        tcp: vec![config.listen],
        tls,
        websocket,
        secure_websocket,
        workers: config.workers,
        max_connections: config.max_connections,
        max_packet_size: config.max_packet_size,
        max_inflight: config.max_inflight,
        max_queued_messages: config.max_queued_messages,
        max_session_expiry_secs: config.max_session_expiry.as_secs().min(u32::MAX as u64) as u32,
        receive_maximum: config.receive_maximum,
        topic_alias_maximum: config.topic_alias_maximum,
        max_retained_messages: config.max_retained_messages,
        max_topic_levels: config.max_topic_levels,
        max_subscriptions_per_session: config.max_subscriptions_per_session,
        max_publish_rate: config.max_publish_rate,
        publish_burst: config.publish_burst,
        server_keep_alive: match config.server_keep_alive.as_secs() {
            0 => None,
            secs => Some(secs.min(u64::from(u16::MAX)) as u16),
        },
    };
    let (handle, workers) = Broker::bind(broker_config, hooks).with_context(|| {
        format!(
            "cannot listen for MQTT on {} (or on a TLS/WebSocket address of [mqtt.tls] / \
             [mqtt.websocket]); in use? choose others with --mqtt-listen and those keys, or \
             set mqtt.enabled = false",
            config.listen
        )
    })?;
    let _ = broker_slot.set(handle.clone());
    platform.add_device_link(Arc::new(crate::mqtt::MqttLink {
        broker: handle.clone(),
    }));
    platform.set_republisher(Arc::new(crate::mqtt::MqttRepublisher {
        broker: handle.clone(),
    }));
    let (sessions, retained) = handle.restore(saved);
    if sessions + retained > 0 {
        tracing::info!(
            sessions,
            retained,
            "MQTT sessions and retained messages restored"
        );
    }
    let mut threads = Vec::new();
    for (i, worker) in workers.into_iter().enumerate() {
        threads.push(
            std::thread::Builder::new()
                .name(format!("strata-mqtt-{i}"))
                .spawn(move || worker.run())
                .context("cannot start an MQTT worker thread")?,
        );
    }
    for addr in handle.local_addrs() {
        println!("strata: MQTT listening on mqtt://{addr}");
        tracing::info!(%addr, "MQTT listening");
    }
    for (scheme, addr) in handle.endpoints() {
        match *scheme {
            "mqtts" => println!("strata: MQTT over TLS listening on mqtts://{addr}"),
            "ws" | "wss" => {
                println!("strata: MQTT over WebSocket listening on {scheme}://{addr}/mqtt");
            }
            _ => continue,
        }
        tracing::info!(%addr, scheme, "MQTT listening");
    }
    let _ = std::io::stdout().flush();
    Ok((handle, threads))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
