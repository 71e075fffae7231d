//! The web app (built into `web/dist/` by Vite, embedded in the binary): static files with
//! caching and gzip, `index.html` for the app's own routes, security headers.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use include_dir::{Dir, include_dir};

use crate::error::ApiError;

static DIST: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../web/dist");

/// Paths that belong to the API side: never answered with the app.
const SERVER_PREFIXES: &[&str] = &["api/", "api", "healthz", "metrics"];

/// The app's Content-Security-Policy: nothing from other origins, no inline scripts.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; worker-src 'self'; \
                   manifest-src 'self'; frame-ancestors 'none'; base-uri 'self'; \
                   form-action 'self'";

/// Serves a file of the app, or `index.html` for the app's client-side routes.
pub(crate) async fn serve(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().trim_start_matches('/');
    if SERVER_PREFIXES
        .iter()
        .any(|p| path == *p || (p.ends_with('/') && path.starts_with(p)))
    {
        return crate::middleware::not_found().await.into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return crate::middleware::method_not_allowed()
            .await
            .into_response();
    }
    let (name, file) = match DIST.get_file(path) {
        Some(file) if !path.is_empty() => (path, file),
        // A missing hashed asset is a real 404 (a stale service worker must not get HTML).
        _ if path.starts_with("assets/") => {
            return ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such file")
                .into_response();
        }
        _ => match DIST.get_file("index.html") {
            Some(index) => ("index.html", index),
            None => {
                return ApiError::new(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    "this build has no web app (web/dist was empty when it was compiled)",
                )
                .into_response();
            }
        },
    };
    let gzip = accepts_gzip(&headers) && compressible(name);
    let body = if gzip {
        gzipped(name, file.contents())
    } else {
        file.contents().to_vec()
    };
    let mut response = Response::new(if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(body)
    });
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control(name)),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    if name.ends_with(".html") {
        h.insert("content-security-policy", HeaderValue::from_static(CSP));
        h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    }
    response
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| {
            let mut parts = e.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| p.trim().replace(' ', "") == "q=0");
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

fn compressible(name: &str) -> bool {
    !name.ends_with(".png") && !name.ends_with(".woff2")
}

/// Compresses each file once, on first request.
fn gzipped(name: &str, contents: &[u8]) -> Vec<u8> {
    static CACHE: OnceLock<Mutex<HashMap<String, Vec<u8>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().ok().and_then(|c| c.get(name).cloned()) {
        return hit;
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let packed = encoder
        .write_all(contents)
        .and_then(|()| encoder.finish())
        .unwrap_or_default();
    if let Ok(mut c) = cache.lock() {
        c.insert(name.to_string(), packed.clone());
    }
    packed
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Hashed assets never change; everything else is revalidated (the service worker and
/// index.html above all, or a new release would never reach the browser).
fn cache_control(name: &str) -> &'static str {
    if name.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_negotiation() {
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br, gzip, deflate"),
        );
        assert!(accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip;q=0, br"),
        );
        assert!(!accepts_gzip(&h));
    }

    #[test]
    fn caching_and_types() {
        assert_eq!(
            cache_control("assets/index-abc.js"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(cache_control("sw.js"), "no-cache");
        assert_eq!(
            content_type("manifest.webmanifest"),
            "application/manifest+json"
        );
        assert_eq!(content_type("x.unknown"), "application/octet-stream");
    }

    #[test]
    fn gzip_round_trips() {
        let text = b"hello hello hello hello".repeat(50);
        let packed = gzipped("t.txt", &text);
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&packed[..]), &mut out)
            .unwrap();
        assert_eq!(out, text);
    }
}
