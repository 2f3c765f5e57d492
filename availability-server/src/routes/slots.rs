//! `/calendars/{id}/slots`: the starts a booking type offers, in the viewer's zone.

use availability_core::slots::{self, Offer, Owner, MAX_DAYS};
use availability_core::tz::{IsoWeek, Zone};
use chrono::{DateTime, Days, FixedOffset, NaiveDate, SecondsFormat};
use http::Response;
use serde_json::{json, Value};

use super::overrides::date;
use super::types::find;
use crate::app::App;
use crate::cache::{Format, Key, Rendered, SlotsBody};
use crate::ctx::Ctx;
use crate::ics::freebusy::{self, FbType, Period};
use crate::page;
use crate::store::Calendar;
use crate::wire::query::{self, Query};
use crate::wire::response::{self, to_bytes};
use crate::wire::{Body, Problem, Result};

/// The viewer's zone when `tz` is not given.
const DEFAULT_ZONE: &str = "UTC";
/// The dates an answer covers when `to` is not given: a week.
const DEFAULT_DAYS: u64 = 7;

/// The first instant of `date` in `zone` (after a gap at midnight, the gap's end).
pub(crate) fn first_instant(zone: Zone, date: NaiveDate) -> i64 {
    let wall = date
        .and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp());
    let first = wall - i64::from(zone.offset_at(wall).unwrap_or(0));
    wall - i64::from(zone.offset_at(first).unwrap_or(0))
}

/// `unix` as RFC 3339 in `zone`'s offset at that instant (`Z` for UTC).
pub(crate) fn in_zone(zone: Zone, unix: i64) -> String {
    let offset = zone
        .offset_at(unix)
        .and_then(FixedOffset::east_opt)
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"));
    DateTime::from_timestamp(unix, 0)
        .map(|t| {
            t.with_timezone(&offset)
                .to_rfc3339_opts(SecondsFormat::Secs, true)
        })
        .unwrap_or_default()
}

/// The viewer dates a question covers: `from` (default today) to `to` (default six days
/// on), both included, at most [`MAX_DAYS`].
pub(crate) fn dates(query: &Query<'_>, viewer: Zone, now: i64) -> Result<(NaiveDate, NaiveDate)> {
    let wall = now + i64::from(viewer.offset_at(now).unwrap_or(0));
    let today = DateTime::from_timestamp(wall, 0)
        .map(|t| t.date_naive())
        .unwrap_or_default();
    let from = match query.get("from") {
        Some(text) => date(text, "from")?,
        None => today,
    };
    let to = match query.get("to") {
        Some(text) => date(text, "to")?,
        None => from
            .checked_add_days(Days::new(DEFAULT_DAYS - 1))
            .unwrap_or(from),
    };
    if to < from || (to - from).num_days() >= MAX_DAYS {
        return Err(Problem::bad_request(format!(
            "from {from} to {to}: to must not be before from, and an answer covers at most \
             {MAX_DAYS} dates"
        )));
    }
    Ok((from, to))
}

/// GET `/calendars/{id}/slots?type=&from=&to=&tz=&format=` (anyone): every bookable start of
/// the type on viewer dates `from..=to`, with its end, in the viewer's offsets; or
/// (`format=ics`) the same spans as a `VFREEBUSY` of `FREE` periods. Cached and tagged like the
/// other reads: the tag covers the calendar's version and the minute of now.
pub(super) fn read(cx: &Ctx<'_>) -> Result<Response<Body>> {
    answer(cx, false)
}

/// GET `/calendars/{id}/slots` asking for HTML: the same starts as a page that books them.
pub(super) fn page(cx: &Ctx<'_>) -> Result<Response<Body>> {
    answer(cx, true)
}

