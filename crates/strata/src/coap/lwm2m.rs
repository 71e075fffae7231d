//! The LwM2M side of the CoAP listener: requests from the LwM2M server to clients go out
//! through this socket's endpoint ([`CoapTransport`]), and `/rd`, `/bs` and `/fw/{id}`
//! requests from clients reach the server.

use std::net::SocketAddr;

use strata_lwm2m::{InResponse, OutRequest, Transport, TransportError};
use strata_proto_coap::block::BlockValue;
use strata_proto_coap::{EncodeError, Message, MessageWriter, Token, option};
use tokio::sync::{mpsc, oneshot};

use super::Command;

/// Carries the LwM2M server's requests to the listener task.
pub(crate) struct CoapTransport {
    pub(crate) commands: mpsc::UnboundedSender<Command>,
}

impl Transport for CoapTransport {
    fn request(
        &self,
        peer: SocketAddr,
        request: OutRequest,
    ) -> oneshot::Receiver<Result<InResponse, TransportError>> {
        let (reply, rx) = oneshot::channel();
        if let Err(mpsc::error::SendError(Command::Request { reply, .. })) =
            self.commands.send(Command::Request {
                peer,
                request,
                reply,
            })
        {
            let _ = reply.send(Err(TransportError::Closed));
        }
        rx
    }

    fn forget(&self, peer: SocketAddr, token: Token) {
        let _ = self.commands.send(Command::Forget { peer, token });
    }
}

/// Writes a request's options and payload in ascending option order.
pub(crate) fn write_request(
    w: &mut MessageWriter<'_>,
    request: &OutRequest,
) -> Result<(), EncodeError> {
    if let Some(observe) = request.observe {
        w.uint_option(option::OBSERVE, observe)?;
    }
    for segment in &request.path {
        w.option(option::URI_PATH, segment.as_bytes())?;
    }
    if let Some(cf) = request.content_format {
        w.uint_option(option::CONTENT_FORMAT, u32::from(cf))?;
    }
    for query in &request.query {
        w.option(option::URI_QUERY, query.as_bytes())?;
    }
    if let Some(accept) = request.accept {
        w.uint_option(option::ACCEPT, u32::from(accept))?;
    }
    if let Some(b2) = request.block2 {
        w.uint_option(option::BLOCK2, b2.encode())?;
    }
    if let Some(b1) = request.block1 {
        w.uint_option(option::BLOCK1, b1.encode())?;
    }
    w.payload(&request.payload);
    Ok(())
}

/// A response as the LwM2M server sees it.
pub(crate) fn in_response(token: Token, message: &Message<'_>) -> InResponse {
    let block = |n| BlockValue::from_message(message, n).and_then(Result::ok);
    InResponse {
        token,
        code: message.code,
        content_format: message.content_format(),
        observe: message.observe(),
        block1: block(option::BLOCK1),
        block2: block(option::BLOCK2),
        location: message
            .option_values(option::LOCATION_PATH)
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect(),
        payload: message.payload.to_vec(),
    }
}

/// Ends a device's LwM2M registrations when its credentials change (the LwM2M server
/// carries no platform downlinks itself).
pub(crate) struct Lwm2mLink {
    pub(crate) server: strata_lwm2m::Lwm2mServer,
}

impl strata_platform::downlink::DeviceLink for Lwm2mLink {
    fn send(
        &self,
        _device: &strata_store::DeviceIdentity,
        _message: &strata_platform::downlink::Downlink,
    ) -> bool {
        false
    }

    fn disconnect(&self, device: &strata_store::DeviceIdentity) {
        let n = self.server.disconnect_device(device.device_id);
        if n > 0 {
            tracing::info!(device = %device.device_id, registrations = n, "LwM2M registration ended: the device's credentials changed");
        }
    }
}
