//! `/groups/{id}`: named groups of calendars, and when all of their members are free.

use http::{Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Need;
use crate::ctx::Ctx;
use crate::wire::body::{self, RequestBody};
use crate::wire::query::Query;
use crate::wire::{response, Body, Problem, Result};

/// A group's definition, as `PUT` takes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Definition {
    members: Vec<String>,
}

/// GET `/groups/{id}` (anyone): the group's members. (A browser asking for HTML gets the
/// group's week as a page: the route table's page for this path.)
pub(super) fn get(cx: &Ctx<'_>) -> Result<Response<Body>> {
    let group = cx.app.group(cx.param(0))?;
    Query::parse(cx.parts.uri.query(), &[])?;
    let body = json!({ "id": group.id(), "members": group.members() });
    let mut response = response::document(cx.parts, response::to_bytes(&body), None);
    response::vary_accept(&mut response);
    Ok(response)
}

/// PUT `/groups/{id}` (admin key): create or replace the group with `{"members": [...]}`,
/// 1 to 1,000 distinct calendars that exist.
pub(super) async fn put(cx: Ctx<'_>, body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id) = (cx.app, cx.parts, cx.param(0));
    Query::parse(parts.uri.query(), &[])?;
    let by = app
        .authorize(cx.client, parts, Need::Admin)
        .await?
        .authority();
    let bytes = body::read_json(app.body, parts, body).await?;
    let definition: Definition = body::parse_json(&bytes, "group ({\"members\": [...]})")?;
    // Every member must exist now (a later deletion makes the group's answers 404, naming it).
    for member in &definition.members {
        if !app.store.contains(member) {
            return Err(Problem::not_found(format!(
                "no calendar {:?}: a group's members are calendars that exist",
                member.chars().take(80).collect::<String>()
            )));
        }
    }
    let owned_id = id.to_owned();
    let members = definition.members;
    let (group, new) = app
        .commit(id, "saving the group", move |store| {
            store.put_group_by(&owned_id, members, &by)
        })
        .await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = response::json(
        status,
        response::to_bytes(&json!({ "id": group.id(), "members": group.members() })),
    );
    if new {
        if let Ok(location) = http::HeaderValue::from_str(&format!("/groups/{}", group.id())) {
            response
                .headers_mut()
                .insert(http::header::LOCATION, location);
        }
    }
    Ok(response)
}

/// DELETE `/groups/{id}` (admin key).
pub(super) async fn delete(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    let (app, parts, id) = (cx.app, cx.parts, cx.param(0));
    Query::parse(parts.uri.query(), &[])?;
    let by = app
        .authorize(cx.client, parts, Need::Admin)
        .await?
        .authority();
    let owned_id = id.to_owned();
    app.commit(id, "removing the group", move |store| {
        store.delete_group_by(&owned_id, &by)
    })
    .await?;
    Ok(response::no_content())
}
