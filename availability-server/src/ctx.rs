//! What a handler is given and what it is: [`Ctx`], the request as a handler sees it, and
//! [`Action`], the two shapes of handler the route table holds.
//!
//! This sits below the handlers and the table: a handler imports it, `wire`, `app` and the
//! core, and nothing of the dispatcher or of another handler.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use http::request::Parts;
use http::Response;

use crate::app::App;
use crate::wire::body::RequestBody;
use crate::wire::{Body, Result};

/// What a handler knows of its request: the shared state, the request head, the client it is
/// charged to, and the segments its path pattern captured (`{id}`, `{key_id}`), in order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub app: &'a App,
    pub parts: &'a Parts,
    pub client: IpAddr,
    pub(crate) params: [&'a str; 2],
}

impl<'a> Ctx<'a> {
    /// The `n`-th captured segment (0: the calendar id, 1: a key id).
    pub(crate) fn param(&self, n: usize) -> &'a str {
        self.params.get(n).copied().unwrap_or("")
    }
}

/// A handler that answers at once, from memory (the reads).
pub(crate) type Now = fn(&Ctx<'_>) -> Result<Response<Body>>;

/// A future of a handler that waits (for a key check, a body or the disk), boxed so that the
/// future of the dispatcher, which every request moves, stays the size of a read's.
pub(crate) type Waiting<'a> = Pin<Box<dyn Future<Output = Result<Response<Body>>> + Send + 'a>>;

/// A handler that waits, given the request body.
pub(crate) type Wait = for<'a> fn(Ctx<'a>, RequestBody) -> Waiting<'a>;

/// What answers one method of a route.
#[derive(Clone, Copy)]
pub(crate) enum Action {
    /// Answers at once, from memory (the reads).
    Now(Now),
    /// Waits; gets the request body.
    Wait(Wait),
    /// Waits for its body, but only reads (a question too long for a query string): charged
    /// to the read budget like a `GET`.
    Ask(Wait),
}
