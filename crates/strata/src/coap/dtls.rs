//! DTLS 1.2 for the CoAP listener (`coaps://`, RFC 7252 §9): one OpenSSL session per peer,
//! fed datagrams from memory, so the CoAP engine above stays the same as on plain UDP.
//!
//! Why OpenSSL (through the `openssl` crate): DTLS 1.2 with pre-shared keys is what
//! constrained devices and their CoAP stacks (libcoap, Californium, Wakaama, Zephyr) speak,
//! including the cipher suite RFC 7252 makes mandatory (TLS_PSK_WITH_AES_128_CCM_8).
//! OpenSSL has done DTLS with PSK, cookies and certificates for fifteen years; rustls has
//! no DTLS, and the pure-Rust DTLS crates either lack PSK (dimpl, made for WebRTC) or come
//! with their own async runtime and far less field use (webrtc-dtls). The cost is a system
//! library (Debian's libssl3, present everywhere) and a C dependency in the binary.
//!
//! Devices authenticate with a PSK identity registered as a device credential
//! (`POST /api/devices/{id}/credentials/psk`) or, when `coap.dtls.cert_file` is set, may
//! present a client certificate registered by fingerprint. HelloVerifyRequest cookies
//! (HMAC of the peer address) keep spoofed handshakes from being amplified.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use openssl::ex_data::Index;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use openssl::ssl::{
    ErrorCode, Ssl, SslContext, SslContextBuilder, SslFiletype, SslMethod, SslOptions, SslStream,
    SslVerifyMode,
};
use strata_platform::Platform;
use strata_store::DeviceIdentity;

/// Largest DTLS record sent (fits IPv6's minimum MTU with room for headers).
const MTU: u32 = 1200;
/// A handshake that has not finished after this long is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Cipher suites: the CoAP mandatory PSK suite first, then stronger PSK and certificate
/// suites.
const CIPHERS: &str = "PSK-AES128-CCM8:PSK-AES128-GCM-SHA256:PSK-AES256-GCM-SHA384:\
    PSK-AES128-CBC-SHA256:ECDHE-ECDSA-AES128-CCM8:ECDHE-ECDSA-AES128-GCM-SHA256:\
    ECDHE-RSA-AES128-GCM-SHA256";

