//! Server side of RFC 6455 WebSocket, sans-IO, as MQTT over WebSocket uses it (MQTT 5.0
//! section 6): an HTTP/1.1 upgrade on a fixed path with the `mqtt` subprotocol, then binary
//! frames whose payloads form one byte stream of MQTT packets.
//!
//! Payload bytes are unmasked and passed on as they arrive, so a large frame is never held
//! whole; only the HTTP request (bounded) and control frames (at most 125 bytes) are buffered.

use base64::Engine as _;
use bytes::{BufMut, BytesMut};
use sha1::{Digest, Sha1};

/// Longest upgrade request accepted.
const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// RFC 6455 section 1.3.
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A WebSocket failure: the connection is closed after any answer has been flushed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WsError {
    /// The upgrade request was not a valid MQTT WebSocket upgrade.
    #[error("refused WebSocket upgrade: {0}")]
    Upgrade(&'static str),
    /// The peer broke the framing rules.
    #[error("WebSocket protocol error: {0}")]
    Protocol(&'static str),
}

#[derive(Debug)]
enum State {
    /// Collecting the HTTP upgrade request.
    Handshake(Vec<u8>),
    /// Frames flow.
    Open(FrameState),
    /// A close frame was sent or received: nothing more is read.
    Closed,
}

#[derive(Debug, Default)]
struct FrameState {
    /// Bytes of a frame header not complete yet (at most 14).
    header: Vec<u8>,
    /// The frame being read, once its header is complete.
    current: Option<Frame>,
    /// Payload of a control frame being read.
    control: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct Frame {
    opcode: u8,
    mask: [u8; 4],
    remaining: u64,
    /// Payload bytes already unmasked (index into the mask).
    offset: u64,
}

/// One WebSocket connection's framing state.
#[derive(Debug)]
pub(crate) struct WebSocket {
    path: &'static str,
    state: State,
    /// Bytes the layer must send itself: the 101 answer, pongs, close frames.
    pending: BytesMut,
}

/// What feeding bytes produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Decoded {
    /// The peer closed the WebSocket (close frame).
    pub(crate) closed: bool,
}

impl WebSocket {
    /// A connection expecting an upgrade request for `path`.
    pub(crate) fn new(path: &'static str) -> Self {
        Self {
            path,
            state: State::Handshake(Vec::new()),
            pending: BytesMut::new(),
        }
    }

    /// Feeds received bytes; appends MQTT bytes they carried to `plain`.
    pub(crate) fn decode(&mut self, raw: &[u8], plain: &mut Vec<u8>) -> Result<Decoded, WsError> {
        let mut decoded = Decoded::default();
        let mut rest = raw;
        if let State::Handshake(buf) = &mut self.state {
            buf.extend_from_slice(rest);
            let Some(end) = find_header_end(buf) else {
                if buf.len() > MAX_REQUEST_BYTES {
                    self.refuse("431 Request Header Fields Too Large");
                    return Err(WsError::Upgrade("request headers too large"));
                }
                return Ok(decoded);
            };
            let request = std::mem::take(buf);
            match self.upgrade(&request[..end]) {
                Ok(answer) => {
                    self.pending.extend_from_slice(answer.as_bytes());
                    self.state = State::Open(FrameState::default());
                }
                Err((status, why)) => {
                    self.refuse(status);
                    return Err(WsError::Upgrade(why));
                }
            }
            // Frames may follow the request in the same read.
            let tail = request[end..].to_vec();
            return self
                .decode_frames(&tail, plain, &mut decoded)
                .map(|()| decoded);
        }
        if matches!(self.state, State::Closed) {
            rest = &[];
        }
        self.decode_frames(rest, plain, &mut decoded)?;
        Ok(decoded)
    }

    fn decode_frames(
        &mut self,
        mut raw: &[u8],
        plain: &mut Vec<u8>,
        decoded: &mut Decoded,
    ) -> Result<(), WsError> {
        while !raw.is_empty() {
            let State::Open(frames) = &mut self.state else {
                return Ok(());
            };
            let Some(frame) = frames.current.as_mut() else {
                // Header: 2 bytes, then 2 or 8 length bytes, then the 4-byte mask.
                let take = raw.len().min(14 - frames.header.len());
                frames.header.extend_from_slice(&raw[..take]);
                let parsed = match parse_header(&frames.header) {
                    Ok(parsed) => parsed,
                    Err(e) => {
                        self.close(1002);
                        return Err(e);
                    }
                };
                match parsed {
                    Some((frame, _)) if frame.opcode == 0x1 => {
                        self.close(1003);
                        return Err(WsError::Protocol("text frame (MQTT needs binary frames)"));
                    }
                    Some((frame, _)) if !matches!(frame.opcode, 0x0 | 0x2 | 0x8 | 0x9 | 0xA) => {
                        self.close(1002);
                        return Err(WsError::Protocol("unknown opcode"));
                    }
                    None => {
                        raw = &raw[take..];
                        continue;
                    }
                    Some((frame, used)) => {
                        // Give back what belonged to the payload.
                        let unused = frames.header.len() - used;
                        raw = &raw[take - unused..];
                        frames.header.clear();
                        frames.current = Some(frame);
                        if frame.remaining == 0 {
                            self.finish_frame(decoded)?;
                        }
                        continue;
                    }
                }
            };
            let n = (raw.len() as u64).min(frame.remaining) as usize;
            let start = if frame.opcode & 0x8 == 0 {
                plain.len()
            } else {
                frames.control.len()
            };
            let target = if frame.opcode & 0x8 == 0 {
                &mut *plain
            } else {
                &mut frames.control
            };
            target.extend_from_slice(&raw[..n]);
            for (i, byte) in target[start..].iter_mut().enumerate() {
                *byte ^= frame.mask[((frame.offset + i as u64) % 4) as usize];
            }
            frame.offset += n as u64;
            frame.remaining -= n as u64;
            raw = &raw[n..];
            if frame.remaining == 0 {
                self.finish_frame(decoded)?;
            }
        }
        Ok(())
    }

    /// A frame's payload is complete: act on control frames.
    fn finish_frame(&mut self, decoded: &mut Decoded) -> Result<(), WsError> {
        let State::Open(frames) = &mut self.state else {
            return Ok(());
        };
        let Some(frame) = frames.current.take() else {
            return Ok(());
        };
        let payload = std::mem::take(&mut frames.control);
        match frame.opcode {
            // Continuation and binary frames carry MQTT bytes, already passed on.
            0x0 | 0x2 => {}
            0x9 => write_frame(&mut self.pending, 0xA, &payload),
            0xA => {}
            0x8 => {
                // Echo the status code, as RFC 6455 section 5.5.1 asks.
                let echo = payload.get(..2).unwrap_or(&[]);
                write_frame(&mut self.pending, 0x8, echo);
                self.state = State::Closed;
                decoded.closed = true;
            }
            // Refused when their header arrived.
            _ => {}
        }
        Ok(())
    }

    /// Frames `plain` as one binary message and appends it, after anything the layer had
    /// waiting, to `wire`.
    pub(crate) fn encode(&mut self, plain: &[u8], wire: &mut BytesMut) {
        wire.extend_from_slice(&self.pending);
        self.pending.clear();
        if !plain.is_empty() && matches!(self.state, State::Open(_)) {
            write_frame(wire, 0x2, plain);
        }
    }

    /// Sends a close frame with `code` (once).
    pub(crate) fn close(&mut self, code: u16) {
        if matches!(self.state, State::Open(_)) {
            write_frame(&mut self.pending, 0x8, &code.to_be_bytes());
        }
        self.state = State::Closed;
    }

    fn refuse(&mut self, status: &str) {
        self.pending.extend_from_slice(
            format!("HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                .as_bytes(),
        );
        self.state = State::Closed;
    }

    /// Checks the upgrade request and builds the 101 answer, or gives the refusal status.
    fn upgrade(&self, request: &[u8]) -> Result<String, (&'static str, &'static str)> {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(request) {
            Ok(httparse::Status::Complete(_)) => {}
            _ => return Err(("400 Bad Request", "malformed HTTP request")),
        }
        if req.method != Some("GET") {
            return Err(("405 Method Not Allowed", "not a GET"));
        }
        let path = req.path.unwrap_or("");
        if path.split('?').next() != Some(self.path) {
            return Err(("404 Not Found", "wrong path (MQTT is on /mqtt)"));
        }
        let header = |name: &str| {
            req.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .and_then(|h| std::str::from_utf8(h.value).ok())
        };
        let upgrade_ok = header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        let connection_ok = header("connection").is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
        });
        if !upgrade_ok || !connection_ok {
            return Err(("400 Bad Request", "not a WebSocket upgrade"));
        }
        if header("sec-websocket-version").map(str::trim) != Some("13") {
            return Err(("426 Upgrade Required", "WebSocket version is not 13"));
        }
        let key = header("sec-websocket-key")
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or(("400 Bad Request", "no Sec-WebSocket-Key"))?;
        let accept = base64::engine::general_purpose::STANDARD
            .encode(Sha1::digest(format!("{key}{ACCEPT_GUID}").as_bytes()));
        // MQTT clients offer `mqtt` (older ones `mqttv3.1`); answer with the one offered.
        let protocol = header("sec-websocket-protocol").and_then(|offered| {
            offered
                .split(',')
                .map(str::trim)
                .find(|p| p.eq_ignore_ascii_case("mqtt") || p.eq_ignore_ascii_case("mqttv3.1"))
        });
        let mut answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n"
        );
        if let Some(p) = protocol {
            answer.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
        }
        answer.push_str("\r\n");
        Ok(answer)
    }
}

