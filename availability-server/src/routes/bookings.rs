//! `/calendars/{id}/bookings[/{booking_id}]`: claim spans of real time, list and cancel them.

use std::sync::Arc;

use availability_core::dated::{Booking, BookingId, Claim, Conflict};
use availability_core::tz::Zone;
use availability_core::Status;
use chrono::{DateTime, FixedOffset, SecondsFormat};
use http::header::AUTHORIZATION;
use http::{Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::slots::{first_instant, in_zone};
use crate::app::App;
use crate::auth::{Need, Principal};
use crate::ctx::Ctx;
use crate::idempotency::{self, Start};
use crate::store::{Answer, Booked, Calendar, KeyScope, Remembered};
use crate::wire::body::{self, RequestBody};
use crate::wire::query::Query;
use crate::wire::response::{self, to_bytes};
use crate::wire::{etag, Body, Problem, Result};

/// The longest range a listing covers, in days.
const MAX_DAYS: i64 = 731;
/// The range a listing covers by default, in days.
const DEFAULT_DAYS: i64 = 365;
const DAY: i64 = 86_400;

/// The body of `POST /calendars/{id}/bookings`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBooking {
    start: String,
    /// Required without a type; with one, the type's end if given.
    #[serde(default)]
    end: Option<String>,
    /// The booking type whose rules the booking keeps (and whose duration it has).
    #[serde(default, rename = "type")]
    booking_type: Option<String>,
    #[serde(default)]
    label: Option<String>,
}

/// The body of `PATCH /calendars/{id}/bookings/{booking_id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Move {
    start: String,
    /// For a booking without a type; a typed one keeps its type's duration.
    #[serde(default)]
    end: Option<String>,
}

/// An instant as the client wrote it: the time, and how to write it back the same way.
#[derive(Debug, Clone, Copy)]
struct Written {
    at: DateTime<FixedOffset>,
    /// Written with `Z` rather than an offset.
    zulu: bool,
}

impl Written {
    fn parse(text: &str, what: &str) -> Result<Written> {
        let at = DateTime::parse_from_rfc3339(text).map_err(|e| {
            Problem::bad_request(format!(
                "{what} {:?} is not an RFC 3339 instant ({e}): write it as \
                 2027-01-04T09:00:00+01:00 or 2027-01-04T08:00:00Z",
                text.chars().take(40).collect::<String>()
            ))
        })?;
        if at.timestamp_subsec_nanos() != 0 {
            return Err(Problem::unprocessable(format!(
                "{what}: a booking starts and ends on whole minutes (seconds must be 00)"
            )));
        }
        Ok(Written {
            at,
            zulu: text.ends_with(['Z', 'z']),
        })
    }

    /// `unix` in the same offset and style.
    fn echo(&self, unix: i64) -> String {
        DateTime::from_timestamp(unix, 0)
            .map(|t| {
                t.with_timezone(self.at.offset())
                    .to_rfc3339_opts(SecondsFormat::Secs, self.zulu)
            })
            .unwrap_or_default()
    }
}

/// The owner slots a booking holds: `[{"date","time"}]` in the owner's time.
fn slots(booking: &Booking) -> Vec<Value> {
    booking
        .slots()
        .into_iter()
        .map(|(week, slot)| {
            json!({
                "date": week.date(slot.day()).to_string(),
                "time": slot.start().to_string(),
            })
        })
        .collect()
}

/// The answer to a booking: `{ "id", "calendar", "start", "end", "slots", "version" }`, the
/// instants in the offsets the client used, with the calendar's `ETag` after the booking and
/// the booking's `Location`. Made from what the store returns, or from what it remembered
/// for the request's idempotency key: a repeat gets the same answer.
fn booked(made: &Made, start: Written, end: Written) -> Response<Body> {
    answer(StatusCode::CREATED, made, start, end)
}

/// A booking's answer with `status`: `{ "id", "calendar", "start", "end", "type"?,
/// "slots", "version" }`, with the calendar's `ETag` and the booking's `Location`.
fn answer(status: StatusCode, made: &Made, start: Written, end: Written) -> Response<Body> {
    let Made {
        calendar,
        incarnation,
        version,
        booking,
    } = made;
    let mut body = json!({
        "id": booking.id().to_string(),
        "calendar": calendar,
        "start": start.echo(booking.start()),
        "end": end.echo(booking.end()),
        "slots": slots(booking),
        "version": version,
    });
    if let Some(name) = booking.booking_type() {
        body["type"] = name.into();
    }
    let mut response = response::json(status, to_bytes(&body));
    response.headers_mut().insert(
        http::header::ETAG,
        http::HeaderValue::from(etag::Tag::state((*incarnation, *version))),
    );
    idempotency::locate(
        &mut response,
        &location(calendar, &booking.id().to_string()),
    );
    response
}

