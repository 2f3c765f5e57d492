//! `/groups/{id}/bookings[/{booking_id}]`: a team booked together by a group type, every
//! member (`mode=all`) or the fairest one (`mode=any`), in one commit; cancelled and moved as
//! one.

use availability_core::store::group_book::{GroupBooking, GroupRequest};
use availability_core::tz::Zone;
use chrono::DateTime;
use http::header::AUTHORIZATION;
use http::{Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::group_types::{find, mode_name, mode_of};
use super::slots::in_zone;
use crate::app::App;
use crate::auth::Need;
use crate::ctx::Ctx;
use crate::idempotency::{self, Start};
use crate::store::{Answer, Authority, Group};
use crate::wire::body::{self, RequestBody};
use crate::wire::query::Query;
use crate::wire::response::{self, to_bytes};
use crate::wire::{Body, Problem, Result};

/// The body of `POST /groups/{id}/bookings`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBooking {
    #[serde(rename = "type")]
    booking_type: String,
    start: String,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    label: Option<String>,
}

/// The body of `PATCH /groups/{id}/bookings/{booking_id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Move {
    start: String,
}

/// An RFC 3339 instant of a body's field `what`.
fn instant(text: &str, what: &str) -> Result<i64> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .map_err(|_| {
            Problem::bad_request(format!(
                "{what} {:?} is not an RFC 3339 instant such as 2027-03-15T09:00:00-04:00",
                text.chars().take(40).collect::<String>()
            ))
        })
}

/// A group booking id from the path.
fn booking_id(text: &str) -> Result<u64> {
    text.parse::<u64>()
        .ok()
        .filter(|&n| n > 0 && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            Problem::not_found(format!(
                "no group booking {:?}: group booking ids are positive numbers",
                text.chars().take(40).collect::<String>()
            ))
        })
}

/// A group booking as every answer about it shows it, its instants in the offsets of the
/// type's zone (UTC when the type is gone).
fn shown(group: &Group, booking: &GroupBooking) -> Value {
    let zone = group
        .booking_type(&booking.booking_type)
        .and_then(|t| Zone::new(&t.zone).ok())
        .unwrap_or(Zone::UTC);
    let parts: Vec<Value> = booking
        .parts
        .iter()
        .map(|(calendar, part)| json!({ "calendar": calendar, "booking": part.id().to_string() }))
        .collect();
    let mut out = json!({
        "id": booking.id.to_string(),
        "group": group.id(),
        "type": booking.booking_type,
        "start": in_zone(zone, booking.start),
        "end": in_zone(zone, booking.end),
        "timezone": zone.name(),
        "created": in_zone(Zone::UTC, booking.created_ms.div_euclid(1000)),
        "parts": parts,
    });
    if let Some(label) = &booking.label {
        out["label"] = label.as_str().into();
    }
    out
}

fn location(group: &str, booking: u64) -> String {
    format!("/groups/{group}/bookings/{booking}")
}

/// Forgets the cached answers of every member (their calendars changed) once a group write
/// has run, whatever its outcome.
fn members_changed(app: &App, group: &Group) {
    for member in group.members() {
        app.changed(member);
    }
}

/// POST `/groups/{id}/bookings` `{type, start, mode?, label?}`: books the group type's span
/// at `start` on every member (`all`, the default) or on the one that can take it with the
/// fewest of the group's bookings of the type in its week, ties by id (`any`), in one commit.
/// An admin key books any group; without one, every member claimed must take bookings from
/// anyone. 409 names the rule (and the member) that refused.
pub(super) async fn create(cx: Ctx<'_>, body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id) = (cx.app, cx.parts, cx.param(0));
    Query::parse(parts.uri.query(), &[])?;
    idempotency::key(parts)?;
    let group = app.group(id)?;
    let principal = if parts.headers.contains_key(AUTHORIZATION) {
        Some(app.authorize(cx.client, parts, Need::Admin).await?)
    } else {
        None
    };
    let bytes = body::read_json(app.body, parts, body).await?;
    let who = idempotency::principal(principal.as_ref(), parts, cx.client);
    let running = match idempotency::start(&app.answering, &app.store, parts, who, &bytes)? {
        Start::Repeat(remembered) => return repeat(remembered.answer, id),
        Start::Fresh(running) => running,
    };
    let new: NewBooking = body::parse_json(
        &bytes,
        "group booking ({\"type\", \"start\", \"mode\", \"label\"})",
    )?;
    find(&group, &new.booking_type)?;
    let mode = mode_of(new.mode.as_deref())?;
    let start = instant(&new.start, "start")?;
    let by = principal
        .as_ref()
        .map_or(Authority::PublicBooking, |p| p.authority());
    let key_id = principal.as_ref().map(|p| p.key_id().to_owned());
    let now = app.now_unix();
    let owned_id = id.to_owned();
    let remembered = running.as_ref().map(|r| r.key.clone());
    let outcome = app
        .commit(id, "saving the group booking", move |store| {
            let request = GroupRequest {
                name: &new.booking_type,
                start,
                mode,
                label: new.label,
                key_id,
                now,
            };
            let made = store.group_book(&owned_id, &request, &by)?;
            Ok(made)
        })
        .await;
    members_changed(app, &group);
    let made = outcome?;
    let mut body = shown(&group, &made);
    body["mode"] = mode_name(mode).into();
    let bytes = to_bytes(&body);
    if let Some(key) = remembered {
        let answer = Answer::Response {
            status: 201,
            body: bytes.clone(),
            state: None,
        };
        let storage = app.storage.clone();
        // Not remembering is not a failure of the booking, which is made: a repeat is then
        // answered as a new request (and refused as taken, for a meeting).
        let kept = tokio::task::spawn_blocking(move || storage.remember(&key, answer)).await;
        if !matches!(kept, Ok(Ok(()))) {
            tracing::warn!("a group booking's answer was not remembered for its Idempotency-Key");
        }
    }
    drop(running);
    let mut response = response::json(StatusCode::CREATED, bytes);
    idempotency::locate(&mut response, &location(id, made.id));
    Ok(response)
}

