//! The route table, and [`handle`], which charges a request to its client's rate limit and
//! dispatches it through the table.
//!
//! Every path of the API is one entry of [`ROUTES`]: its pattern, its name (for metrics) and
//! the handler of each method it accepts. The same entry answers a method it does not list
//! with 405 and an `Allow` header built from its list, so a route cannot forget its `Allow`.
//! `HEAD` is accepted wherever `GET` is, and answers the same headers without the body.
//!
//! Handlers live one file per resource below this module. They read top to bottom: they find
//! what they need through [`Ctx`] and [`App`], and the HTTP details through `crate::wire`,
//! and never call back up into this module.

mod admin;
mod availability;
mod bookings;
mod calendars;
mod groups;
mod keys;
mod live;
mod overlap;
mod overrides;
mod pages;
mod service;

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Instant;

use bytes::Bytes;
use futures_util::future::Either;
use http::header::{HeaderValue, CONNECTION, CONTENT_LENGTH};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode, Version};

use crate::app::App;
use crate::auth::Principal;
use crate::limit::Verdict;
use crate::metrics::{InFlight, Metrics};
use crate::store::DEFAULT_CALENDAR;
use crate::wire::body::{self, BoxError, RequestBody};
use crate::wire::cors;
use crate::wire::{Body, Problem, Result};

/// What a handler knows of its request: the shared state, the request head, the client it is
/// charged to, and the segments its path pattern captured (`{id}`, `{key_id}`), in order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub app: &'a App,
    pub parts: &'a Parts,
    pub client: IpAddr,
    params: [&'a str; 2],
}

impl<'a> Ctx<'a> {
    /// The `n`-th captured segment (0: the calendar id, 1: a key id).
    pub(crate) fn param(&self, n: usize) -> &'a str {
        self.params.get(n).copied().unwrap_or("")
    }
}

/// A future of a handler that waits (for a key check, a body or the disk), boxed so that the
/// future of [`handle`], which every request moves, stays the size of a read's.
type Waiting<'a> = Pin<Box<dyn Future<Output = Result<Response<Body>>> + Send + 'a>>;