fn find_header_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Parses a client frame header; `None` when more bytes are needed.
fn parse_header(h: &[u8]) -> Result<Option<(Frame, usize)>, WsError> {
    if h.len() < 2 {
        return Ok(None);
    }
    let (b0, b1) = (h[0], h[1]);
    if b0 & 0x70 != 0 {
        return Err(WsError::Protocol(
            "reserved bits set (no extension was agreed)",
        ));
    }
    if b1 & 0x80 == 0 {
        return Err(WsError::Protocol("client frame not masked"));
    }
    let opcode = b0 & 0x0F;
    let (len, at) = match b1 & 0x7F {
        126 => {
            let Some(b) = h.get(2..4) else {
                return Ok(None);
            };
            (u64::from(u16::from_be_bytes([b[0], b[1]])), 4)
        }
        127 => {
            let Some(b) = h.get(2..10) else {
                return Ok(None);
            };
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            (u64::from_be_bytes(a), 10)
        }
        n => (u64::from(n), 2),
    };
    if opcode & 0x8 != 0 && (len > 125 || b0 & 0x80 == 0) {
        return Err(WsError::Protocol("control frame too long or fragmented"));
    }
    let Some(m) = h.get(at..at + 4) else {
        return Ok(None);
    };
    let mask = [m[0], m[1], m[2], m[3]];
    Ok(Some((
        Frame {
            opcode,
            mask,
            remaining: len,
            offset: 0,
        },
        at + 4,
    )))
}