/// A booking made: the calendar (id and incarnation), its version after it, and the booking.
struct Made {
    calendar: String,
    incarnation: u64,
    version: u64,
    booking: Arc<Booking>,
}

/// The path of a booking.
fn location(calendar: &str, booking: &str) -> String {
    format!("/calendars/{calendar}/bookings/{booking}")
}

/// The answer to a claim the store refused. A conflict names the first slot that is not free,
/// in the owner's time and in the requester's offset, and whether a booking or the
/// availability refused it; never who holds it.
fn refused(err: availability_core::Error, owner: &str, start: Written) -> Problem {
    let Some(conflict) = err.conflict_details() else {
        return Problem::of_core("saving the booking", err);
    };
    let Conflict {
        date,
        time,
        instant,
        ..
    } = *conflict;
    let (reason, why) = match (conflict.booking(), conflict.status()) {
        (Some(_), _) => ("booked", "is already booked"),
        (None, Some(Status::Maybe)) => (
            "maybe",
            "is only maybe available; only available slots can be booked",
        ),
        (None, _) => ("unavailable", "is not available"),
    };
    let yours = start.echo(instant);
    Problem::conflict(format!(
        "the slot at {time} on {date} in the owner's time ({owner}), {yours} in yours, {why}"
    ))
    .with_member(
        "conflict",
        json!({
            "date": date.to_string(),
            "time": time.to_string(),
            "timezone": owner,
            "instant": yours,
            "reason": reason,
        }),
    )
}

/// POST `/calendars/{id}/bookings`: claims a span (a key of the calendar of either scope, an
/// admin key, or anyone when the calendar's booking is public).
pub(super) async fn create(cx: Ctx<'_>, body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id) = (cx.app, cx.parts, cx.param(0));
    Query::parse(parts.uri.query(), &[])?;
    idempotency::key(parts)?;
    let cal = app.calendar(id)?;
    let principal = if cal.booking_public() && !parts.headers.contains_key(AUTHORIZATION) {
        None
    } else {
        Some(app.authorize(cx.client, parts, Need::Book(id)).await?)
    };
    let bytes = body::read_json(app.body, parts, body).await?;
    let who = idempotency::principal(principal.as_ref(), parts, cx.client);
    let running = match idempotency::start(&app.answering, &app.store, parts, who, &bytes)? {
        Start::Repeat(remembered) => return repeat(remembered, &bytes, &cal, id),
        Start::Fresh(running) => running,
    };
    let (new, start, end) = parse(&bytes)?;
    let end_at = match (&new.booking_type, end) {
        (Some(name), end) => {
            let rules = super::types::find(&cal, name)?;
            let typed_end = rules.span(start.at.timestamp()).1;
            if end.is_some_and(|end| end.at.timestamp() != typed_end) {
                return Err(Problem::unprocessable(format!(
                    "a booking of type {name:?} lasts {} minutes: give its start alone",
                    rules.duration
                ))
                .with_member("field", "end".into()));
            }
            typed_end
        }
        (None, Some(end)) => end.at.timestamp(),
        (None, None) => {
            return Err(Problem::bad_request(
                "a booking without a type needs start and end",
            ))
        }
    };
    let end = end.unwrap_or(start);
    let key_id = match &principal {
        Some(Principal::Calendar { key_id, .. }) => Some(key_id.clone()),
        Some(Principal::Admin { key_id, .. }) => Some(key_id.clone()),
        None => None,
    };
    let claim = Claim {
        start: start.at.timestamp(),
        end: end_at,
        label: new.label,
        key_id,
        booking_type: new.booking_type,
        group: None,
    };
    let owner = cal.zone().to_owned();
    let expected = App::expected(&cal, None, principal.as_ref());
    let owned_id = id.to_owned();
    let remembered = running.as_ref().map(|r| r.key.clone());
    let fingerprint = running.as_ref().map(|r| r.key.fingerprint);
    let outcome = app
        .commit_awaited_or(
            id,
            "saving the booking",
            move |storage| async move { storage.book(owned_id, expected, claim, remembered).await },
            move |err| refused(err, &owner, start),
        )
        .await?;
    drop(running);
    match outcome {
        Booked::Made(updated, Some(booking)) => {
            let made = Made {
                calendar: updated.id().to_owned(),
                incarnation: updated.incarnation(),
                version: updated.version(),
                booking,
            };
            Ok(booked(&made, start, end))
        }
        Booked::Made(_, None) => Err(Problem::internal(
            "saving the booking",
            "the booking was saved without its booking",
        )),
        // Another instance made it for the same key first.
        Booked::Repeat(kept) if Some(kept.fingerprint) == fingerprint => {
            repeat(kept, &bytes, &cal, id)
        }
        Booked::Repeat(_) => Err(idempotency::reused()),
    }
}

