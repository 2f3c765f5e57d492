//! `/calendars/{id}/booking-types[/{name}]`: what a booker picks ("30-minute call"), with the
//! rules its bookings keep.

use availability_core::slots::{check_name, BookingType};
use http::{Response, StatusCode};
use serde_json::{json, Map, Value};

use crate::app::App;
use crate::auth::Need;
use crate::ctx::Ctx;
use crate::store::{Calendar, Change};
use crate::wire::body::{self, RequestBody};
use crate::wire::query::Query;
use crate::wire::response::{self, to_bytes};
use crate::wire::{etag, Body, Problem, Result};

/// The fields of a type's body, each a whole number of minutes but `horizon` (days) and
/// `per_day` (bookings), and `label`.
const FIELDS: [&str; 8] = [
    "duration",
    "interval",
    "buffer_before",
    "buffer_after",
    "notice",
    "horizon",
    "per_day",
    "label",
];

/// A 422 about `field`, naming it in the answer's `field` member.
fn invalid(field: &str, detail: String) -> Problem {
    Problem::unprocessable(detail).with_member("field", field.into())
}

/// The rules a `PUT` body gives: `duration` is required, the rest take their defaults
/// ([`BookingType::new`]). Every field is checked by name: an unknown one, a value that is not
/// a whole number, and a value out of its range are 422s that name it.
pub(crate) fn rules_of(bytes: &[u8]) -> Result<BookingType> {
    rules_in(&fields_of(bytes, &FIELDS)?)
}

/// A group type's `PUT` body: a calendar type's fields and `timezone` (the zone whose wall
/// clock places its starts and whose dates `per_day` counts; default `UTC`).
pub(crate) fn group_rules_of(bytes: &[u8]) -> Result<(BookingType, String)> {
    let mut fields = FIELDS.to_vec();
    fields.push("timezone");
    let map = fields_of(bytes, &fields)?;
    let zone = match map.get("timezone") {
        None | Some(Value::Null) => String::from("UTC"),
        Some(Value::String(zone)) => zone.clone(),
        Some(other) => {
            return Err(invalid(
                "timezone",
                format!("`timezone` must be an IANA zone name, not {other}"),
            ))
        }
    };
    Ok((rules_in(&map)?, zone))
}

/// A type's body as an object whose every field is one of `fields`.
fn fields_of(bytes: &[u8], fields: &[&str]) -> Result<Map<String, Value>> {
    let value: Value = body::parse_json(
        bytes,
        "booking type ({\"duration\", \"interval\", \"buffer_before\", \"buffer_after\", \
         \"notice\", \"horizon\", \"per_day\", \"label\"})",
    )?;
    let Value::Object(map) = value else {
        return Err(Problem::bad_request(
            "a booking type is an object such as {\"duration\": 30}",
        ));
    };
    if let Some(unknown) = map.keys().find(|k| !fields.contains(&k.as_str())) {
        return Err(invalid(
            unknown,
            format!(
                "unknown field {:?}: a booking type has {}",
                unknown.chars().take(40).collect::<String>(),
                fields.join(", ")
            ),
        ));
    }
    Ok(map)
}

/// The rules `map` gives.
fn rules_in(map: &Map<String, Value>) -> Result<BookingType> {
    let whole = |field: &str| -> Result<Option<u32>> {
        match map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| {
                    invalid(
                        field,
                        format!("`{field}` must be a whole number, not {value}"),
                    )
                }),
        }
    };
    let duration = whole("duration")?.ok_or_else(|| {
        invalid(
            "duration",
            String::from("a booking type needs `duration`, in minutes (5 to 1440)"),
        )
    })?;
    let mut rules = BookingType::new(duration);
    rules.interval = whole("interval")?.unwrap_or(duration);
    rules.buffer_before = whole("buffer_before")?.unwrap_or(0);
    rules.buffer_after = whole("buffer_after")?.unwrap_or(0);
    rules.notice = whole("notice")?.unwrap_or(0);
    rules.horizon = whole("horizon")?.unwrap_or(BookingType::DEFAULT_HORIZON);
    rules.per_day = whole("per_day")?;
    rules.label = match map.get("label") {
        None | Some(Value::Null) => None,
        Some(Value::String(label)) => Some(label.clone()),
        Some(other) => {
            return Err(invalid(
                "label",
                format!("`label` must be text, not {other}"),
            ))
        }
    };
    rules
        .check()
        .map_err(|e| Problem::of_core("checking the booking type", e))?;
    Ok(rules)
}