/// The answer kept for a repeat of a group booking request.
fn repeat(answer: Answer, group: &str) -> Result<Response<Body>> {
    match answer {
        Answer::Response {
            status,
            body,
            state,
        } => {
            let booking = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["id"].as_str().and_then(|b| b.parse::<u64>().ok()));
            let mut response = idempotency::replay(status, body, state, 0);
            if let Some(booking) = booking {
                idempotency::locate(&mut response, &location(group, booking));
            }
            Ok(response)
        }
        Answer::Booked { .. } => Err(idempotency::reused()),
    }
}

/// GET `/groups/{id}/bookings?from=&to=` (admin key): the group's bookings that start in the
/// range (RFC 3339 instants; default from now, a year on), by start.
pub(super) async fn list(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id) = (cx.app, cx.parts, cx.param(0));
    let query = Query::parse(parts.uri.query(), &["from", "to"])?;
    app.authorize(cx.client, parts, Need::Admin).await?;
    let group = app.group(id)?;
    let from = match query.get("from") {
        Some(text) => instant(text, "from")?,
        None => app.now_unix(),
    };
    let to = match query.get("to") {
        Some(text) => instant(text, "to")?,
        None => from.saturating_add(365 * 86_400),
    };
    if to < from || to - from > 731 * 86_400 {
        return Err(Problem::bad_request(
            "to must not be before from, and a listing covers at most 731 days",
        ));
    }
    let found = app.store.group_bookings(id, from, to).unwrap_or_default();
    let bookings: Vec<Value> = found.iter().map(|b| shown(&group, b)).collect();
    let body = json!({ "group": group.id(), "bookings": bookings });
    Ok(response::document(parts, to_bytes(&body), None))
}

/// GET `/groups/{id}/bookings/{booking_id}` (admin key): the group booking and its parts.
pub(super) async fn get(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id) = (cx.app, cx.parts, cx.param(0));
    Query::parse(parts.uri.query(), &[])?;
    app.authorize(cx.client, parts, Need::Admin).await?;
    let group = app.group(id)?;
    let booking = booking_id(cx.param(1))?;
    let found = app
        .store
        .group_booking(id, booking)
        .ok_or_else(|| Problem::not_found(format!("group {id:?} has no booking {booking}")))?;
    Ok(response::document(
        parts,
        to_bytes(&shown(&group, &found)),
        None,
    ))
}

/// DELETE `/groups/{id}/bookings/{booking_id}` (admin key): cancels every part in one commit;
/// answers the group booking as it was.
pub(super) async fn delete(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id) = (cx.app, cx.parts, cx.param(0));
    Query::parse(parts.uri.query(), &[])?;
    let by = app
        .authorize(cx.client, parts, Need::Admin)
        .await?
        .authority();
    let group = app.group(id)?;
    let booking = booking_id(cx.param(1))?;
    let owned_id = id.to_owned();
    let outcome = app
        .commit(id, "cancelling the group booking", move |store| {
            store.group_cancel(&owned_id, booking, &by)
        })
        .await;
    members_changed(app, &group);
    let cancelled = outcome?;
    Ok(response::json(
        StatusCode::OK,
        to_bytes(&shown(&group, &cancelled)),
    ))
}

/// PATCH `/groups/{id}/bookings/{booking_id}` `{start}` (admin key): moves every part to the
/// new start in one commit, every rule checked again; on 409 every part stays.
pub(super) async fn reschedule(cx: Ctx<'_>, body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id) = (cx.app, cx.parts, cx.param(0));
    Query::parse(parts.uri.query(), &[])?;
    let by = app
        .authorize(cx.client, parts, Need::Admin)
        .await?
        .authority();
    let group = app.group(id)?;
    let booking = booking_id(cx.param(1))?;
    let bytes = body::read_json(app.body, parts, body).await?;
    let moved: Move = body::parse_json(&bytes, "move ({\"start\"})")?;
    let start = instant(&moved.start, "start")?;
    let owned_id = id.to_owned();
    let outcome = app
        .commit(id, "moving the group booking", move |store| {
            store.group_reschedule(&owned_id, booking, start, &by)
        })
        .await;
    members_changed(app, &group);
    let moved = outcome?;
    Ok(response::json(
        StatusCode::OK,
        to_bytes(&shown(&group, &moved)),
    ))
}