/// The answer kept for a repeat of a booking request (the fingerprint says it is the same).
fn repeat(
    remembered: Remembered,
    bytes: &[u8],
    cal: &Calendar,
    id: &str,
) -> Result<Response<Body>> {
    match remembered.answer {
        Answer::Booked {
            calendar,
            incarnation,
            version,
            booking,
        } => {
            // The same request again: the same instants.
            let (_, start, end) = parse(bytes)?;
            let end = end.unwrap_or(start);
            let made = Made {
                calendar,
                incarnation,
                version,
                booking,
            };
            Ok(booked(&made, start, end))
        }
        // Kept by an earlier version as the body it sent.
        Answer::Response {
            status,
            body,
            state,
        } => {
            let booking = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_owned));
            let mut response = idempotency::replay(status, body, state, cal.incarnation());
            if let Some(booking) = booking {
                idempotency::locate(&mut response, &location(id, &booking));
            }
            Ok(response)
        }
    }
}

/// The body of a booking request, and its instants as the client wrote them.
fn parse(bytes: &[u8]) -> Result<(NewBooking, Written, Option<Written>)> {
    let new: NewBooking = body::parse_json(
        bytes,
        "booking ({\"start\", \"end\", \"label\"} or {\"type\", \"start\", \"label\"})",
    )?;
    let start = Written::parse(&new.start, "start")?;
    let end = new
        .end
        .as_deref()
        .map(|end| Written::parse(end, "end"))
        .transpose()?;
    Ok((new, start, end))
}

/// PATCH `/calendars/{id}/bookings/{booking_id}` with `{ "start", "end"? }`: moves the booking
/// in one commit (the new span claimed and the old freed together; the same id, a new
/// version), by the rules of its type if it has one. On 409 it stays where it was. A write
/// key or an admin key; a `book` key only for the bookings it made.
pub(super) async fn reschedule(cx: Ctx<'_>, body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id) = (cx.app, cx.parts, cx.param(0));
    Query::parse(parts.uri.query(), &[])?;
    let booking = booking_id(cx.param(1))?;
    let cal = app.calendar(id)?;
    let principal = app.authorize(cx.client, parts, Need::Book(id)).await?;
    own_booking(&cal, &principal, booking, "move")?;
    let bytes = body::read_json(app.body, parts, body).await?;
    let wanted: Move = body::parse_json(&bytes, "move ({\"start\", \"end\"?})")?;
    let start = Written::parse(&wanted.start, "start")?;
    let end = wanted
        .end
        .as_deref()
        .map(|end| Written::parse(end, "end"))
        .transpose()?;
    let version = etag::expected_version(parts, &cal)?;
    let expected = App::expected(&cal, version, Some(&principal));
    let owned_id = id.to_owned();
    let (at, until) = (start.at.timestamp(), end.map(|e| e.at.timestamp()));
    let owner = cal.zone().to_owned();
    let (updated, moved) = app
        .commit_or(
            id,
            "moving the booking",
            move |store| store.reschedule(&owned_id, expected, booking, at, until),
            move |err| refused(err, &owner, start),
        )
        .await?;
    let made = Made {
        calendar: updated.id().to_owned(),
        incarnation: updated.incarnation(),
        version: updated.version(),
        booking: moved,
    };
    Ok(answer(StatusCode::OK, &made, start, end.unwrap_or(start)))
}

/// A booking id from the path.
fn booking_id(text: &str) -> Result<BookingId> {
    text.parse()
        .map_err(|e: availability_core::Error| Problem::bad_request(e.to_string()))
}

