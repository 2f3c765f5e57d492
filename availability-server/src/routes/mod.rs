//! The route table, and [`handle`], which dispatches a request through it.
//!
//! Every path of the API is one entry of [`ROUTES`]: its pattern, its name (for metrics) and
//! the handler of each method it accepts, and, for a resource that has a page for people, the
//! handler that answers a browser asking for HTML. The same entry answers a method it does not
//! list with 405 and an `Allow` header built from its list, so a route cannot forget its
//! `Allow`. `HEAD` is accepted wherever `GET` is, and answers the same headers without the
//! body.
//!
//! - this file: the table and the dispatch;
//! - `path`: matching a request to the table;
//! - `pipeline`: what every request goes through around its handler (rate limits, refusals,
//!   CORS, `HEAD`, counting);
//! - one file per resource: the handlers. They import only downward (`crate::ctx`, `app`,
//!   `wire`, the core), never this module or each other.

mod admin;
mod availability;
pub mod backup;
mod bookings;
mod calendars;
mod group_bookings;
mod group_types;
mod groups;
mod history;
mod keys;
mod live;
mod overlap;
mod overrides;
mod pages;
mod path;
mod pipeline;
mod service;
mod slots;
mod types;
mod webhooks;

use std::future::Future;
use std::net::IpAddr;
use std::time::Instant;

use bytes::Bytes;
use futures_util::future::Either;
use http::request::Parts;
use http::{Method, Request, Response, Version};

use self::path::{find, segments, MAX_SEGMENTS};
use self::pipeline::{as_page, charge, finish, Prelude};
use crate::app::App;
use crate::ctx::{Action, Ctx};
use crate::metrics::{InFlight, Metrics};
use crate::wire::body::{self, BoxError};
use crate::wire::cors;
use crate::wire::{Body, Problem};

/// The boxed form of an `async fn(Ctx<'_>, RequestBody) -> Result<Response<Body>>`, for
/// `Action::Wait` and `Action::Ask`.
macro_rules! boxed {
    ($handler:path) => {{
        fn boxed(cx: Ctx<'_>, body: RequestBody) -> Waiting<'_> {
            Box::pin($handler(cx, body))
        }
        boxed
    }};
}

/// `Action::Wait` for an `async fn(Ctx<'_>, RequestBody) -> Result<Response<Body>>`.
macro_rules! wait {
    ($handler:path) => {
        Action::Wait(boxed!($handler))
    };
}

pub use service::OPENAPI;

mod table;

use self::table::ROUTES;

/// The API is what the accept loop serves.
impl crate::server::Handler for App {
    fn handle(
        &self,
        peer: IpAddr,
        request: Request<hyper::body::Incoming>,
    ) -> impl Future<Output = Response<Body>> + Send {
        handle(self, peer, request)
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn begin_shutdown(&self) {
        App::begin_shutdown(self);
    }
}

/// Answers one request from `peer`. Never fails: every error becomes a problem response.
///
/// The request is first charged to its client's read budget (GET, HEAD, and questions sent as
/// a body such as `POST /overlap`), or, for other methods, to its key's or its client's write
/// budget ([`charge`]); a spent budget is 429 before anything else runs. Every answer carries
/// the `RateLimit-Policy` and `RateLimit` fields of the limit it was charged to.
///
/// A read answered from memory, with no body to read (almost every request), is answered
/// before this returns, and the future is a finished one. Everything else runs in a boxed
/// future ([`waiting`]): one that waited inline made every request's future a kilobyte and
/// more, which HTTP/2 copies when it starts a stream.
pub fn handle<'a, B>(
    app: &'a App,
    peer: IpAddr,
    request: Request<B>,
) -> impl Future<Output = Response<Body>> + Send + 'a
where
    B: hyper::body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    let started = Instant::now();
    // Counted until dropped, so a request cancelled while it waits is not left in flight.
    let in_flight = app.metrics.start();
    let (parts, body) = request.into_parts();
    let client = app.limits.proxy.client(peer, &parts.headers);
    let preflight = cors::is_preflight(&parts);
    let mut buffer = [""; MAX_SEGMENTS];
    let found = find(ROUTES, &parts, &mut buffer);
    let read = parts.method == Method::GET
        || parts.method == Method::HEAD
        || preflight
        || matches!(found, Ok((_, _, Action::Ask(_))));
    let verdict = charge(app, read, client, &parts);
    let now = match found {
        Ok((route, params, action @ Action::Now(handler)))
            if verdict.allowed
                && !preflight
                && !app.is_shutting_down()
                && !body::declared(&parts, &body) =>
        {
            Some((route.name, *handler, params, route.is_page(action)))
        }
        _ => None,
    };
    let prelude = Prelude {
        client,
        read,
        preflight,
        verdict,
        started,
    };
    let Some((route, handler, params, page)) = now else {
        return Either::Right(Box::pin(waiting(app, parts, body, prelude, in_flight)));
    };
    let cx = Ctx {
        app,
        parts: &parts,
        client,
        params,
    };
    let answer = as_page(handler(&cx), page, &parts);
    let response = finish(app, &parts, (route, answer), &prelude, false);
    drop(in_flight);
    Either::Left(std::future::ready(response))
}

