//! `/calendars/{id}/keys`: issue and revoke calendar keys.

use bytes::Bytes;
use http::request::Parts;
use http::{Response, StatusCode};

use super::{blocking, calendar, expected_version, written, Result};
use crate::app::App;
use crate::auth::{self, Need};
use crate::problem::{Body, Problem};
use crate::query::Query;
use crate::store::{Change, KeyHash};

/// POST /calendars/{id}/keys (its key or admin): a new key, shown once.
pub(super) async fn create(app: &App, parts: &Parts, id: &str) -> Result<Response<Body>> {
    Query::parse(parts.uri.query(), &[])?;
    let cal = calendar(app, id)?;
    super::authorize(app, parts, Need::Calendar(id)).await?;
    let expected = expected_version(parts, cal.version())?;
    let key = auth::generate().map_err(|e| Problem::internal("generating a key", e))?;
    let hash = app.auth.hash(key.token.clone()).await?;
    let stored = KeyHash::new(key.id.clone(), hash)
        .map_err(|e| Problem::internal("storing a new key", e))?;
    let owned_id = id.to_owned();
    let updated = blocking(app, "adding a key", move |store| {
        store.commit(&owned_id, expected, &Change::AddKey(stored))
    })
    .await?;
    app.auth.index(&updated);
    Ok(written(
        StatusCode::CREATED,
        serde_json::json!({ "key_id": key.id, "key": key.token }),
        updated.id(),
        updated.version(),
    ))
}

/// DELETE /calendars/{id}/keys/{key_id} (its key or admin): the key stops working at once.
pub(super) async fn delete(
    app: &App,
    parts: &Parts,
    id: &str,
    key_id: &str,
) -> Result<Response<Body>> {
    Query::parse(parts.uri.query(), &[])?;
    let cal = calendar(app, id)?;
    super::authorize(app, parts, Need::Calendar(id)).await?;
    if cal.key(key_id).is_none() {
        return Err(Problem::not_found(format!(
            "calendar {id:?} has no key with id {:?}",
            key_id.chars().take(40).collect::<String>()
        )));
    }
    let expected = expected_version(parts, cal.version())?;
    let (owned_id, owned_key) = (id.to_owned(), key_id.to_owned());
    let updated = blocking(app, "revoking a key", move |store| {
        store.commit(&owned_id, expected, &Change::RemoveKey(owned_key))
    })
    .await?;
    app.auth.index(&updated);
    let mut response = Response::new(http_body_util::Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}
