//! `/groups` and `/groups/{id}`: named groups of calendars, listed, read, defined and
//! removed. (When all of a group's members are free is `overlap`'s.)

use http::{Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Need;
use crate::ctx::Ctx;
use crate::store::Group;
use crate::wire::body::{self, RequestBody};
use crate::wire::listing::{self, Page};
use crate::wire::problem::shown;
use crate::wire::query::Query;
use crate::wire::{response, Body, Problem, Result};

/// A group's definition, as `PUT` takes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Definition {
    members: Vec<String>,
}

/// `{ "id", "members" }`: a group as every answer about it describes it.
fn describe(group: &Group) -> serde_json::Value {
    json!({ "id": group.id(), "members": group.members() })
}

/// GET `/groups?limit=&after=` (admin): the groups in id order, a page at a time, each as
/// `GET /groups/{id}` describes it, with the link to the next page (`wire::listing`).
///
/// Reading one group stays open to anyone: knowing its id is what lets one read it. A
/// listing is another thing: it names every group and every member calendar of each, what
/// `GET /calendars` shows to the admin key alone. So it needs that key too, checked as
/// there: after the query's names (an unknown one is a 400 to anyone) and before the values
/// of `limit` and `after`, so a caller without the admin key learns only that it needs one.
pub(super) async fn list(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    let (app, parts) = (cx.app, cx.parts);
    let query = Query::parse(parts.uri.query(), listing::PARAMETERS)?;
    app.authorize(cx.client, parts, Need::Admin).await?;
    let page = Page::of(&query, "group")?;
    let found = app.store.groups_after(page.after, page.wanted());
    Ok(page.answer(
        parts,
        ("/groups", "groups"),
        &found,
        |group| group.id(),
        |group| describe(group),
    ))
}

/// GET `/groups/{id}` (anyone): the group's members. (A browser asking for HTML gets the
/// group's week as a page: the route table's page for this path.)
pub(super) fn get(cx: &Ctx<'_>) -> Result<Response<Body>> {
    let group = cx.app.group(cx.param(0))?;
    Query::parse(cx.parts.uri.query(), &[])?;
    let body = describe(&group);
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
                shown(member)
            )));
        }
    }
    let owned_id = id.to_owned();
    let members = definition.members;
    let (group, new) = app
        .commit(id, "saving the group", move |store| {
            store.put_group(&owned_id, members, &by)
        })
        .await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = response::json(status, response::to_bytes(&describe(&group)));
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
        store.delete_group(&owned_id, &by)
    })
    .await?;
    Ok(response::no_content())
}
