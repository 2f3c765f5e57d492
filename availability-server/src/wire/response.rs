//! The shapes of answers: every read's answer ([`read`]: coding negotiation, the conditional
//! 304, `Vary`, `Cache-Control` and the pages' security fields, in one place), JSON documents,
//! the result of a write, an empty success.

use bytes::Bytes;
use http::header::{
    HeaderMap, HeaderValue, ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG,
    VARY,
};
use http::request::Parts;
use http::{Response, StatusCode};

use super::coding::Encoding;
use super::etag::{self, Tag};
use super::Body;
use crate::store::Calendar;

/// The policy of every page: only this origin's script, style and connections; no plugins,
/// frames, or forms sent elsewhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
    frame-ancestors 'none'";

/// What a read's answer is, for the fields that say how it may be kept and what it varies
/// with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Data for programs (JSON, CSV, iCalendar), the same for every caller: varies with
    /// `Accept-Encoding`.
    Data,
    /// A small document that may depend on who asks (a listing): varies with
    /// `Authorization`.
    Document,
    /// A page for people, or its script or style: the security fields, and varies with
    /// `Accept` (the same path answers JSON to programs) and `Accept-Encoding`.
    Page,
}

/// A representation a read can answer with.
pub trait Entity {
    /// The body in the best coding of those `wanted` that the entity has, and that coding.
    fn encoded(&self, wanted: Encoding) -> (Bytes, Encoding);
    /// The entity tag of the body in `encoding` (each coding is its own representation).
    fn tag(&self, encoding: Encoding) -> &HeaderValue;
    /// Its `Content-Type`.
    fn content_type(&self) -> HeaderValue;
    /// What it is.
    fn kind(&self) -> Kind;
}

/// The header fields of a read's answer, besides `Content-Encoding`: `Content-Type`, `ETag`,
/// `Vary`, `Cache-Control`, and the rate limit's `RateLimit-Policy` and `RateLimit`; a page
/// has three more.
const READ_FIELDS: usize = 6;

/// The answer to a read of `entity`: 304 when the client holds the representation it would
/// get (or the unencoded one), else the body in the best coding the client accepts.
pub fn read(parts: &Parts, entity: &impl Entity) -> Response<Body> {
    let wanted = Encoding::negotiate(
        parts
            .headers
            .get_all(ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    let (bytes, encoding) = entity.encoded(wanted);
    let tag = entity.tag(encoding);
    let identity = entity.tag(Encoding::Identity);
    let fresh = etag::not_modified(parts, &[tag.as_bytes(), identity.as_bytes()]);
    let mut response = Response::new(Body::new(if fresh { Bytes::new() } else { bytes }));
    let kind = entity.kind();
    // Room for every field of the answer, the rate limit's two included: a map that has to
    // grow on the way costs as much as the rest of a cached read, and one too large costs
    // almost as much.
    let fields = READ_FIELDS
        + usize::from(encoding.header().is_some())
        + if kind == Kind::Page { 3 } else { 0 };
    *response.headers_mut() = HeaderMap::with_capacity(fields);
    if fresh {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
    }
    let headers = response.headers_mut();
    if !fresh {
        headers.insert(CONTENT_TYPE, entity.content_type());
        if let Some(coding) = encoding.header() {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static(coding));
        }
    }
    headers.insert(ETAG, tag.clone());
    const ACCEPT_ENCODING_VARIES: HeaderValue = HeaderValue::from_static("Accept-Encoding");
    const AUTHORIZATION_VARIES: HeaderValue = HeaderValue::from_static("Authorization");
    match kind {
        Kind::Data => {
            headers.insert(VARY, ACCEPT_ENCODING_VARIES);
        }
        Kind::Document => {
            headers.insert(VARY, AUTHORIZATION_VARIES);
        }
        Kind::Page => secure(headers),
    }
    // Clients may keep the body but must revalidate: it changes whenever its data does.
    const NO_CACHE: HeaderValue = HeaderValue::from_static("no-cache");
    headers.insert(CACHE_CONTROL, NO_CACHE);
    response
}

/// A body rendered for one answer and not kept: one representation, tagged by its bytes (and
/// by a calendar's state, when it is one calendar's).
#[derive(Debug)]
pub struct Plain {
    body: Bytes,
    tag: HeaderValue,
    content_type: HeaderValue,
    kind: Kind,
}

impl Plain {
    /// `body`, of `content_type`, tagged by its bytes and `state`.
    pub fn new(
        body: Vec<u8>,
        content_type: HeaderValue,
        state: Option<etag::State>,
        kind: Kind,
    ) -> Plain {
        let tag = Tag::of_bytes(state, &body).into();
        Plain {
            body: Bytes::from(body),
            tag,
            content_type,
            kind,
        }
    }
}

impl Entity for Plain {
    fn encoded(&self, _wanted: Encoding) -> (Bytes, Encoding) {
        (self.body.clone(), Encoding::Identity)
    }

    fn tag(&self, _encoding: Encoding) -> &HeaderValue {
        &self.tag
    }

    fn content_type(&self) -> HeaderValue {
        self.content_type.clone()
    }

    fn kind(&self) -> Kind {
        self.kind
    }
}

/// Adds the fields every page and page asset carries: the policy, no sniffing, no referrer,
/// and that the answer depends on `Accept`.
fn secure(headers: &mut HeaderMap) {
    headers.insert("content-security-policy", HeaderValue::from_static(CSP));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert(VARY, HeaderValue::from_static("Accept, Accept-Encoding"));
}

/// An uncached page of `status` (a problem's, for a browser), with the pages' security
/// fields.
pub fn page(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut response = typed(
        status,
        body,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(response.headers_mut());
    response
}

/// A JSON response with these bytes.
pub fn json(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    typed(status, body, HeaderValue::from_static("application/json"))
}

/// An uncached answer of `status` with these bytes of this content type: writes and problems
/// (cached reads, documents and pages are [`read`]'s).
pub fn typed(status: StatusCode, body: Vec<u8>, content_type: HeaderValue) -> Response<Body> {
    let mut response = Response::new(Body::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, content_type);
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
    const JSON: HeaderValue = HeaderValue::from_static("application/json");
    let state = calendar.map(Calendar::state);
    read(parts, &Plain::new(body, JSON, state, Kind::Document))
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
