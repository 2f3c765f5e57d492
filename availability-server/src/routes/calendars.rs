//! `/calendars` and `/calendars/{id}`: create, list, read, re-zone and delete calendars.

use http::{Response, StatusCode};
use serde::Deserialize;

use crate::auth::{self, Need};
use crate::ctx::Ctx;
use crate::idempotency::{self, Keyed};

use crate::render;
use crate::wire::listing::{self, Page};
use crate::wire::query::{self, Query};
use std::sync::Arc;

use crate::app::App;
use crate::store::{Calendar, Change, Expected, KeyHash, MAX_BATCH};
use crate::wire::body::{self, RequestBody};
use crate::wire::response::{self, to_bytes};
use crate::wire::{etag, Body, Problem, Result};

/// The body of `POST /calendars`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCalendar {
    id: String,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    booking: Option<String>,
    /// Whether to make the calendar's first key (the default, except in a batch); `false`
    /// for calendars written with admin keys, or given keys later (`POST
    /// /calendars/{id}/keys`).
    #[serde(default)]
    key: Option<bool>,
}

/// The body of `POST /calendars:batch`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCalendars {
    calendars: Vec<NewCalendar>,
}

/// The body of `PATCH /calendars/{id}`: at least one of them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarChange {
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    booking: Option<String>,
}

/// Whether a `"booking"` policy is public: `"public"` (anyone may book) or `"key"` (a key
/// of the calendar is needed).
fn booking_public(policy: &str) -> Result<bool> {
    match policy {
        "public" => Ok(true),
        "key" => Ok(false),
        other => Err(Problem::bad_request(format!(
            "booking {:?}: the booking policy is \"public\" (anyone may book) or \"key\" \
             (a key of the calendar is needed)",
            other.chars().take(40).collect::<String>()
        ))),
    }
}

/// `"public"` or `"key"`.
fn policy(cal: &Calendar) -> &'static str {
    if cal.booking_public() {
        "public"
    } else {
        "key"
    }
}

/// `{ "id", "timezone", "version", "updated", "booking" }`.
fn describe(cal: &Calendar) -> serde_json::Value {
    serde_json::json!({
        "id": cal.id(),
        "timezone": cal.zone(),
        "version": cal.version(),
        "updated": render::utc_instant(cal.changed_at_unix_ms())
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned()),
        "booking": policy(cal),
    })
}

/// GET /calendars?limit=&after= (admin): the calendars in id order, a page at a time, each
/// as `GET /calendars/{id}` describes it, with the link to the next page (`wire::listing`).
/// The values of `limit` and `after` are checked after the key, so a caller without the
/// admin key learns nothing but that it needs one.
pub(super) async fn list(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    let (app, parts) = (cx.app, cx.parts);
    let query = Query::parse(parts.uri.query(), listing::PARAMETERS)?;
    app.authorize(cx.client, parts, Need::Admin).await?;
    let page = Page::of(&query, "calendar")?;
    let found = app.store.list_after(page.after, page.wanted());
    Ok(page.answer(
        parts,
        ("/calendars", "calendars"),
        &found,
        |cal| cal.id(),
        |cal| describe(cal),
    ))
}

/// GET /calendars/{id} (anyone): id, owner zone, version, last change. (A browser asking
/// for HTML gets the week as a page: the route table's page for this path.)
pub(super) fn get(cx: &Ctx<'_>) -> Result<Response<Body>> {
    Query::parse(cx.parts.uri.query(), &[])?;
    let cal = cx.app.calendar(cx.param(0))?;
    let mut response = response::document(cx.parts, to_bytes(&describe(&cal)), Some(&cal));
    response::vary_accept(&mut response);
    Ok(response)
}

