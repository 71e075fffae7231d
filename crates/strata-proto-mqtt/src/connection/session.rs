//! Session state that outlives one network connection (MQTT 5.0 section 4.1).

use alloc::collections::{BTreeSet, VecDeque};

use crate::packet::Publish;
use crate::types::{PacketId, QoS};

/// Where an outgoing QoS 1/2 message is in its acknowledgement flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutgoingState {
    /// QoS 1: PUBLISH sent, waiting for PUBACK.
    AwaitingPubAck,
    /// QoS 2: PUBLISH sent, waiting for PUBREC.
    AwaitingPubRec,
    /// QoS 2: PUBREL sent, waiting for PUBCOMP.
    AwaitingPubComp,
}

/// An outgoing QoS 1/2 message that the client has not fully acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InflightMessage {
    /// The packet identifier the message was sent with.
    pub packet_id: PacketId,
    /// The message as sent (full topic name, no topic alias, `packet_id` set).
    pub message: Publish,
    /// How far the acknowledgement flow got.
    pub state: OutgoingState,
}

/// An outgoing message waiting for an in-flight slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMessage {
    /// The message, without packet identifier.
    pub message: Publish,
    /// When it was queued, in the caller's milliseconds (the `now` of the call that queued it).
    /// Its Message Expiry Interval is reduced by the time spent queued when it is sent, and it
    /// is discarded if that interval has passed (MQTT 5.0 section 3.3.2.3.3).
    pub queued_at: u64,
}

/// The part of an MQTT session that the connection state machine keeps and that must survive a
/// reconnection: take it out of a closed connection with
/// [`ServerConnection::take_session`](crate::ServerConnection::take_session) and pass it to the
/// next one through [`AcceptOptions::resume`](crate::AcceptOptions::resume).
///
/// Subscriptions, retained messages and will messages belong to the broker and are not here.
/// All fields are plain data, so the broker can persist the state in any format.
///
/// Incoming QoS 2 messages whose PUBREC was not yet sent (the broker had not called
/// `ack_incoming`) are not kept: the client re-sends them with DUP on the next connection and
/// the broker sees them again, so a broker that made such a message durable must recognise the
/// duplicate by client identifier and packet identifier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionState {
    /// Outgoing QoS 1/2 messages sent but not completed, in the order they were first sent.
    /// On resumption they are re-sent (PUBLISH with DUP set, or PUBREL) in this order.
    pub inflight: VecDeque<InflightMessage>,
    /// Outgoing QoS 1/2 messages waiting for an in-flight slot, in order (no packet id yet).
    pub pending: VecDeque<PendingMessage>,
    /// Incoming QoS 2 packet identifiers for which PUBREC was sent and PUBREL not yet received;
    /// a PUBLISH re-sent with one of them is answered with PUBREC but not delivered again.
    pub incoming_awaiting_pubrel: BTreeSet<u16>,
    /// The next packet identifier to try for an outgoing message.
    pub next_packet_id: u16,
}

impl SessionState {
    /// An empty session.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of outgoing messages in flight or pending.
    pub fn outgoing_len(&self) -> usize {
        self.inflight.len() + self.pending.len()
    }

    /// Queues a message at `now` for delivery when the session is next resumed (e.g. while
    /// the client is offline). QoS 0 messages are not queued and are given back.
    pub fn queue(&mut self, now: u64, mut message: Publish) -> Result<(), Publish> {
        if message.qos == QoS::AtMostOnce {
            return Err(message);
        }
        message.packet_id = None;
        message.dup = false;
        message.properties.topic_alias = None;
        self.pending.push_back(PendingMessage {
            message,
            queued_at: now,
        });
        Ok(())
    }

    /// Reduces the Message Expiry Interval of `message` by the whole seconds since
    /// `queued_at`; returns false if the message has expired.
    pub fn age_message(message: &mut Publish, queued_at: u64, now: u64) -> bool {
        if let Some(expiry) = message.properties.message_expiry_interval {
            let waited = now.saturating_sub(queued_at) / 1000;
            if waited >= u64::from(expiry) {
                return false;
            }
            // waited < expiry <= u32::MAX, so the conversion cannot fail.
            let waited = u32::try_from(waited).unwrap_or(u32::MAX);
            message.properties.message_expiry_interval = Some(expiry - waited);
        }
        true
    }

    pub(crate) fn find_inflight(&self, id: PacketId) -> Option<usize> {
        self.inflight.iter().position(|m| m.packet_id == id)
    }

    /// Allocates a packet identifier not used by any in-flight message.
    pub(crate) fn allocate_packet_id(&mut self) -> Option<PacketId> {
        for _ in 0..=u16::MAX {
            let candidate = self.next_packet_id;
            self.next_packet_id = self.next_packet_id.wrapping_add(1);
            if let Some(id) = PacketId::new(candidate)
                && self.find_inflight(id).is_none()
            {
                return Some(id);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_ids_skip_zero_and_in_use() {
        let mut s = SessionState {
            next_packet_id: u16::MAX,
            ..SessionState::default()
        };
        assert_eq!(s.allocate_packet_id(), PacketId::new(u16::MAX));
        assert_eq!(s.allocate_packet_id(), PacketId::new(1));
        s.inflight.push_back(InflightMessage {
            packet_id: PacketId::MIN.saturating_add(1),
            message: Publish::new("t", QoS::AtLeastOnce, &b""[..]),
            state: OutgoingState::AwaitingPubAck,
        });
        assert_eq!(s.allocate_packet_id(), PacketId::new(3));
    }

    #[test]
    fn queue_refuses_qos0() {
        let mut s = SessionState::new();
        assert!(
            s.queue(0, Publish::new("t", QoS::AtMostOnce, &b""[..]))
                .is_err()
        );
        assert!(
            s.queue(0, Publish::new("t", QoS::AtLeastOnce, &b""[..]))
                .is_ok()
        );
        assert_eq!(s.outgoing_len(), 1);
    }
}

#[cfg(test)]
mod expiry_tests {
    use super::*;

    #[test]
    fn ageing() {
        let mut m = Publish::new("t", QoS::AtLeastOnce, &b""[..]);
        assert!(SessionState::age_message(&mut m, 0, 1_000_000));
        m.properties.message_expiry_interval = Some(10);
        assert!(SessionState::age_message(&mut m, 1_000, 4_999));
        assert_eq!(m.properties.message_expiry_interval, Some(7));
        assert!(!SessionState::age_message(&mut m, 0, 7_000));
    }
}
