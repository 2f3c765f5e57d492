//! The route table: one `match` over method and path, and the helpers handlers share.
//!
//! Every path of the API appears once below. A known path with a method it does not accept
//! answers 405 with `Allow`; anything else is 404. `HEAD` is accepted wherever `GET` is, and
//! answers the same headers without the body.

mod availability;
mod calendars;
mod keys;
mod service;

use std::net::IpAddr;
use std::time::Instant;

use bytes::Bytes;
use http::header::{
    HeaderValue, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_MATCH, IF_NONE_MATCH, VARY,
};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};

use crate::app::App;
use crate::auth::Need;
use crate::problem::{Body, Problem};
use crate::store::{Calendar, Store};
use availability_core::tz::Zone;

/// The calendar the short `/availability*` paths serve.
pub const DEFAULT_CALENDAR: &str = "default";

type Result<T> = std::result::Result<T, Problem>;

/// The client a request is charged to (the peer, or the address a trusted proxy named),
/// kept in the request's extensions for the key check.
#[derive(Debug, Clone, Copy)]
struct Client(IpAddr);

/// Answers one request from `peer`. Never fails: every error becomes a problem response.
///
/// The request is first charged to its client's read (GET, HEAD) or write (other methods)
/// rate limit; a spent budget is 429 before anything else runs. Every answer carries the
/// `RateLimit-Policy` and `RateLimit` fields of the limit it was charged to.
pub async fn handle<B>(app: &App, peer: IpAddr, request: Request<B>) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let started = Instant::now();
    app.metrics.start();
    let (mut parts, body) = request.into_parts();
    let client = app.limits.proxy.client(peer, &parts.headers);
    parts.extensions.insert(Client(client));
    let read = parts.method == Method::GET || parts.method == Method::HEAD;
    let limit = if read {
        &app.limits.read
    } else {
        &app.limits.write
    };
    let verdict = limit.check(&client);
    let (route, result) = if app.is_shutting_down() {
        ("shutdown", Err(Problem::shutting_down()))
    } else if !verdict.allowed {
        (
            "limited",
            Err(Problem::too_many_requests(
                format!(
                    "too many {} requests from this client; retry after {} s",
                    verdict.limit, verdict.reset
                ),
                verdict.clone(),
            )),
        )
    } else {
        route(app, &parts, body).await
    };
    let mut response = result.unwrap_or_else(Problem::into_response);
    if !response.headers().contains_key("ratelimit") {
        verdict.write_headers(response.headers_mut());
    }
    if parts.method == Method::HEAD {
        // Keep the headers of the GET, Content-Length included, without the body.
        let len = hyper::body::Body::size_hint(response.body())
            .exact()
            .unwrap_or(0);
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(len));
        *response.body_mut() = Full::new(Bytes::new());
    }
    let status = response.status();
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        app.metrics
            .auth_rejections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        app.metrics
            .rate_limited
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    app.metrics
        .observe(route, status.as_u16(), started.elapsed());
    tracing::debug!(method = %parts.method, path = parts.uri.path(), status = status.as_u16(), route);
    response
}