/// What answers one method of a route.
#[derive(Clone, Copy)]
enum Action {
    /// Answers at once, from memory (the reads).
    Now(fn(&Ctx<'_>) -> Result<Response<Body>>),
    /// Waits; gets the request body.
    Wait(for<'a> fn(Ctx<'a>, RequestBody) -> Waiting<'a>),
    /// Waits for its body, but only reads (a question too long for a query string): charged
    /// to the read budget like a `GET`.
    Ask(for<'a> fn(Ctx<'a>, RequestBody) -> Waiting<'a>),
}

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

/// A segment of a path pattern.
#[derive(Clone, Copy)]
enum Seg {
    /// Exactly this text.
    Lit(&'static str),
    /// Any segment, captured; the name is the one documentation gives it (`{id}`).
    Param(&'static str),
}

use Seg::{Lit, Param};

pub use service::OPENAPI;

/// One path of the API.
struct Route {
    /// The name in metrics and logs.
    name: &'static str,
    pattern: &'static [Seg],
    /// The methods it accepts (`GET` implies `HEAD`), in the order `Allow` lists them.
    methods: &'static [(Method, Action)],
}

/// The API. `/availability[/...]` is `/calendars/default/availability[/...]`, the paths of
/// earlier servers.
static ROUTES: &[Route] = &[
    // The start page: open a calendar or a group (anyone).
    Route {
        name: "start",
        pattern: &[Lit("")],
        methods: &[(Method::GET, Action::Now(pages::start))],
    },
    // The pages' script and style (anyone).
    Route {
        name: "static",
        pattern: &[Lit("static"), Param("file")],
        methods: &[(Method::GET, Action::Now(pages::asset))],
    },
    // Liveness: answers as long as the server accepts requests.
    Route {
        name: "healthz",
        pattern: &[Lit("healthz")],
        methods: &[(Method::GET, Action::Now(service::healthz))],
    },
    // Prometheus metrics: admin key, or anyone when configured public.
    Route {
        name: "metrics",
        pattern: &[Lit("metrics")],
        methods: &[(Method::GET, wait!(service::metrics))],
    },
    // The OpenAPI document of this table (anyone).
    Route {
        name: "openapi",
        pattern: &[Lit("openapi.json")],
        methods: &[(Method::GET, Action::Now(service::openapi))],
    },
    // The calendars: list (admin) and create (admin).
    Route {
        name: "calendars",
        pattern: &[Lit("calendars")],
        methods: &[
            (Method::GET, wait!(calendars::list)),
            (Method::POST, wait!(calendars::create)),
        ],
    },
    // One calendar: read (anyone), change its zone or booking policy (its key), delete (admin).
    Route {
        name: "calendar",
        pattern: &[Lit("calendars"), Param("id")],
        methods: &[
            (Method::GET, Action::Now(calendars::get)),
            (Method::PATCH, wait!(calendars::patch)),
            (Method::DELETE, wait!(calendars::delete)),
        ],
    },
    // A calendar's changes as they happen, as Server-Sent Events (anyone).
    Route {
        name: "calendar_events",
        pattern: &[Lit("calendars"), Param("id"), Lit("events")],
        methods: &[(Method::GET, Action::Now(live::calendar))],
    },
    // A calendar's week: read in any zone and format (anyone), edit or replace (its key).
    Route {
        name: "availability",
        pattern: &[Lit("calendars"), Param("id"), Lit("availability")],
        methods: &[
            (Method::GET, Action::Now(availability::read_week)),
            (Method::PATCH, wait!(availability::patch)),
            (Method::PUT, wait!(availability::put)),
        ],
    },
    // The recurring pattern as an iCalendar VAVAILABILITY in the owner's zone (anyone).
    Route {
        name: "availability_ics",
        pattern: &[Lit("calendars"), Param("id"), Lit("availability.ics")],
        methods: &[(Method::GET, Action::Now(availability::read_pattern))],
    },
    // One slot of a view (anyone).
    Route {
        name: "slot",
        pattern: &[
            Lit("calendars"),
            Param("id"),
            Lit("availability"),
            Lit("slot"),
        ],
        methods: &[(Method::GET, Action::Now(availability::read_slot))],
    },
    // The week as CSV, for clients of earlier servers that used this path (anyone).
    Route {
        name: "csv",
        pattern: &[
            Lit("calendars"),
            Param("id"),
            Lit("availability"),
            Lit("csv"),
        ],
        methods: &[(Method::GET, Action::Now(availability::read_csv))],
    },
    // The admin keys: listed without their secrets, or a new one shown once (admin).
    Route {
        name: "admin_keys",
        pattern: &[Lit("admin"), Lit("keys")],
        methods: &[
            (Method::GET, wait!(admin::list)),
            (Method::POST, wait!(admin::create)),
        ],
    },
    // Revoke an admin key, never the last one (admin).
    Route {
        name: "admin_key",
        pattern: &[Lit("admin"), Lit("keys"), Param("key_id")],
        methods: &[(Method::DELETE, wait!(admin::delete))],
    },
    // A calendar's keys: listed without their secrets, or a new one shown once (its key or
    // admin).
    Route {
        name: "keys",
        pattern: &[Lit("calendars"), Param("id"), Lit("keys")],
        methods: &[
            (Method::GET, wait!(keys::list)),
            (Method::POST, wait!(keys::create)),
        ],
    },
    // Revoke a key (its calendar's key or admin).
    Route {
        name: "key",
        pattern: &[Lit("calendars"), Param("id"), Lit("keys"), Param("key_id")],
        methods: &[(Method::DELETE, wait!(keys::delete))],
    },
    // A calendar's overrides of owner dates (anyone).
    Route {
        name: "overrides",
        pattern: &[Lit("calendars"), Param("id"), Lit("overrides")],
        methods: &[(Method::GET, Action::Now(overrides::list))],
    },
    // One owner date's slots in place of the pattern (its key).
    Route {
        name: "override",
        pattern: &[
            Lit("calendars"),
            Param("id"),
            Lit("overrides"),
            Param("date"),
        ],
        methods: &[
            (Method::PUT, wait!(overrides::put)),
            (Method::DELETE, wait!(overrides::delete)),
        ],
    },
    // A named group of calendars: read (anyone), define and remove (admin).
    Route {
        name: "group",
        pattern: &[Lit("groups"), Param("id")],
        methods: &[
            (Method::GET, Action::Now(groups::get)),
            (Method::PUT, wait!(groups::put)),
            (Method::DELETE, wait!(groups::delete)),
        ],
    },
    // A group's changes as they happen, as Server-Sent Events (anyone).
    Route {
        name: "group_events",
        pattern: &[Lit("groups"), Param("id"), Lit("events")],
        methods: &[(Method::GET, Action::Now(live::group))],
    },
    // When all of a group's members are free (anyone).
    Route {
        name: "group_availability",
        pattern: &[Lit("groups"), Param("id"), Lit("availability")],
        methods: &[(Method::GET, Action::Now(groups::availability))],
    },
    // A calendar's bookings: list (its write key), claim a span (its key of either scope,
    // or anyone when its booking is public).
    Route {
        name: "bookings",
        pattern: &[Lit("calendars"), Param("id"), Lit("bookings")],
        methods: &[
            (Method::GET, wait!(bookings::list)),
            (Method::POST, wait!(bookings::create)),
        ],
    },
    // Cancel a booking (its write key, or the book key that made it).
    Route {
        name: "booking",
        pattern: &[
            Lit("calendars"),
            Param("id"),
            Lit("bookings"),
            Param("booking_id"),
        ],
        methods: &[(Method::DELETE, wait!(bookings::delete))],
    },
    // When is everyone free: up to 1,000 calendars in the query, or in a body (anyone).
    Route {
        name: "overlap",
        pattern: &[Lit("overlap")],
        methods: &[
            (Method::GET, Action::Now(overlap::get)),
            (Method::POST, Action::Ask(boxed!(overlap::post))),
        ],
    },
];

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
    let found = find(&parts, &mut buffer);
    let read = parts.method == Method::GET
        || parts.method == Method::HEAD
        || preflight
        || matches!(found, Ok((_, _, Action::Ask(_))));
    let verdict = charge(app, read, client, &parts);
    let now = match found {
        Ok((route, params, Action::Now(handler)))
            if verdict.allowed
                && !preflight
                && !app.is_shutting_down()
                && !body::declared(&parts) =>
        {
            Some((route.name, *handler, params))
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
    let Some((route, handler, params)) = now else {
        return Either::Right(Box::pin(waiting(app, parts, body, prelude, in_flight)));
    };
    let cx = Ctx {
        app,
        parts: &parts,
        client,
        params,
    };
    let answer = handler(&cx);
    let response = finish(app, &parts, (route, answer), &prelude, false);
    drop(in_flight);
    Either::Left(std::future::ready(response))
}

/// What [`handle`] works out about a request before any handler runs.
struct Prelude {
    client: IpAddr,
    /// Charged as a read.
    read: bool,
    /// A CORS preflight.
    preflight: bool,
    /// The limit it was charged to.
    verdict: Verdict,
    started: Instant,
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
    let Prelude {
        client,
        preflight,
        ref verdict,
        ..
    } = prelude;
    let mut buffer = [""; MAX_SEGMENTS];
    let found = find(&parts, &mut buffer);
    // A body the handler leaves unread is read here once it has answered (up to a bound):
    // closing an HTTP/1.1 connection while its client still sends would reset it before the
    // client saw the answer. A body too large or too slow to read says `Connection: close`.
    let (body, leftover) = if body::declared(&parts) {
        let (body, leftover) = body::hold(body);
        (body, Some(leftover))
    } else {
        (body::boxed(body), None)
    };
    let answer = if app.is_shutting_down() {
        ("shutdown", Err(Problem::shutting_down()))
    } else if !verdict.allowed {
        (
            "limited",
            Err(Problem::too_many_requests(
                match verdict.limit {
                    "admin" | "key" => format!(
                        "too many writes with this key; retry after {} s",
                        verdict.reset
                    ),
                    limit => format!(
                        "too many {limit} requests from this client; retry after {} s",
                        verdict.reset
                    ),
                },
                verdict.clone(),
            )),
        )
    } else if preflight {
        // A browser asking before a cross-origin request: the route's methods, or 404.
        let mut buffer = [""; MAX_SEGMENTS];
        let segments = segments(parts.uri.path(), &mut buffer);
        match ROUTES.iter().find(|r| r.matches(segments).is_some()) {
            Some(route) => {
                let asked = cors::asked_method(&parts);
                // GET and HEAD read; so does a question sent as a body (`POST /overlap`).
                let reads = asked == "GET"
                    || asked == "HEAD"
                    || route.methods.iter().any(|(method, action)| {
                        method.as_str() == asked && matches!(action, Action::Ask(_))
                    });
                let allow = route.allow();
                let answer = cors::preflight(&parts, &allow, reads, &app.cors_origins);
                ("preflight", Ok(answer))
            }
            None => ("unknown", Err(Problem::not_found("no such path"))),
        }
    } else {
        match found {
            Err((name, problem)) => (name, Err(problem)),
            Ok((route, params, action)) => {
                let cx = Ctx {
                    app,
                    parts: &parts,
                    client,
                    params,
                };
                let answer = match action {
                    Action::Now(handler) => handler(&cx),
                    Action::Wait(handler) | Action::Ask(handler) => handler(cx, body).await,
                };
                (route.name, answer)
            }
        }
    };
    let unread = match leftover {
        Some(leftover) if parts.version < Version::HTTP_2 => {
            !leftover.drain(app.body.timeout).await
        }
        _ => false,
    };
    finish(app, &parts, answer, &prelude, unread)
}

/// What every answer gets on its way out: CORS fields, the rate limit's fields, `Connection:
/// close` when the request's body was left `unread`, a `HEAD`'s empty body, and its count.
fn finish(
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
    count(&app.metrics, route, response.status(), prelude.started);
    tracing::debug!(method = %parts.method, path = parts.uri.path(), status = response.status().as_u16(), route);
    response
}

/// Charges a request to its budget: reads to the client's `read` budget; writes with a key
/// the memo knows as verified to that key's budget (`admin` or `key`), so a busy key holder is
/// not held to what one address may do; every other write (no key, a key not yet verified,
/// a wrong one) to the client's `write` budget.
fn charge(app: &App, read: bool, client: IpAddr, parts: &Parts) -> Verdict {
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

fn count(metrics: &Metrics, route: &'static str, status: StatusCode, started: Instant) {
    use std::sync::atomic::Ordering::Relaxed;
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        metrics.auth_rejections.fetch_add(1, Relaxed);
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        metrics.rate_limited.fetch_add(1, Relaxed);
    }
    metrics.observe(route, status.as_u16(), started.elapsed());
}

/// The route of a request, what it captured of the path, and the action of its method; or
/// the name to count it under and the problem to answer (404, or 405 with `Allow`).
type Found<'a> =
    std::result::Result<(&'static Route, [&'a str; 2], &'static Action), (&'static str, Problem)>;

/// Finds the route and the action of the request's method.
fn find<'a>(parts: &'a Parts, buffer: &'a mut [&'a str; MAX_SEGMENTS]) -> Found<'a> {
    let path = parts.uri.path();
    let segments = segments(path, buffer);
    let Some((route, params)) = ROUTES.iter().find_map(|r| Some((r, r.matches(segments)?))) else {
        return Err((
            "unknown",
            Problem::not_found(format!(
                "no such path {path:?}; the API is under /calendars, /availability, \
                 /groups, /overlap, /healthz and /metrics; /openapi.json describes them"
            )),
        ));
    };
    let wanted = if parts.method == Method::HEAD {
        &Method::GET
    } else {
        &parts.method
    };
    match route.methods.iter().find(|(m, _)| m == wanted) {
        Some((_, action)) => Ok((route, params, action)),
        None => Err((route.name, Problem::method_not_allowed(route.allow()))),
    }
}

impl Route {
    /// The captured segments when `segments` fit the pattern.
    fn matches<'a>(&self, segments: &[&'a str]) -> Option<[&'a str; 2]> {
        if segments.len() != self.pattern.len() {
            return None;
        }
        let mut params = [""; 2];
        let mut n = 0;
        for (seg, text) in self.pattern.iter().zip(segments) {
            match seg {
                Lit(lit) if lit == text => {}
                Lit(_) => return None,
                Param(_) => {
                    *params.get_mut(n)? = text;
                    n += 1;
                }
            }
        }
        Some(params)
    }

    /// The `Allow` header of a 405.
    fn allow(&self) -> String {
        let mut allow = String::new();
        for (method, _) in self.methods {
            if !allow.is_empty() {
                allow.push_str(", ");
            }
            allow.push_str(method.as_str());
            if *method == Method::GET {
                allow.push_str(", HEAD");
            }
        }
        allow
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
    // Split at each `/` by hand: `str::split` with a character costs several times as much
    // on a path this short. Every index is that of a `/` or the end, a character boundary.
    let bytes = path.as_bytes();
    let mut start = 0;
    loop {
        let rest = bytes.get(start..).unwrap_or_default();
        let end = rest
            .iter()
            .position(|&b| b == b'/')
            .map_or(bytes.len(), |at| start + at);
        match buffer.get_mut(n) {
            Some(slot) => *slot = path.get(start..end).unwrap_or_default(),
            // Too long for any route: keep a full buffer that no pattern matches.
            None => return buffer.as_slice(),
        }
        n += 1;
        if end == bytes.len() {
            return &buffer[..n];
        }
        start = end + 1;
    }
}

/// Every route's path pattern (`/calendars/{id}/keys`) and the methods it accepts, `HEAD`
/// included: the API as the table has it, for documentation and tests.
pub fn table() -> Vec<(String, Vec<String>)> {
    ROUTES
        .iter()
        .map(|route| {
            let path: String = route
                .pattern
                .iter()
                .map(|seg| match seg {
                    Lit(lit) => format!("/{lit}"),
                    Param(name) => format!("/{{{name}}}"),
                })
                .collect();
            let methods = route.allow().split(", ").map(str::to_owned).collect();
            (path, methods)
        })
        .collect()
}

#[cfg(test)]
mod tests {
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
