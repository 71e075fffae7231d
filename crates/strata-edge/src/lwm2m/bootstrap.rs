//! Client-initiated bootstrap (LwM2M Core TS 1.1 §6.1, §5.2.7): the Bootstrap-Request, then
//! what the bootstrap server does to the client (Bootstrap-Delete, -Write, -Discover, -Read)
//! until Bootstrap-Finish, which is checked and reported as [`ClientEvent::Bootstrapped`].

use super::alloc::format;
use super::alloc::string::String;
use super::alloc::vec::Vec;
use strata_proto_coap::lwm2m::{self, Path, Value};
use strata_proto_coap::option::{self, format};
use strata_proto_coap::{Code, Message, RequestId, Token, link_format};

use super::client::Client;
use super::config::{ClientError, ClientEvent};
use super::objects::{self, Definitions, OBJECTS, id};
use super::reply::{self, Reply};
use super::store::Access;

/// How long the client waits for Bootstrap-Finish, ms (EXCHANGE_LIFETIME).
const FINISH_TIMEOUT_MS: u64 = 247_000;

/// A bootstrap in progress.
#[derive(Debug)]
pub(crate) struct BootstrapSession<P> {
    /// The bootstrap server.
    pub(crate) peer: P,
    /// The Bootstrap-Request, until answered.
    request: Option<Token>,
    /// Give up without Bootstrap-Finish by then, ms.
    pub(crate) deadline: u64,
}

impl<P: Copy + Eq> BootstrapSession<P> {
    pub(crate) fn owns(&self, peer: P, token: Token) -> bool {
        self.peer == peer && self.request == Some(token)
    }
}

impl<P: Ord + Copy> Client<P> {
    /// Starts a client-initiated bootstrap with the configured bootstrap server
    /// (`POST /bs?ep=...`). The bootstrap server's requests are then accepted until
    /// Bootstrap-Finish.
    pub fn bootstrap(&mut self, now: u64) -> Result<(), ClientError> {
        let peer = self.config.bootstrap_server.ok_or(ClientError::NoServer)?;
        if self.boot.is_some() {
            return Err(ClientError::Busy);
        }
        let ep = format!("ep={}", self.config.endpoint_name);
        let token = self
            .endpoint
            .request(now, peer, true, Code::POST, false, |w| {
                w.option(option::URI_PATH, b"bs")?;
                w.option(option::URI_QUERY, ep.as_bytes())?;
                Ok(())
            })?;
        self.boot = Some(BootstrapSession {
            peer,
            request: Some(token),
            deadline: now.saturating_add(FINISH_TIMEOUT_MS),
        });
        Ok(())
    }

    /// Whether a bootstrap is in progress.
    pub fn is_bootstrapping(&self) -> bool {
        self.boot.is_some()
    }

    pub(crate) fn bootstrap_response(&mut self, _now: u64, message: &Message<'_>) {
        let Some(session) = self.boot.as_mut() else {
            return;
        };
        session.request = None;
        if message.code != Code::CHANGED {
            self.boot = None;
            self.events.push_back(ClientEvent::BootstrapFailed {
                code: Some(message.code),
                diagnostic: String::from_utf8_lossy(message.payload).into_owned(),
            });
        }
    }

    pub(crate) fn bootstrap_lost(&mut self) {
        self.boot = None;
        self.events.push_back(ClientEvent::BootstrapFailed {
            code: None,
            diagnostic: "no answer from the bootstrap server".into(),
        });
    }

    pub(crate) fn bootstrap_timeout(&mut self, now: u64) {
        if self.boot.as_ref().is_some_and(|b| b.deadline <= now) {
            self.boot = None;
            self.events.push_back(ClientEvent::BootstrapFailed {
                code: None,
                diagnostic: "no Bootstrap-Finish in time".into(),
            });
        }
    }

