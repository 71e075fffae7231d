//! Byte transforms between the socket and the MQTT state machine: TLS, WebSocket framing,
//! or both (WebSocket inside TLS).
//!
//! A plain TCP connection has no transport at all (`Conn::transport` is `None`), so idle plain
//! connections pay nothing for this module. TLS is a [`rustls::ServerConnection`], which is
//! itself sans-IO: ciphertext goes in through `read_tls` from a byte slice and comes out
//! through `write_tls` into a buffer; WebSocket is our own sans-IO [`WebSocket`]. The event
//! loop keeps doing all socket I/O.

use std::io::{self, Read, Write};
use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use sha2::{Digest, Sha256};

use crate::websocket::{WebSocket, WsError};

/// The path MQTT over WebSocket is served on.
pub(crate) const WEBSOCKET_PATH: &str = "/mqtt";

/// A transport failure; the connection is closed after any alert has been flushed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    /// The TLS peer misbehaved or the handshake failed.
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// Reading or writing the TLS buffers failed.
    #[error("TLS I/O: {0}")]
    Io(#[from] io::Error),
    /// The WebSocket upgrade or framing failed.
    #[error(transparent)]
    WebSocket(#[from] WsError),
}

/// What feeding received bytes produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Received {
    /// The peer closed its side cleanly (TLS close_notify, WebSocket close frame).
    pub(crate) closed: bool,
}

/// The layers between a connection's socket and its MQTT state machine.
pub(crate) struct Transport {
    tls: Option<rustls::ServerConnection>,
    ws: Option<WebSocket>,
}

impl Transport {
    /// TLS under `tls` (if any), then WebSocket framing (if `websocket`).
    pub(crate) fn new(
        tls: Option<Arc<rustls::ServerConfig>>,
        websocket: bool,
    ) -> Result<Self, TransportError> {
        let tls = match tls {
            None => None,
            Some(config) => {
                let mut conn = rustls::ServerConnection::new(config)?;
                // The broker bounds what waits for a slow client itself (slow-consumer
                // dropping and the session queue), so rustls must not refuse plaintext
                // halfway through a packet.
                conn.set_buffer_limit(None);
                Some(conn)
            }
        };
        Ok(Self {
            tls,
            ws: websocket.then(|| WebSocket::new(WEBSOCKET_PATH)),
        })
    }

    /// Feeds bytes read from the socket; appends the MQTT bytes they carried to `plain`.
    /// Bytes the layers must answer with (handshake, alerts, pongs) wait for
    /// [`Self::encode`].
    pub(crate) fn decode(
        &mut self,
        raw: &[u8],
        plain: &mut Vec<u8>,
    ) -> Result<Received, TransportError> {
        match (&mut self.tls, &mut self.ws) {
            (None, None) => {
                plain.extend_from_slice(raw);
                Ok(Received::default())
            }
            (Some(tls), None) => decode_tls(tls, raw, plain),
            (None, Some(ws)) => Ok(Received {
                closed: ws.decode(raw, plain)?.closed,
            }),
            (Some(tls), Some(ws)) => {
                let mut framed = Vec::new();
                let mut received = decode_tls(tls, raw, &mut framed)?;
                received.closed |= ws.decode(&framed, plain)?.closed;
                Ok(received)
            }
        }
    }

    /// Encodes `plain` (WebSocket frame, then TLS records) and appends everything the layers
    /// have to send to `wire`.
    pub(crate) fn encode(
        &mut self,
        plain: &[u8],
        wire: &mut BytesMut,
    ) -> Result<(), TransportError> {
        match (&mut self.tls, &mut self.ws) {
            (None, None) => wire.extend_from_slice(plain),
            (Some(tls), None) => encode_tls(tls, plain, wire)?,
            (None, Some(ws)) => ws.encode(plain, wire),
            (Some(tls), Some(ws)) => {
                let mut framed = BytesMut::new();
                ws.encode(plain, &mut framed);
                encode_tls(tls, &framed, wire)?;
            }
        }
        Ok(())
    }

