//! What the server needs from the CoAP listener that owns the socket: send a request to a
//! client and get its response; later notifications of an observation come back through
//! [`crate::Lwm2mServer::notification`].

use std::net::SocketAddr;

use strata_proto_coap::Code;
use strata_proto_coap::Token;
use strata_proto_coap::block::BlockValue;
use tokio::sync::oneshot;

/// A request to a client.
#[derive(Debug, Clone)]
pub struct OutRequest {
    /// Method.
    pub method: Code,
    /// Uri-Path segments.
    pub path: Vec<String>,
    /// Uri-Query items.
    pub query: Vec<String>,
    /// Content-Format of the payload.
    pub content_format: Option<u16>,
    /// Accept.
    pub accept: Option<u16>,
    /// Observe (0 register, 1 cancel).
    pub observe: Option<u32>,
    /// Block1 of a block-wise upload.
    pub block1: Option<BlockValue>,
    /// Block2 asked for.
    pub block2: Option<BlockValue>,
    /// Payload.
    pub payload: Vec<u8>,
    /// For an observe request: the endpoint and path, so the listener can hand later
    /// notifications over even before the caller has seen the first response.
    pub observation: Option<(String, strata_proto_coap::lwm2m::Path)>,
}

impl Default for OutRequest {
    fn default() -> Self {
        OutRequest {
            method: Code::GET,
            path: Vec::new(),
            query: Vec::new(),
            content_format: None,
            accept: None,
            observe: None,
            block1: None,
            block2: None,
            payload: Vec::new(),
            observation: None,
        }
    }
}

/// A client's response.
#[derive(Debug, Clone)]
pub struct InResponse {
    /// The request's token (names the observation for notifications).
    pub token: Token,
    /// Response code.
    pub code: Code,
    /// Content-Format.
    pub content_format: Option<u16>,
    /// Observe sequence number, on notifications and observe responses.
    pub observe: Option<u32>,
    /// Block1 echoed.
    pub block1: Option<BlockValue>,
    /// Block2 of this response.
    pub block2: Option<BlockValue>,
    /// Location-Path segments (Create).
    pub location: Vec<String>,
    /// Payload.
    pub payload: Vec<u8>,
}

/// Why no response came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// No acknowledgement after every retransmission (the client is gone or asleep).
    #[error("the client did not answer (no acknowledgement after retransmissions)")]
    TimedOut,
    /// The client rejected the message with RST.
    #[error("the client rejected the request (CoAP reset)")]
    Reset,
    /// The listener is stopping.
    #[error("the CoAP listener is stopping")]
    Closed,
    /// The request could not be encoded.
    #[error("the request could not be encoded")]
    Encode,
}

/// The CoAP listener, as the server uses it.
pub trait Transport: Send + Sync {
    /// Sends a confirmable request; the first response (or the failure) arrives on the
    /// returned channel.
    fn request(
        &self,
        peer: SocketAddr,
        request: OutRequest,
    ) -> oneshot::Receiver<Result<InResponse, TransportError>>;

    /// Stops accepting notifications for an observation (later ones get RST).
    fn forget(&self, peer: SocketAddr, token: Token);
}
