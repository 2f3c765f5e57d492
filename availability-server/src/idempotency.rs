//! `Idempotency-Key` on `POST` requests that create something (a booking).
//!
//! A request with the header is remembered by its principal (the key id, or `client:<addr>`
//! without a key), its key, and a fingerprint: SHA-256 of the method, the path and the body.
//! The store keeps the answer with the change it made, in the same journal record, for 24
//! hours, so a repeat gets the same status and body again and makes no second change, also
//! after a restart. The same key with another fingerprint is 422; a repeat that arrives while
//! the first is still being answered is 409.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Mutex;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, ETAG, LOCATION};
use http::request::Parts;
use http::{Response, StatusCode};

use crate::app::App;
use crate::auth::{self, Principal};
use crate::store::{IdempotencyKey, Remembered};
use crate::wire::{etag, Body, Problem, Result};

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// How long an answer is remembered.
pub const TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// The longest key.
const MAX_KEY: usize = 255;

/// The request's `Idempotency-Key`, if it sends one.
///
/// # Errors
///
/// 400 unless it is 1 to 255 characters of printable ASCII, given once.
pub fn key(parts: &Parts) -> Result<Option<&str>> {
    let mut values = parts.headers.get_all(HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let shape = || {
        Problem::bad_request(
            "Idempotency-Key is 1 to 255 characters of printable ASCII, given once \
             (for example a UUID)",
        )
    };
    if values.next().is_some() {
        return Err(shape());
    }
    let text = value.to_str().map_err(|_| shape())?;
    if text.is_empty()
        || text.len() > MAX_KEY
        || !text.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
    {
        return Err(shape());
    }
    Ok(Some(text))
}

/// Who a remembered answer belongs to: the key's id, or the client's address without a key.
pub fn principal(principal: Option<&Principal>, parts: &Parts, client: IpAddr) -> String {
    match principal.and_then(|_| auth::request_key_id(&parts.headers)) {
        Some(id) => format!("key:{id}"),
        None => format!("client:{client}"),
    }
}

/// SHA-256 of the method, the path and the body.
pub fn fingerprint(parts: &Parts, body: &[u8]) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(parts.method.as_str().as_bytes());
    ctx.update(b"\n");
    ctx.update(parts.uri.path().as_bytes());
    ctx.update(b"\n");
    ctx.update(body);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// A request with an idempotency key, being answered: while it lives, a repeat is 409.
#[derive(Debug)]
pub struct Running<'a> {
    set: &'a Mutex<HashSet<(String, String)>>,
    entry: (String, String),
    /// What the store remembers the answer by.
    pub key: IdempotencyKey,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.entry);
    }
}

/// What to do with a request: answer it (remembering the answer when it has a key), or give
/// the remembered answer again.
#[derive(Debug)]
pub enum Start<'a> {
    /// Answer it; with `Some`, under this idempotency key.
    Fresh(Option<Running<'a>>),
    /// A repeat: the answer the first one got.
    Repeat(Remembered),
}

/// Starts a request of `principal` with body `body`.
///
/// # Errors
///
/// 400 for a malformed key; 409 while a request with the same key is being answered; 422
/// when the key was used for another request.
pub fn start<'a>(app: &'a App, parts: &Parts, principal: String, body: &[u8]) -> Result<Start<'a>> {
    let Some(key) = key(parts)? else {
        return Ok(Start::Fresh(None));
    };
    let fingerprint = fingerprint(parts, body);
    let entry = (principal.clone(), key.to_owned());
    {
        let mut running = app
            .idempotent_running
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if !running.insert(entry.clone()) {
            return Err(Problem::conflict(
                "a request with this Idempotency-Key is still being answered; retry once it \
                 has been",
            ));
        }
    }
    let running = Running {
        set: &app.idempotent_running,
        entry,
        key: IdempotencyKey {
            key: key.to_owned(),
            principal,
            fingerprint,
            expires_ms: now_ms().saturating_add(TTL_MS),
        },
    };
    match app.store.remembered(&running.key.principal, key) {
        Some(answer) if answer.fingerprint == fingerprint => Ok(Start::Repeat(answer)),
        Some(_) => Err(Problem::unprocessable(
            "this Idempotency-Key was used for another request (another method, path or \
             body); use a new key for a new request",
        )),
        None => Ok(Start::Fresh(Some(running))),
    }
}

/// The remembered answer as a response: its status and JSON body, with the `ETag` of the
/// version it names of the calendar's creation `incarnation`.
pub fn replay(answer: &Remembered, incarnation: u64) -> Response<Body> {
    let mut response = Response::new(Body::new(Bytes::from(answer.body.clone())));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let version = serde_json::from_slice::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|v| v["version"].as_u64());
    if let Some(version) = version {
        headers.insert(
            ETAG,
            HeaderValue::from(etag::Tag::state((incarnation, version))),
        );
    }
    response
}

/// Sets `Location` when `path` is a valid header value.
pub fn locate(response: &mut Response<Body>, path: &str) {
    if let Ok(value) = HeaderValue::from_str(path) {
        response.headers_mut().insert(LOCATION, value);
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