    /// Queues the layers' clean end: a WebSocket close frame and a TLS close_notify
    /// (flushed by the next [`Self::encode`]).
    pub(crate) fn close(&mut self) {
        if let Some(ws) = self.ws.as_mut() {
            ws.close(1000);
        }
        if let Some(tls) = self.tls.as_mut() {
            tls.send_close_notify();
        }
    }

    /// The SHA-256 fingerprint (lower-case hex) of the client certificate, if one was
    /// presented and its handshake signature verified.
    pub(crate) fn client_fingerprint(&self) -> Option<String> {
        let cert = self.tls.as_ref()?.peer_certificates()?.first()?;
        Some(fingerprint(cert.as_ref()))
    }
}

fn decode_tls(
    tls: &mut rustls::ServerConnection,
    mut raw: &[u8],
    plain: &mut Vec<u8>,
) -> Result<Received, TransportError> {
    let mut received = Received::default();
    while !raw.is_empty() {
        let n = tls.read_tls(&mut raw)?;
        if n == 0 {
            break;
        }
        tls.process_new_packets()?;
        // Drain plaintext after every record batch: rustls stops taking ciphertext while its
        // plaintext buffer is full.
        let mut reader = tls.reader();
        let mut chunk = [0u8; 4096];
        loop {
            match reader.read(&mut chunk) {
                Ok(0) => {
                    received.closed = true;
                    break;
                }
                Ok(n) => plain.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // The peer vanished without close_notify: treated as end of stream.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    received.closed = true;
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(received)
}

fn encode_tls(
    tls: &mut rustls::ServerConnection,
    plain: &[u8],
    wire: &mut BytesMut,
) -> Result<(), TransportError> {
    if !plain.is_empty() {
        tls.writer().write_all(plain)?;
    }
    let mut out = wire.writer();
    while tls.wants_write() {
        tls.write_tls(&mut out)?;
    }
    Ok(())
}

/// SHA-256 of DER bytes as lower-case hex: the form device X.509 credentials are stored in.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        use std::fmt::Write as _;
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Requests a client certificate, accepts any (or none), and checks that the client holds
/// the certificate's private key.
///
/// Devices are identified by the fingerprint of their (often self-signed) certificate, as
/// in ThingsBoard: the certificate proves nothing by its issuer, only by being registered as
/// a device credential, which the authentication hook checks. A connection without a
/// certificate goes on to authenticate with a token.
#[derive(Debug)]
pub struct FingerprintClientVerifier {
    provider: Arc<CryptoProvider>,
}

impl FingerprintClientVerifier {
    /// A verifier checking handshake signatures with `provider`'s algorithms.
    pub fn new(provider: Arc<CryptoProvider>) -> Self {
        Self { provider }
    }
}

impl ClientCertVerifier for FingerprintClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Builds the rustls server configuration for an MQTT TLS listener from PEM files: the
/// certificate chain (leaf first) and its private key. Client certificates are requested
/// and identified by fingerprint (see [`FingerprintClientVerifier`]).
pub fn server_config_from_pem(
    cert_file: &std::path::Path,
    key_file: &std::path::Path,
) -> Result<Arc<rustls::ServerConfig>, TlsConfigError> {
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;

    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| TlsConfigError::Cert(cert_file.display().to_string(), e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsConfigError::Cert(cert_file.display().to_string(), e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsConfigError::Cert(
            cert_file.display().to_string(),
            "no CERTIFICATE block found".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| TlsConfigError::Key(key_file.display().to_string(), e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(TlsConfigError::Rustls)?
        .with_client_cert_verifier(Arc::new(FingerprintClientVerifier::new(provider)))
        .with_single_cert(certs, key)
        .map_err(TlsConfigError::Rustls)?;
    Ok(Arc::new(config))
}

/// Why a TLS listener could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// The certificate file is missing or holds no usable certificate.
    #[error("cannot read the certificate chain from {0}: {1}")]
    Cert(String, String),
    /// The key file is missing or holds no usable private key.
    #[error("cannot read the private key from {0}: {1}")]
    Key(String, String),
    /// rustls refused the certificate or key (e.g. they do not match).
    #[error("the certificate and key were refused: {0}")]
    Rustls(rustls::Error),
}
