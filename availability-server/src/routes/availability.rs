//! `/calendars/{id}/availability` (and `/availability`): the week, read and written.

use availability_core::store::Calendar;
use availability_core::tz::{IsoWeek, Plan};
use availability_core::{Batch, Day, Slot, Time};
use http::request::Parts;
use http::{Response, StatusCode};

use crate::app::App;
use crate::auth::Need;
use crate::cache::{Format, Key, Rendered};
use crate::ctx::Ctx;
use crate::ics::{freebusy, pattern};
use crate::page;
use crate::render::{self, Header};
use crate::store::Change;
use crate::wire::body::{self, RequestBody};
use crate::wire::etag;
use crate::wire::query::{self, Query};
use crate::wire::{response, Body, Problem, Result};

/// What a read asks for.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// The whole week, in the format of `?format=`.
    Week,
    /// The whole week as CSV (the `/availability/csv` path).
    Csv,
    /// One slot (`/availability/slot`).
    Slot,
    /// The week as a page for people (`GET /calendars/{id}` asking for HTML).
    Page,
}

/// The viewer's zone when `tz` is not given.
const DEFAULT_ZONE: &str = "UTC";

/// GET `/calendars/{id}` asking for HTML: the week as a page for people.
pub(super) fn read_page(cx: &Ctx<'_>) -> Result<Response<Body>> {
    read(cx.app, cx.parts, cx.param(0), Shape::Page)
}

/// GET `/calendars/{id}/availability`: the week as seen from `tz` in `week`, in `format`.
pub(super) fn read_week(cx: &Ctx<'_>) -> Result<Response<Body>> {
    read(cx.app, cx.parts, cx.param(0), Shape::Week)
}

/// GET `/calendars/{id}/availability/slot`: one slot, by day and time in the viewer's zone.
pub(super) fn read_slot(cx: &Ctx<'_>) -> Result<Response<Body>> {
    read(cx.app, cx.parts, cx.param(0), Shape::Slot)
}

/// GET `/calendars/{id}/availability/csv`: the week as CSV.
pub(super) fn read_csv(cx: &Ctx<'_>) -> Result<Response<Body>> {
    read(cx.app, cx.parts, cx.param(0), Shape::Csv)
}

/// The week (or one slot) as seen from `tz` in `week`.
///
/// Synchronous: a read never waits (the store and the caches answer from memory), and a
/// plain function keeps the route's future small, which every request moves around.
fn read(app: &App, parts: &Parts, id: &str, shape: Shape) -> Result<Response<Body>> {
    let allowed: &[&str] = match shape {
        Shape::Week => &["tz", "week", "format"],
        Shape::Csv => &["tz", "week"],
        Shape::Slot => &["day", "time", "tz", "week"],
        Shape::Page => &["tz", "week"],
    };
    let query = Query::parse(parts.uri.query(), allowed)?;
    let format = match (shape, query.get("format")) {
        (Shape::Csv, _) => Format::Csv,
        // Replaced below, once the week is known.
        (Shape::Page, _) => Format::Json,
        (_, None | Some("json")) => Format::Json,
        (_, Some("csv")) => Format::Csv,
        (_, Some("intervals")) => Format::Intervals,
        (_, Some("view")) => Format::View,
        (Shape::Week, Some("ics")) => Format::Ics,
        (_, Some(other)) => {
            return Err(Problem::bad_request(format!(
                "unknown format {other:?}: use json (the default), csv, intervals, view or ics"
            )))
        }
    };
    let cal = app.calendar(id)?;
    let viewer = query::zone(query.get("tz").unwrap_or(DEFAULT_ZONE))?;
    let week = match query.get("week") {
        Some(text) => text.parse::<IsoWeek>(),
        None => IsoWeek::at(viewer, app.now_unix()),
    }
    .map_err(|e| Problem::bad_request(e.to_string()))?;
    let format = match shape {
        Shape::Slot => {
            let (Some(day), Some(time)) = (query.get("day"), query.get("time")) else {
                return Err(Problem::bad_request(
                    "give the slot as day and time, for example ?day=monday&time=09:00",
                ));
            };
            let day: Day = day
                .parse()
                .map_err(|e| Problem::bad_request(format!("day: {e}")))?;
            let time: Time = time
                .parse()
                .map_err(|e| Problem::bad_request(format!("time: {e}")))?;
            let slot =
                Slot::new(day, time).map_err(|e| Problem::bad_request(format!("time: {e}")))?;
            Format::Slot(slot)
        }
        Shape::Week | Shape::Csv => format,
        Shape::Page => Format::Page {
            now: page::Now::at(viewer, week, app.now_unix()).slot,
            of: u64::from(query.get("tz").is_some()),
        },
    };
    let key = Key {
        calendar: &cal,
        viewer,
        week,
        format,
    };
    let rendered = app.cached(app.cache.get(&key), || {
        let plan = app.plan(app.owner_zone(&cal)?, viewer, week)?;
        let header = Header {
            calendar: cal.id(),
            timezone: viewer.name(),
            owner_timezone: cal.zone(),
            week,
            version: cal.version(),
        };
        // The effective weeks: the pattern with the dated overrides and bookings of the
        // owner weeks this view reads (the pattern alone when there are none).
        let (stored, dated) = (cal.week(), cal.dated());
        let body = match format {
            Format::Json => render::json(&header, &dated.view(&stored, &plan)),
            Format::View => render::view(&header, &dated.view(&stored, &plan)),
            Format::Csv => render::csv(&dated.view(&stored, &plan)),
            Format::Intervals => render::intervals(&header, &dated.intervals(&stored, &plan)),
            Format::Slot(slot) => {
                render::slot_json(&header, slot, dated.view(&stored, &plan).status(slot))
            }
            Format::Ics => freebusy(&cal, &plan),
            // Not views: `availability.ics` and `/slots` render them.
            Format::Pattern | Format::Slots { .. } => Vec::new(),
            Format::Page { now, .. } => {
                let info = page::Page {
                    kind: "calendar",
                    id: cal.id(),
                    viewer,
                    zone_given: query.get("tz").is_some(),
                    week,
                    owner_zones: vec![plan.owner()],
                    version: cal.version(),
                    etag: etag::Tag::state(cal.state()).as_str().to_owned(),
                    now: page::Now { slot: now },
                    book: cal
                        .booking_types()
                        .map(|(name, t)| {
                            let title = t.label.as_deref().unwrap_or(name);
                            (name.to_owned(), title.to_owned())
                        })
                        .collect(),
                };
                page::calendar(&info, &dated.view(&stored, &plan), &dated.booked(&plan))
            }
        };
        Ok(Rendered::new(&key, body))
    })?;
    Ok(response::read(parts, &*rendered))
}

