//! MQTT 5.0 properties (section 2.2.2).
//!
//! One typed [`Properties`] struct holds every property; each packet allows a subset, which the
//! decoder enforces (a disallowed property is a Protocol Error) and the encoder checks
//! (encoding a disallowed property is [`EncodeError::PropertyNotAllowed`]). MQTT 3.1.1 packets
//! carry no properties, so encoding a non-empty `Properties` on 3.1.1 is an error as well.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::ops::{Deref, DerefMut};

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::topic::validate_topic_name;
use crate::types::QoS;
use crate::wire::{
    VARINT_MAX, binary_len, read_binary, read_string, read_u8, read_u16, read_u32, read_varint,
    string_len, varint_len, write_binary, write_string, write_varint,
};

macro_rules! property_ids {
    ($($(#[$doc:meta])* $name:ident = $value:literal,)*) => {
        /// A property identifier (MQTT 5.0 table 2-4).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        #[non_exhaustive]
        pub enum PropertyId {
            $($(#[$doc])* $name = $value,)*
        }

        impl TryFrom<u32> for PropertyId {
            type Error = u32;

            /// Converts a wire identifier; unknown identifiers are given back.
            fn try_from(value: u32) -> Result<Self, u32> {
                match value {
                    $($value => Ok(Self::$name),)*
                    other => Err(other),
                }
            }
        }
    };
}

property_ids! {
    /// 0x01, Byte: payload is UTF-8 (1) or unspecified bytes (0).
    PayloadFormatIndicator = 0x01,
    /// 0x02, Four Byte Integer: lifetime of the message in seconds.
    MessageExpiryInterval = 0x02,
    /// 0x03, UTF-8 String: MIME type of the payload.
    ContentType = 0x03,
    /// 0x08, UTF-8 String: topic for a response message.
    ResponseTopic = 0x08,
    /// 0x09, Binary Data: correlation data for request/response.
    CorrelationData = 0x09,
    /// 0x0B, Variable Byte Integer: subscription identifier.
    SubscriptionIdentifier = 0x0B,
    /// 0x11, Four Byte Integer: session expiry interval in seconds.
    SessionExpiryInterval = 0x11,
    /// 0x12, UTF-8 String: client identifier assigned by the server.
    AssignedClientIdentifier = 0x12,
    /// 0x13, Two Byte Integer: keep alive imposed by the server.
    ServerKeepAlive = 0x13,
    /// 0x15, UTF-8 String: extended authentication method.
    AuthenticationMethod = 0x15,
    /// 0x16, Binary Data: extended authentication data.
    AuthenticationData = 0x16,
    /// 0x17, Byte: whether the client wants reason strings and user properties on failures.
    RequestProblemInformation = 0x17,
    /// 0x18, Four Byte Integer: delay before the will is published.
    WillDelayInterval = 0x18,
    /// 0x19, Byte: whether the client wants Response Information in CONNACK.
    RequestResponseInformation = 0x19,
    /// 0x1A, UTF-8 String: basis for response topics.
    ResponseInformation = 0x1A,
    /// 0x1C, UTF-8 String: another server to use.
    ServerReference = 0x1C,
    /// 0x1F, UTF-8 String: human readable diagnostic.
    ReasonString = 0x1F,
    /// 0x21, Two Byte Integer: maximum concurrent QoS 1 and 2 messages.
    ReceiveMaximum = 0x21,
    /// 0x22, Two Byte Integer: highest topic alias accepted.
    TopicAliasMaximum = 0x22,
    /// 0x23, Two Byte Integer: topic alias.
    TopicAlias = 0x23,
    /// 0x24, Byte: highest QoS the server supports.
    MaximumQoS = 0x24,
    /// 0x25, Byte: whether retained messages are supported.
    RetainAvailable = 0x25,
    /// 0x26, UTF-8 String Pair: user property.
    UserProperty = 0x26,
    /// 0x27, Four Byte Integer: largest packet accepted.
    MaximumPacketSize = 0x27,
    /// 0x28, Byte: whether wildcard subscriptions are supported.
    WildcardSubscriptionAvailable = 0x28,
    /// 0x29, Byte: whether subscription identifiers are supported.
    SubscriptionIdentifierAvailable = 0x29,
    /// 0x2A, Byte: whether shared subscriptions are supported.
    SharedSubscriptionAvailable = 0x2A,
}

/// Which packet (or part of one) a property set belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PropertyContext {
    Connect,
    Will,
    ConnAck,
    Publish,
    /// PUBACK, PUBREC, PUBREL and PUBCOMP.
    Ack,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth,
}

impl PropertyContext {
    pub(crate) fn allows(self, id: PropertyId) -> bool {
        use PropertyContext as C;
        use PropertyId as P;
        match id {
            P::UserProperty => true,
            P::PayloadFormatIndicator
            | P::MessageExpiryInterval
            | P::ContentType
            | P::ResponseTopic
            | P::CorrelationData => matches!(self, C::Publish | C::Will),
            P::SubscriptionIdentifier => matches!(self, C::Publish | C::Subscribe),
            P::SessionExpiryInterval => matches!(self, C::Connect | C::ConnAck | C::Disconnect),
            P::AssignedClientIdentifier
            | P::ServerKeepAlive
            | P::ResponseInformation
            | P::MaximumQoS
            | P::RetainAvailable
            | P::WildcardSubscriptionAvailable
            | P::SubscriptionIdentifierAvailable
            | P::SharedSubscriptionAvailable => self == C::ConnAck,
            P::AuthenticationMethod | P::AuthenticationData => {
                matches!(self, C::Connect | C::ConnAck | C::Auth)
            }
            P::RequestProblemInformation | P::RequestResponseInformation => self == C::Connect,
            P::WillDelayInterval => self == C::Will,
            P::ServerReference => matches!(self, C::ConnAck | C::Disconnect),
            P::ReasonString => !matches!(
                self,
                C::Connect | C::Will | C::Publish | C::Subscribe | C::Unsubscribe
            ),
            P::ReceiveMaximum | P::TopicAliasMaximum | P::MaximumPacketSize => {
                matches!(self, C::Connect | C::ConnAck)
            }
            P::TopicAlias => self == C::Publish,
        }
    }
}

/// The properties of an MQTT 5.0 packet or will message.
///
/// Every field is `None` / empty by default, meaning "absent" (the receiver then applies the
/// default the specification gives). Which fields a packet may carry is listed on each field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    /// PUBLISH, will: `Some(true)` if the payload is UTF-8 (indicator 1), `Some(false)` for 0.
    pub payload_format_indicator: Option<bool>,
    /// PUBLISH, will: message lifetime in seconds.
    pub message_expiry_interval: Option<u32>,
    /// PUBLISH, will: content type of the payload.
    pub content_type: Option<String>,
    /// PUBLISH, will: response topic (a topic name, no wildcards).
    pub response_topic: Option<String>,
    /// PUBLISH, will: correlation data.
    pub correlation_data: Option<Bytes>,
    /// PUBLISH (any number), SUBSCRIBE (at most one): subscription identifiers, 1 to 268,435,455.
    pub subscription_identifiers: Vec<u32>,
    /// CONNECT, CONNACK, DISCONNECT: session expiry interval in seconds.
    pub session_expiry_interval: Option<u32>,
    /// CONNACK: client identifier assigned by the server.
    pub assigned_client_identifier: Option<String>,
    /// CONNACK: keep alive imposed by the server, in seconds.
    pub server_keep_alive: Option<u16>,
    /// CONNECT, CONNACK, AUTH: extended authentication method.
    pub authentication_method: Option<String>,
    /// CONNECT, CONNACK, AUTH: extended authentication data (requires a method).
    pub authentication_data: Option<Bytes>,
    /// CONNECT: request problem information (default true).
    pub request_problem_information: Option<bool>,
    /// Will: delay in seconds before the will is published.
    pub will_delay_interval: Option<u32>,
    /// CONNECT: request response information (default false).
    pub request_response_information: Option<bool>,
    /// CONNACK: response information.
    pub response_information: Option<String>,
    /// CONNACK, DISCONNECT: another server the client should use.
    pub server_reference: Option<String>,
    /// CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH: diagnostic.
    pub reason_string: Option<String>,
    /// CONNECT, CONNACK: receive maximum, 1 to 65,535 (default 65,535).
    pub receive_maximum: Option<u16>,
    /// CONNECT, CONNACK: highest topic alias accepted (default 0, no aliases).
    pub topic_alias_maximum: Option<u16>,
    /// PUBLISH: topic alias, 1 or more.
    pub topic_alias: Option<u16>,
    /// CONNACK: highest QoS supported, 0 or 1 (absent means 2).
    pub maximum_qos: Option<QoS>,
    /// CONNACK: whether retain is supported (default true).
    pub retain_available: Option<bool>,
    /// Every packet with properties: user properties, in order, duplicates allowed.
    pub user_properties: Vec<(String, String)>,
    /// CONNECT, CONNACK: largest packet accepted, 1 or more (absent means no limit).
    pub maximum_packet_size: Option<u32>,
    /// CONNACK: whether wildcard subscriptions are supported (default true).
    pub wildcard_subscription_available: Option<bool>,
    /// CONNACK: whether subscription identifiers are supported (default true).
    pub subscription_identifier_available: Option<bool>,
    /// CONNACK: whether shared subscriptions are supported (default true).
    pub shared_subscription_available: Option<bool>,
}

/// The empty property set, as a `const` so that a `static` can borrow it.
const EMPTY: Properties = Properties {
    payload_format_indicator: None,
    message_expiry_interval: None,
    content_type: None,
    response_topic: None,
    correlation_data: None,
    subscription_identifiers: Vec::new(),
    session_expiry_interval: None,
    assigned_client_identifier: None,
    server_keep_alive: None,
    authentication_method: None,
    authentication_data: None,
    request_problem_information: None,
    will_delay_interval: None,
    request_response_information: None,
    response_information: None,
    server_reference: None,
    reason_string: None,
    receive_maximum: None,
    topic_alias_maximum: None,
    topic_alias: None,
    maximum_qos: None,
    retain_available: None,
    user_properties: Vec::new(),
    maximum_packet_size: None,
    wildcard_subscription_available: None,
    subscription_identifier_available: None,
    shared_subscription_available: None,
};

static EMPTY_REF: Properties = EMPTY;

/// The properties carried by a packet: a [`Properties`] stored out of line, so that an empty
/// set (every 3.1.1 packet, most 5.0 acknowledgements) costs one pointer and no allocation.
///
/// It dereferences to [`Properties`]: read fields with `packet.properties.topic_alias`, and
/// write them the same way (the first write allocates).
#[derive(Clone, Default)]
pub struct PacketProperties(Option<Box<Properties>>);

impl PacketProperties {
    /// An empty set.
    pub const fn new() -> Self {
        Self(None)
    }

    /// The properties, by value.
    pub fn into_inner(self) -> Properties {
        self.0.map(|b| *b).unwrap_or_default()
    }

    pub(crate) fn decode(buf: &mut Bytes, ctx: PropertyContext) -> Result<Self, DecodeError> {
        Properties::decode(buf, ctx).map(Self::from)
    }
}

impl From<Properties> for PacketProperties {
    fn from(p: Properties) -> Self {
        if p.is_empty() {
            Self(None)
        } else {
            Self(Some(Box::new(p)))
        }
    }
}

impl Deref for PacketProperties {
    type Target = Properties;

    fn deref(&self) -> &Properties {
        self.0.as_deref().unwrap_or(&EMPTY_REF)
    }
}

impl DerefMut for PacketProperties {
    fn deref_mut(&mut self) -> &mut Properties {
        self.0.get_or_insert_with(Box::default)
    }
}

impl PartialEq for PacketProperties {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for PacketProperties {}

impl fmt::Debug for PacketProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            f.write_str("{}")
        } else {
            fmt::Debug::fmt(&**self, f)
        }
    }
}

