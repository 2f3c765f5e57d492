//! `/webhooks`: the endpoints events are sent to, made (the signing secret shown once),
//! listed, removed and tried; and each one's deliveries. An admin key covers every endpoint;
//! a write key of a calendar makes and manages endpoints of that calendar alone.

use std::sync::Arc;

use availability_core::store::{Attempt, EventKind, EventSet, Outcome, Webhook};
use bytes::Bytes;
use http::{Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{Need, Principal};
use crate::ctx::Ctx;
use crate::webhooks::net::Target;
use crate::webhooks::payload::instant_ms as instant;
use crate::webhooks::{now_ms, payload, sign, Webhooks};
use crate::wire::body::{self, RequestBody};
use crate::wire::problem::shown;
use crate::wire::query::Query;
use crate::wire::{response, Body, Problem, Result};

/// An endpoint as `POST /webhooks` takes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewWebhook {
    url: String,
    events: Vec<String>,
    #[serde(default)]
    calendars: Option<Vec<String>>,
}

/// The webhooks of this server, once they are set up.
fn webhooks<'a>(cx: &Ctx<'a>) -> Result<&'a Arc<Webhooks>> {
    cx.app
        .webhooks
        .get()
        .ok_or_else(|| Problem::unavailable("webhooks are not set up yet", 1))
}

fn invalid(field: &str, detail: impl Into<String>) -> Problem {
    Problem::unprocessable(detail).with_member("field", field.into())
}

/// POST `/webhooks` (an admin key; or a write key of the one calendar `calendars` names):
/// `{"url", "events": [...], "calendars": [...]?}` makes an endpoint and answers 201 with it
/// and its signing secret (`whsec_...`), shown this once.
pub(super) async fn create(cx: Ctx<'_>, body: RequestBody) -> Result<Response<Body>> {
    let (app, parts) = (cx.app, cx.parts);
    Query::parse(parts.uri.query(), &[])?;
    let hooks = webhooks(&cx)?;
    let bytes = body::read_json(app.body, parts, body).await?;
    let new: NewWebhook = body::parse_json(
        &bytes,
        "webhook ({\"url\": \"https://...\", \"events\": [...], \"calendars\": [...]})",
    )?;
    // One calendar named: its key may make it; otherwise only an admin key.
    let need = match new.calendars.as_deref() {
        Some([one]) => Need::Calendar(one),
        _ => Need::Admin,
    };
    let principal = app.authorize(cx.client, parts, need).await?;
    let target = Target::parse(&new.url).map_err(|why| invalid("url", why))?;
    if let Some(ip) = target.literal() {
        hooks
            .client
            .policy()
            .check(ip)
            .map_err(|why| invalid("url", why))?;
    }
    if new.url.len() > availability_core::store::MAX_URL {
        return Err(invalid("url", "a webhook URL is at most 2048 bytes"));
    }
    if new.events.is_empty() {
        return Err(invalid("events", "name at least one event"));
    }
    let mut kinds = Vec::new();
    for (i, name) in new.events.iter().enumerate() {
        let kind = EventKind::from_name(name).ok_or_else(|| {
            invalid(
                &format!("events[{i}]"),
                format!(
                    "no event {:?}: the events are {}",
                    shown(name),
                    EventKind::ALL.map(EventKind::name).join(", ")
                ),
            )
        })?;
        kinds.push(kind);
    }
    let calendars = new.calendars.unwrap_or_default();
    for (i, calendar) in calendars.iter().enumerate() {
        if !app.store.contains(calendar) {
            return Err(invalid(
                &format!("calendars[{i}]"),
                format!("no calendar {:?}", shown(calendar)),
            ));
        }
    }
    let owner = match &principal {
        Principal::Admin { .. } => None,
        Principal::Calendar { id, .. } => Some((id.clone(), app.calendar(id)?.incarnation())),
    };
    let id = new_id()?;
    let (secret, shown_secret) =
        sign::new_secret().map_err(|e| Problem::internal("making a secret", e))?;
    let sealed = hooks
        .sealer
        .seal(&id, &secret)
        .map_err(|e| Problem::internal("sealing the secret", e))?;
    let hook = Webhook::new(
        &id,
        &new.url,
        EventSet::of(kinds),
        calendars,
        owner,
        sealed,
        now_ms(),
    )
    .map_err(|e| invalid("calendars", e.to_string()))?;
    let key_check = hooks
        .sealer
        .check_made()
        .map_err(|e| Problem::internal("sealing the secret", e))?;
    let by = principal.authority();
    let hook = app
        .commit(&id, "saving the webhook", move |storage| {
            storage.create_webhook(hook, &by, &key_check)
        })
        .await?;
    let mut body = describe(&hook, 0);
    body["secret"] = shown_secret.into();
    let mut response = response::json(StatusCode::CREATED, response::to_bytes(&body));
    if let Ok(location) = http::HeaderValue::from_str(&format!("/webhooks/{id}")) {
        response
            .headers_mut()
            .insert(http::header::LOCATION, location);
    }
    Ok(response)
}