    /// A request from the bootstrap server.
    pub(crate) fn bootstrap_request(
        &mut self,
        now: u64,
        id: &RequestId<P>,
        message: &Message<'_>,
    ) -> Reply {
        let segments: Vec<&[u8]> = message.path().collect();
        if message.code == Code::POST && segments == [b"bs"] {
            return self.bootstrap_finish();
        }
        let path = if segments.is_empty() {
            None
        } else {
            match Path::from_segments(segments.iter().copied()) {
                Ok(p) if objects::object(p.object).is_some() => Some(p),
                Ok(_) => return Reply::error(Code::NOT_FOUND, "no such object"),
                Err(_) => return Reply::error(Code::BAD_REQUEST, "not an LwM2M path"),
            }
        };
        match (message.code, path) {
            (Code::DELETE, path) => self.bootstrap_delete(path),
            (Code::GET, path) if message.accept() == Some(format::LINK_FORMAT) => {
                self.bootstrap_discover(path)
            }
            (Code::GET, Some(path)) if path.object == id::SERVER => {
                match reply::read_format(message.accept()) {
                    None => Reply::error(Code::NOT_ACCEPTABLE, "unsupported Accept"),
                    Some(f) => match self.store.records(&path, Access::Full) {
                        Ok(records) => match reply::encode(f, &path, &records) {
                            Ok(body) => Reply::content(f, body),
                            Err(r) => r,
                        },
                        Err(code) => Reply::code(code),
                    },
                }
            }
            (Code::GET, _) => Reply::error(
                Code::BAD_REQUEST,
                "Bootstrap-Read reads the Server object only",
            ),
            (Code::PUT, Some(path)) if path.resource_instance.is_none() => {
                match self.request_body(now, id, message, path) {
                    Ok((body, block1)) => Reply {
                        block1,
                        ..self.bootstrap_write(&path, message.content_format(), &body)
                    },
                    Err(reply) => reply,
                }
            }
            (Code::PUT, _) => Reply::error(Code::BAD_REQUEST, "Bootstrap-Write needs a path"),
            _ => Reply::error(Code::METHOD_NOT_ALLOWED, "not a bootstrap operation"),
        }
    }

    /// The Security instance of the bootstrap account.
    fn bootstrap_account(&self) -> Option<u16> {
        self.store.instance_ids(id::SECURITY).into_iter().find(|i| {
            self.store.value(&Path::resource(id::SECURITY, *i, 1)) == Some(&Value::Boolean(true))
        })
    }

    /// Bootstrap-Delete: `/` deletes the instances of configuration objects (keeping the
    /// bootstrap account), an object all its instances, an instance itself.
    fn bootstrap_delete(&mut self, path: Option<Path>) -> Reply {
        let keep = self.bootstrap_account();
        let targets: Vec<(u16, u16)> = match path {
            None => OBJECTS
                .iter()
                .filter(|o| o.bootstrap_deletable)
                .flat_map(|o| {
                    self.store
                        .instance_ids(o.id)
                        .into_iter()
                        .map(move |i| (o.id, i))
                })
                .collect(),
            Some(p) if p.instance.is_none() => self
                .store
                .instance_ids(p.object)
                .into_iter()
                .map(|i| (p.object, i))
                .collect(),
            Some(p) if p.resource.is_none() => match p.instance {
                Some(i) if Some(i) == keep && p.object == id::SECURITY => {
                    return Reply::error(
                        Code::BAD_REQUEST,
                        "the bootstrap account cannot be deleted",
                    );
                }
                Some(_) if p.object == id::DEVICE => {
                    return Reply::error(
                        Code::BAD_REQUEST,
                        "the Device instance cannot be deleted",
                    );
                }
                Some(i) => Vec::from([(p.object, i)]),
                None => Vec::new(),
            },
            Some(_) => {
                return Reply::error(Code::BAD_REQUEST, "Bootstrap-Delete takes no resource");
            }
        };
        for (object, instance) in targets {
            // The bootstrap account and the Device instance stay (Core §5.2.7.5).
            if (object == id::SECURITY && Some(instance) == keep) || object == id::DEVICE {
                continue;
            }
            if !objects::object(object).is_some_and(|o| o.bootstrap_deletable || path.is_some()) {
                continue;
            }
            if self.store.delete(object, instance) {
                let at = Path::instance(object, instance);
                self.attributes.remove_under(&at);
                self.changed(&at);
            }
        }
        Reply::code(Code::DELETED)
    }

