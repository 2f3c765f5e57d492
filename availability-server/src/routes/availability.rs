//! `/calendars/{id}/availability` (and `/availability`): the week, read and written.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use availability_core::{Batch, Day, Slot, Time};
use bytes::Bytes;
use http::header::{
    HeaderValue, ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, VARY,
};
use http::request::Parts;
use http::{Response, StatusCode};
use http_body_util::Full;

use super::{
    blocking, calendar, expected_version, json_body, not_modified, parse_json, small_read, written,
    Result,
};
use crate::app::App;
use crate::auth::Need;
use crate::cache::{Encoding, Format, Key, Rendered};
use crate::problem::{Body, Problem};
use crate::query::Query;
use crate::render::{self, Header};
use crate::state::Change;

/// What a read asks for.
#[derive(Debug, Clone, Copy)]
pub(super) enum Shape {
    /// The whole week, in the format of `?format=`.
    Week,
    /// The whole week as CSV (the `/availability/csv` path).
    Csv,
    /// One slot (`/availability/slot`).
    Slot,
}

/// The viewer's zone when `tz` is not given.
const DEFAULT_ZONE: &str = "UTC";

/// GET: the week (or one slot) as seen from `tz` in `week`.
pub(super) async fn read(
    app: &App,
    parts: &Parts,
    id: &str,
    shape: Shape,
) -> Result<Response<Body>> {
    let allowed: &[&str] = match shape {
        Shape::Week => &["tz", "week", "format"],
        Shape::Csv => &["tz", "week"],
        Shape::Slot => &["day", "time", "tz", "week"],
    };
    let query = Query::parse(parts.uri.query(), allowed)?;
    let format = match (shape, query.get("format")) {
        (Shape::Csv, _) => Format::Csv,
        (_, None | Some("json")) => Format::Json,
        (_, Some("csv")) => Format::Csv,
        (_, Some("intervals")) => Format::Intervals,
        (_, Some(other)) => {
            return Err(Problem::bad_request(format!(
                "unknown format {other:?}: use json (the default), csv or intervals"
            )))
        }
    };
    let cal = calendar(app, id)?;
    let viewer = app
        .zones
        .zone(query.get("tz").unwrap_or(DEFAULT_ZONE))
        .map_err(Problem::bad_request)?;
    let week = app
        .zones
        .week(&viewer, query.get("week"), app.now_unix())
        .map_err(Problem::bad_request)?;
    let header = Header {
        calendar: &cal.id,
        timezone: &viewer,
        owner_timezone: &cal.zone,
        week: &week,
        version: cal.version,
    };

    if let Shape::Slot = shape {
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
        let slot = Slot::new(day, time).map_err(|e| Problem::bad_request(format!("time: {e}")))?;
        let viewed = app
            .zones
            .view(&cal.zone, &viewer, &week, &cal.week)
            .map_err(Problem::bad_request)?;
        let body = render::slot_json(&header, slot, viewed.status(slot));
        return small_read(parts, body, Some(cal.version));
    }

    let key = Key {
        calendar: cal.id.clone(),
        version: cal.version,
        owner_zone: cal.zone.clone(),
        stored: cal.week,
        viewer_zone: viewer.clone(),
        week: week.label.clone(),
        format,
    };
    let rendered = match app.cache.get(&key) {
        Some(rendered) => {
            app.metrics.cache_hits.fetch_add(1, Relaxed);
            rendered
        }
        None => {
            app.metrics.cache_misses.fetch_add(1, Relaxed);
            let body = match format {
                Format::Json | Format::Csv => {
                    let viewed = app
                        .zones
                        .view(&cal.zone, &viewer, &week, &cal.week)
                        .map_err(Problem::bad_request)?;
                    if format == Format::Csv {
                        render::csv(&viewed)
                    } else {
                        render::json(&header, &viewed)
                    }
                }
                Format::Intervals => {
                    let intervals = app
                        .zones
                        .intervals(&cal.zone, &viewer, &week, &cal.week)
                        .map_err(Problem::bad_request)?;
                    render::intervals(&header, &intervals)
                }
            };
            let rendered = Arc::new(Rendered::new(body, key.etag(), format));
            app.cache.insert(key, Arc::clone(&rendered));
            rendered
        }
    };
    Ok(serve(parts, &rendered))
}

/// The response for a cached body: 304 when the client has it, else the body in the best
/// coding the client accepts.
fn serve(parts: &Parts, rendered: &Rendered) -> Response<Body> {
    let encoding = Encoding::negotiate(
        parts
            .headers
            .get(ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    );
    let (bytes, encoding) = rendered.encoded(encoding);
    let etag = rendered.etag_for(encoding);
    let mut response = if not_modified(parts, &[&etag, &rendered.etag]) {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(Full::new(bytes));
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static(rendered.format.content_type()),
        );
        if let Some(coding) = encoding.header() {
            r.headers_mut()
                .insert(CONTENT_ENCODING, HeaderValue::from_static(coding));
        }
        r
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(ETAG, value);
    }
    headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    // Clients may keep the body but must revalidate: the week changes whenever it is edited.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// PATCH (`replace == false`): apply a batch of edits. PUT (`replace == true`): the batch's
/// slots, every other slot unavailable. All or nothing either way.
pub(super) async fn write<B>(
    app: &App,
    parts: &Parts,
    body: B,
    id: &str,
    replace: bool,
) -> Result<Response<Body>>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let cal = calendar(app, id)?;
    app.auth
        .check(app.backend.as_ref(), &parts.headers, Need::Calendar(id))
        .await?;
    let bytes = json_body(parts, body).await?;
    let batch: Batch = parse_json(&bytes, "batch ({\"updates\": [...]})")?;
    // Validated here so that a bad batch is a 400 before anything is written.
    batch
        .validate()
        .map_err(|e| Problem::bad_request(e.to_string()))?;
    let change = if replace {
        Change::Replace(batch)
    } else {
        Change::Apply(batch)
    };
    let expected = expected_version(parts, cal.version)?;
    let owned_id = id.to_owned();
    let updated = blocking(app, "saving the week", move |backend| {
        backend.commit(&owned_id, change, expected)
    })
    .await?;
    Ok(written(
        StatusCode::OK,
        serde_json::json!({}),
        &updated.id,
        updated.version,
    ))
}