/// The route table. Returns the route's name (for metrics) and its answer.
///
/// Reads run as plain functions; handlers that wait (for a key check, a body or the disk) are
/// boxed, so this future, which every request moves, stays the size of the reads'.
async fn route<B>(app: &App, parts: &Parts, body: B) -> (&'static str, Result<Response<Body>>)
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    use availability::Shape;
    let path = parts.uri.path();
    let mut buffer = [""; MAX_SEGMENTS];
    let segments = segments(path, &mut buffer);
    let method = &parts.method;
    let read = *method == Method::GET || *method == Method::HEAD;
    match segments {
        // Liveness: answers as long as the server accepts requests.
        ["healthz"] if read => ("healthz", service::healthz(parts)),
        ["healthz"] => ("healthz", Err(Problem::method_not_allowed("GET, HEAD"))),
        // Prometheus metrics: admin key, or anyone when configured public.
        ["metrics"] if read => ("metrics", Box::pin(service::metrics(app, parts)).await),
        ["metrics"] => ("metrics", Err(Problem::method_not_allowed("GET, HEAD"))),

        // The calendars: list (admin) and create (admin).
        ["calendars"] if read => ("calendars", Box::pin(calendars::list(app, parts)).await),
        ["calendars"] if *method == Method::POST => (
            "calendars",
            Box::pin(calendars::create(app, parts, body)).await,
        ),
        ["calendars"] => (
            "calendars",
            Err(Problem::method_not_allowed("GET, HEAD, POST")),
        ),

        // One calendar: read (anyone), change its zone (its key), delete (admin).
        ["calendars", id] if read => ("calendar", calendars::get(app, parts, id)),
        ["calendars", id] if *method == Method::PATCH => (
            "calendar",
            Box::pin(calendars::set_zone(app, parts, body, id)).await,
        ),
        ["calendars", id] if *method == Method::DELETE => (
            "calendar",
            Box::pin(calendars::delete(app, parts, id)).await,
        ),
        ["calendars", _] => (
            "calendar",
            Err(Problem::method_not_allowed("GET, HEAD, PATCH, DELETE")),
        ),

        // A calendar's week: read in any zone and format (anyone), edit or replace (its key).
        ["calendars", id, "availability"] => {
            let name = "availability";
            if read {
                (name, availability::read(app, parts, id, Shape::Week))
            } else if *method == Method::PATCH || *method == Method::PUT {
                let replace = *method == Method::PUT;
                let write = availability::write(app, parts, body, id, replace);
                (name, Box::pin(write).await)
            } else {
                (
                    name,
                    Err(Problem::method_not_allowed("GET, HEAD, PATCH, PUT")),
                )
            }
        }
        // One slot of a view (anyone).
        ["calendars", id, "availability", "slot"] => {
            if read {
                ("slot", availability::read(app, parts, id, Shape::Slot))
            } else {
                ("slot", Err(Problem::method_not_allowed("GET, HEAD")))
            }
        }
        // The week as CSV, for clients of earlier servers that used this path (anyone).
        ["calendars", id, "availability", "csv"] => {
            if read {
                ("csv", availability::read(app, parts, id, Shape::Csv))
            } else {
                ("csv", Err(Problem::method_not_allowed("GET, HEAD")))
            }
        }

        // A new calendar key (its key or admin), shown once.
        ["calendars", id, "keys"] if *method == Method::POST => {
            ("keys", Box::pin(keys::create(app, parts, id)).await)
        }
        ["calendars", _, "keys"] => ("keys", Err(Problem::method_not_allowed("POST"))),
        // Revoke a key (its calendar's key or admin).
        ["calendars", id, "keys", key_id] if *method == Method::DELETE => {
            ("key", Box::pin(keys::delete(app, parts, id, key_id)).await)
        }
        ["calendars", _, "keys", _] => ("key", Err(Problem::method_not_allowed("DELETE"))),

        // Anything else.
        _ => (
            "unknown",
            Err(Problem::not_found(format!(
                "no such path {path:?}; the API is under /calendars, /availability, \
                 /healthz and /metrics"
            ))),
        ),
    }
}

/// More path segments than any route has: such a path is 404 without looking further.
const MAX_SEGMENTS: usize = 6;

/// The segments of `path` in `buffer`, without allocating: `/a/b` is `["a", "b"]`. The short
/// paths of earlier servers serve the default calendar, so `/availability[/...]` reads as
/// `/calendars/default/availability[/...]`. A path of more segments than any route has yields
/// them all but cut short, which matches no route.
fn segments<'a>(path: &'a str, buffer: &'a mut [&'a str; MAX_SEGMENTS]) -> &'a [&'a str] {
    let path = path.strip_prefix('/').unwrap_or(path);
    let mut n = 0;
    if path == "availability" || path.starts_with("availability/") {
        buffer[0] = "calendars";
        buffer[1] = DEFAULT_CALENDAR;
        n = 2;
    }
    for segment in path.split('/') {
        match buffer.get_mut(n) {
            Some(slot) => *slot = segment,
            // Too long for any route: keep a full buffer that no pattern matches.
            None => return buffer.as_slice(),
        }
        n += 1;
    }
    &buffer[..n]
}

/// Checks the request's key against `need` (see [`crate::auth::Auth::check`]), charging key
/// checks to the client's `auth` limit.
async fn authorize(app: &App, parts: &Parts, need: Need<'_>) -> Result<crate::auth::Principal> {
    // `handle` always inserts the client; the fallback only serves handlers called directly.
    let client = parts
        .extensions
        .get::<Client>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0);
    app.auth
        .check(&app.store, &app.limits.auth, client, &parts.headers, need)
        .await
}