    /// Bootstrap-Write: any resource of an object this client has, creating instances.
    fn bootstrap_write(&mut self, path: &Path, format: Option<u16>, body: &[u8]) -> Reply {
        let Some(format) = format else {
            return Reply::error(Code::BAD_REQUEST, "Bootstrap-Write without Content-Format");
        };
        if !lwm2m::is_supported(format) {
            return Reply::error(
                Code::UNSUPPORTED_CONTENT_FORMAT,
                "unsupported Content-Format",
            );
        }
        let records = match lwm2m::decode(format, path, body, &Definitions) {
            Ok(r) => r,
            Err(e) => return reply::decode_error(&e),
        };
        for r in &records {
            let known = r
                .path
                .resource
                .and_then(|res| objects::resource(r.path.object, res));
            if !known.is_some_and(|d| !d.ops.executable() && d.kind == r.value.kind()) {
                return Reply::error(Code::BAD_REQUEST, "unknown resource or wrong type");
            }
        }
        let mut paths = Vec::new();
        for r in records {
            let (Some(instance), Some(resource)) = (r.path.instance, r.path.resource) else {
                continue;
            };
            let multiple = objects::resource(r.path.object, resource).is_some_and(|d| d.multiple);
            if self.store.create(r.path.object, instance) {
                self.changed(&Path::instance(r.path.object, instance));
            }
            if multiple && !paths.contains(&Path::resource(r.path.object, instance, resource)) {
                // A multiple resource written whole is replaced.
                self.store.remove(r.path.object, instance, resource);
                paths.push(Path::resource(r.path.object, instance, resource));
            } else if !multiple {
                paths.push(r.path);
            }
            self.set_internal(r.path, r.value);
        }
        self.written(paths);
        Reply::code(Code::CHANGED)
    }

    /// Bootstrap-Discover (Core §5.2.7.3): `</>;lwm2m=1.1`, then every object instance (or
    /// object without instances), with `ssid` and `uri` on Security and Server instances.
    fn bootstrap_discover(&self, path: Option<Path>) -> Reply {
        if path.is_some_and(|p| p.instance.is_some()) {
            return Reply::error(Code::BAD_REQUEST, "Bootstrap-Discover on / or an object");
        }
        let mut out = String::new();
        link_format::write_link(
            &mut out,
            "/",
            &[("lwm2m", Some(self.config.version.as_str()))],
        );
        for object in OBJECTS
            .iter()
            .filter(|o| path.is_none_or(|p| p.object == o.id))
        {
            let instances = self.store.instance_ids(object.id);
            if instances.is_empty() {
                link_format::write_link(&mut out, &format!("/{}", object.id), &[]);
            }
            for i in instances {
                let mut attrs: Vec<(&str, String)> = Vec::new();
                let int = |r| match self.store.value(&Path::resource(object.id, i, r)) {
                    Some(Value::Integer(v)) => Some(format!("{v}")),
                    _ => None,
                };
                match object.id {
                    id::SECURITY if self.bootstrap_account() != Some(i) => {
                        if let Some(ssid) = int(10) {
                            attrs.push(("ssid", ssid));
                        }
                        attrs.push(("uri", self.string(&Path::resource(id::SECURITY, i, 0))));
                    }
                    id::SERVER => {
                        if let Some(ssid) = int(0) {
                            attrs.push(("ssid", ssid));
                        }
                    }
                    _ => {}
                }
                let attrs: Vec<(&str, Option<&str>)> =
                    attrs.iter().map(|(n, v)| (*n, Some(v.as_str()))).collect();
                link_format::write_link(&mut out, &format!("/{}/{i}", object.id), &attrs);
            }
        }
        Reply::content(format::LINK_FORMAT, out.into_bytes())
    }

    /// Bootstrap-Finish: checks there is a management server account (a Security instance
    /// that is not the bootstrap account, with a URI, and a Server instance with its Short
    /// Server ID), then reports [`ClientEvent::Bootstrapped`]. 4.06 when inconsistent.
    fn bootstrap_finish(&mut self) -> Reply {
        let keep = self.bootstrap_account();
        let account = self
            .store
            .instance_ids(id::SECURITY)
            .into_iter()
            .filter(|i| Some(*i) != keep)
            .find_map(|i| {
                let uri = self.string(&Path::resource(id::SECURITY, i, 0));
                let ssid = match self.store.value(&Path::resource(id::SECURITY, i, 10)) {
                    Some(Value::Integer(s)) => u16::try_from(*s).ok(),
                    _ => None,
                }?;
                let server = self.store.instance_ids(id::SERVER).into_iter().any(|s| {
                    self.store.value(&Path::resource(id::SERVER, s, 0))
                        == Some(&Value::Integer(i64::from(ssid)))
                });
                (server && !uri.is_empty()).then_some((uri, ssid))
            });
        let Some((server_uri, ssid)) = account else {
            return Reply::error(
                Code::NOT_ACCEPTABLE,
                "no LwM2M server account: write a Security instance with a URI and Short Server ID, and a matching Server instance",
            );
        };
        self.reg.ssid = ssid;
        self.boot = None;
        self.events
            .push_back(ClientEvent::Bootstrapped { server_uri });
        Reply::code(Code::CHANGED)
    }
}
