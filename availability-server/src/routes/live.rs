//! `/calendars/{id}/events` and `/groups/{id}/events`: live updates as Server-Sent Events
//! (`crate::events` has the signal and the streams).

use std::sync::Arc;

use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{Response, StatusCode};

use crate::ctx::Ctx;
use crate::events::{Refused, State};
use crate::store::Store;
use crate::wire::etag::Tag;
use crate::wire::problem::shown;
use crate::wire::query::Query;
use crate::wire::{Body, Problem, Result};

/// GET `/calendars/{id}/events` (anyone): the calendar's version and `ETag` now and after
/// every change.
pub(super) fn calendar(cx: &Ctx<'_>) -> Result<Response<Body>> {
    let id = cx.param(0);
    cx.app.calendar(id)?;
    open(cx, calendar_state, id)
}

/// GET `/groups/{id}/events` (anyone): the group's version (the sum of its members') and
/// tag now and after every change of a member or of the group.
pub(super) fn group(cx: &Ctx<'_>) -> Result<Response<Body>> {
    let id = cx.param(0);
    if group_state(&cx.app.store, id).is_none() {
        return Err(Problem::not_found(format!("no group {:?}", shown(id))));
    }
    open(cx, group_state, id)
}

/// The stream of `id`'s states, if the client and the server have room for one more.
fn open(
    cx: &Ctx<'_>,
    state: fn(&Store, &str) -> Option<State>,
    id: &str,
) -> Result<Response<Body>> {
    // `Last-Event-ID` needs no handling of its own: every stream starts with the state now,
    // which is what a reconnecting browser has missed, if anything.
    Query::parse(cx.parts.uri.query(), &[])?;
    let subscription = match cx.app.events.subscribe(cx.client) {
        Ok(subscription) => subscription,
        Err(Refused::Client) => {
            let mut response = Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "this client has as many event streams open as it may; close one first",
            )
            .into_response();
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("30"));
            return Ok(response);
        }
        Err(Refused::Full) => {
            return Err(Problem::unavailable(
                "the server has as many event streams open as it keeps; try again later",
                30,
            ))
        }
    };
    let body = cx.app.events.stream(
        subscription,
        Arc::clone(&cx.app.store),
        state,
        id.to_owned(),
    );
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// A calendar's version, and the tag its writes compare.
fn calendar_state(store: &Store, id: &str) -> Option<State> {
    let cal = store.get(id)?;
    let data = serde_json::json!({
        "calendar": cal.id(),
        "version": cal.version(),
        "etag": Tag::state(cal.state()).as_str(),
    });
    Some(State {
        id: cal.version(),
        data: data.to_string(),
    })
}

/// A group's version (the sum of its members'), and its tag (the one its page carries).
fn group_state(store: &Store, id: &str) -> Option<State> {
    let group = store.group(id)?;
    let members: Option<Vec<_>> = group.members().iter().map(|m| store.get(m)).collect();
    let members = members?;
    let version: u64 = members.iter().map(|m| m.version()).sum();
    let data = serde_json::json!({
        "group": group.id(),
        "version": version,
        "etag": Tag::of_members(members.iter().map(|m| (m.id(), m.state()))).as_str(),
    });
    Some(State {
        id: version,
        data: data.to_string(),
    })
}
