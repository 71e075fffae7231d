//! CoAP URIs (RFC 7252 §6): `coap://host:port/path?query`, split into what a request needs
//! (Uri-Path segments and Uri-Query items) and what the application resolves (host, port).

use super::alloc::string::{String, ToString};
use super::alloc::vec::Vec;

/// A parsed URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoapUri {
    /// Scheme, lower case: `coap`, `coaps`, `coap+tcp`, `coaps+tcp`, `http`, `https`.
    pub scheme: String,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (the scheme's default when absent).
    pub port: u16,
    /// Path segments, percent-decoded.
    pub path: Vec<String>,
    /// Query items (`key=value`), percent-decoded.
    pub query: Vec<String>,
}

/// Why a URI did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriError {
    /// No `scheme://`.
    NoScheme,
    /// A scheme without a known default port.
    UnknownScheme,
    /// Empty host, bad port, bad brackets or a bad percent escape.
    Malformed,
}

impl core::fmt::Display for UriError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            UriError::NoScheme => "URI without scheme (expected coap://host:port/...)",
            UriError::UnknownScheme => "unknown URI scheme (coap, coaps, http or https)",
            UriError::Malformed => "malformed URI",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for UriError {}

impl CoapUri {
    /// Parses `uri`.
    pub fn parse(uri: &str) -> Result<CoapUri, UriError> {
        let (scheme, rest) = uri.split_once("://").ok_or(UriError::NoScheme)?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "coap" | "coap+tcp" => 5683,
            "coaps" | "coaps+tcp" => 5684,
            "http" => 80,
            "https" => 443,
            _ => return Err(UriError::UnknownScheme),
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let (authority, path_query) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (host, port) = split_host_port(authority)?;
        let port = match port {
            None => default_port,
            Some(p) => p.parse::<u16>().map_err(|_| UriError::Malformed)?,
        };
        if host.is_empty() {
            return Err(UriError::Malformed);
        }
        let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
        let path = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(decode)
            .collect::<Result<Vec<_>, _>>()?;
        let query = query
            .split('&')
            .filter(|s| !s.is_empty())
            .map(decode)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CoapUri {
            scheme,
            host: host.to_string(),
            port,
            path,
            query,
        })
    }
}

/// `host[:port]` or `[v6][:port]`.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), UriError> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or(UriError::Malformed)?;
        return match after {
            "" => Ok((host, None)),
            _ => after
                .strip_prefix(':')
                .map(|p| (host, Some(p)))
                .ok_or(UriError::Malformed),
        };
    }
    Ok(match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    })
}

/// Percent-decodes one segment (UTF-8).
fn decode(segment: &str) -> Result<String, UriError> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(UriError::Malformed)?;
            let text = core::str::from_utf8(hex).map_err(|_| UriError::Malformed)?;
            out.push(u8::from_str_radix(text, 16).map_err(|_| UriError::Malformed)?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| UriError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_coap_uris() {
        let u = CoapUri::parse("coap://127.0.0.1:5683/fw/abc%20d?x=1&y").unwrap();
        assert_eq!(
            (u.scheme.as_str(), u.host.as_str(), u.port),
            ("coap", "127.0.0.1", 5683)
        );
        assert_eq!(u.path, ["fw", "abc d"]);
        assert_eq!(u.query, ["x=1", "y"]);
        let u = CoapUri::parse("COAPS://[::1]").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 5684));
        assert!(u.path.is_empty());
        let u = CoapUri::parse("coap://example.com?ep=a").unwrap();
        assert_eq!((u.port, u.query.len()), (5683, 1));
        assert_eq!(CoapUri::parse("example.com"), Err(UriError::NoScheme));
        assert_eq!(CoapUri::parse("ftp://x"), Err(UriError::UnknownScheme));
        assert_eq!(CoapUri::parse("coap://:5683"), Err(UriError::Malformed));
        assert_eq!(CoapUri::parse("coap://h:99999"), Err(UriError::Malformed));
        assert_eq!(CoapUri::parse("coap://h/%zz"), Err(UriError::Malformed));
    }
}