/// Refuses a `book` key a booking it did not make (`what` it wanted to do to it).
fn own_booking(
    cal: &Calendar,
    principal: &Principal,
    booking: BookingId,
    what: &str,
) -> Result<()> {
    if let Principal::Calendar {
        key_id,
        scope: KeyScope::Book,
        ..
    } = principal
    {
        let held = cal.dated().booking(booking).ok_or_else(|| {
            Problem::not_found(format!("calendar {:?} has no booking {booking}", cal.id()))
        })?;
        if held.key_id() != Some(key_id.as_str()) {
            return Err(Problem::forbidden(format!(
                "a book key may {what} only the bookings it made"
            )));
        }
    }
    Ok(())
}

/// DELETE `/calendars/{id}/bookings/{booking_id}`: frees the booking's slots (a write key or
/// an admin key; a `book` key only for the bookings it made).
pub(super) async fn delete(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id) = (cx.app, cx.parts, cx.param(0));
    Query::parse(parts.uri.query(), &[])?;
    let booking = booking_id(cx.param(1))?;
    let cal = app.calendar(id)?;
    let principal = app.authorize(cx.client, parts, Need::Book(id)).await?;
    own_booking(&cal, &principal, booking, "cancel")?;
    let version = etag::expected_version(parts, &cal)?;
    let expected = App::expected(&cal, version, Some(&principal));
    let owned_id = id.to_owned();
    let (updated, cancelled) = app
        .commit(id, "cancelling the booking", move |store| {
            store.cancel(&owned_id, expected, booking)
        })
        .await?;
    Ok(response::written(
        StatusCode::OK,
        json!({ "id": cancelled.id().to_string() }),
        &updated,
    ))
}

/// An instant of a listing's range: RFC 3339, or an owner date (its first instant; with
/// `after`, the first instant of the next date).
fn bound(text: &str, what: &str, zone: Zone, after: bool) -> Result<i64> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.timestamp());
    }
    let date = super::overrides::iso_date(text).ok_or_else(|| {
        Problem::bad_request(format!(
            "{what} {:?} is neither an RFC 3339 instant nor a date (YYYY-MM-DD)",
            text.chars().take(40).collect::<String>()
        ))
    })?;
    let date = if after { date.succ_opt() } else { Some(date) }
        .ok_or_else(|| Problem::bad_request(format!("{what}: the date is out of range")))?;
    Ok(first_instant(zone, date))
}

/// GET `/calendars/{id}/bookings?from=&to=` (a write key or admin): the bookings that overlap
/// the range (default: from now, a year on; at most 731 days), by start.
pub(super) async fn list(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id) = (cx.app, cx.parts, cx.param(0));
    let query = Query::parse(parts.uri.query(), &["from", "to"])?;
    let cal = app.calendar(id)?;
    app.authorize(cx.client, parts, Need::Calendar(id)).await?;
    let zone = app.owner_zone(&cal)?;
    let from = match query.get("from") {
        Some(text) => bound(text, "from", zone, false)?,
        None => app.now_unix(),
    };
    let to = match query.get("to") {
        Some(text) => bound(text, "to", zone, true)?,
        None => from.saturating_add(DEFAULT_DAYS * DAY),
    };
    if to <= from || to - from > MAX_DAYS * DAY {
        return Err(Problem::bad_request(format!(
            "from {} to {}: to must be after from, and the range is at most {MAX_DAYS} days",
            in_zone(zone, from),
            in_zone(zone, to)
        )));
    }
    let bookings: Vec<Value> = cal
        .dated()
        .bookings(from, to)
        .iter()
        .map(|b| {
            json!({
                "id": b.id().to_string(),
                "start": in_zone(zone, b.start()),
                "end": in_zone(zone, b.end()),
                "label": b.label(),
                "type": b.booking_type(),
                "key_id": b.key_id(),
                "created": in_zone(zone, b.created_unix_ms().div_euclid(1000)),
                "slots": slots(b),
            })
        })
        .collect();
    let body = json!({
        "calendar": cal.id(),
        "owner_timezone": cal.zone(),
        "version": cal.version(),
        "from": in_zone(zone, from),
        "to": in_zone(zone, to),
        "bookings": bookings,
    });
    Ok(response::document(parts, to_bytes(&body), Some(&cal)))
}
