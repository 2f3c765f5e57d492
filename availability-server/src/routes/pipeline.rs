//! The steps every request takes around its handler, whatever its route: the charge to a
//! rate limit before, the refusals that come before any handler (shutdown, a spent limit, a
//! CORS preflight), and on the way out CORS and rate-limit fields, `HEAD`, `Connection:
//! close` for a body left unread, the `Request-Id`, the request's count and its log line.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use http::header::{HeaderValue, CONNECTION, CONTENT_LENGTH};
use http::request::Parts;
use http::{Method, Response, StatusCode};

use super::path::Route;
use crate::app::App;
use crate::auth::Principal;
use crate::ctx::Action;
use crate::limit::Verdict;
use crate::metrics::Metrics;
use crate::wire::{cors, request_id};
use crate::wire::{Body, Problem, Result};

/// What the dispatcher works out about a request before any handler runs.
pub(super) struct Prelude {
    pub(super) client: IpAddr,
    /// Charged as a read.
    pub(super) read: bool,
    /// A CORS preflight.
    pub(super) preflight: bool,
    /// The limit it was charged to.
    pub(super) verdict: Verdict,
    pub(super) started: Instant,
}

/// What every answer gets on its way out: CORS fields, the rate limit's fields, `Connection:
/// close` when the request's body was left `unread`, a `HEAD`'s empty body, and its count.
pub(super) fn finish(
    app: &App,
    parts: &Parts,
    (route, result): (&'static str, Result<Response<Body>>),
    prelude: &Prelude,
    unread: bool,
) -> Response<Body> {
    let mut response = result.unwrap_or_else(Problem::into_response);
    if !prelude.preflight {
        cors::decorate(&mut response, parts, prelude.read, &app.cors_origins);
    }
    if !response.headers().contains_key(&crate::limit::RATELIMIT) {
        prelude.verdict.write_headers(response.headers_mut());
    }
    if unread {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    let bodiless = matches!(
        response.status(),
        StatusCode::NOT_MODIFIED | StatusCode::NO_CONTENT
    );
    if parts.method == Method::HEAD && !bodiless {
        // Keep the headers of the GET, Content-Length included, without the body.
        let len = hyper::body::Body::size_hint(response.body())
            .exact()
            .unwrap_or(0);
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(len));
        *response.body_mut() = Body::empty();
    }
    let id = request_id::of(parts);
    let elapsed = prelude.started.elapsed();
    count(&app.metrics, route, response.status(), elapsed);
    log(
        parts,
        route,
        response.status(),
        (prelude.client, elapsed),
        &id,
    );
    response.headers_mut().insert(request_id::HEADER, id);
    response
}

/// The answer of a page's handler (`page`: the route answered a browser asking for HTML
/// with its page): a problem is answered as a page too, which says what was wrong and links
/// back; every other request's problem stays `application/problem+json`.
pub(super) fn as_page(
    answer: Result<Response<Body>>,
    page: bool,
    parts: &Parts,
) -> Result<Response<Body>> {
    match answer {
        Err(problem) if page => Ok(problem.into_page(parts.uri.path())),
        answer => answer,
    }
}

/// Charges a request to its budget: reads to the client's `read` budget; writes with a key
/// the memo knows as verified to that key's budget (`admin` or `key`), so a busy key holder is
/// not held to what one address may do; every other write (no key, a key not yet verified,
/// a wrong one) to the client's `write` budget.
pub(super) fn charge(app: &App, read: bool, client: IpAddr, parts: &Parts) -> Verdict {
    let limits = &app.limits;
    if read {
        return limits.read.check(&client);
    }
    match app.auth.remembered_key(&app.store, &parts.headers) {
        Some((id, Principal::Admin { .. })) => limits.admin.check(&id),
        Some((id, Principal::Calendar { .. })) => limits.key.check(&id),
        None => limits.write.check(&client),
    }
}

/// The request's line in the log: as an error for an answer of 500 or more, else at info
/// (which the default filter leaves out: `availability_server::access=info` asks for them).
/// The path, never the query or a header, so no key reaches the log.
fn log(
    parts: &Parts,
    route: &'static str,
    status: StatusCode,
    (client, elapsed): (IpAddr, Duration),
    id: &HeaderValue,
) {
    let request_id = id.to_str().unwrap_or_default();
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    let (method, path, status) = (parts.method.as_str(), parts.uri.path(), status.as_u16());
    if status >= 500 {
        tracing::error!(
            target: "availability_server::access",
            request_id, method, path, route, status, micros, %client, "answered"
        );
    } else {
        tracing::info!(
            target: "availability_server::access",
            request_id, method, path, route, status, micros, %client, "answered"
        );
    }
}

fn count(metrics: &Metrics, route: &'static str, status: StatusCode, elapsed: Duration) {
    use std::sync::atomic::Ordering::Relaxed;
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        metrics.auth_rejections.fetch_add(1, Relaxed);
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        metrics.rate_limited.fetch_add(1, Relaxed);
    }
    metrics.observe(route, status.as_u16(), elapsed);
}

/// The answer to a request refused before its handler: the server is shutting down, or the
/// client's (or key's) budget is spent.
pub(super) fn refusal(app: &App, verdict: &Verdict) -> Option<(&'static str, Problem)> {
    if app.is_shutting_down() {
        return Some(("shutdown", Problem::shutting_down()));
    }
    if verdict.allowed {
        return None;
    }
    let message = match verdict.limit {
        "admin" | "key" => format!(
            "too many writes with this key; retry after {} s",
            verdict.reset
        ),
        limit => format!(
            "too many {limit} requests from this client; retry after {} s",
            verdict.reset
        ),
    };
    Some((
        "limited",
        Problem::too_many_requests(message, verdict.clone()),
    ))
}

/// The answer to a CORS preflight for `route`: the methods it accepts, to the origins
/// allowed.
pub(super) fn preflight(app: &App, parts: &Parts, route: &Route) -> Response<Body> {
    let asked = cors::asked_method(parts);
    // GET and HEAD read; so does a question sent as a body (`POST /overlap`).
    let reads = asked == "GET"
        || asked == "HEAD"
        || route
            .methods
            .iter()
            .any(|(method, action)| method.as_str() == asked && matches!(action, Action::Ask(_)));
    cors::preflight(parts, &route.allow(), reads, &app.cors_origins)
}
