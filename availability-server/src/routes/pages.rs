//! `/` and `/static/{file}`: the start page and the pages' script and style. The week pages
//! themselves answer `GET /calendars/{id}` and `GET /groups/{id}` asking for HTML.

use bytes::Bytes;
use http::header::{HeaderValue, LOCATION};
use http::{Response, StatusCode};

use crate::ctx::Ctx;
use crate::page;
use crate::wire::problem::shown;
use crate::wire::query::Query;
use crate::wire::response::{self, Kind, Plain};
use crate::wire::{Body, Problem, Result};

/// GET `/` (anyone): the start page; `?calendar=` or `?group=` (its forms) send the browser
/// on to that page.
pub(super) fn start(cx: &Ctx<'_>) -> Result<Response<Body>> {
    let query = Query::parse(cx.parts.uri.query(), &["calendar", "group"])?;
    let target = match (query.get("calendar"), query.get("group")) {
        (Some(id), None) => Some(("calendars", id)),
        (None, Some(id)) => Some(("groups", id)),
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err(Problem::bad_request("open a calendar or a group, not both"))
        }
    };
    if let Some((kind, id)) = target {
        availability_core::store::check_id(id).map_err(|e| Problem::bad_request(e.to_string()))?;
        let mut response = Response::new(Body::new(Bytes::new()));
        *response.status_mut() = StatusCode::SEE_OTHER;
        let location = HeaderValue::from_str(&format!("/{kind}/{id}"))
            .map_err(|e| Problem::bad_request(e.to_string()))?;
        response.headers_mut().insert(LOCATION, location);
        return Ok(response);
    }
    Ok(fixed(cx, page::start(), "text/html; charset=utf-8"))
}

/// GET `/static/{file}` (anyone): `app.js` or `app.css`.
pub(super) fn asset(cx: &Ctx<'_>) -> Result<Response<Body>> {
    Query::parse(cx.parts.uri.query(), &[])?;
    let (text, content_type) = match cx.param(0) {
        "app.js" => (page::SCRIPT, "text/javascript; charset=utf-8"),
        "app.css" => (page::STYLE, "text/css; charset=utf-8"),
        other => {
            return Err(Problem::not_found(format!(
                "no static file {:?}",
                shown(other)
            )))
        }
    };
    Ok(fixed(cx, text.as_bytes().to_vec(), content_type))
}

/// A fixed body, tagged by its bytes, with the pages' security fields.
fn fixed(cx: &Ctx<'_>, body: Vec<u8>, content_type: &'static str) -> Response<Body> {
    let content_type = HeaderValue::from_static(content_type);
    response::read(cx.parts, &Plain::new(body, content_type, None, Kind::Page))
}
