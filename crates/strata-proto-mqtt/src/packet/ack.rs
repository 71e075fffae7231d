//! Body codec shared by PUBACK, PUBREC, PUBREL and PUBCOMP, which have the same layout
//! (MQTT 5.0 sections 3.4 to 3.7): packet identifier, then in 5.0 an optional reason code and
//! optional properties.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::properties::{PacketProperties, Properties, PropertyContext};
use crate::reason::{ReasonCode, ReasonContext};
use crate::types::{PacketId, ProtocolVersion};
use crate::wire::{expect_end, read_packet_id, read_u8};

pub(crate) fn decode(
    mut body: Bytes,
    version: ProtocolVersion,
    ctx: ReasonContext,
) -> Result<(PacketId, ReasonCode, PacketProperties), DecodeError> {
    let packet_id = read_packet_id(&mut body)?;
    let mut reason_code = ReasonCode::Success;
    let mut properties = PacketProperties::default();
    if version.is_v5() {
        if !body.is_empty() {
            let byte = read_u8(&mut body)?;
            reason_code = ReasonCode::try_from(byte).map_err(DecodeError::UnknownReasonCode)?;
            if !reason_code.allowed_in(ctx) {
                return Err(DecodeError::ReasonCodeNotAllowed(reason_code));
            }
        }
        if !body.is_empty() {
            properties = PacketProperties::decode(&mut body, PropertyContext::Ack)?;
        }
    }
    expect_end(&body)?;
    Ok((packet_id, reason_code, properties))
}

pub(crate) fn body_len(
    reason_code: ReasonCode,
    properties: &Properties,
    version: ProtocolVersion,
    ctx: ReasonContext,
) -> Result<usize, EncodeError> {
    if !reason_code.allowed_in(ctx) || (!version.is_v5() && reason_code != ReasonCode::Success) {
        return Err(EncodeError::ReasonCodeNotAllowed(reason_code));
    }
    let props = crate::properties::props_len(properties, PropertyContext::Ack, version)?;
    Ok(if !version.is_v5() {
        2
    } else if !properties.is_empty() {
        3 + props
    } else if reason_code != ReasonCode::Success {
        3
    } else {
        2
    })
}

pub(crate) fn write_body(
    packet_id: PacketId,
    reason_code: ReasonCode,
    properties: &Properties,
    version: ProtocolVersion,
    buf: &mut BytesMut,
) {
    buf.put_u16(packet_id.get());
    if !version.is_v5() {
        return;
    }
    if !properties.is_empty() {
        buf.put_u8(reason_code.into());
        properties.write(PropertyContext::Ack, buf);
    } else if reason_code != ReasonCode::Success {
        buf.put_u8(reason_code.into());
    }
}