/// A type as the API shows it.
pub(crate) fn shown(name: &str, rules: &BookingType) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), name.into());
    out.insert("duration".into(), rules.duration.into());
    out.insert("interval".into(), rules.interval.into());
    out.insert("buffer_before".into(), rules.buffer_before.into());
    out.insert("buffer_after".into(), rules.buffer_after.into());
    out.insert("notice".into(), rules.notice.into());
    out.insert("horizon".into(), rules.horizon.into());
    if let Some(per_day) = rules.per_day {
        out.insert("per_day".into(), per_day.into());
    }
    if let Some(label) = &rules.label {
        out.insert("label".into(), label.as_str().into());
    }
    Value::Object(out)
}

/// The type `name` of `cal`, or 404.
pub(crate) fn find<'c>(cal: &'c Calendar, name: &str) -> Result<&'c BookingType> {
    cal.booking_type(name).ok_or_else(|| {
        Problem::not_found(format!(
            "calendar {:?} has no booking type {:?}",
            cal.id(),
            name.chars().take(63).collect::<String>()
        ))
    })
}

/// GET `/calendars/{id}/booking-types` (anyone): every type, by name.
pub(super) fn list(cx: &Ctx<'_>) -> Result<Response<Body>> {
    let (app, parts) = (cx.app, cx.parts);
    Query::parse(parts.uri.query(), &[])?;
    let cal = app.calendar(cx.param(0))?;
    let types: Vec<Value> = cal.booking_types().map(|(n, t)| shown(n, t)).collect();
    let body = json!({
        "calendar": cal.id(),
        "version": cal.version(),
        "booking_types": types,
    });
    Ok(response::document(parts, to_bytes(&body), Some(&cal)))
}

/// GET `/calendars/{id}/booking-types/{name}` (anyone).
pub(super) fn get(cx: &Ctx<'_>) -> Result<Response<Body>> {
    let (app, parts) = (cx.app, cx.parts);
    Query::parse(parts.uri.query(), &[])?;
    let cal = app.calendar(cx.param(0))?;
    let name = cx.param(1);
    let body = shown(name, find(&cal, name)?);
    Ok(response::document(parts, to_bytes(&body), Some(&cal)))
}

/// PUT `/calendars/{id}/booking-types/{name}` (its write key or admin): adds the type, or
/// replaces its rules (bookings made by it stay as they are). 201 when it is new.
pub(super) async fn put(cx: Ctx<'_>, body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id, name) = (cx.app, cx.parts, cx.param(0), cx.param(1));
    Query::parse(parts.uri.query(), &[])?;
    check_name(name).map_err(|e| Problem::of_core("checking the booking type", e))?;
    let cal = app.calendar(id)?;
    let principal = app.authorize(cx.client, parts, Need::Calendar(id)).await?;
    let bytes = body::read_json(app.body, parts, body).await?;
    let rules = rules_of(&bytes)?;
    let is_new = cal.booking_type(name).is_none();
    let version = etag::expected_version(parts, &cal)?;
    let expected = App::expected(&cal, version, Some(&principal));
    let (owned_id, change) = (
        id.to_owned(),
        Change::SetBookingType(name.to_owned(), rules.clone()),
    );
    let updated = app
        .commit(id, "saving the booking type", move |store| {
            store.commit(&owned_id, expected, &change)
        })
        .await?;
    let status = if is_new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(response::written(status, shown(name, &rules), &updated))
}

/// DELETE `/calendars/{id}/booking-types/{name}` (its write key or admin): bookings made by
/// the type stay.
pub(super) async fn delete(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id, name) = (cx.app, cx.parts, cx.param(0), cx.param(1));
    Query::parse(parts.uri.query(), &[])?;
    let cal = app.calendar(id)?;
    let principal = app.authorize(cx.client, parts, Need::Calendar(id)).await?;
    find(&cal, name)?;
    let version = etag::expected_version(parts, &cal)?;
    let expected = App::expected(&cal, version, Some(&principal));
    let (owned_id, change) = (id.to_owned(), Change::RemoveBookingType(name.to_owned()));
    let updated = app
        .commit(id, "removing the booking type", move |store| {
            store.commit(&owned_id, expected, &change)
        })
        .await?;
    Ok(response::written(
        StatusCode::OK,
        json!({ "name": name }),
        &updated,
    ))
}
