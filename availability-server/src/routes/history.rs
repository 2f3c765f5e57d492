//! `/calendars/{id}/history` and `/calendars/{id}/availability/restore`: the versions of a
//! calendar's weekly pattern, and an old one made current again as a new version.

use availability_core::store::PastPattern;
use availability_core::{Day, HALF_HOURS_PER_DAY};
use http::{Response, StatusCode};
use serde::Deserialize;

use crate::app::App;
use crate::auth::Need;
use crate::ctx::Ctx;
use crate::render;
use crate::store::Change;
use crate::wire::body::{self, RequestBody};
use crate::wire::etag;
use crate::wire::query::Query;
use crate::wire::{response, Body, Problem, Result};

/// The body of a restore.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Restore {
    version: u64,
}

/// The versions of calendar `id`'s pattern, newest first, from wherever the backend keeps
/// them.
async fn versions(app: &App, id: &str) -> Result<Vec<PastPattern>> {
    let what = "reading the pattern history";
    let (storage, id) = (app.storage.clone(), id.to_owned());
    // On the blocking pool: on PostgreSQL it is a query.
    tokio::task::spawn_blocking(move || storage.history(&id))
        .await
        .map_err(|e| Problem::internal(what, e))?
        .map_err(|e| Problem::of_core(what, e))
}

/// GET `/calendars/{id}/history` (its write key or admin): every version of the weekly
/// pattern kept, newest first: when, by which key, which slots it changed, and the week.
pub(super) async fn list(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id) = (cx.app, cx.parts, cx.param(0));
    Query::parse(parts.uri.query(), &[])?;
    app.calendar(id)?;
    app.authorize(cx.client, parts, Need::Calendar(id)).await?;
    let versions = versions(app, id).await?;
    // Read after the history: the calendar is at least as new as its newest version.
    let cal = app.calendar(id)?;
    let current = versions.first().map(PastPattern::version);
    let body = serde_json::json!({
        "calendar": cal.id(),
        "version": cal.version(),
        "retention_days": app.storage.store().retention_seconds() / 86_400,
        "versions": versions
            .iter()
            .map(|v| describe(v, Some(v.version()) == current))
            .collect::<Vec<_>>(),
    });
    let mut response = response::json(StatusCode::OK, response::to_bytes(&body));
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}

/// One version as the history lists it.
fn describe(version: &PastPattern, current: bool) -> serde_json::Value {
    let at = chrono::DateTime::from_timestamp_millis(version.at_ms())
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    serde_json::json!({
        "version": version.version(),
        "at": at,
        "key_id": version.key_id(),
        "current": current,
        "changed": version.changed_count(),
        "changes": changes(version),
        "view": view(version),
    })
}

/// The runs of changed slots as owner wall-clock ranges, cut at midnight: `{"day", "from",
/// "to"}`, `to` excluded (`24:00` at the end of a day).
fn changes(version: &PastPattern) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for (start, end) in version.changed_runs() {
        let mut from = start;
        while from < end {
            let day = from / HALF_HOURS_PER_DAY;
            let to = end.min((day + 1) * HALF_HOURS_PER_DAY);
            out.push(serde_json::json!({
                "day": Day::ALL[day].name(),
                "from": render::time_text(from % HALF_HOURS_PER_DAY),
                "to": render::time_text(to - day * HALF_HOURS_PER_DAY),
            }));
            from = to;
        }
    }
    out
}

/// The week, a string of 48 digits per day from Monday, as `format=view` writes a day.
fn view(version: &PastPattern) -> Vec<String> {
    Day::ALL
        .iter()
        .map(|&day| {
            let mut digits = Vec::with_capacity(HALF_HOURS_PER_DAY);
            render::push_day_view(&mut digits, version.week(), day);
            String::from_utf8(digits).unwrap_or_default()
        })
        .collect()
}

/// POST `/calendars/{id}/availability/restore` (its write key or admin): `{"version"}` of
/// the history made the pattern in force, as a new version; `If-Match` as any write.
pub(super) async fn restore(cx: Ctx<'_>, body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id) = (cx.app, cx.parts, cx.param(0));
    Query::parse(parts.uri.query(), &[])?;
    let cal = app.calendar(id)?;
    let principal = app.authorize(cx.client, parts, Need::Calendar(id)).await?;
    let bytes = body::read_json(app.body, parts, body).await?;
    let Restore { version } = body::parse_json(&bytes, "restore ({\"version\": N})")?;
    let versions = versions(app, id).await?;
    let Some(past) = versions.iter().find(|v| v.version() == version) else {
        let kept: Vec<u64> = versions.iter().map(PastPattern::version).collect();
        return Err(Problem::unprocessable(format!(
            "calendar {id:?} keeps no version {version} of its pattern; the versions kept are \
             {kept:?} (GET /calendars/{id}/history)"
        ))
        .with_member("field", "version".into()));
    };
    let week = *past.week();
    let expected_version = etag::expected_version(parts, &cal)?;
    let expected = App::expected(&cal, expected_version, Some(&principal));
    let owned_id = id.to_owned();
    let updated = app
        .commit(id, "restoring the pattern", move |store| {
            store.commit(&owned_id, expected, &Change::SetWeek(week))
        })
        .await?;
    Ok(response::written(
        StatusCode::OK,
        serde_json::json!({ "restored": version }),
        &updated,
    ))
}
