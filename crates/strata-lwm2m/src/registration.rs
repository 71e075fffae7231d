//! The registration interface (LwM2M Core §6.2 and Transport §6.2): what a client sends to
//! `/rd` when it registers or updates, checked and parsed.

use strata_proto_coap::Code;
use strata_proto_coap::link_format;
use strata_proto_coap::lwm2m::Path;

/// LwM2M enabler versions this server speaks.
pub const SUPPORTED_VERSIONS: &[&str] = &["1.0", "1.1", "1.2"];
/// Lifetime when the client names none (LwM2M Core: 86400 s).
pub const DEFAULT_LIFETIME: u32 = 86_400;
/// Longest endpoint name accepted.
const MAX_ENDPOINT: usize = 256;

/// An object or object instance the client has, from the registration payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectLink {
    /// `/3` or `/3/0`.
    pub path: Path,
    /// Object version (`ver` attribute) when not 1.0.
    pub version: Option<String>,
}

/// A registration or update request as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisterParams {
    /// Endpoint client name (`ep`; registration only).
    pub endpoint: Option<String>,
    /// Lifetime in seconds (`lt`).
    pub lifetime: Option<u32>,
    /// Enabler version (`lwm2m`; registration only, "1.0" when absent).
    pub version: Option<String>,
    /// Binding mode (`b`), e.g. `U`, `UQ` (1.0 queue mode), `T`.
    pub binding: Option<String>,
    /// Queue mode (`Q`, LwM2M 1.1+) or a 1.0 binding ending in `Q`.
    pub queue_mode: Option<bool>,
    /// MSISDN (`sms`).
    pub sms: Option<String>,
    /// Alternate path of the objects (`</path>;rt="oma.lwm2m"`), empty for `/`.
    pub root: Option<String>,
    /// Objects and instances, when the request carried a payload.
    pub objects: Option<Vec<ObjectLink>>,
}

/// A refused request: the CoAP code and a text for the client's logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Response code.
    pub code: Code,
    /// Diagnostic payload.
    pub message: String,
}

fn refuse(code: Code, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

impl RegisterParams {
    /// Parses the Uri-Query items and link-format payload of a Register (`register` true)
    /// or Update request.
    pub fn parse<'a>(
        queries: impl IntoIterator<Item = &'a [u8]>,
        content_format: Option<u16>,
        payload: &[u8],
        register: bool,
    ) -> Result<RegisterParams, Refusal> {
        let mut p = RegisterParams::default();
        for raw in queries {
            let item = core::str::from_utf8(raw)
                .map_err(|_| refuse(Code::BAD_REQUEST, "query items must be UTF-8"))?;
            let (key, value) = item.split_once('=').unwrap_or((item, ""));
            match key {
                "ep" if register => {
                    if value.is_empty()
                        || value.len() > MAX_ENDPOINT
                        || value.chars().any(char::is_control)
                    {
                        return Err(refuse(
                            Code::BAD_REQUEST,
                            "`ep` must be 1 to 256 printable characters",
                        ));
                    }
                    p.endpoint = Some(value.to_string());
                }
                "lt" => {
                    let lt: u32 = value.parse().ok().filter(|lt| *lt > 0).ok_or_else(|| {
                        refuse(
                            Code::BAD_REQUEST,
                            "`lt` must be a lifetime in seconds above 0",
                        )
                    })?;
                    p.lifetime = Some(lt);
                }
                "lwm2m" if register => p.version = Some(value.to_string()),
                "b" => {
                    if value.is_empty() || !value.bytes().all(|b| b"UTSNQ".contains(&b)) {
                        return Err(refuse(
                            Code::BAD_REQUEST,
                            format!("unknown binding mode {value:?}"),
                        ));
                    }
                    p.binding = Some(value.to_string());
                }
                "Q" => p.queue_mode = Some(true),
                "sms" => p.sms = Some(value.to_string()),
                // Unknown parameters are ignored (later versions add some).
                _ => {}
            }
        }
        if register {
            if p.endpoint.is_none() {
                return Err(refuse(
                    Code::BAD_REQUEST,
                    "registration without endpoint name (`ep`)",
                ));
            }
            let version = p.version.get_or_insert_with(|| "1.0".to_string());
            if !SUPPORTED_VERSIONS.contains(&version.as_str()) {
                // LwM2M Transport §6.2.1: an unsupported version is 4.12 Precondition Failed.
                return Err(refuse(
                    Code::PRECONDITION_FAILED,
                    format!(
                        "LwM2M version {version} not supported; this server speaks 1.0, 1.1 and 1.2"
                    ),
                ));
            }
        }
        if let Some(binding) = &p.binding
            && binding.ends_with('Q')
            && binding.len() > 1
        {
            p.queue_mode = Some(true);
        }
        if !payload.is_empty() {
            if !matches!(content_format, None | Some(40)) {
                return Err(refuse(
                    Code::UNSUPPORTED_CONTENT_FORMAT,
                    "the object list must be in CoRE link format (40)",
                ));
            }
            let (root, objects) = parse_objects(payload)?;
            p.root = Some(root);
            p.objects = Some(objects);
        } else if register {
            p.root = Some(String::new());
            p.objects = Some(Vec::new());
        }
        Ok(p)
    }
}

