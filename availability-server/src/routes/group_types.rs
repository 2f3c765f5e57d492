//! `/groups/{id}/booking-types[/{name}]` and `/groups/{id}/slots`: what a team is booked by
//! together, and the starts it offers: every member free (`mode=all`, a meeting) or at least
//! one (`mode=any`, a round robin, with how many).

use availability_core::slots::{self, check_name, Mode, Offer, Owner};
use availability_core::tz::Zone;
use http::{Response, StatusCode};
use serde_json::{json, Value};

use super::slots::{dates, first_instant, in_zone};
use super::types::{group_rules_of, shown};
use crate::auth::Need;
use crate::ctx::Ctx;
use crate::ics::freebusy::{self, FbType, Period};
use crate::store::{Group, GroupType};
use crate::wire::body::{self, RequestBody};
use crate::wire::query::{self, Query};
use crate::wire::response::{self, to_bytes};
use crate::wire::{Body, Problem, Result};
use availability_core::store::group_book;

const DAY: i64 = 86_400;

/// A group type as the API shows it: a calendar type's fields and its `timezone`.
pub(crate) fn shown_group(name: &str, ty: &GroupType) -> Value {
    let mut value = shown(name, &ty.rules);
    value["timezone"] = ty.zone.as_str().into();
    value
}

/// The group's type `name`, or 404.
pub(crate) fn find<'g>(group: &'g Group, name: &str) -> Result<&'g GroupType> {
    group.booking_type(name).ok_or_else(|| {
        Problem::not_found(format!(
            "group {:?} has no booking type {:?}",
            group.id(),
            name.chars().take(63).collect::<String>()
        ))
    })
}

/// GET `/groups/{id}/booking-types` (anyone): every type, by name.
pub(super) fn list(cx: &Ctx<'_>) -> Result<Response<Body>> {
    Query::parse(cx.parts.uri.query(), &[])?;
    let group = cx.app.group(cx.param(0))?;
    let types: Vec<Value> = group
        .booking_types()
        .map(|(n, t)| shown_group(n, t))
        .collect();
    let body = json!({ "group": group.id(), "booking_types": types });
    Ok(response::document(cx.parts, to_bytes(&body), None))
}

/// GET `/groups/{id}/booking-types/{name}` (anyone).
pub(super) fn get(cx: &Ctx<'_>) -> Result<Response<Body>> {
    Query::parse(cx.parts.uri.query(), &[])?;
    let group = cx.app.group(cx.param(0))?;
    let name = cx.param(1);
    let body = shown_group(name, find(&group, name)?);
    Ok(response::document(cx.parts, to_bytes(&body), None))
}

/// PUT `/groups/{id}/booking-types/{name}` (admin key): adds the type or replaces its rules
/// (group bookings made by it stay as they are). 201 when it is new.
pub(super) async fn put(cx: Ctx<'_>, body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id, name) = (cx.app, cx.parts, cx.param(0), cx.param(1));
    Query::parse(parts.uri.query(), &[])?;
    check_name(name).map_err(|e| Problem::of_core("checking the booking type", e))?;
    let by = app
        .authorize(cx.client, parts, Need::Admin)
        .await?
        .authority();
    let group = app.group(id)?;
    let bytes = body::read_json(app.body, parts, body).await?;
    let (rules, zone) = group_rules_of(&bytes)?;
    let is_new = group.booking_type(name).is_none();
    let ty = GroupType { rules, zone };
    let shown = shown_group(name, &ty);
    let (owned_id, owned_name) = (id.to_owned(), name.to_owned());
    app.commit(id, "saving the booking type", move |store| {
        store.put_group_type(&owned_id, &owned_name, Some(ty), &by)
    })
    .await?;
    let status = if is_new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(response::json(status, to_bytes(&shown)))
}

/// DELETE `/groups/{id}/booking-types/{name}` (admin key): group bookings made by the type
/// stay.
pub(super) async fn delete(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id, name) = (cx.app, cx.parts, cx.param(0), cx.param(1));
    Query::parse(parts.uri.query(), &[])?;
    let by = app
        .authorize(cx.client, parts, Need::Admin)
        .await?
        .authority();
    find(&*app.group(id)?, name)?;
    let (owned_id, owned_name) = (id.to_owned(), name.to_owned());
    app.commit(id, "removing the booking type", move |store| {
        store.put_group_type(&owned_id, &owned_name, None, &by)
    })
    .await?;
    Ok(response::json(
        StatusCode::OK,
        to_bytes(&json!({ "name": name })),
    ))
}