/// Whether `id` is a valid calendar id: `[a-z0-9][a-z0-9-]{0,62}`.
pub fn valid_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    let char_ok = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.first().is_some_and(char_ok)
        && bytes.iter().all(|b| char_ok(b) || *b == b'-')
}

/// The calendar, or 404.
fn calendar(app: &App, id: &str) -> Result<std::sync::Arc<Calendar>> {
    app.store
        .get(id)
        .ok_or_else(|| Problem::not_found(format!("no calendar {id:?}")))
}

/// The zone with this IANA name (any case), or 400 naming it.
fn zone(name: &str) -> Result<Zone> {
    Zone::new(name).map_err(|e| Problem::bad_request(e.to_string()))
}

/// Reads a JSON body of at most `app.body_limit` bytes.
///
/// # Errors
///
/// 415 unless the content type is JSON; 413 past the limit (checked while reading, since a
/// chunked body announces no length); 408 when it takes too long; 400 when it cannot be read.
async fn json_body<B>(app: &App, parts: &Parts, body: B) -> Result<Bytes>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let is_json = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| {
            v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
        });
    if !is_json {
        return Err(Problem::unsupported_media_type());
    }
    let announced = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = app.body_limit;
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(Problem::too_large(limit));
    }
    // `Limited` counts bytes as frames arrive and fails at the first one past the limit, so
    // a chunked body is never buffered beyond it. The timeout stops a body trickled byte by
    // byte from holding the request (and its connection) open.
    let collected = tokio::time::timeout(app.body_timeout, Limited::new(body, limit).collect());
    match collected.await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(err)) if err.is::<http_body_util::LengthLimitError>() => {
            Err(Problem::too_large(limit))
        }
        Ok(Err(err)) => Err(Problem::bad_request(format!(
            "the request body could not be read: {err}"
        ))),
        Err(_) => Err(Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} s; send it at once",
                app.body_timeout.as_secs()
            ),
        )),
    }
}

/// Parses a JSON body into `T`, with serde's message (it names the line and column).
fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|err| Problem::bad_request(format!("the body is not a valid {what}: {err}")))
}

/// The entity tags of a conditional header (`If-Match`, `If-None-Match`), weak markers dropped;
/// `None` when the header is absent.
fn etags(parts: &Parts, name: http::header::HeaderName) -> Option<Vec<String>> {
    let values: Vec<&HeaderValue> = parts.headers.get_all(name).iter().collect();
    if values.is_empty() {
        return None;
    }
    Some(
        values
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().trim_start_matches("W/").to_owned())
            .filter(|t| !t.is_empty())
            .collect(),
    )
}

/// Whether `If-None-Match` names any of `current` (or `*`): then the answer is 304.
fn not_modified(parts: &Parts, current: &[&[u8]]) -> bool {
    etags(parts, IF_NONE_MATCH).is_some_and(|tags| {
        tags.iter()
            .any(|t| t == "*" || current.contains(&t.as_bytes()))
    })
}

/// The version a tag of ours names: `"v12-..."` or `"v12"` -> 12.
fn tag_version(tag: &str) -> Option<u64> {
    let inner = tag.strip_prefix("\"v")?.strip_suffix('"')?;
    let digits = inner.split('-').next()?;
    digits.parse().ok()
}

/// The version a write must expect, from `If-Match`: `None` without the header (or with `*`,
/// which only asks that the calendar exist). 412 when no tag names the current version.
fn expected_version(parts: &Parts, current: u64) -> Result<Option<u64>> {
    let Some(tags) = etags(parts, IF_MATCH) else {
        return Ok(None);
    };
    if tags.iter().any(|t| t == "*") {
        return Ok(None);
    }
    if tags
        .iter()
        .filter_map(|t| tag_version(t))
        .any(|v| v == current)
    {
        Ok(Some(current))
    } else {
        Err(Problem::precondition_failed(format!(
            "If-Match does not name the current version ({current}): the calendar changed \
             since you read it; read it again and retry"
        )))
    }
}

