//! `/calendars/{id}/overrides[/{date}]`: one owner date's slots in place of the pattern.

use availability_core::dated::DayOverride;
use availability_core::{Batch, Day, Status, Week};
use chrono::NaiveDate;
use http::{Response, StatusCode};
use serde_json::{json, Value};

use crate::app::App;
use crate::auth::Need;
use crate::ctx::Ctx;
use crate::render::time_text;
use crate::wire::body::{self, RequestBody};
use crate::wire::query::Query;
use crate::wire::{etag, response, Body, Problem, Result};

/// The longest range a listing covers.
const MAX_DAYS: i64 = 731;

/// An owner date from the path or a query: `YYYY-MM-DD`.
pub(super) fn date(text: &str, what: &str) -> Result<NaiveDate> {
    let date = iso_date(text).ok_or_else(|| {
        Problem::bad_request(format!(
            "{what} {:?} is not a date: write it as YYYY-MM-DD, for example 2026-12-24",
            text.chars().take(40).collect::<String>()
        ))
    })?;
    // Only dates of the weeks views support can be overridden.
    availability_core::tz::IsoWeek::containing(date)
        .map_err(|e| Problem::bad_request(format!("{what}: {e}")))?;
    Ok(date)
}

/// `YYYY-MM-DD` exactly (four, two and two digits), a date of the calendar. A plain shape
/// check before chrono's: a read's query names dates, and a format string costs every read.
pub(crate) fn iso_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    let digits = |r: core::ops::Range<usize>| {
        b[r].iter().try_fold(0_u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = i32::try_from(digits(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(5..7)?, digits(8..10)?)
}

/// PUT `/calendars/{id}/overrides/{date}`: the date's slots, from a batch whose entries name
/// no day; slots not named are unavailable, so an empty list is a day off.
pub(super) async fn put(cx: Ctx<'_>, body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id) = (cx.app, cx.parts, cx.param(0));
    Query::parse(parts.uri.query(), &[])?;
    let day_date = date(cx.param(1), "the date")?;
    let cal = app.calendar(id)?;
    let principal = app.authorize(cx.client, parts, Need::Calendar(id)).await?;
    let bytes = body::read_json(app.body, parts, body).await?;
    let day = day_of(&bytes)?;
    let version = etag::expected_version(parts, &cal)?;
    let expected = App::expected(&cal, version, Some(&principal));
    let owned_id = id.to_owned();
    let updated = app
        .commit(id, "saving the override", move |store| {
            store.set_override(&owned_id, expected, day_date, day)
        })
        .await?;
    Ok(response::written(
        StatusCode::OK,
        json!({ "date": day_date.to_string(), "updates": runs(&day) }),
        &updated,
    ))
}

/// DELETE `/calendars/{id}/overrides/{date}`: the pattern holds on the date again.
pub(super) async fn delete(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id) = (cx.app, cx.parts, cx.param(0));
    Query::parse(parts.uri.query(), &[])?;
    let day_date = date(cx.param(1), "the date")?;
    let cal = app.calendar(id)?;
    let principal = app.authorize(cx.client, parts, Need::Calendar(id)).await?;
    let version = etag::expected_version(parts, &cal)?;
    let expected = App::expected(&cal, version, Some(&principal));
    let owned_id = id.to_owned();
    let updated = app
        .commit(id, "removing the override", move |store| {
            store.clear_override(&owned_id, expected, day_date)
        })
        .await?;
    Ok(response::written(
        StatusCode::OK,
        json!({ "date": day_date.to_string() }),
        &updated,
    ))
}

/// GET `/calendars/{id}/overrides?from=&to=`: the overrides of owner dates `from..=to`
/// (default: from today, a year on), each as the updates that would set it.
pub(super) fn list(cx: &Ctx<'_>) -> Result<Response<Body>> {
    let (app, parts, id) = (cx.app, cx.parts, cx.param(0));
    let query = Query::parse(parts.uri.query(), &["from", "to"])?;
    let cal = app.calendar(id)?;
    let today = chrono::DateTime::from_timestamp(app.now_unix(), 0)
        .map(|t| t.date_naive())
        .unwrap_or_default();
    let from = match query.get("from") {
        Some(text) => date(text, "from")?,
        None => today,
    };
    let to = match query.get("to") {
        Some(text) => date(text, "to")?,
        None => from + chrono::Days::new(365),
    };
    if to < from || (to - from).num_days() > MAX_DAYS {
        return Err(Problem::bad_request(format!(
            "from {from} to {to}: to must not be before from, and the range is at most \
             {MAX_DAYS} days"
        )));
    }
    let overrides: Vec<Value> = cal
        .dated()
        .overrides(from, to)
        .map(|(date, day)| json!({ "date": date.to_string(), "updates": runs(&day) }))
        .collect();
    let body = json!({
        "calendar": cal.id(),
        "owner_timezone": cal.zone(),
        "version": cal.version(),
        "from": from.to_string(),
        "to": to.to_string(),
        "overrides": overrides,
    });
    Ok(response::document(
        parts,
        response::to_bytes(&body),
        Some(&cal),
    ))
}

/// The day an override body describes: a batch (`{"updates": [...]}`) whose entries have no
/// `day`, read as one day.
fn day_of(bytes: &[u8]) -> Result<DayOverride> {
    let mut value: Value = body::parse_json(bytes, "override ({\"updates\": [...]})")?;
    let updates = value
        .get_mut("updates")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| {
            Problem::bad_request(
                "an override is {\"updates\": [...]}: entries of from, to and status, or \
                 time and status, with no day (an empty list is a day off)",
            )
        })?;
    for (i, entry) in updates.iter_mut().enumerate() {
        let Some(object) = entry.as_object_mut() else {
            return Err(Problem::bad_request(format!(
                "entry {i}: an entry is an object such as {{\"from\":\"09:00\",\"to\":\"12:00\",\
                 \"status\":\"available\"}}"
            )));
        };
        if object.contains_key("day") {
            return Err(Problem::bad_request(format!(
                "entry {i}: an override is one date, so its entries name no day"
            )));
        }
        object.insert("day".into(), "monday".into());
    }
    let batch: Batch = serde_json::from_value(value)
        .map_err(|e| Problem::bad_request(format!("the override: {e}")))?;
    let week = batch
        .apply_replacing()
        .map_err(|e| Problem::bad_request(e.to_string()))?;
    Ok(DayOverride::from_week_day(&week, Day::Monday))
}

