//! The shapes of answers: JSON documents, the result of a write, an empty success.

use bytes::Bytes;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, ETAG, VARY};
use http::request::Parts;
use http::{Response, StatusCode};

use super::etag::{self, Tag};
use super::Body;
use crate::store::Calendar;

/// A JSON response with these bytes.
pub fn json(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Body::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The bytes of a JSON value, with a final newline.
pub fn to_bytes(value: &serde_json::Value) -> Vec<u8> {
    let mut bytes = value.to_string().into_bytes();
    bytes.push(b'\n');
    bytes
}

/// A small JSON read that is not cached (a calendar's description, a listing): tagged by its
/// bytes (and the calendar's state, when it is one calendar's), answering `If-None-Match`.
pub fn document(parts: &Parts, body: Vec<u8>, calendar: Option<&Calendar>) -> Response<Body> {
    let tag = Tag::of_bytes(calendar.map(Calendar::state), &body);
    let mut response = if etag::not_modified(parts, &[tag.as_str().as_bytes()]) {
        let mut r = Response::new(Body::new(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        json(StatusCode::OK, body)
    };
    let headers = response.headers_mut();
    headers.insert(ETAG, tag.into());
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(VARY, HeaderValue::from_static("Authorization"));
    response
}

/// Says that the answer depends on `Accept` too: a path that answers a page to a browser
/// and JSON to everyone else.
pub fn vary_accept(response: &mut Response<Body>) {
    let vary = match response.headers().get(VARY).and_then(|v| v.to_str().ok()) {
        Some(v) => format!("{v}, Accept"),
        None => "Accept".to_owned(),
    };
    if let Ok(value) = HeaderValue::from_str(&vary) {
        response.headers_mut().insert(VARY, value);
    }
}

/// The JSON `{ ..., "calendar", "version" }` of a successful write to `calendar`, tagged
/// with its state.
pub fn written(status: StatusCode, body: serde_json::Value, calendar: &Calendar) -> Response<Body> {
    written_bytes(status, written_body(body, calendar), calendar)
}

/// The body [`written`] answers: `body` with the calendar's id and version.
pub fn written_body(mut body: serde_json::Value, calendar: &Calendar) -> Vec<u8> {
    if let Some(object) = body.as_object_mut() {
        object.insert("calendar".into(), calendar.id().into());
        object.insert("version".into(), calendar.version().into());
    }
    to_bytes(&body)
}

/// [`written`] for a body already made by [`written_body`].
pub fn written_bytes(status: StatusCode, body: Vec<u8>, calendar: &Calendar) -> Response<Body> {
    let mut response = json(status, body);
    response
        .headers_mut()
        .insert(ETAG, HeaderValue::from(Tag::state(calendar.state())));
    response
}

/// 204: done, nothing to say.
pub fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::new(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}
