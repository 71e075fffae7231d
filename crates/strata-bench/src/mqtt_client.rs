//! A minimal MQTT 3.1.1 client for load generation, built on the project's codec.

use std::net::SocketAddr;
use std::num::NonZeroU16;

use anyhow::{Context, bail};
use bytes::BytesMut;
use strata_proto_mqtt::packet::{self, Connect, Packet, PubAck, Publish, Subscribe, Subscription};
use strata_proto_mqtt::{ProtocolVersion, QoS, ReasonCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

const V: ProtocolVersion = ProtocolVersion::V311;
const MAX_PACKET: usize = 1 << 20;

/// Reading side of a connection.
pub(crate) struct Reader {
    half: OwnedReadHalf,
    buf: BytesMut,
}

/// Writing side of a connection; packets are encoded into a buffer and flushed together.
pub(crate) struct Writer {
    half: OwnedWriteHalf,
    buf: BytesMut,
}

/// Connects and completes the MQTT handshake.
pub(crate) async fn connect(
    addr: SocketAddr,
    source: Option<std::net::IpAddr>,
    client_id: &str,
    keep_alive: u16,
) -> anyhow::Result<(Reader, Writer)> {
    let stream = match source {
        None => TcpStream::connect(addr).await?,
        Some(ip) => {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::new(ip, 0))?;
            socket.connect(addr).await?
        }
    };
    stream.set_nodelay(true)?;
    let (read, write) = stream.into_split();
    let mut reader = Reader {
        half: read,
        buf: BytesMut::with_capacity(4096),
    };
    let mut writer = Writer {
        half: write,
        buf: BytesMut::with_capacity(4096),
    };
    let connect = Connect::new(V, client_id, keep_alive);
    writer.push(&Packet::Connect(Box::new(connect)))?;
    writer.flush().await?;
    match reader.next().await? {
        Packet::ConnAck(ack) if ack.reason_code == ReasonCode::Success => Ok((reader, writer)),
        other => bail!("connection refused: {other:?}"),
    }
}

impl Reader {
    /// The next packet from the server.
    pub(crate) async fn next(&mut self) -> anyhow::Result<Packet> {
        loop {
            if let Some(p) = packet::decode(&mut self.buf, V, MAX_PACKET)? {
                return Ok(p);
            }
            self.buf.reserve(16 * 1024);
            let n = self.half.read_buf(&mut self.buf).await?;
            if n == 0 {
                bail!("connection closed by the broker");
            }
        }
    }

    /// Drops read buffer capacity (idle connections should hold nothing).
    pub(crate) fn shrink(&mut self) {
        self.buf = BytesMut::new();
    }
}

impl Writer {
    /// Encodes a packet into the send buffer.
    pub(crate) fn push(&mut self, packet: &Packet) -> anyhow::Result<()> {
        packet.encode(V, &mut self.buf).context("encode")?;
        Ok(())
    }

    /// Sends everything buffered.
    pub(crate) async fn flush(&mut self) -> anyhow::Result<()> {
        if !self.buf.is_empty() {
            self.half.write_all(&self.buf).await?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Buffers a PUBLISH.
    pub(crate) fn publish(
        &mut self,
        topic: &str,
        qos: QoS,
        id: Option<NonZeroU16>,
        payload: &[u8],
    ) -> anyhow::Result<()> {
        let mut p = Publish::new(topic, qos, bytes::Bytes::copy_from_slice(payload));
        p.packet_id = id;
        self.push(&Packet::Publish(p))
    }

    /// Buffers a PUBACK.
    pub(crate) fn puback(&mut self, id: NonZeroU16) -> anyhow::Result<()> {
        self.push(&Packet::PubAck(PubAck::new(id)))
    }

    /// Subscribes and waits for the SUBACK.
    pub(crate) async fn subscribe(
        &mut self,
        reader: &mut Reader,
        filter: &str,
        qos: QoS,
    ) -> anyhow::Result<()> {
        let id = NonZeroU16::new(1).context("packet id")?;
        self.push(&Packet::Subscribe(Subscribe::new(
            id,
            vec![Subscription::new(filter, qos)],
        )))?;
        self.flush().await?;
        loop {
            match reader.next().await? {
                Packet::SubAck(_) => return Ok(()),
                Packet::Publish(_) => continue,
                other => bail!("expected SUBACK, got {other:?}"),
            }
        }
    }
}