/// A JSON response with these bytes.
fn json_response(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A small JSON read (not cached): with an ETag, answering `If-None-Match`.
fn small_read(parts: &Parts, body: Vec<u8>, version: Option<u64>) -> Result<Response<Body>> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut hasher);
    let etag = match version {
        Some(v) => format!("\"v{v}-{:016x}\"", hasher.finish()),
        None => format!("\"h-{:016x}\"", hasher.finish()),
    };
    let mut response = if not_modified(parts, &[etag.as_bytes()]) {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        json_response(StatusCode::OK, body)
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(ETAG, value);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(VARY, HeaderValue::from_static("Authorization"));
    Ok(response)
}

/// The JSON `{ "calendar", "version" }` of a successful write, with the version's ETag.
fn written(
    status: StatusCode,
    mut body: serde_json::Value,
    calendar: &str,
    version: u64,
) -> Response<Body> {
    if let Some(object) = body.as_object_mut() {
        object.insert("calendar".into(), calendar.into());
        object.insert("version".into(), version.into());
    }
    let mut bytes = body.to_string().into_bytes();
    bytes.push(b'\n');
    let mut response = json_response(status, bytes);
    if let Ok(value) = HeaderValue::from_str(&format!("\"v{version}\"")) {
        response.headers_mut().insert(ETAG, value);
    }
    response
}

/// Runs a store change on the blocking pool (commits wait for the disk), counting commits.
async fn blocking<T: Send + 'static>(
    app: &App,
    what: &'static str,
    f: impl FnOnce(&Store) -> std::result::Result<T, availability_core::Error> + Send + 'static,
) -> Result<T> {
    let store = std::sync::Arc::clone(&app.store);
    let outcome = tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|err| Problem::internal(what, err))?;
    match outcome {
        Ok(value) => {
            app.metrics
                .commits
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(value)
        }
        Err(err) => Err(store_problem(what, err)),
    }
}

/// The HTTP answer to a store refusal. The store's messages are written for the client
/// (they name the calendar, the key or the version); a failure of the store itself (I/O) is
/// logged and answered with a bare 500.
fn store_problem(what: &str, err: availability_core::Error) -> Problem {
    if err.is_not_found() {
        Problem::not_found(err.to_string())
    } else if err.is_already_exists() || err.is_capacity() {
        Problem::conflict(err.to_string())
    } else if err.is_version_mismatch() {
        Problem::precondition_failed(err.to_string())
    } else if err.is_parse() || err.is_invalid_entry() || err.is_too_many_entries() {
        Problem::bad_request(err.to_string())
    } else {
        Problem::internal(what, err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["default", "a", "room-1", "0", &"a".repeat(63)] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in ["", "-a", "A", "a_b", "a b", &"a".repeat(64), "é"] {
            assert!(!valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn path_segments() {
        let mut buffer = [""; MAX_SEGMENTS];
        assert_eq!(segments("/healthz", &mut buffer), ["healthz"]);
        let mut buffer = [""; MAX_SEGMENTS];
        assert_eq!(
            segments("/calendars/a/availability/slot", &mut buffer),
            ["calendars", "a", "availability", "slot"]
        );
        let mut buffer = [""; MAX_SEGMENTS];
        assert_eq!(
            segments("/availability/csv", &mut buffer),
            ["calendars", "default", "availability", "csv"]
        );
        let mut buffer = [""; MAX_SEGMENTS];
        assert_eq!(segments("/availabilityx", &mut buffer), ["availabilityx"]);
        let mut buffer = [""; MAX_SEGMENTS];
        assert_eq!(segments("/", &mut buffer), [""]);
        let mut buffer = [""; MAX_SEGMENTS];
        assert_eq!(segments("/calendars/", &mut buffer), ["calendars", ""]);
        let mut buffer = [""; MAX_SEGMENTS];
        assert_eq!(
            segments("/a/b/c/d/e/f/g/h", &mut buffer).len(),
            MAX_SEGMENTS
        );
        let mut buffer = [""; MAX_SEGMENTS];
        assert_eq!(
            segments("/availability/a/b/c/d/e", &mut buffer).len(),
            MAX_SEGMENTS
        );
    }

    #[test]
    fn tag_versions() {
        assert_eq!(tag_version("\"v12-00ff\""), Some(12));
        assert_eq!(tag_version("\"v3\""), Some(3));
        assert_eq!(tag_version("\"x3\""), None);
        assert_eq!(tag_version("v3"), None);
    }
}
