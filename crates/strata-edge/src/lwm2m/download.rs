//! Pulling a firmware package over CoAP: GET on the Package URI with Block2 (RFC 7959),
//! block after block on the client's own endpoint, the ETag checked so a package that
//! changes mid-transfer is not stitched together.

use super::alloc::string::String;
use super::alloc::vec::Vec;
use strata_proto_coap::block::BlockValue;
use strata_proto_coap::{Code, EncodeError, Message, Token, option};

use super::client::Client;
use super::config::ClientError;
use super::firmware::{FirmwareState, UpdateResult};
use super::reply::SZX;
use super::uri::{CoapUri, UriError};

/// A download in progress.
#[derive(Debug)]
pub(crate) struct Download<P> {
    peer: P,
    token: Token,
    path: Vec<String>,
    query: Vec<String>,
    body: Vec<u8>,
    etag: Option<Vec<u8>>,
}

impl<P: Copy + Eq> Download<P> {
    pub(crate) fn owns(&self, peer: P, token: Token) -> bool {
        self.peer == peer && self.token == token
    }
}

impl<P: Ord + Copy> Client<P> {
    /// Downloads the Package URI `uri` (`coap://`, resolved by the application to `peer`)
    /// with block-wise GETs; on success the state becomes Downloaded, on failure Idle with
    /// result 4 (connection lost), 7 (not found) or 2 (too large). Only while Downloading.
    pub fn fetch_firmware(&mut self, now: u64, peer: P, uri: &str) -> Result<(), ClientError> {
        if self.firmware_state() != FirmwareState::Downloading {
            return Err(ClientError::WrongState);
        }
        let parsed = CoapUri::parse(uri).map_err(ClientError::InvalidUri)?;
        if parsed.scheme != "coap" {
            return Err(ClientError::InvalidUri(UriError::UnknownScheme));
        }
        self.cancel_download();
        let block = BlockValue {
            num: 0,
            more: false,
            szx: SZX,
        };
        let token = self.download_request(now, peer, &parsed.path, &parsed.query, block)?;
        self.firmware.download = Some(Download {
            peer,
            token,
            path: parsed.path,
            query: parsed.query,
            body: Vec::new(),
            etag: None,
        });
        Ok(())
    }

    fn download_request(
        &mut self,
        now: u64,
        peer: P,
        path: &[String],
        query: &[String],
        block: BlockValue,
    ) -> Result<Token, EncodeError> {
        self.endpoint
            .request(now, peer, true, Code::GET, false, |w| {
                for segment in path {
                    w.option(option::URI_PATH, segment.as_bytes())?;
                }
                for q in query {
                    w.option(option::URI_QUERY, q.as_bytes())?;
                }
                w.uint_option(option::BLOCK2, block.encode())?;
                Ok(())
            })
    }

    /// Stops a download in progress.
    pub(crate) fn cancel_download(&mut self) {
        if let Some(d) = self.firmware.download.take() {
            self.endpoint.cancel(d.peer, d.token);
        }
    }

    pub(crate) fn download_lost(&mut self, now: u64) {
        self.firmware.download = None;
        let _ = self.firmware_download_failed(now, UpdateResult::ConnectionLost);
    }

    /// One block of the package.
    pub(crate) fn download_response(&mut self, now: u64, message: &Message<'_>) {
        let Some(mut d) = self.firmware.download.take() else {
            return;
        };
        if message.code != Code::CONTENT {
            let result = if message.code == Code::NOT_FOUND {
                UpdateResult::InvalidUri
            } else {
                UpdateResult::ConnectionLost
            };
            let _ = self.firmware_download_failed(now, result);
            return;
        }
        let etag = message.option(option::ETAG).map(<[u8]>::to_vec);
        if d.etag.is_some() && etag != d.etag {
            let _ = self.firmware_download_failed(now, UpdateResult::ConnectionLost);
            return;
        }
        d.etag = etag;
        let block = match BlockValue::from_message(message, option::BLOCK2) {
            None => None,
            Some(Ok(b)) => Some(b),
            Some(Err(())) => {
                let _ = self.firmware_download_failed(now, UpdateResult::ConnectionLost);
                return;
            }
        };
        if block.is_some_and(|b| b.offset() != d.body.len()) {
            let _ = self.firmware_download_failed(now, UpdateResult::ConnectionLost);
            return;
        }
        d.body.extend_from_slice(message.payload);
        if d.body.len() > self.config.max_body {
            let _ = self.firmware_download_failed(now, UpdateResult::NotEnoughFlash);
            return;
        }
        match block {
            Some(b) if b.more => {
                // The next block at the size the server chose (late negotiation).
                let next = BlockValue {
                    num: (d.body.len() / b.size()) as u32,
                    more: false,
                    szx: b.szx,
                };
                if d.body.len() % b.size() != 0 {
                    let _ = self.firmware_download_failed(now, UpdateResult::ConnectionLost);
                    return;
                }
                match self.download_request(now, d.peer, &d.path, &d.query, next) {
                    Ok(token) => {
                        d.token = token;
                        self.firmware.download = Some(d);
                    }
                    Err(_) => {
                        let _ = self.firmware_download_failed(now, UpdateResult::ConnectionLost);
                    }
                }
            }
            _ => {
                let _ = self.firmware_downloaded(now, true, d.body);
            }
        }
    }
}