/// The viewed week as a `VFREEBUSY`: the owner's real times, with the real spans of the
/// bookings it holds.
fn freebusy(cal: &Calendar, plan: &Plan) -> Vec<u8> {
    let week = plan.week();
    let booked = freebusy::booked(cal, week);
    let runs = cal.dated().runs(&cal.week(), plan);
    let periods = freebusy::periods(&[freebusy::Owner {
        runs: &runs,
        booked: &booked,
    }]);
    let uid = format!(
        "freebusy-{}-{week}-{}@availability",
        cal.id(),
        plan.viewer().name().replace('/', "-")
    );
    let about = freebusy::About {
        uid: &uid,
        stamp: cal.changed_at_unix_ms().div_euclid(1000),
        name: cal.id(),
    };
    freebusy::render(&about, &periods)
}

/// GET `/calendars/{id}/availability.ics`: the recurring pattern as an RFC 7953
/// `VAVAILABILITY` in the owner's zone, its rules and `VTIMEZONE` starting in the first ISO
/// week of the current year.
pub(super) fn read_pattern(cx: &Ctx<'_>) -> Result<Response<Body>> {
    let (app, parts) = (cx.app, cx.parts);
    Query::parse(parts.uri.query(), &[])?;
    let cal = app.calendar(cx.param(0))?;
    let owner = app.owner_zone(&cal)?;
    let year = IsoWeek::at(owner, app.now_unix())
        .map_err(|e| Problem::internal("finding the current year", e))?
        .year();
    let anchor =
        IsoWeek::new(year, 1).map_err(|e| Problem::internal("finding the current year", e))?;
    let key = Key {
        calendar: &cal,
        viewer: owner,
        week: anchor,
        format: Format::Pattern,
    };
    let rendered = app.cached(app.cache.get(&key), || {
        let body = pattern::export(
            cal.id(),
            owner,
            &cal.week(),
            cal.changed_at_unix_ms().div_euclid(1000),
            anchor,
        );
        Ok(Rendered::new(&key, body))
    })?;
    Ok(response::read(parts, &*rendered))
}

/// PATCH `/calendars/{id}/availability`: apply a batch of edits, all or nothing.
pub(super) async fn patch(cx: Ctx<'_>, body: RequestBody) -> Result<Response<Body>> {
    write(cx, body, false).await
}

/// PUT `/calendars/{id}/availability`: the batch's slots, every other slot unavailable.
pub(super) async fn put(cx: Ctx<'_>, body: RequestBody) -> Result<Response<Body>> {
    write(cx, body, true).await
}

/// PATCH (`replace == false`) or PUT (`replace == true`), all or nothing either way.
async fn write(cx: Ctx<'_>, body: RequestBody, replace: bool) -> Result<Response<Body>> {
    let (app, parts, id) = (cx.app, cx.parts, cx.param(0));
    // A write takes no parameters: `?tz=` on a write would suggest a zone it does not use.
    Query::parse(parts.uri.query(), &[])?;
    let cal = app.calendar(id)?;
    let principal = app.authorize(cx.client, parts, Need::Calendar(id)).await?;
    let batch: Batch = if replace && body::has_type(parts, "text/calendar") {
        // A pattern from calendar software: an RFC 7953 VAVAILABILITY.
        let bytes = body::read(app.body, parts, body).await?;
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            Problem::bad_request("the calendar is not UTF-8: send it as UTF-8 text")
        })?;
        let week = pattern::import(text, app.owner_zone(&cal)?, app.now_unix())
            .map_err(|e| Problem::bad_request(format!("the calendar cannot be read: {e}")))?;
        pattern::batch_of(&week)
    } else if replace && !body::has_json_type(parts) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be a batch as JSON (Content-Type: application/json) or a \
             VAVAILABILITY as iCalendar (Content-Type: text/calendar)",
        ));
    } else {
        let bytes = body::read_json(app.body, parts, body).await?;
        body::parse_json(&bytes, "batch ({\"updates\": [...]})")?
    };
    // Validated here so that a bad batch is a 400 before anything is written.
    batch
        .validate()
        .map_err(|e| Problem::bad_request(e.to_string()))?;
    let change = if replace {
        Change::Replace(batch)
    } else {
        Change::Apply(batch)
    };
    let version = etag::expected_version(parts, &cal)?;
    let expected = App::expected(&cal, version, Some(&principal));
    let owned_id = id.to_owned();
    let updated = app
        .commit(id, "saving the week", move |store| {
            store.commit(&owned_id, expected, &change)
        })
        .await?;
    Ok(response::written(
        StatusCode::OK,
        serde_json::json!({}),
        &updated,
    ))
}
