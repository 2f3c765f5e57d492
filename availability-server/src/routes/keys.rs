//! `/calendars/{id}/keys`: list, issue and revoke calendar keys.

use http::{Response, StatusCode};
use serde::Deserialize;

use crate::app::App;
use crate::auth::{self, Need};
use crate::ctx::Ctx;
use crate::idempotency::{self, Keyed};
use crate::render;
use crate::store::{Change, KeyScope};
use crate::wire::body::{self, RequestBody};
use crate::wire::query::Query;
use crate::wire::{etag, response, Body, Problem, Result};

/// The optional body of `POST /calendars/{id}/keys`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    label: Option<String>,
}

/// GET /calendars/{id}/keys (its write key or admin): the keys' ids, scopes, labels and
/// creation times; never a secret or a hash.
pub(super) async fn list(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id) = (cx.app, cx.parts, cx.param(0));
    Query::parse(parts.uri.query(), &[])?;
    app.calendar(id)?;
    app.authorize(cx.client, parts, Need::Calendar(id)).await?;
    // Read after the key check, which may have waited.
    let cal = app.calendar(id)?;
    let keys: Vec<serde_json::Value> = cal
        .keys()
        .iter()
        .map(|key| {
            let created = render::key_created(key.created_unix_ms());
            serde_json::json!({
                "key_id": key.id(),
                "scope": key.scope().as_str(),
                "label": key.label(),
                "created": created,
            })
        })
        .collect();
    let body = serde_json::json!({ "calendar": cal.id(), "keys": keys });
    Ok(response::document(
        parts,
        response::to_bytes(&body),
        Some(&cal),
    ))
}

/// POST /calendars/{id}/keys (its write key or admin): a new key, shown once. An optional
/// body `{"scope": "write" | "book", "label"}` makes a `book` key (bookings only) or labels
/// it; without one the key is a write key.
pub(super) async fn create(cx: Ctx<'_>, body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id) = (cx.app, cx.parts, cx.param(0));
    Query::parse(parts.uri.query(), &[])?;
    let cal = app.calendar(id)?;
    idempotency::key(parts)?;
    let principal = app.authorize(cx.client, parts, Need::Calendar(id)).await?;
    let bytes = body::read_optional_json(app.body, parts, body).await?;
    let running = match idempotency::start_keyed(&cx, &principal, &bytes)? {
        Keyed::Repeat(response, _) => return Ok(response),
        Keyed::Fresh(running) => running,
    };
    let new: NewKey = body::parse_optional_json(&bytes, "key request ({\"scope\", \"label\"})")?;
    let scope = match new.scope.as_deref() {
        None | Some("write") => KeyScope::Write,
        Some("book") => KeyScope::Book,
        Some(other) => {
            return Err(Problem::bad_request(format!(
                "scope {:?}: a key's scope is \"write\" or \"book\"",
                other.chars().take(40).collect::<String>()
            )))
        }
    };
    let version = etag::expected_version(parts, &cal)?;
    let expected = App::expected(&cal, version, Some(&principal));
    let key = auth::generate().map_err(|e| Problem::internal("generating a key", e))?;
    let stored = app
        .hash_new_key(&key, Some(scope), new.label.clone())
        .await?;
    let owned_id = id.to_owned();
    let sealing = running.as_ref().map(idempotency::Remember::sealing);
    let (updated, answer) = app
        .commit(id, "adding a key", move |store| {
            let updated = store.commit(&owned_id, expected, &Change::AddKey(stored))?;
            let answer = response::written_body(
                serde_json::json!({
                    "key_id": key.id,
                    "key": key.token,
                    "scope": scope.as_str(),
                    "label": new.label,
                }),
                &updated,
            );
            if let Some(sealing) = &sealing {
                idempotency::remember_keyed(store, sealing, 201, &answer, Some(updated.state()));
            }
            Ok((updated, answer))
        })
        .await?;
    drop(running);
    app.auth.index(&updated);
    Ok(response::written_bytes(
        StatusCode::CREATED,
        answer,
        &updated,
    ))
}

/// DELETE /calendars/{id}/keys/{key_id} (its key or admin): the key stops working at once.
pub(super) async fn delete(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id, key_id) = (cx.app, cx.parts, cx.param(0), cx.param(1));
    Query::parse(parts.uri.query(), &[])?;
    let cal = app.calendar(id)?;
    let principal = app.authorize(cx.client, parts, Need::Calendar(id)).await?;
    if cal.key(key_id).is_none() {
        return Err(Problem::not_found(format!(
            "calendar {id:?} has no key with id {:?}",
            key_id.chars().take(40).collect::<String>()
        )));
    }
    let version = etag::expected_version(parts, &cal)?;
    let expected = App::expected(&cal, version, Some(&principal));
    let (owned_id, owned_key) = (id.to_owned(), key_id.to_owned());
    app.commit(id, "revoking a key", move |store| {
        store.commit(&owned_id, expected, &Change::RemoveKey(owned_key))
    })
    .await?;
    app.auth.unindex_key(id, key_id);
    Ok(response::no_content())
}