/// `mode` from a query or a body: `all` (the default) or `any`.
pub(crate) fn mode_of(text: Option<&str>) -> Result<Mode> {
    match text {
        None | Some("all") => Ok(Mode::All),
        Some("any") => Ok(Mode::Any),
        Some(other) => Err(Problem::bad_request(format!(
            "unknown mode {:?}: all (every member, a meeting) or any (one member, a round robin)",
            other.chars().take(40).collect::<String>()
        ))),
    }
}

/// `mode` as answers name it.
pub(crate) fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::All => "all",
        Mode::Any => "any",
    }
}

/// GET `/groups/{id}/slots?type=&mode=all|any&from=&to=&tz=&format=json|ics` (anyone): every
/// start of the group's type on viewer dates `from..=to` that every member (`all`) or at least
/// one (`any`) can take, each with how many could; the type's clock and `per_day` are the
/// group's (its `timezone`), each member's own availability, bookings and buffers decide
/// whether it can take a span. A member calendar that no longer exists takes nothing.
pub(super) fn read(cx: &Ctx<'_>) -> Result<Response<Body>> {
    let (app, parts) = (cx.app, cx.parts);
    let query = Query::parse(
        parts.uri.query(),
        &["type", "mode", "from", "to", "tz", "format"],
    )?;
    let ics = match query.get("format") {
        None | Some("json") => false,
        Some("ics") => true,
        Some(other) => {
            return Err(Problem::bad_request(format!(
                "unknown format {:?}: use json (the default) or ics",
                other.chars().take(40).collect::<String>()
            )))
        }
    };
    let group = app.group(cx.param(0))?;
    let name = query.get("type").ok_or_else(|| {
        Problem::bad_request("name the booking type: ?type=, one of GET .../booking-types")
    })?;
    let ty = find(&group, name)?;
    let mode = mode_of(query.get("mode"))?;
    let viewer = query::zone(query.get("tz").unwrap_or("UTC"))?;
    let now = app.now_unix();
    let (from, to) = dates(&query, viewer, now)?;
    let first = first_instant(viewer, from);
    let after = to.succ_opt().map_or(i64::MAX, |d| first_instant(viewer, d));
    let members = app.store.group_members(&group);
    let zones = members
        .iter()
        .flatten()
        .map(|cal| app.owner_zone(cal))
        .collect::<Result<Vec<Zone>>>()?;
    let weeks: Vec<_> = members.iter().flatten().map(|cal| cal.week()).collect();
    let owners: Vec<Owner<'_>> = members
        .iter()
        .flatten()
        .zip(&zones)
        .zip(&weeks)
        .map(|((cal, zone), week)| Owner {
            pattern: week,
            dated: cal.dated(),
            zone: *zone,
        })
        .collect();
    let group_zone = Zone::new(&ty.zone).unwrap_or(Zone::UTC);
    let offer = Offer {
        name,
        rules: &ty.rules,
        now,
    };
    let found = if mode == Mode::All && owners.len() < members.len() {
        Vec::new()
    } else {
        let booked =
            group_book::booked_starts(&group, &members, name, (first - 2 * DAY, after + 2 * DAY));
        slots::group_slots(&owners, group_zone, &offer, mode, (first, after), &booked)
    };
    let length = i64::from(ty.rules.duration) * 60;
    let bytes = if ics {
        let periods: Vec<Period> = found
            .iter()
            .map(|s| Period {
                start: s.start,
                end: s.start + length,
                kind: FbType::Free,
            })
            .collect();
        let uid = format!(
            "group-slots-{}-{name}-{}-{from}-{to}-{}@availability",
            group.id(),
            mode_name(mode),
            viewer.name().replace('/', "-")
        );
        let about = freebusy::About {
            uid: &uid,
            stamp: now,
            name: group.id(),
        };
        freebusy::render(&about, &periods)
    } else {
        let slots: Vec<Value> = found
            .iter()
            .map(|s| {
                json!({
                    "start": in_zone(viewer, s.start),
                    "end": in_zone(viewer, s.start + length),
                    "free": s.free,
                })
            })
            .collect();
        to_bytes(&json!({
            "group": group.id(),
            "type": name,
            "mode": mode_name(mode),
            "duration": ty.rules.duration,
            "members": group.members().len(),
            "timezone": viewer.name(),
            "from": from.to_string(),
            "to": to.to_string(),
            "slots": slots,
        }))
    };
    if ics {
        const ICS: http::HeaderValue = http::HeaderValue::from_static(crate::ics::CONTENT_TYPE);
        let plain = response::Plain::new(bytes, ICS, None, response::Kind::Document);
        return Ok(response::read(parts, &plain));
    }
    Ok(response::document(parts, bytes, None))
}