/// The datagrams of one peer, in and out.
#[derive(Default)]
struct Pipe {
    incoming: VecDeque<Vec<u8>>,
    outgoing: Vec<Vec<u8>>,
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.incoming.pop_front() {
            Some(d) => {
                let n = d.len().min(buf.len());
                buf[..n].copy_from_slice(&d[..n]);
                Ok(n)
            }
            None => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outgoing.push(buf.to_vec());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct Session {
    stream: SslStream<Pipe>,
    established: bool,
    device: Option<DeviceIdentity>,
    started: Instant,
    last: Instant,
    /// A new handshake from the same address (the device rebooted and kept its port):
    /// it replaces this session once it completes, so a spoofed ClientHello cannot end a
    /// live session.
    next: Option<Box<Session>>,
}

/// Whether a datagram starts with a ClientHello in epoch 0 (a new handshake).
fn is_client_hello(data: &[u8]) -> bool {
    data.len() > 13 && data[0] == 22 && data[3] == 0 && data[4] == 0 && data[13] == 1
}

/// Outcome of feeding a handshake.
enum Handshake {
    Done,
    Pending,
    Failed,
}

/// Drives a session's handshake with what it has received.
fn handshake(
    session: &mut Session,
    device_index: Index<Ssl, DeviceIdentity>,
    platform: &Platform,
    peer: SocketAddr,
) -> Handshake {
    match session.stream.do_handshake() {
        Ok(()) => {
            session.established = true;
            session.device = session.stream.ssl().ex_data(device_index).copied();
            if session.device.is_none() {
                session.device = certificate_device(platform, &session.stream);
            }
            tracing::debug!(%peer, device = ?session.device.map(|d| d.device_id), "DTLS session established");
            Handshake::Done
        }
        Err(e) if matches!(e.code(), ErrorCode::WANT_READ | ErrorCode::WANT_WRITE) => {
            Handshake::Pending
        }
        Err(e) => {
            tracing::debug!(%peer, error = %e, "DTLS handshake failed");
            Handshake::Failed
        }
    }
}

/// The DTLS sessions of one listener.
pub(crate) struct DtlsLayer {
    context: SslContext,
    peer_index: Index<Ssl, SocketAddr>,
    device_index: Index<Ssl, DeviceIdentity>,
    sessions: HashMap<SocketAddr, Session>,
    max_sessions: usize,
    idle: Duration,
    platform: Platform,
}

/// What a datagram produced.
#[derive(Default)]
pub(crate) struct Decrypted {
    /// Application data (CoAP messages).
    pub(crate) plaintext: Vec<Vec<u8>>,
    /// Handshake or alert records to send back.
    pub(crate) replies: Vec<Vec<u8>>,
}

impl DtlsLayer {
    pub(crate) fn new(
        platform: Platform,
        cert_file: &std::path::Path,
        key_file: &std::path::Path,
        max_sessions: usize,
        idle: Duration,
    ) -> anyhow::Result<Self> {
        let peer_index = Ssl::new_ex_index::<SocketAddr>()?;
        let device_index = Ssl::new_ex_index::<DeviceIdentity>()?;
        let mut ctx = SslContextBuilder::new(SslMethod::dtls_server())?;
        ctx.set_cipher_list(CIPHERS)
            .context("OpenSSL has none of the DTLS cipher suites")?;
        ctx.set_options(
            SslOptions::NO_DTLSV1 | SslOptions::COOKIE_EXCHANGE | SslOptions::NO_QUERY_MTU,
        );
        let cookie_key = PKey::hmac(&rand::random::<[u8; 32]>())?;
        let generate_key = cookie_key.clone();
        ctx.set_cookie_generate_cb(move |ssl, out| {
            let peer = ssl
                .ex_data(peer_index)
                .map(ToString::to_string)
                .unwrap_or_default();
            let mut signer = Signer::new(MessageDigest::sha256(), &generate_key)?;
            signer.update(peer.as_bytes())?;
            let mac = signer.sign_to_vec()?;
            let n = mac.len().min(out.len());
            out[..n].copy_from_slice(&mac[..n]);
            Ok(n)
        });
        ctx.set_cookie_verify_cb(move |ssl, cookie| {
            let peer = ssl
                .ex_data(peer_index)
                .map(ToString::to_string)
                .unwrap_or_default();
            Signer::new(MessageDigest::sha256(), &cookie_key)
                .and_then(|mut s| {
                    s.update(peer.as_bytes())?;
                    s.sign_to_vec()
                })
                .is_ok_and(|mac| mac.len() == cookie.len() && openssl::memcmp::eq(&mac, cookie))
        });
        let lookup = platform.clone();
        let runtime = tokio::runtime::Handle::current();
        ctx.set_psk_server_callback(move |ssl, identity, psk| {
            let Some(identity) = identity.and_then(|i| std::str::from_utf8(i).ok()) else {
                return Ok(0);
            };
            // The callback is synchronous; the lookup is one indexed read.
            let found =
                tokio::task::block_in_place(|| runtime.block_on(lookup.psk_for_identity(identity)));
            match found {
                Ok(Some((device, key))) if key.len() <= psk.len() => {
                    psk[..key.len()].copy_from_slice(&key);
                    ssl.set_ex_data(device_index, device);
                    Ok(key.len())
                }
                // 0 bytes: the handshake fails with an alert (unknown identity).
                _ => {
                    tracing::debug!(identity, "DTLS PSK identity refused");
                    Ok(0)
                }
            }
        });
        if !cert_file.as_os_str().is_empty() {
            ctx.set_certificate_chain_file(cert_file).with_context(|| {
                format!("coap.dtls.cert_file: cannot load {}", cert_file.display())
            })?;
            ctx.set_private_key_file(key_file, SslFiletype::PEM)
                .with_context(|| {
                    format!("coap.dtls.key_file: cannot load {}", key_file.display())
                })?;
            // Ask for a client certificate; which device it belongs to is decided by its
            // registered fingerprint after the handshake.
            ctx.set_verify_callback(SslVerifyMode::PEER, |_, _| true);
        }
        Ok(DtlsLayer {
            context: ctx.build(),
            peer_index,
            device_index,
            sessions: HashMap::new(),
            max_sessions,
            idle,
            platform,
        })
    }

    fn half_open(&self) -> usize {
        self.sessions.values().filter(|s| !s.established).count()
    }

    /// Feeds one datagram from `peer`.
    pub(crate) fn incoming(&mut self, peer: SocketAddr, data: &[u8]) -> Decrypted {
        let mut out = Decrypted::default();
        let now = Instant::now();
        // Half-open handshakes get a small share of the table: a flood of spoofed
        // ClientHellos then cannot crowd out established devices.
        let half_open_cap = (self.max_sessions / 10).max(100);
        if !self.sessions.contains_key(&peer) {
            if !is_client_hello(data) {
                return out;
            }
            if self.sessions.len() >= self.max_sessions || self.half_open() >= half_open_cap {
                self.expire();
                if self.sessions.len() >= self.max_sessions || self.half_open() >= half_open_cap {
                    tracing::warn!(%peer, "DTLS session limit reached; handshake ignored");
                    return out;
                }
            }
            match self.new_session(peer, now) {
                Ok(s) => {
                    self.sessions.insert(peer, s);
                }
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "cannot start a DTLS session");
                    return out;
                }
            }
        }
        let (device_index, platform) = (self.device_index, self.platform.clone());
        // Handshake (22) and ChangeCipherSpec (20) records go to a side handshake while one
        // runs; application data and alerts stay with the live session.
        let handshake_record = matches!(data.first(), Some(20 | 22));
        let renegotiating = self.sessions.get(&peer).is_some_and(|s| {
            s.established && (is_client_hello(data) || (s.next.is_some() && handshake_record))
        });
        if renegotiating {
            // A reconnect on the same address: handshake on the side.
            let fresh = if self.sessions.get(&peer).is_some_and(|s| s.next.is_none()) {
                self.new_session(peer, now).ok()
            } else {
                None
            };
            let Some(session) = self.sessions.get_mut(&peer) else {
                return out;
            };
            if let Some(fresh) = fresh {
                session.next = Some(Box::new(fresh));
            }
            if let Some(next) = session.next.as_mut() {
                // `next` is never established while it waits here: it replaces the
                // session the moment its handshake completes.
                next.stream.get_mut().incoming.push_back(data.to_vec());
                let result = handshake(next, device_index, &platform, peer);
                out.replies = std::mem::take(&mut next.stream.get_mut().outgoing);
                match result {
                    Handshake::Done => {
                        if let Some(next) = session.next.take() {
                            *session = *next;
                        }
                    }
                    Handshake::Failed => session.next = None,
                    Handshake::Pending => {}
                }
                return out;
            }
        }
        let Some(session) = self.sessions.get_mut(&peer) else {
            return out;
        };
        session.stream.get_mut().incoming.push_back(data.to_vec());
        let mut closed = false;
        if !session.established {
            match handshake(session, device_index, &platform, peer) {
                Handshake::Done => session.last = now,
                Handshake::Pending => {}
                Handshake::Failed => closed = true,
            }
        }
        if session.established && !closed {
            let mut buf = vec![0u8; 65_536];
            loop {
                match session.stream.ssl_read(&mut buf) {
                    Ok(n) => {
                        // Only authenticated records keep a session alive.
                        session.last = now;
                        out.plaintext.push(buf[..n].to_vec());
                    }
                    Err(e) if e.code() == ErrorCode::WANT_READ => break,
                    Err(e) if e.code() == ErrorCode::ZERO_RETURN => {
                        let _ = session.stream.shutdown();
                        closed = true;
                        break;
                    }
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "DTLS record refused");
                        break;
                    }
                }
            }
        }
        out.replies = std::mem::take(&mut session.stream.get_mut().outgoing);
        if closed {
            self.sessions.remove(&peer);
        }
        out
    }

    /// Ends the sessions of a device (its credentials were revoked); returns how many.
    pub(crate) fn drop_device(&mut self, device: uuid::Uuid) -> usize {
        let before = self.sessions.len();
        self.sessions
            .retain(|_, s| s.device.is_none_or(|d| d.device_id != device));
        before - self.sessions.len()
    }

    fn new_session(&self, peer: SocketAddr, now: Instant) -> anyhow::Result<Session> {
        let mut ssl = Ssl::new(&self.context)?;
        ssl.set_mtu(MTU)?;
        ssl.set_ex_data(self.peer_index, peer);
        ssl.set_accept_state();
        let stream = SslStream::new(ssl, Pipe::default())?;
        Ok(Session {
            stream,
            established: false,
            device: None,
            started: now,
            last: now,
            next: None,
        })
    }

    /// Encrypts a CoAP message for `peer`; nothing when no session is established.
    pub(crate) fn outgoing(&mut self, peer: SocketAddr, plaintext: &[u8]) -> Vec<Vec<u8>> {
        let Some(session) = self.sessions.get_mut(&peer).filter(|s| s.established) else {
            return Vec::new();
        };
        if let Err(e) = session.stream.ssl_write(plaintext) {
            tracing::debug!(%peer, error = %e, "DTLS write failed");
        }
        std::mem::take(&mut session.stream.get_mut().outgoing)
    }

    /// The device a peer authenticated as, if any.
    pub(crate) fn device(&self, peer: SocketAddr) -> Option<DeviceIdentity> {
        self.sessions.get(&peer).and_then(|s| s.device)
    }

    /// Drops unfinished handshakes and idle sessions.
    pub(crate) fn expire(&mut self) {
        let now = Instant::now();
        let idle = self.idle;
        self.sessions.retain(|_, s| {
            if s.next
                .as_ref()
                .is_some_and(|n| now.duration_since(n.started) >= HANDSHAKE_TIMEOUT)
            {
                s.next = None;
            }
            if s.established {
                now.duration_since(s.last) < idle
            } else {
                now.duration_since(s.started) < HANDSHAKE_TIMEOUT
            }
        });
        metrics::gauge!("strata_coap_dtls_sessions").set(self.sessions.len() as f64);
    }
}

/// The device whose registered certificate fingerprint the peer presented.
fn certificate_device(platform: &Platform, stream: &SslStream<Pipe>) -> Option<DeviceIdentity> {
    let cert = stream.ssl().peer_certificate()?;
    let digest = cert.digest(MessageDigest::sha256()).ok()?;
    let fingerprint = hex::encode(digest);
    let runtime = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| {
        runtime.block_on(platform.authenticate_device_certificate(&fingerprint))
    })
    .ok()
}