/// POST /calendars (admin): a new calendar and its first key, shown once; without a key
/// (no bcrypt) with `"key": false`.
pub(super) async fn create(cx: Ctx<'_>, body: RequestBody) -> Result<Response<Body>> {
    let (app, parts) = (cx.app, cx.parts);
    Query::parse(parts.uri.query(), &[])?;
    idempotency::key(parts)?;
    let principal = app.authorize(cx.client, parts, Need::Admin).await?;
    let bytes = body::read_json(app.body, parts, body).await?;
    let running = match idempotency::start_keyed(&cx, &principal, &bytes)? {
        Keyed::Repeat(mut response, answer) => {
            if let Some(id) = answer["calendar"].as_str() {
                idempotency::locate(&mut response, &format!("/calendars/{id}"));
            }
            return Ok(response);
        }
        Keyed::Fresh(running) => running,
    };
    let new: NewCalendar = body::parse_json(&bytes, "calendar ({\"id\", \"timezone\"})")?;
    availability_core::store::check_id(&new.id).map_err(|e| Problem::bad_request(e.to_string()))?;
    let zone = query::zone(new.timezone.as_deref().unwrap_or("UTC"))?;
    let public = new.booking.as_deref().map(booking_public).transpose()?;
    if app.store.contains(&new.id) {
        return Err(Problem::conflict(format!(
            "a calendar {:?} exists; pick another id",
            new.id
        )));
    }
    let key = if new.key.unwrap_or(true) {
        let key = auth::generate().map_err(|e| Problem::internal("generating a key", e))?;
        let hash = app.auth.hash(key.token.clone()).await?;
        let stored = KeyHash::new(key.id.clone(), hash)
            .map_err(|e| Problem::internal("storing a new key", e))?;
        Some((key, stored))
    } else {
        None
    };
    let id = new.id.clone();
    let by = principal.authority();
    let sealing = running.as_ref().map(idempotency::Remember::sealing);
    let (created, answer) = app
        .commit(&new.id, "creating the calendar", move |store| {
            let keys = key
                .as_ref()
                .map(|(_, stored)| stored.clone())
                .into_iter()
                .collect();
            let created = store.create(&id, zone.name(), keys, &by)?;
            let created = match public {
                Some(true) => {
                    // Only this creation of the id: one deleted and made again meanwhile is
                    // left alone.
                    let expected = Expected {
                        incarnation: Some(created.incarnation()),
                        ..Expected::default()
                    };
                    store.commit(&id, expected, &Change::SetBookingPublic(true))?
                }
                _ => created,
            };
            let mut fields = serde_json::json!({
                "timezone": created.zone(),
                "booking": policy(&created),
            });
            if let Some((key, _)) = &key {
                fields["key_id"] = key.id.clone().into();
                fields["key"] = key.token.clone().into();
            }
            let answer = response::written_body(fields, &created);
            if let Some(sealing) = &sealing {
                idempotency::remember_keyed(store, sealing, 201, &answer, Some(created.state()));
            }
            Ok((created, answer))
        })
        .await?;
    drop(running);
    app.auth.index(&created);
    let mut response = response::written_bytes(StatusCode::CREATED, answer, &created);
    idempotency::locate(&mut response, &format!("/calendars/{}", created.id()));
    Ok(response)
}

/// POST /calendars:batch (admin): up to [`MAX_BATCH`] calendars in one durable commit, all
/// or none, without keys (admin keys write them; `POST /calendars/{id}/keys` makes theirs):
/// `{"calendars": [{"id", "timezone", "booking"}, ...]}` as `POST /calendars` takes them
/// (`"key"` may only be `false`). 201 with `{"created": N, "calendars": [ids]}` in the order
/// given; `Idempotency-Key` honoured.
pub(super) async fn batch(cx: Ctx<'_>, body: RequestBody) -> Result<Response<Body>> {
    let (app, parts) = (cx.app, cx.parts);
    Query::parse(parts.uri.query(), &[])?;
    idempotency::key(parts)?;
    let principal = app.authorize(cx.client, parts, Need::Admin).await?;
    let bytes = body::read_json(app.body, parts, body).await?;
    let running = match idempotency::start_keyed(&cx, &principal, &bytes)? {
        Keyed::Repeat(response, _) => return Ok(response),
        Keyed::Fresh(running) => running,
    };
    let new: NewCalendars =
        body::parse_json(&bytes, "calendars ({\"calendars\": [{\"id\"}, ...]})")?;
    if new.calendars.is_empty() || new.calendars.len() > MAX_BATCH {
        return Err(Problem::unprocessable(format!(
            "{} calendars: a batch creates 1 to {MAX_BATCH}",
            new.calendars.len()
        ))
        .with_member("field", "calendars".into()));
    }
    let mut batch = Vec::with_capacity(new.calendars.len());
    for (i, one) in new.calendars.into_iter().enumerate() {
        let wrong = |what: &str, detail: &str| {
            Problem::unprocessable(format!("calendars[{i}]: {detail}"))
                .with_member("field", format!("calendars[{i}].{what}").into())
        };
        if one.key == Some(true) {
            return Err(wrong(
                "key",
                "a batch makes no keys, which is what makes it fast: send \"key\": false, and \
                 make keys later with POST /calendars/{id}/keys",
            ));
        }
        availability_core::store::check_id(&one.id).map_err(|e| wrong("id", &e.to_string()))?;
        let zone = query::zone(one.timezone.as_deref().unwrap_or("UTC"))
            .map_err(|e| wrong("timezone", e.detail()))?;
        let public = one
            .booking
            .as_deref()
            .map(booking_public)
            .transpose()
            .map_err(|e| wrong("booking", e.detail()))?;
        batch.push(availability_core::store::NewCalendar {
            id: one.id,
            zone: zone.name().to_owned(),
            booking_public: public == Some(true),
        });
    }
    let by = principal.authority();
    let sealing = running.as_ref().map(idempotency::Remember::sealing);
    let first = batch[0].id.clone();
    let ids: Vec<String> = batch.iter().map(|new| new.id.clone()).collect();
    let answer = app
        .commit(&first, "creating the calendars", move |store| {
            let created = store.create_batch(&batch, &by)?;
            let answer = to_bytes(&serde_json::json!({
                "created": created.len(),
                "calendars": created.iter().map(|c| c.id()).collect::<Vec<_>>(),
            }));
            if let Some(sealing) = &sealing {
                idempotency::remember_keyed(store, sealing, 201, &answer, None);
            }
            Ok(answer)
        })
        .await?;
    drop(running);
    // A group may name a calendar before it exists: its answers go with each new member.
    // (The commit has woken the event streams.)
    for id in &ids {
        app.cache.forget(id);
    }
    Ok(response::json(StatusCode::CREATED, answer))
}

