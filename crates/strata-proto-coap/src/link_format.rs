//! CoRE Link Format (RFC 6690): parsing `</3/0>;rt="oma.lwm2m",</1/0>` and writing it.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

/// One link: a target and its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link<'a> {
    /// The URI between `<` and `>`.
    pub target: &'a str,
    /// Attributes in order; values without quotes; `None` for a bare attribute.
    pub attributes: Vec<(&'a str, Option<&'a str>)>,
}

impl<'a> Link<'a> {
    /// The first value of attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&'a str> {
        self.attributes
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| *v)
    }
}

/// Why a link-format document did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkFormatError {
    /// Not UTF-8.
    #[error("link format is not UTF-8")]
    NotUtf8,
    /// Syntax error at a byte offset.
    #[error("link format syntax error at byte {0}")]
    Syntax(usize),
}

/// Parses a link-format document. Whitespace after separators is tolerated (some clients
/// send it).
pub fn parse(document: &[u8]) -> Result<Vec<Link<'_>>, LinkFormatError> {
    let text = core::str::from_utf8(document).map_err(|_| LinkFormatError::NotUtf8)?;
    let bytes = text.as_bytes();
    let mut links = Vec::new();
    let mut at = 0;
    let skip_ws = |at: &mut usize| {
        while *at < bytes.len() && matches!(bytes[*at], b' ' | b'\t' | b'\r' | b'\n') {
            *at += 1;
        }
    };
    skip_ws(&mut at);
    if at == bytes.len() {
        return Ok(links);
    }
    loop {
        skip_ws(&mut at);
        if bytes.get(at) != Some(&b'<') {
            return Err(LinkFormatError::Syntax(at));
        }
        let close = text[at..]
            .find('>')
            .map(|i| at + i)
            .ok_or(LinkFormatError::Syntax(at))?;
        let target = &text[at + 1..close];
        at = close + 1;
        let mut attributes = Vec::new();
        loop {
            skip_ws(&mut at);
            match bytes.get(at) {
                Some(b';') => {
                    at += 1;
                    skip_ws(&mut at);
                    let start = at;
                    while at < bytes.len() && !matches!(bytes[at], b'=' | b';' | b',') {
                        at += 1;
                    }
                    let name = text[start..at].trim_end();
                    if name.is_empty() {
                        return Err(LinkFormatError::Syntax(start));
                    }
                    if bytes.get(at) == Some(&b'=') {
                        at += 1;
                        if bytes.get(at) == Some(&b'"') {
                            let end = text[at + 1..]
                                .find('"')
                                .map(|i| at + 1 + i)
                                .ok_or(LinkFormatError::Syntax(at))?;
                            attributes.push((name, Some(&text[at + 1..end])));
                            at = end + 1;
                        } else {
                            let start = at;
                            while at < bytes.len() && !matches!(bytes[at], b';' | b',') {
                                at += 1;
                            }
                            attributes.push((name, Some(text[start..at].trim_end())));
                        }
                    } else {
                        attributes.push((name, None));
                    }
                }
                Some(b',') => {
                    at += 1;
                    break;
                }
                None => break,
                Some(_) => return Err(LinkFormatError::Syntax(at)),
            }
        }
        links.push(Link { target, attributes });
        if at >= bytes.len() {
            return Ok(links);
        }
    }
}

/// Writes one link, preceded by `,` unless `out` is empty. Values that are not plain numbers
/// are quoted.
pub fn write_link(out: &mut String, target: &str, attributes: &[(&str, Option<&str>)]) {
    if !out.is_empty() {
        out.push(',');
    }
    let _ = write!(out, "<{target}>");
    for (name, value) in attributes {
        match value {
            None => {
                let _ = write!(out, ";{name}");
            }
            Some(v)
                if !v.is_empty()
                    && v.bytes()
                        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') =>
            {
                let _ = write!(out, ";{name}={v}");
            }
            Some(v) => {
                let _ = write!(out, ";{name}=\"{v}\"");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lwm2m_registration_payload() {
        let doc = br#"</>;rt="oma.lwm2m";ct=11543,</1/0>, </3/0>;ver=1.1,</3303/0>,</5>"#;
        let links = parse(doc).unwrap();
        assert_eq!(links.len(), 5);
        assert_eq!(links[0].target, "/");
        assert_eq!(links[0].attribute("rt"), Some("oma.lwm2m"));
        assert_eq!(links[0].attribute("ct"), Some("11543"));
        assert_eq!(links[2].target, "/3/0");
        assert_eq!(links[2].attribute("ver"), Some("1.1"));
        assert_eq!(links[4].target, "/5");
    }

    #[test]
    fn quoted_values_may_hold_commas_and_bare_attributes_parse() {
        let links = parse(br#"</a>;title="x, y";obs,</b>"#).unwrap();
        assert_eq!(links[0].attribute("title"), Some("x, y"));
        assert_eq!(links[0].attributes[1], ("obs", None));
        assert_eq!(links[1].target, "/b");
    }

    #[test]
    fn rejects_garbage_and_writes_back() {
        assert!(parse(b"/3/0").is_err());
        assert!(parse(b"</3/0").is_err());
        assert!(parse(b"</3/0>;").is_err());
        assert!(parse(&[0xff]).is_err());
        assert_eq!(parse(b"").unwrap(), []);
        let mut out = String::new();
        write_link(
            &mut out,
            "/3/0",
            &[("pmin", Some("10")), ("rt", Some("oma"))],
        );
        write_link(&mut out, "/5", &[("obs", None)]);
        assert_eq!(out, r#"</3/0>;pmin=10;rt="oma",</5>;obs"#);
        assert_eq!(parse(out.as_bytes()).unwrap().len(), 2);
    }
}
