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
mod bookings;
mod calendars;
mod groups;
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

use std::future::Future;
use std::net::IpAddr;
use std::time::Instant;

use bytes::Bytes;
use futures_util::future::Either;
use http::request::Parts;
use http::{Method, Request, Response, Version};

use self::path::Seg::{Lit, Param};
use self::path::{find, segments, Route, MAX_SEGMENTS};
use self::pipeline::{as_page, charge, finish, Prelude};
use crate::app::App;
use crate::ctx::{Action, Ctx, Waiting};
use crate::metrics::{InFlight, Metrics};
use crate::wire::body::{self, BoxError, RequestBody};
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

/// The API. `/availability[/...]` is `/calendars/default/availability[/...]`, the paths of
/// earlier servers.
static ROUTES: &[Route] = &[
    // The start page: open a calendar or a group (anyone).
    Route {
        name: "start",
        pattern: &[Lit("")],
        methods: &[(Method::GET, Action::Now(pages::start))],
        page: None,
    },
    // The pages' script and style (anyone).
    Route {
        name: "static",
        pattern: &[Lit("static"), Param("file")],
        methods: &[(Method::GET, Action::Now(pages::asset))],
        page: None,
    },
    // Liveness: answers as long as the server accepts requests.
    Route {
        name: "healthz",
        pattern: &[Lit("healthz")],
        methods: &[(Method::GET, Action::Now(service::healthz))],
        page: None,
    },
    // Readiness: answers 200 while the server can do its work.
    Route {
        name: "readyz",
        pattern: &[Lit("readyz")],
        methods: &[(Method::GET, Action::Now(service::readyz))],
        page: None,
    },
    // Prometheus metrics: admin key, or anyone when configured public.
    Route {
        name: "metrics",
        pattern: &[Lit("metrics")],
        methods: &[(Method::GET, wait!(service::metrics))],
        page: None,
    },
    // The OpenAPI document of this table (anyone).
    Route {
        name: "openapi",
        pattern: &[Lit("openapi.json")],
        methods: &[(Method::GET, Action::Now(service::openapi))],
        page: None,
    },
    // The calendars: list a page at a time (admin), create (admin).
    Route {
        name: "calendars",
        pattern: &[Lit("calendars")],
        methods: &[
            (Method::GET, wait!(calendars::list)),
            (Method::POST, wait!(calendars::create)),
        ],
        page: None,
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
        // To a browser asking for HTML: the week as a page for people.
        page: Some(Action::Now(availability::read_page)),
    },
    // A calendar's changes as they happen, as Server-Sent Events (anyone).
    Route {
        name: "calendar_events",
        pattern: &[Lit("calendars"), Param("id"), Lit("events")],
        methods: &[(Method::GET, Action::Now(live::calendar))],
        page: None,
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
        page: None,
    },
    // The recurring pattern as an iCalendar VAVAILABILITY in the owner's zone (anyone).
    Route {
        name: "availability_ics",
        pattern: &[Lit("calendars"), Param("id"), Lit("availability.ics")],
        methods: &[(Method::GET, Action::Now(availability::read_pattern))],
        page: None,
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
        page: None,
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
        page: None,
    },
    // The admin keys: listed without their secrets, or a new one shown once (admin).
    Route {
        name: "admin_keys",
        pattern: &[Lit("admin"), Lit("keys")],
        methods: &[
            (Method::GET, wait!(admin::list)),
            (Method::POST, wait!(admin::create)),
        ],
        page: None,
    },
    // Revoke an admin key, never the last one (admin).
    Route {
        name: "admin_key",
        pattern: &[Lit("admin"), Lit("keys"), Param("key_id")],
        methods: &[(Method::DELETE, wait!(admin::delete))],
        page: None,
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
        page: None,
    },
    // Revoke a key (its calendar's key or admin).
    Route {
        name: "key",
        pattern: &[Lit("calendars"), Param("id"), Lit("keys"), Param("key_id")],
        methods: &[(Method::DELETE, wait!(keys::delete))],
        page: None,
    },
    // A calendar's overrides of owner dates (anyone).
    Route {
        name: "overrides",
        pattern: &[Lit("calendars"), Param("id"), Lit("overrides")],
        methods: &[(Method::GET, Action::Now(overrides::list))],
        page: None,
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
        page: None,
    },
    // The named groups, a page at a time (admin: a listing shows every member calendar).
    Route {
        name: "groups",
        pattern: &[Lit("groups")],
        methods: &[(Method::GET, wait!(groups::list))],
        page: None,
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
        // To a browser asking for HTML: the group's week as a page for people.
        page: Some(Action::Now(overlap::group_page)),
    },
    // A group's changes as they happen, as Server-Sent Events (anyone).
    Route {
        name: "group_events",
        pattern: &[Lit("groups"), Param("id"), Lit("events")],
        methods: &[(Method::GET, Action::Now(live::group))],
        page: None,
    },
    // When all of a group's members are free (anyone).
    Route {
        name: "group_availability",
        pattern: &[Lit("groups"), Param("id"), Lit("availability")],
        methods: &[(Method::GET, Action::Now(overlap::group))],
        page: None,
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
        page: None,
    },
    // Move a booking, or cancel it (its write key, or the book key that made it).
    Route {
        name: "booking",
        pattern: &[
            Lit("calendars"),
            Param("id"),
            Lit("bookings"),
            Param("booking_id"),
        ],
        methods: &[
            (Method::PATCH, wait!(bookings::reschedule)),
            (Method::DELETE, wait!(bookings::delete)),
        ],
        page: None,
    },
    // A calendar's booking types (anyone).
    Route {
        name: "booking_types",
        pattern: &[Lit("calendars"), Param("id"), Lit("booking-types")],
        methods: &[(Method::GET, Action::Now(types::list))],
        page: None,
    },
    // One booking type: read (anyone), define and remove (its write key or admin).
    Route {
        name: "booking_type",
        pattern: &[
            Lit("calendars"),
            Param("id"),
            Lit("booking-types"),
            Param("name"),
        ],
        methods: &[
            (Method::GET, Action::Now(types::get)),
            (Method::PUT, wait!(types::put)),
            (Method::DELETE, wait!(types::delete)),
        ],
        page: None,
    },
    // The starts a booking type offers, in the viewer's zone (anyone).
    Route {
        name: "slots",
        pattern: &[Lit("calendars"), Param("id"), Lit("slots")],
        methods: &[(Method::GET, Action::Now(slots::read))],
        // To a browser asking for HTML: the starts as a page that books them.
        page: Some(Action::Now(slots::page)),
    },
    // When is everyone free: up to 1,000 calendars in the query, or in a body (anyone).
    Route {
        name: "overlap",
        pattern: &[Lit("overlap")],
        methods: &[
            (Method::GET, Action::Now(overlap::get)),
            (Method::POST, Action::Ask(boxed!(overlap::post))),
        ],
        page: None,
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
