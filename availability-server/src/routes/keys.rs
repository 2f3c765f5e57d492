//! `/calendars/{id}/keys`: issue and revoke calendar keys.

use http::{Response, StatusCode};

use super::Ctx;
use crate::auth::{self, Need};
use crate::query::Query;
use crate::store::{Change, KeyHash};
use crate::wire::body::RequestBody;
use crate::wire::{etag, response, Body, Problem, Result};

/// POST /calendars/{id}/keys (its key or admin): a new key, shown once.
pub(super) async fn create(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id) = (cx.app, cx.parts, cx.param(0));
    Query::parse(parts.uri.query(), &[])?;
    let cal = app.calendar(id)?;
    app.authorize(cx.client, parts, Need::Calendar(id)).await?;
    let expected = etag::expected_version(parts, &cal)?;
    let key = auth::generate().map_err(|e| Problem::internal("generating a key", e))?;
    let hash = app.auth.hash(key.token.clone()).await?;
    let stored = KeyHash::new(key.id.clone(), hash)
        .map_err(|e| Problem::internal("storing a new key", e))?;
    let owned_id = id.to_owned();
    let updated = app
        .commit(id, "adding a key", move |store| {
            store.commit(&owned_id, expected, &Change::AddKey(stored))
        })
        .await?;
    app.auth.index(&updated);
    Ok(response::written(
        StatusCode::CREATED,
        serde_json::json!({ "key_id": key.id, "key": key.token }),
        &updated,
    ))
}

/// DELETE /calendars/{id}/keys/{key_id} (its key or admin): the key stops working at once.
pub(super) async fn delete(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id, key_id) = (cx.app, cx.parts, cx.param(0), cx.param(1));
    Query::parse(parts.uri.query(), &[])?;
    let cal = app.calendar(id)?;
    app.authorize(cx.client, parts, Need::Calendar(id)).await?;
    if cal.key(key_id).is_none() {
        return Err(Problem::not_found(format!(
            "calendar {id:?} has no key with id {:?}",
            key_id.chars().take(40).collect::<String>()
        )));
    }
    let expected = etag::expected_version(parts, &cal)?;
    let (owned_id, owned_key) = (id.to_owned(), key_id.to_owned());
    let updated = app
        .commit(id, "revoking a key", move |store| {
            store.commit(&owned_id, expected, &Change::RemoveKey(owned_key))
        })
        .await?;
    app.auth.index(&updated);
    Ok(response::no_content())
}