/// The day's maybe and available runs, as the updates that set them.
fn runs(day: &DayOverride) -> Vec<Value> {
    let mut week = Week::UNAVAILABLE;
    for h in 0..availability_core::HALF_HOURS_PER_DAY {
        if let (Some(time), Some(slot)) = (
            availability_core::Time::from_half_hours(h),
            availability_core::Slot::from_index(h),
        ) {
            week.set(slot, day.status(time));
        }
    }
    week.runs()
        .filter(|run| run.status() != Status::Unavailable)
        .map(|run| {
            json!({
                "from": time_text(run.start_index()),
                "to": time_text(run.end_index()),
                "status": run.status().as_str(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::iso_date;

    #[test]
    fn dates_are_four_two_and_two_digits_of_a_real_date() {
        assert_eq!(
            iso_date("2026-12-24"),
            chrono::NaiveDate::from_ymd_opt(2026, 12, 24)
        );
        assert_eq!(
            iso_date("2028-02-29"),
            chrono::NaiveDate::from_ymd_opt(2028, 2, 29)
        );
        for text in [
            "2026-1-5",
            "2026-02-30",
            "2027-02-29",
            "+2026-12-2",
            "2026-12-24 ",
            " 2026-12-2",
            "2026/12/24",
            "20261224",
            "2026-13-01",
            "2026-00-10",
            "2026-12-00",
            "٢٠٢٦-12-24",
            "",
        ] {
            assert_eq!(iso_date(text), None, "{text:?}");
        }
    }
}