/// PATCH /calendars/{id} (its write key): change the owner's zone, the booking policy, or
/// both. The stored wall-clock week stays as written, so "09:00-17:00" stays 09:00-17:00 in
/// the new zone.
pub(super) async fn patch(cx: Ctx<'_>, body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id) = (cx.app, cx.parts, cx.param(0));
    Query::parse(parts.uri.query(), &[])?;
    let cal = app.calendar(id)?;
    let principal = app.authorize(cx.client, parts, Need::Calendar(id)).await?;
    let bytes = body::read_json(app.body, parts, body).await?;
    let change: CalendarChange = body::parse_json(
        &bytes,
        "calendar change ({\"timezone\"}, {\"booking\"} or both)",
    )?;
    let zone = change.timezone.as_deref().map(query::zone).transpose()?;
    let public = change.booking.as_deref().map(booking_public).transpose()?;
    if zone.is_none() && public.is_none() {
        return Err(Problem::bad_request(
            "a calendar change names \"timezone\", \"booking\" or both",
        ));
    }
    let version = etag::expected_version(parts, &cal)?;
    let expected = App::expected(&cal, version, Some(&principal));
    let owned_id = id.to_owned();
    let updated = app
        .commit(id, "changing the calendar", move |store| {
            let mut updated: Option<Arc<Calendar>> = None;
            if let Some(zone) = zone {
                let change = Change::SetZone(zone.name().to_owned());
                updated = Some(store.commit(&owned_id, expected.clone(), &change)?);
            }
            if let Some(public) = public {
                let expected = Expected {
                    version: updated
                        .as_ref()
                        .map_or(expected.version, |u| Some(u.version())),
                    ..expected
                };
                let change = Change::SetBookingPublic(public);
                updated = Some(store.commit(&owned_id, expected, &change)?);
            }
            Ok(updated)
        })
        .await?
        .ok_or_else(|| Problem::bad_request("nothing to change"))?;
    Ok(response::written(
        StatusCode::OK,
        serde_json::json!({ "timezone": updated.zone(), "booking": policy(&updated) }),
        &updated,
    ))
}

/// DELETE /calendars/{id} (admin).
pub(super) async fn delete(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id) = (cx.app, cx.parts, cx.param(0));
    Query::parse(parts.uri.query(), &[])?;
    let cal = app.calendar(id)?;
    let principal = app.authorize(cx.client, parts, Need::Admin).await?;
    // Checked here for a quick answer, and again by the store under its writer lock, so a
    // change committed in between is not deleted unseen, nor a calendar created again since.
    let version = etag::expected_version(parts, &cal)?;
    let expected = App::expected(&cal, version, Some(&principal));
    let owned_id = id.to_owned();
    app.commit(id, "deleting the calendar", move |store| {
        store.delete(&owned_id, expected)
    })
    .await?;
    app.auth.unindex(&cal);
    Ok(response::no_content())
}