/// Reads the object links, honouring an alternate path (`</lwm2m>;rt="oma.lwm2m"`).
fn parse_objects(payload: &[u8]) -> Result<(String, Vec<ObjectLink>), Refusal> {
    let links = link_format::parse(payload)
        .map_err(|e| refuse(Code::BAD_REQUEST, format!("object list: {e}")))?;
    let root = links
        .iter()
        .find(|l| l.attribute("rt") == Some("oma.lwm2m"))
        .map(|l| l.target.trim_end_matches('/').to_string())
        .unwrap_or_default();
    let mut objects = Vec::new();
    for link in &links {
        let Some(rest) = link.target.strip_prefix(root.as_str()) else {
            continue;
        };
        if rest.is_empty() || rest == "/" {
            continue;
        }
        // Links that are not object paths (other resources a client lists) are ignored.
        let Ok(path) = Path::parse(rest) else {
            continue;
        };
        if path.resource.is_some() {
            continue;
        }
        objects.push(ObjectLink {
            path,
            version: link.attribute("ver").map(str::to_string),
        });
    }
    Ok((root, objects))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(items: &[&'static str]) -> Vec<&'static [u8]> {
        items.iter().map(|s| s.as_bytes()).collect()
    }

    #[test]
    fn parses_a_lwm2m_1_1_registration() {
        let payload =
            br#"</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>,</5>;ver=1.1,</3303/0>,</3303/1>"#;
        let p = RegisterParams::parse(
            q(&["ep=node-1", "lt=300", "lwm2m=1.1", "b=U", "Q"]),
            Some(40),
            payload,
            true,
        )
        .unwrap();
        assert_eq!(p.endpoint.as_deref(), Some("node-1"));
        assert_eq!(p.lifetime, Some(300));
        assert_eq!(p.version.as_deref(), Some("1.1"));
        assert_eq!(p.queue_mode, Some(true));
        let objects = p.objects.unwrap();
        assert_eq!(objects.len(), 5);
        assert_eq!(
            objects[2],
            ObjectLink {
                path: Path::object(5),
                version: Some("1.1".into())
            }
        );
        assert_eq!(objects[4].path, Path::instance(3303, 1));
    }

    #[test]
    fn alternate_path_and_1_0_queue_binding() {
        let payload = br#"</lwm2m>;rt="oma.lwm2m",</lwm2m/1/0>,</lwm2m/3/0>"#;
        let p = RegisterParams::parse(q(&["ep=a", "b=UQ"]), None, payload, true).unwrap();
        assert_eq!(p.root.as_deref(), Some("/lwm2m"));
        assert_eq!(p.version.as_deref(), Some("1.0"));
        assert_eq!(p.queue_mode, Some(true));
        assert_eq!(p.objects.unwrap()[1].path, Path::instance(3, 0));
    }

    #[test]
    fn refusals_carry_the_right_codes() {
        let no_ep = RegisterParams::parse(q(&["lt=60"]), None, b"</1/0>", true).unwrap_err();
        assert_eq!(no_ep.code, Code::BAD_REQUEST);
        let version =
            RegisterParams::parse(q(&["ep=a", "lwm2m=2.0"]), None, b"</1/0>", true).unwrap_err();
        assert_eq!(version.code, Code::PRECONDITION_FAILED);
        let lt = RegisterParams::parse(q(&["ep=a", "lt=x"]), None, b"", true).unwrap_err();
        assert_eq!(lt.code, Code::BAD_REQUEST);
        let links = RegisterParams::parse(q(&["ep=a"]), None, b"<1/0", true).unwrap_err();
        assert_eq!(links.code, Code::BAD_REQUEST);
        let cf = RegisterParams::parse(q(&["ep=a"]), Some(50), b"{}", true).unwrap_err();
        assert_eq!(cf.code, Code::UNSUPPORTED_CONTENT_FORMAT);
        // An update may carry nothing at all.
        let update = RegisterParams::parse(q(&[]), None, b"", false).unwrap();
        assert_eq!(update, RegisterParams::default());
    }
}