/// [`handle`] for a request that waits: for its body, the disk, a key check, or reading a body
/// the handler left unread; and for every refusal before a handler runs. The route is found
/// again here rather than carried over: its parameters borrow `parts`, which moves in.
async fn waiting<B>(
    app: &App,
    parts: Parts,
    body: B,
    prelude: Prelude,
    _in_flight: InFlight<'_>,
) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    let mut buffer = [""; MAX_SEGMENTS];
    let found = find(ROUTES, &parts, &mut buffer);
    // A body the handler leaves unread is read once it has answered (up to a bound): closing
    // an HTTP/1.1 connection while its client still sends would reset it before the client
    // saw the answer, and so, for some clients, would resetting an HTTP/2 stream. Over
    // HTTP/1.1 a body too large or too slow to read says `Connection: close`.
    let (body, leftover) = if body::declared(&parts, &body) {
        let (body, leftover) = body::hold(body);
        (body, Some(leftover))
    } else {
        (body::boxed(body), None)
    };
    let answer = if let Some((name, problem)) = pipeline::refusal(app, &prelude.verdict) {
        (name, Err(problem))
    } else if prelude.preflight {
        // A browser asking before a cross-origin request: the route's methods, or 404.
        let mut buffer = [""; MAX_SEGMENTS];
        let segments = segments(parts.uri.path(), &mut buffer);
        match ROUTES.iter().find(|r| r.matches(segments).is_some()) {
            Some(route) => ("preflight", Ok(pipeline::preflight(app, &parts, route))),
            None => ("unknown", Err(Problem::not_found("no such path"))),
        }
    } else {
        match found {
            Err((name, problem)) => (name, Err(problem)),
            Ok((route, params, action)) => {
                let cx = Ctx {
                    app,
                    parts: &parts,
                    client: prelude.client,
                    params,
                };
                let answer = match action {
                    Action::Now(handler) => handler(&cx),
                    Action::Wait(handler) | Action::Ask(handler) => handler(cx, body).await,
                };
                (route.name, as_page(answer, route.is_page(action), &parts))
            }
        }
    };
    let unread = match leftover {
        Some(leftover) if parts.version < Version::HTTP_2 => {
            !leftover.drain(app.body.timeout).await
        }
        // HTTP/2: the rest of the body is read before the answer or beside it, within the
        // body's time limit, so that the stream is not reset under a client still sending
        // (`Leftover::discard`). Streams are independent: the connection goes on regardless.
        Some(leftover) => {
            let deadline = tokio::time::Instant::from_std(prelude.started + app.body.timeout);
            leftover
                .discard(deadline, body::expects_continue(&parts))
                .await;
            false
        }
        None => false,
    };
    finish(app, &parts, answer, &prelude, unread)
}

/// Every route's path pattern (`/calendars/{id}/keys`) and the methods it accepts, `HEAD`
/// included: the API as the table has it, for documentation and tests.
pub fn table() -> Vec<(String, Vec<String>)> {
    path::describe(ROUTES)
}

#[cfg(test)]
mod tests {
    use super::path::{segments, Route, MAX_SEGMENTS};
    use super::*;

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
    fn patterns_capture_their_parameters() {
        let key = ROUTES.iter().find(|r| r.name == "key").expect("a route");
        assert_eq!(
            key.matches(&["calendars", "c", "keys", "k1"]),
            Some(["c", "k1"])
        );
        assert_eq!(key.matches(&["calendars", "c", "keys"]), None);
        assert_eq!(key.matches(&["calendars", "c", "key", "k1"]), None);
    }

    /// No two routes match the same path, and every route's `Allow` lists its methods.
    #[test]
    fn the_table_is_unambiguous_and_lists_its_methods() {
        let table = table();
        for (i, (path, methods)) in table.iter().enumerate() {
            assert!(table[i + 1..].iter().all(|(p, _)| p != path), "{path}");
            assert!(!methods.is_empty());
            if methods.iter().any(|m| m == "GET") {
                assert!(methods.iter().any(|m| m == "HEAD"), "{path}");
            }
        }
        let allow: Vec<String> = ROUTES.iter().map(Route::allow).collect();
        assert_eq!(allow[0], "GET, HEAD");
        assert_eq!(table[0].0, "/");
        assert!(allow.contains(&"GET, HEAD, PATCH, DELETE".to_owned()));
        assert!(allow.contains(&"GET, HEAD, PATCH, PUT".to_owned()));
        assert!(allow.contains(&"DELETE".to_owned()));
    }
}
