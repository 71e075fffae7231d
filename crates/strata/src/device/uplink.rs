//! The pipelines' MQTT uplink: one device connection authenticated by its access token,
//! publishing to the device API's telemetry topic at QoS 1 (each message acknowledged), and
//! counting the bytes that went over the wire.

use std::num::NonZeroU16;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::{Bytes, BytesMut};
use clap::Args;
use strata_proto_mqtt::packet::{self, Connect, Packet, Publish};
use strata_proto_mqtt::{ProtocolVersion, QoS, ReasonCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const V: ProtocolVersion = ProtocolVersion::V311;
const TELEMETRY: &str = "v1/devices/me/telemetry";
const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// Where and as whom a simulated pipeline device sends.
#[derive(Args, Clone)]
pub(crate) struct UplinkArgs {
    /// The device's access token (from `POST /api/devices`); without it the device runs
    /// offline and only reports what it would have sent.
    #[arg(long, env = "STRATA_DEVICE_TOKEN")]
    pub token: Option<String>,
    /// The MQTT listener of `strata serve` (host:port).
    #[arg(long, default_value = "127.0.0.1:1883")]
    pub mqtt: String,
}

/// An MQTT connection that counts its bytes.
pub(crate) struct Uplink {
    stream: Option<TcpStream>,
    read: BytesMut,
    next_id: u16,
    /// Bytes sent (every MQTT packet, headers included).
    pub sent_bytes: u64,
    /// Messages published.
    pub messages: u64,
}

impl Uplink {
    /// Connects (or, without a token, an offline uplink that only counts). The client id is
    /// `prefix` plus a random suffix, so several simulated devices can run at once.
    pub(crate) async fn open(args: &UplinkArgs, prefix: &str) -> anyhow::Result<Self> {
        let client_id = format!("{prefix}-{:08x}", rand::random::<u32>());
        let client_id = client_id.as_str();
        let mut uplink = Self {
            stream: None,
            read: BytesMut::with_capacity(1024),
            next_id: 0,
            sent_bytes: 0,
            messages: 0,
        };
        let Some(token) = &args.token else {
            return Ok(uplink);
        };
        let stream = TcpStream::connect(&args.mqtt).await.with_context(|| {
            format!(
                "cannot reach the MQTT listener at {}; start `strata serve` or pass --mqtt",
                args.mqtt
            )
        })?;
        stream.set_nodelay(true)?;
        uplink.stream = Some(stream);
        // Keep-alive 0: the simulated devices may be silent for long (that is their point)
        // and send no PINGREQ, so the broker must not time them out.
        let mut connect = Connect::new(V, client_id, 0);
        connect.username = Some(token.clone());
        uplink.send(&Packet::Connect(Box::new(connect))).await?;
        match uplink.answer().await? {
            Packet::ConnAck(ack) if ack.reason_code == ReasonCode::Success => Ok(uplink),
            Packet::ConnAck(ack) => bail!(
                "the server refused the device ({:?}); check --token (create a device with \
                 POST /api/devices)",
                ack.reason_code
            ),
            other => bail!("unexpected answer to CONNECT: {other:?}"),
        }
    }

    /// Publishes one telemetry message and waits for its acknowledgement.
    pub(crate) async fn telemetry(&mut self, json: &serde_json::Value) -> anyhow::Result<()> {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let id = NonZeroU16::new(self.next_id);
        let mut publish = Publish::new(TELEMETRY, QoS::AtLeastOnce, Bytes::from(json.to_string()));
        publish.packet_id = id;
        self.send(&Packet::Publish(publish)).await?;
        self.messages += 1;
        if self.stream.is_some() {
            match self.answer().await? {
                Packet::PubAck(ack) if Some(ack.packet_id) == id => {}
                other => bail!("unexpected answer to PUBLISH: {other:?}"),
            }
        }
        Ok(())
    }

    /// Disconnects cleanly.
    pub(crate) async fn close(mut self) -> anyhow::Result<()> {
        if self.stream.is_some() {
            self.send(&Packet::Disconnect(
                strata_proto_mqtt::packet::Disconnect::new(ReasonCode::Success),
            ))
            .await?;
        }
        Ok(())
    }

    async fn send(&mut self, packet: &Packet) -> anyhow::Result<()> {
        let mut buf = BytesMut::new();
        packet
            .encode(V, &mut buf)
            .context("encoding an MQTT packet")?;
        self.sent_bytes += buf.len() as u64;
        if let Some(stream) = &mut self.stream {
            stream
                .write_all(&buf)
                .await
                .context("sending to the server")?;
        }
        Ok(())
    }

    async fn answer(&mut self) -> anyhow::Result<Packet> {
        let Some(stream) = &mut self.stream else {
            bail!("offline");
        };
        tokio::time::timeout(ANSWER_WAIT, async {
            loop {
                if let Some(p) = packet::decode(&mut self.read, V, 64 * 1024)? {
                    return Ok(p);
                }
                if stream.read_buf(&mut self.read).await? == 0 {
                    bail!("the server closed the connection");
                }
            }
        })
        .await
        .context("no answer from the server within 10 s")?
    }
}