/// Appends an unmasked server frame.
fn write_frame(out: &mut BytesMut, opcode: u8, payload: &[u8]) {
    out.put_u8(0x80 | opcode);
    match payload.len() {
        n if n < 126 => out.put_u8(n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.put_u8(126);
            out.put_u16(n as u16);
        }
        n => {
            out.put_u8(127);
            out.put_u64(n as u64);
        }
    }
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const UPGRADE: &str = "GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
        Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n";

    fn client_frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mask = [0x12, 0x34, 0x56, 0x78];
        let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 65535 => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    fn opened() -> WebSocket {
        let mut ws = WebSocket::new("/mqtt");
        let mut plain = Vec::new();
        ws.decode(UPGRADE.as_bytes(), &mut plain).unwrap();
        let mut wire = BytesMut::new();
        ws.encode(&[], &mut wire);
        let answer = String::from_utf8(wire.to_vec()).unwrap();
        // The RFC 6455 section 1.3 example key and accept value.
        assert!(answer.starts_with("HTTP/1.1 101"), "{answer}");
        assert!(answer.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(answer.contains("Sec-WebSocket-Protocol: mqtt\r\n"));
        ws
    }

    #[test]
    fn payload_split_anywhere_comes_out_whole() {
        let payload: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
        let mut bytes = client_frame(0x2, false, &payload[..10]);
        bytes.extend(client_frame(0x0, true, &payload[10..]));
        for chunk in [1, 3, 13, 1000, bytes.len()] {
            let mut ws = opened();
            let mut plain = Vec::new();
            for part in bytes.chunks(chunk) {
                ws.decode(part, &mut plain).unwrap();
            }
            assert_eq!(plain, payload, "chunk size {chunk}");
        }
    }

    #[test]
    fn request_and_first_frame_in_one_read() {
        let mut ws = WebSocket::new("/mqtt");
        let mut bytes = UPGRADE.as_bytes().to_vec();
        bytes.extend(client_frame(0x2, true, b"\x10\x00"));
        let mut plain = Vec::new();
        ws.decode(&bytes, &mut plain).unwrap();
        assert_eq!(plain, b"\x10\x00");
    }

    #[test]
    fn ping_is_answered_and_close_is_echoed() {
        let mut ws = opened();
        let mut plain = Vec::new();
        ws.decode(&client_frame(0x9, true, b"hi"), &mut plain)
            .unwrap();
        let mut wire = BytesMut::new();
        ws.encode(b"\x20\x02\x00\x00", &mut wire);
        assert_eq!(&wire[..], b"\x8a\x02hi\x82\x04\x20\x02\x00\x00");
        let d = ws
            .decode(&client_frame(0x8, true, &1000u16.to_be_bytes()), &mut plain)
            .unwrap();
        assert!(d.closed);
        let mut wire = BytesMut::new();
        ws.encode(b"ignored", &mut wire);
        assert_eq!(&wire[..], b"\x88\x02\x03\xe8");
        assert!(plain.is_empty());
    }

    #[test]
    fn bad_requests_and_frames_are_refused() {
        for (request, status) in [
            (UPGRADE.replace("/mqtt", "/other"), "404"),
            (UPGRADE.replace("GET", "POST"), "405"),
            (UPGRADE.replace("Version: 13", "Version: 8"), "426"),
            (UPGRADE.replace("Upgrade: websocket\r\n", ""), "400"),
        ] {
            let mut ws = WebSocket::new("/mqtt");
            assert!(ws.decode(request.as_bytes(), &mut Vec::new()).is_err());
            let mut wire = BytesMut::new();
            ws.encode(&[], &mut wire);
            assert!(wire.starts_with(format!("HTTP/1.1 {status}").as_bytes()));
        }
        let mut ws = WebSocket::new("/mqtt");
        assert!(
            ws.decode(&[b'a'; MAX_REQUEST_BYTES + 1], &mut Vec::new())
                .is_err()
        );
        let mut ws = opened();
        // Unmasked client frame.
        assert!(ws.decode(b"\x82\x01x", &mut Vec::new()).is_err());
        let mut ws = opened();
        assert!(
            ws.decode(&client_frame(0x1, true, b"text"), &mut Vec::new())
                .is_err()
        );
    }
}