fn answer(cx: &Ctx<'_>, page: bool) -> Result<Response<Body>> {
    let (app, parts) = (cx.app, cx.parts);
    let query = Query::parse(parts.uri.query(), &["type", "from", "to", "tz", "format"])?;
    let body = match (page, query.get("format")) {
        (true, _) => SlotsBody::Page,
        (false, None | Some("json")) => SlotsBody::Json,
        (false, Some("ics")) => SlotsBody::Ics,
        (false, Some(other)) => {
            return Err(Problem::bad_request(format!(
                "unknown format {:?}: use json (the default) or ics",
                other.chars().take(40).collect::<String>()
            )))
        }
    };
    let cal = app.calendar(cx.param(0))?;
    let name = query.get("type").ok_or_else(|| {
        Problem::bad_request("name the booking type: ?type=, one of GET .../booking-types")
    })?;
    find(&cal, name)?;
    let index = cal
        .booking_types()
        .position(|(n, _)| n == name)
        .unwrap_or(0) as u8;
    let viewer = query::zone(query.get("tz").unwrap_or(DEFAULT_ZONE))?;
    let now = app.now_unix();
    let (from, mut to) = dates(&query, viewer, now)?;
    if page {
        // A page lists a week of dates at most, and links to the next.
        to = to.min(from.checked_add_days(Days::new(6)).unwrap_or(to));
    }
    let week = IsoWeek::containing(from).map_err(|e| Problem::bad_request(e.to_string()))?;
    let format = Format::Slots {
        index,
        skip: (from - week.monday()).num_days() as u8,
        days: ((to - from).num_days() + 1) as u8,
        body,
        minute: now.div_euclid(60),
    };
    let key = Key {
        calendar: &cal,
        viewer,
        week,
        format,
    };
    let rendered = app.cached(app.cache.get(&key), || {
        let span = Span {
            viewer,
            zone_given: query.get("tz").is_some(),
            from,
            to,
            now,
        };
        let bytes = render(app, &cal, name, &span, body)?;
        Ok(Rendered::new(&key, bytes))
    })?;
    Ok(response::read(parts, &*rendered))
}

/// What an answer covers.
struct Span {
    viewer: Zone,
    zone_given: bool,
    from: NaiveDate,
    to: NaiveDate,
    now: i64,
}

/// The answer's body.
fn render(app: &App, cal: &Calendar, name: &str, span: &Span, body: SlotsBody) -> Result<Vec<u8>> {
    let rules = find(cal, name)?;
    let owner = Owner {
        pattern: &cal.week(),
        dated: cal.dated(),
        zone: app.owner_zone(cal)?,
    };
    let offer = Offer {
        name,
        rules,
        now: span.now,
    };
    let first = first_instant(span.viewer, span.from);
    let after = span
        .to
        .succ_opt()
        .map_or(i64::MAX, |d| first_instant(span.viewer, d));
    let starts = slots::slots(&owner, &offer, first, after);
    let length = i64::from(rules.duration) * 60;
    if body == SlotsBody::Page {
        return Ok(page::book(&page::Book {
            id: cal.id(),
            name,
            title: rules.label.as_deref().unwrap_or(name),
            duration: rules.duration,
            viewer: span.viewer,
            zone_given: span.zone_given,
            from: span.from,
            to: span.to,
            starts: &starts,
            public: cal.booking_public(),
        }));
    }
    if body == SlotsBody::Ics {
        let periods: Vec<Period> = starts
            .iter()
            .map(|&start| Period {
                start,
                end: start + length,
                kind: FbType::Free,
            })
            .collect();
        let uid = format!(
            "slots-{}-{name}-{}-{}-{}@availability",
            cal.id(),
            span.from,
            span.to,
            span.viewer.name().replace('/', "-")
        );
        let about = freebusy::About {
            uid: &uid,
            stamp: cal.changed_at_unix_ms().div_euclid(1000),
            name: cal.id(),
        };
        return Ok(freebusy::render(&about, &periods));
    }
    let slots: Vec<Value> = starts
        .iter()
        .map(|&start| {
            json!({
                "start": in_zone(span.viewer, start),
                "end": in_zone(span.viewer, start + length),
            })
        })
        .collect();
    let body = json!({
        "calendar": cal.id(),
        "version": cal.version(),
        "type": name,
        "duration": rules.duration,
        "timezone": span.viewer.name(),
        "from": span.from.to_string(),
        "to": span.to.to_string(),
        "slots": slots,
    });
    Ok(to_bytes(&body))
}