/// A property value as it appears on the wire.
enum Value<'a> {
    Byte(u8),
    U16(u16),
    U32(u32),
    VarInt(u32),
    Str(&'a str),
    Bin(&'a [u8]),
    Pair(&'a str, &'a str),
}

impl Properties {
    /// Creates an empty property set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether no property is present.
    pub fn is_empty(&self) -> bool {
        *self == EMPTY
    }

    /// Calls `f` for every present property, in identifier order.
    fn for_each<'a, E>(
        &'a self,
        mut f: impl FnMut(PropertyId, Value<'a>) -> Result<(), E>,
    ) -> Result<(), E> {
        use PropertyId as P;
        if let Some(v) = self.payload_format_indicator {
            f(P::PayloadFormatIndicator, Value::Byte(u8::from(v)))?;
        }
        if let Some(v) = self.message_expiry_interval {
            f(P::MessageExpiryInterval, Value::U32(v))?;
        }
        if let Some(v) = &self.content_type {
            f(P::ContentType, Value::Str(v))?;
        }
        if let Some(v) = &self.response_topic {
            f(P::ResponseTopic, Value::Str(v))?;
        }
        if let Some(v) = &self.correlation_data {
            f(P::CorrelationData, Value::Bin(v))?;
        }
        for v in &self.subscription_identifiers {
            f(P::SubscriptionIdentifier, Value::VarInt(*v))?;
        }
        if let Some(v) = self.session_expiry_interval {
            f(P::SessionExpiryInterval, Value::U32(v))?;
        }
        if let Some(v) = &self.assigned_client_identifier {
            f(P::AssignedClientIdentifier, Value::Str(v))?;
        }
        if let Some(v) = self.server_keep_alive {
            f(P::ServerKeepAlive, Value::U16(v))?;
        }
        if let Some(v) = &self.authentication_method {
            f(P::AuthenticationMethod, Value::Str(v))?;
        }
        if let Some(v) = &self.authentication_data {
            f(P::AuthenticationData, Value::Bin(v))?;
        }
        if let Some(v) = self.request_problem_information {
            f(P::RequestProblemInformation, Value::Byte(u8::from(v)))?;
        }
        if let Some(v) = self.will_delay_interval {
            f(P::WillDelayInterval, Value::U32(v))?;
        }
        if let Some(v) = self.request_response_information {
            f(P::RequestResponseInformation, Value::Byte(u8::from(v)))?;
        }
        if let Some(v) = &self.response_information {
            f(P::ResponseInformation, Value::Str(v))?;
        }
        if let Some(v) = &self.server_reference {
            f(P::ServerReference, Value::Str(v))?;
        }
        if let Some(v) = &self.reason_string {
            f(P::ReasonString, Value::Str(v))?;
        }
        if let Some(v) = self.receive_maximum {
            f(P::ReceiveMaximum, Value::U16(v))?;
        }
        if let Some(v) = self.topic_alias_maximum {
            f(P::TopicAliasMaximum, Value::U16(v))?;
        }
        if let Some(v) = self.topic_alias {
            f(P::TopicAlias, Value::U16(v))?;
        }
        if let Some(v) = self.maximum_qos {
            f(P::MaximumQoS, Value::Byte(u8::from(v)))?;
        }
        if let Some(v) = self.retain_available {
            f(P::RetainAvailable, Value::Byte(u8::from(v)))?;
        }
        for (k, v) in &self.user_properties {
            f(P::UserProperty, Value::Pair(k, v))?;
        }
        if let Some(v) = self.maximum_packet_size {
            f(P::MaximumPacketSize, Value::U32(v))?;
        }
        if let Some(v) = self.wildcard_subscription_available {
            f(P::WildcardSubscriptionAvailable, Value::Byte(u8::from(v)))?;
        }
        if let Some(v) = self.subscription_identifier_available {
            f(P::SubscriptionIdentifierAvailable, Value::Byte(u8::from(v)))?;
        }
        if let Some(v) = self.shared_subscription_available {
            f(P::SharedSubscriptionAvailable, Value::Byte(u8::from(v)))?;
        }
        Ok(())
    }

    /// Length of the property list without its length prefix; validates the set for `ctx`.
    fn content_len(&self, ctx: PropertyContext) -> Result<usize, EncodeError> {
        let mut len = 0usize;
        self.for_each(|id, value| {
            if !ctx.allows(id) {
                return Err(EncodeError::PropertyNotAllowed(id));
            }
            let invalid = match (id, &value) {
                (PropertyId::ReceiveMaximum | PropertyId::TopicAlias, Value::U16(0)) => true,
                (PropertyId::MaximumPacketSize, Value::U32(0)) => true,
                (PropertyId::MaximumQoS, Value::Byte(2)) => true,
                (PropertyId::SubscriptionIdentifier, Value::VarInt(v)) => {
                    *v == 0 || *v > VARINT_MAX
                }
                (PropertyId::ResponseTopic, Value::Str(t)) => validate_topic_name(t).is_err(),
                _ => false,
            };
            if invalid {
                return Err(EncodeError::InvalidPropertyValue(id));
            }
            len += 1 + match value {
                Value::Byte(_) => 1,
                Value::U16(_) => 2,
                Value::U32(_) => 4,
                Value::VarInt(v) => varint_len(v),
                Value::Str(s) => string_len(s)?,
                Value::Bin(b) => binary_len(b)?,
                Value::Pair(k, v) => string_len(k)? + string_len(v)?,
            };
            Ok(())
        })?;
        if ctx != PropertyContext::Publish && self.subscription_identifiers.len() > 1 {
            return Err(EncodeError::InvalidPropertyValue(
                PropertyId::SubscriptionIdentifier,
            ));
        }
        if self.authentication_data.is_some() && self.authentication_method.is_none() {
            return Err(EncodeError::InvalidPropertyValue(
                PropertyId::AuthenticationData,
            ));
        }
        if len > VARINT_MAX as usize {
            return Err(EncodeError::PacketTooLarge);
        }
        Ok(len)
    }

    /// Length on the wire including the length prefix; validates the set for `ctx`.
    pub(crate) fn encoded_len(&self, ctx: PropertyContext) -> Result<usize, EncodeError> {
        let len = self.content_len(ctx)?;
        // Checked against VARINT_MAX above, so the cast is lossless.
        Ok(varint_len(len as u32) + len)
    }

    /// Writes the property list with its length prefix; validate with `encoded_len` first.
    pub(crate) fn write(&self, ctx: PropertyContext, buf: &mut BytesMut) {
        let len = self.content_len(ctx).unwrap_or(0);
        write_varint(buf, len as u32);
        let _ = self.for_each(|id, value| -> Result<(), ()> {
            buf.put_u8(id as u8);
            match value {
                Value::Byte(v) => buf.put_u8(v),
                Value::U16(v) => buf.put_u16(v),
                Value::U32(v) => buf.put_u32(v),
                Value::VarInt(v) => write_varint(buf, v),
                Value::Str(s) => write_string(buf, s),
                Value::Bin(b) => write_binary(buf, b),
                Value::Pair(k, v) => {
                    write_string(buf, k);
                    write_string(buf, v);
                }
            }
            Ok(())
        });
    }

    /// Reads a property list (with its length prefix) allowed in `ctx`.
    pub(crate) fn decode(buf: &mut Bytes, ctx: PropertyContext) -> Result<Self, DecodeError> {
        let len = read_varint(buf)? as usize;
        if buf.len() < len {
            return Err(DecodeError::UnexpectedEnd);
        }
        let mut src = buf.split_to(len);
        let mut p = Self::default();
        while !src.is_empty() {
            let raw = read_varint(&mut src)?;
            let id = PropertyId::try_from(raw).map_err(DecodeError::UnknownProperty)?;
            if !ctx.allows(id) {
                return Err(DecodeError::PropertyNotAllowed(id));
            }
            p.decode_one(id, &mut src, ctx)?;
        }
        if p.authentication_data.is_some() && p.authentication_method.is_none() {
            return Err(DecodeError::InvalidPropertyValue(
                PropertyId::AuthenticationData,
            ));
        }
        Ok(p)
    }

    fn decode_one(
        &mut self,
        id: PropertyId,
        src: &mut Bytes,
        ctx: PropertyContext,
    ) -> Result<(), DecodeError> {
        use PropertyId as P;
        fn once<T>(slot: &mut Option<T>, id: PropertyId, v: T) -> Result<(), DecodeError> {
            if slot.is_some() {
                return Err(DecodeError::DuplicateProperty(id));
            }
            *slot = Some(v);
            Ok(())
        }
        fn flag(src: &mut Bytes, id: PropertyId) -> Result<bool, DecodeError> {
            match read_u8(src)? {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(DecodeError::InvalidPropertyValue(id)),
            }
        }
        fn nonzero_u16(src: &mut Bytes, id: PropertyId) -> Result<u16, DecodeError> {
            match read_u16(src)? {
                0 => Err(DecodeError::InvalidPropertyValue(id)),
                v => Ok(v),
            }
        }
        match id {
            P::PayloadFormatIndicator => {
                once(&mut self.payload_format_indicator, id, flag(src, id)?)
            }
            P::MessageExpiryInterval => once(&mut self.message_expiry_interval, id, read_u32(src)?),
            P::ContentType => once(&mut self.content_type, id, read_string(src)?),
            P::ResponseTopic => {
                let topic = read_string(src)?;
                if validate_topic_name(&topic).is_err() {
                    return Err(DecodeError::InvalidPropertyValue(id));
                }
                once(&mut self.response_topic, id, topic)
            }
            P::CorrelationData => once(&mut self.correlation_data, id, read_binary(src)?),
            P::SubscriptionIdentifier => {
                let v = read_varint(src)?;
                if v == 0 {
                    return Err(DecodeError::InvalidPropertyValue(id));
                }
                if ctx != PropertyContext::Publish && !self.subscription_identifiers.is_empty() {
                    return Err(DecodeError::DuplicateProperty(id));
                }
                self.subscription_identifiers.push(v);
                Ok(())
            }
            P::SessionExpiryInterval => once(&mut self.session_expiry_interval, id, read_u32(src)?),
            P::AssignedClientIdentifier => {
                once(&mut self.assigned_client_identifier, id, read_string(src)?)
            }
            P::ServerKeepAlive => once(&mut self.server_keep_alive, id, read_u16(src)?),
            P::AuthenticationMethod => once(&mut self.authentication_method, id, read_string(src)?),
            P::AuthenticationData => once(&mut self.authentication_data, id, read_binary(src)?),
            P::RequestProblemInformation => {
                once(&mut self.request_problem_information, id, flag(src, id)?)
            }
            P::WillDelayInterval => once(&mut self.will_delay_interval, id, read_u32(src)?),
            P::RequestResponseInformation => {
                once(&mut self.request_response_information, id, flag(src, id)?)
            }
            P::ResponseInformation => once(&mut self.response_information, id, read_string(src)?),
            P::ServerReference => once(&mut self.server_reference, id, read_string(src)?),
            P::ReasonString => once(&mut self.reason_string, id, read_string(src)?),
            P::ReceiveMaximum => once(&mut self.receive_maximum, id, nonzero_u16(src, id)?),
            P::TopicAliasMaximum => once(&mut self.topic_alias_maximum, id, read_u16(src)?),
            P::TopicAlias => match read_u16(src)? {
                0 => Err(DecodeError::ZeroTopicAlias),
                v => once(&mut self.topic_alias, id, v),
            },
            P::MaximumQoS => {
                let qos = match read_u8(src)? {
                    0 => QoS::AtMostOnce,
                    1 => QoS::AtLeastOnce,
                    _ => return Err(DecodeError::InvalidPropertyValue(id)),
                };
                once(&mut self.maximum_qos, id, qos)
            }
            P::RetainAvailable => once(&mut self.retain_available, id, flag(src, id)?),
            P::UserProperty => {
                let k = read_string(src)?;
                let v = read_string(src)?;
                self.user_properties.push((k, v));
                Ok(())
            }
            P::MaximumPacketSize => match read_u32(src)? {
                0 => Err(DecodeError::InvalidPropertyValue(id)),
                v => once(&mut self.maximum_packet_size, id, v),
            },
            P::WildcardSubscriptionAvailable => once(
                &mut self.wildcard_subscription_available,
                id,
                flag(src, id)?,
            ),
            P::SubscriptionIdentifierAvailable => once(
                &mut self.subscription_identifier_available,
                id,
                flag(src, id)?,
            ),
            P::SharedSubscriptionAvailable => {
                once(&mut self.shared_subscription_available, id, flag(src, id)?)
            }
        }
    }
}

/// Encoded length of the properties for `version` (nothing on 3.1.1, which must have none).
pub(crate) fn props_len(
    props: &Properties,
    ctx: PropertyContext,
    version: crate::types::ProtocolVersion,
) -> Result<usize, EncodeError> {
    if version.is_v5() {
        props.encoded_len(ctx)
    } else if props.is_empty() {
        Ok(0)
    } else {
        // Report the first property present as the culprit.
        let mut first = PropertyId::UserProperty;
        let _ = props.for_each(|id, _| -> Result<(), ()> {
            first = id;
            Err(())
        });
        Err(EncodeError::PropertyNotAllowed(first))
    }
}

/// Writes the properties for `version` (nothing on 3.1.1).
pub(crate) fn write_props(
    props: &Properties,
    ctx: PropertyContext,
    version: crate::types::ProtocolVersion,
    buf: &mut BytesMut,
) {
    if version.is_v5() {
        props.write(ctx, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &'static [u8], ctx: PropertyContext) -> Result<Properties, DecodeError> {
        Properties::decode(&mut Bytes::from_static(bytes), ctx)
    }

    #[test]
    fn decodes_and_rejects() {
        let p = decode(&[3, 0x21, 0x00, 0x10], PropertyContext::Connect).unwrap();
        assert_eq!(p.receive_maximum, Some(16));
        assert_eq!(
            decode(&[3, 0x21, 0x00, 0x00], PropertyContext::Connect),
            Err(DecodeError::InvalidPropertyValue(
                PropertyId::ReceiveMaximum
            ))
        );
        assert_eq!(
            decode(
                &[6, 0x21, 0x00, 0x10, 0x21, 0x00, 0x10],
                PropertyContext::Connect
            ),
            Err(DecodeError::DuplicateProperty(PropertyId::ReceiveMaximum))
        );
        assert_eq!(
            decode(&[3, 0x23, 0x00, 0x01], PropertyContext::Connect),
            Err(DecodeError::PropertyNotAllowed(PropertyId::TopicAlias))
        );
        assert_eq!(
            decode(&[2, 0x7F, 0x00], PropertyContext::Connect),
            Err(DecodeError::UnknownProperty(0x7F))
        );
        assert_eq!(
            decode(&[3, 0x21, 0x00], PropertyContext::Connect),
            Err(DecodeError::UnexpectedEnd)
        );
        assert_eq!(
            decode(&[2, 0x01, 0x02], PropertyContext::Publish),
            Err(DecodeError::InvalidPropertyValue(
                PropertyId::PayloadFormatIndicator
            ))
        );
        assert_eq!(
            decode(&[3, 0x16, 0x00, 0x00], PropertyContext::Auth),
            Err(DecodeError::InvalidPropertyValue(
                PropertyId::AuthenticationData
            ))
        );
        // Two subscription identifiers are fine in PUBLISH, not in SUBSCRIBE.
        let p = decode(&[4, 0x0B, 0x01, 0x0B, 0x02], PropertyContext::Publish).unwrap();
        assert_eq!(p.subscription_identifiers, [1, 2]);
        assert!(decode(&[4, 0x0B, 0x01, 0x0B, 0x02], PropertyContext::Subscribe).is_err());
        // User properties may repeat, and may be empty strings.
        let p = decode(
            &[12, 0x26, 0, 1, b'a', 0, 1, b'b', 0x26, 0, 0, 0, 0],
            PropertyContext::Ack,
        )
        .unwrap();
        assert_eq!(p.user_properties.len(), 2);
    }

    #[test]
    fn encodes() {
        let p = Properties {
            receive_maximum: Some(16),
            user_properties: alloc::vec![("a".into(), "b".into())],
            ..Properties::default()
        };
        let len = p.encoded_len(PropertyContext::Connect).unwrap();
        let mut buf = BytesMut::new();
        p.write(PropertyContext::Connect, &mut buf);
        assert_eq!(buf.len(), len);
        assert_eq!(&buf[..], &[10, 0x21, 0, 16, 0x26, 0, 1, b'a', 0, 1, b'b']);
        assert_eq!(
            p.encoded_len(PropertyContext::Publish),
            Err(EncodeError::PropertyNotAllowed(PropertyId::ReceiveMaximum))
        );
    }
}