/// GET `/webhooks` (an admin key: every endpoint), or `/webhooks?calendar=` (a write key of
/// that calendar: the endpoints its keys made), each with the deliveries waiting for it.
pub(super) async fn list(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    let (app, parts) = (cx.app, cx.parts);
    let query = Query::parse(parts.uri.query(), &["calendar"])?;
    webhooks(&cx)?;
    let calendar = query.get("calendar");
    let need = calendar.map_or(Need::Admin, Need::Calendar);
    app.authorize(cx.client, parts, need).await?;
    let listed: Vec<Value> = app
        .storage
        .webhooks()
        .await
        .map_err(|e| Problem::of_core("reading the webhooks", e))?
        .iter()
        .filter(|(h, _)| calendar.is_none_or(|c| h.owner().is_some_and(|(own, _)| own == c)))
        .map(|(h, waiting)| describe(h, *waiting))
        .collect();
    let body = json!({ "webhooks": listed });
    Ok(response::json(StatusCode::OK, response::to_bytes(&body)))
}

/// The endpoint `id`, once the request's key covers it: an admin key, or a write key of
/// the calendar whose key made it.
async fn own(cx: &Ctx<'_>) -> Result<(Arc<Webhook>, Principal)> {
    let (app, parts, id) = (cx.app, cx.parts, cx.param(0));
    let hook = app
        .storage
        .webhook(id)
        .await
        .map_err(|e| Problem::of_core("reading the webhook", e))?;
    let need = match hook.as_ref().and_then(|h| h.owner()) {
        Some((calendar, _)) => Need::Calendar(calendar),
        None => Need::Admin,
    };
    // The key is checked before saying whether the endpoint exists.
    let principal = app.authorize(cx.client, parts, need).await?;
    let hook = hook.ok_or_else(|| Problem::not_found(format!("no webhook {:?}", shown(id))))?;
    Ok((hook, principal))
}

/// DELETE `/webhooks/{id}`: the endpoint and what waits for it go.
pub(super) async fn delete(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    Query::parse(cx.parts.uri.query(), &[])?;
    webhooks(&cx)?;
    let (hook, principal) = own(&cx).await?;
    let by = principal.authority();
    let id = hook.id().to_string();
    cx.app
        .commit(hook.id(), "removing the webhook", move |storage| {
            storage.delete_webhook(&id, &by)
        })
        .await?;
    Ok(response::no_content())
}

/// GET `/webhooks/{id}/deliveries`: the endpoint's last attempts (at most 100), newest
/// first, and how many events wait for it.
pub(super) async fn deliveries(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    Query::parse(cx.parts.uri.query(), &[])?;
    webhooks(&cx)?;
    let (hook, _) = own(&cx).await?;
    let (attempts, waiting) = cx
        .app
        .storage
        .deliveries(hook.id())
        .await
        .map_err(|e| Problem::of_core("reading the deliveries", e))?;
    let attempts: Vec<Value> = attempts.iter().rev().map(attempt).collect();
    let body = json!({
        "webhook": hook.id(),
        "waiting": waiting,
        "deliveries": attempts,
    });
    Ok(response::json(StatusCode::OK, response::to_bytes(&body)))
}

/// POST `/webhooks/{id}/test`: sends a `webhook.test` event now, signed as every delivery
/// is, and answers what the receiver did (not kept among the deliveries).
pub(super) async fn test(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    Query::parse(cx.parts.uri.query(), &[])?;
    let hooks = webhooks(&cx)?;
    let (hook, _) = own(&cx).await?;
    let target = Target::parse(hook.url()).map_err(|why| invalid("url", why))?;
    let key = hooks.sealer.open(hook.id(), hook.secret()).ok_or_else(|| {
        Problem::internal(
            "opening the webhook's secret",
            "it does not open with this server's webhook_key_file",
        )
    })?;
    let now = now_ms();
    let body = payload::test_body(hook.id(), now);
    let id = format!("test_{}", new_id()?);
    let headers = sign::headers(&key, &id, now.div_euclid(1000), &body);
    let started = std::time::Instant::now();
    let result = hooks
        .client
        .post(&target, &headers, Bytes::from(body))
        .await;
    let duration_ms = started.elapsed().as_millis() as u64;
    let body = match result {
        Ok(answer) => json!({
            "delivered": (200..300).contains(&answer.status),
            "status": answer.status,
            "duration_ms": duration_ms,
            "error": null,
        }),
        Err(failure) => json!({
            "delivered": false,
            "status": null,
            "duration_ms": duration_ms,
            "error": failure.to_string(),
        }),
    };
    Ok(response::json(StatusCode::OK, response::to_bytes(&body)))
}

/// An endpoint as every answer describes it (never its secret).
fn describe(hook: &Webhook, waiting: usize) -> Value {
    json!({
        "id": hook.id(),
        "url": hook.url(),
        "events": hook.events().kinds().map(EventKind::name).collect::<Vec<_>>(),
        "calendars": hook.calendars(),
        "created": instant(hook.created_unix_ms()),
        "failing_since": hook.failing_since_unix_ms().map(instant),
        "disabled": hook.disabled().map(|d| json!({
            "at": instant(d.at_ms),
            "reason": d.reason,
        })),
        "waiting": waiting,
    })
}

fn attempt(a: &Attempt) -> Value {
    json!({
        "event": payload::event_id(a.event),
        "type": a.kind.name(),
        "attempt": a.number,
        "at": instant(a.at_ms),
        "status": (a.status != 0).then_some(a.status),
        "duration_ms": a.duration_ms,
        "error": a.error,
        "outcome": match a.outcome {
            Outcome::Delivered => "delivered",
            Outcome::Retry => "retry",
            Outcome::GaveUp => "gave-up",
        },
    })
}

/// A new endpoint id: `wh-` and 16 random hexadecimal digits.
fn new_id() -> Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).map_err(|e| Problem::internal("making an id", e))?;
    Ok(format!(
        "wh-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}
