//! Matching a request to the route table: path patterns, the segments of a path, the
//! method's action (or the page for a browser that asks for HTML), and `Allow`.

use http::request::Parts;
use http::Method;

use crate::ctx::Action;
use crate::page;
use crate::store::DEFAULT_CALENDAR;
use crate::wire::Problem;

/// A segment of a path pattern.
#[derive(Clone, Copy)]
pub(super) enum Seg {
    /// Exactly this text.
    Lit(&'static str),
    /// Any segment, captured; the name is the one documentation gives it (`{id}`).
    Param(&'static str),
}

use Seg::{Lit, Param};

/// One path of the API.
pub(super) struct Route {
    /// The name in metrics and logs.
    pub(super) name: &'static str,
    pub(super) pattern: &'static [Seg],
    /// The methods it accepts (`GET` implies `HEAD`), in the order `Allow` lists them.
    pub(super) methods: &'static [(Method, Action)],
    /// What answers a `GET` from a browser that asks for HTML instead (`Accept`), when the
    /// resource has a page for people; its other answers then say `Vary: Accept`.
    pub(super) page: Option<Action>,
}

/// The route of a request, what it captured of the path, and the action of its method; or
/// the name to count it under and the problem to answer (404, or 405 with `Allow`).
pub(super) type Found<'a> =
    std::result::Result<(&'static Route, [&'a str; 2], &'static Action), (&'static str, Problem)>;

/// Finds the route in `routes` and the action of the request's method: for a `GET` (or
/// `HEAD`) from a browser asking for HTML, the route's page when it has one.
pub(super) fn find<'a>(
    routes: &'static [Route],
    parts: &'a Parts,
    buffer: &'a mut [&'a str; MAX_SEGMENTS],
) -> Found<'a> {
    let path = parts.uri.path();
    let segments = segments(path, buffer);
    let Some((route, params)) = routes.iter().find_map(|r| Some((r, r.matches(segments)?))) else {
        return Err((
            "unknown",
            Problem::not_found(format!(
                "no such path {path:?}; the API is under /calendars, /availability, \
                 /groups, /overlap, /healthz, /readyz and /metrics; /openapi.json describes them"
            )),
        ));
    };
    let wanted = if parts.method == Method::HEAD {
        &Method::GET
    } else {
        &parts.method
    };
    match route.methods.iter().find(|(m, _)| m == wanted) {
        Some((_, action)) => match &route.page {
            Some(page) if wanted == Method::GET && page::wants_html(parts) => {
                Ok((route, params, page))
            }
            _ => Ok((route, params, action)),
        },
        None => Err((route.name, Problem::method_not_allowed(route.allow()))),
    }
}

impl Route {
    /// Whether `action`, as [`find`] chose it, is this route's page: the request is a
    /// browser's asking for HTML, and a problem is answered to it as a page.
    pub(super) fn is_page(&self, action: &Action) -> bool {
        self.page
            .as_ref()
            .is_some_and(|page| std::ptr::eq(page, action))
    }

    /// The captured segments when `segments` fit the pattern.
    pub(super) fn matches<'a>(&self, segments: &[&'a str]) -> Option<[&'a str; 2]> {
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
    pub(super) fn allow(&self) -> String {
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
pub(super) const MAX_SEGMENTS: usize = 6;

/// The segments of `path` in `buffer`, without allocating: `/a/b` is `["a", "b"]`. The short
/// paths of earlier servers serve the default calendar, so `/availability[/...]` reads as
/// `/calendars/default/availability[/...]`. A path of more segments than any route has yields
/// them all but cut short, which matches no route.
pub(super) fn segments<'a>(
    path: &'a str,
    buffer: &'a mut [&'a str; MAX_SEGMENTS],
) -> &'a [&'a str] {
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
pub(super) fn describe(routes: &[Route]) -> Vec<(String, Vec<String>)> {
    routes
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
