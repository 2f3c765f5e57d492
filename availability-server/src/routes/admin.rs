//! `/admin/keys`: list, issue and revoke the admin keys kept in the store.
//!
//! Admin keys from the configuration (`admin_keys`) are listed too, but only the
//! configuration removes them. The last admin key is never removed: nobody could administer
//! the server after it (a restart would make a new one, but only for whoever reads the log).

use http::{Response, StatusCode};
use serde::Deserialize;

use crate::auth::{self, Need};
use crate::ctx::Ctx;
use crate::idempotency::{self, Keyed};
use crate::store::KeyHash;
use crate::wire::body::{self, RequestBody};
use crate::wire::query::Query;
use crate::wire::{response, Body, Problem, Result};

/// The optional body of `POST /admin/keys`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    #[serde(default)]
    label: Option<String>,
}

/// `created` of a key: RFC 3339, or null when unknown.
pub(super) fn created(key: &KeyHash) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(key.created_unix_ms())
        .filter(|_| key.created_unix_ms() > 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// GET /admin/keys (admin): every admin key's id, label, creation time and where it is kept
/// (`store` or `configuration`); never a secret or a hash.
pub(super) async fn list(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    let (app, parts) = (cx.app, cx.parts);
    Query::parse(parts.uri.query(), &[])?;
    app.authorize(cx.client, parts, Need::Admin).await?;
    let mut keys: Vec<serde_json::Value> = app
        .auth
        .configured_admin_ids()
        .into_iter()
        .map(|id| {
            serde_json::json!({
                "key_id": id,
                "label": null,
                "created": null,
                "source": "configuration",
            })
        })
        .collect();
    keys.extend(app.store.admin_keys().iter().map(|key| {
        serde_json::json!({
            "key_id": key.id(),
            "label": key.label(),
            "created": created(key),
            "source": "store",
        })
    }));
    Ok(response::document(
        parts,
        response::to_bytes(&serde_json::json!({ "keys": keys })),
        None,
    ))
}

/// POST /admin/keys (admin): a new admin key, shown once; an optional body `{"label"}`.
pub(super) async fn create(cx: Ctx<'_>, body: RequestBody) -> Result<Response<Body>> {
    let (app, parts) = (cx.app, cx.parts);
    Query::parse(parts.uri.query(), &[])?;
    idempotency::key(parts)?;
    let principal = app.authorize(cx.client, parts, Need::Admin).await?;
    let bytes = body::read_optional_json(app.body, parts, body).await?;
    let running = match idempotency::start_keyed(&cx, &principal, &bytes)? {
        Keyed::Repeat(response, _) => return Ok(response),
        Keyed::Fresh(running) => running,
    };
    let new: NewKey = body::parse_optional_json(&bytes, "admin key request ({\"label\"})")?;
    let key = auth::generate().map_err(|e| Problem::internal("generating a key", e))?;
    let stored = app.hash_new_key(&key, None, new.label.clone()).await?;
    let created_at = created(&stored);
    let by = principal.authority();
    let sealing = running.as_ref().map(idempotency::Remember::sealing);
    let answer = app
        .commit("", "adding an admin key", move |store| {
            store.add_admin_key(stored, &by)?;
            let answer = response::to_bytes(&serde_json::json!({
                "key_id": key.id,
                "key": key.token,
                "label": new.label,
                "created": created_at,
            }));
            if let Some(sealing) = &sealing {
                idempotency::remember_keyed(store, sealing, 201, &answer, None);
            }
            Ok(answer)
        })
        .await?;
    drop(running);
    Ok(response::json(StatusCode::CREATED, answer))
}

/// DELETE /admin/keys/{key_id} (admin): the key stops working at once. A key from the
/// configuration, and the last admin key, are refused with 409.
pub(super) async fn delete(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, key_id) = (cx.app, cx.parts, cx.param(0));
    Query::parse(parts.uri.query(), &[])?;
    let principal = app.authorize(cx.client, parts, Need::Admin).await?;
    if app.auth.is_configured_admin(key_id) {
        return Err(Problem::conflict(format!(
            "admin key {key_id:?} is set in the configuration (admin_keys); remove it there \
             and restart"
        )));
    }
    if app.store.admin_key(key_id).is_none() {
        return Err(Problem::not_found(format!(
            "no admin key with id {:?}",
            key_id.chars().take(40).collect::<String>()
        )));
    }
    // With an admin key in the configuration, the store's last one may go.
    let keep_one = app.auth.configured_admin_ids().is_empty();
    let (by, owned_key) = (principal.authority(), key_id.to_owned());
    app.commit("", "revoking an admin key", move |store| {
        store.revoke_admin_key(&owned_key, &by, keep_one)
    })
    .await?;
    Ok(response::no_content())
}
