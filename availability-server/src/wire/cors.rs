//! Cross-origin requests (the Fetch standard's CORS): a page of another site may read every
//! public answer, and may write only from the origins an operator lists (`cors_origins`).
//!
//! Reads answer `Access-Control-Allow-Origin: *` and never allow credentials: a key travels
//! in `Authorization`, which a page must send explicitly, so no cookie or ambient credential
//! is ever involved. Writes name the requesting origin back only when it is listed. A
//! preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered 204
//! with the route's methods and the request headers the API reads.

use bytes::Bytes;
use http::header::{
    HeaderValue, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::request::Parts;
use http::{Method, Response, StatusCode};

use super::Body;

/// The request headers the API reads, which a page may send.
const ALLOWED_HEADERS: &str =
    "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key";
/// The response headers a page may read besides the safelisted ones (`Link`: the next page
/// of a listing).
const EXPOSED_HEADERS: &str =
    "ETag, Link, Location, Retry-After, RateLimit, RateLimit-Policy, Request-Id";
/// How long a browser may keep a preflight's answer, in seconds.
const MAX_AGE: &str = "600";

/// Whether the request is a preflight.
pub fn is_preflight(parts: &Parts) -> bool {
    parts.method == Method::OPTIONS
        && parts.headers.contains_key(ORIGIN)
        && parts.headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
}

/// The origin a write from `parts` may be answered to, if it is listed.
fn listed<'a>(parts: &'a Parts, origins: &[String]) -> Option<&'a HeaderValue> {
    let origin = parts.headers.get(ORIGIN)?;
    let text = origin.to_str().ok()?;
    origins
        .iter()
        .any(|o| o == "*" || o.eq_ignore_ascii_case(text))
        .then_some(origin)
}

/// The method a preflight asks about.
pub fn asked_method(parts: &Parts) -> &str {
    parts
        .headers
        .get(ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|m| m.to_str().ok())
        .unwrap_or("")
}

/// The answer to a preflight for a route that accepts `allow` (its `Allow` list): 204, with
/// the route's methods when the method asked for only reads (`read`) or the origin is listed.
pub fn preflight(parts: &Parts, allow: &str, read: bool, origins: &[String]) -> Response<Body> {
    let mut response = Response::new(Body::new(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(VARY, HeaderValue::from_static("Origin"));
    let origin = if read {
        Some(HeaderValue::from_static("*"))
    } else {
        listed(parts, origins).cloned()
    };
    if let Some(origin) = origin {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if let Ok(methods) = HeaderValue::from_str(allow) {
            headers.insert(ACCESS_CONTROL_ALLOW_METHODS, methods);
        }
        headers.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOWED_HEADERS),
        );
        headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE));
    }
    response
}

/// Adds the CORS fields to an answer to a request with an `Origin`: `*` for a read (`read`),
/// the origin itself for a write from a listed one, nothing otherwise.
pub fn decorate(response: &mut Response<Body>, parts: &Parts, read: bool, origins: &[String]) {
    if !parts.headers.contains_key(ORIGIN) {
        return;
    }
    let origin = if read {
        Some(HeaderValue::from_static("*"))
    } else {
        listed(parts, origins).cloned()
    };
    let Some(origin) = origin else { return };
    let headers = response.headers_mut();
    if origin != "*" {
        headers.append(VARY, HeaderValue::from_static("Origin"));
    }
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED_HEADERS),
    );
}
