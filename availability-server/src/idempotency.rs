//! `Idempotency-Key` on `POST` requests that create something: a booking, a calendar, a key.
//!
//! A request with the header is remembered by its principal (the key id, or `client:<addr>`
//! without a key), its key, and a fingerprint: SHA-256 of the method, the path and the body.
//! The store keeps the answer with the change it made, in the same journal record, for 24
//! hours, so a repeat gets the same status and body again and makes no second change, also
//! after a restart. The same key with another fingerprint is 422; a repeat that arrives while
//! the first is still being answered is 409.
//!
//! An answer that shows a new key (a calendar's first key, a calendar key, an admin key) is
//! remembered with the key's secret sealed ([`seal`]): only a repeat with the same token opens
//! it. Such an answer is remembered right after the change that created the key, in the same
//! blocking call but as a journal record of its own: a crash between the two leaves the key
//! created and the answer forgotten, and the repeat is then answered as a new request (409
//! for a calendar id now taken; a second key, for a key; the first can be listed and revoked).

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Mutex;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, ETAG, LOCATION};
use http::request::Parts;
use http::{Response, StatusCode};

use crate::auth::{self, Principal};
use crate::ctx::Ctx;
use crate::store::{Answer, IdempotencyKey, Remembered, Storage, Store};
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

/// The requests with an idempotency key being answered now, by (principal, key): a repeat
/// that arrives meanwhile is 409. The one piece of idempotency state that is not durable;
/// the answers themselves are kept by the store, with the change they answer.
#[derive(Debug, Default)]
pub struct Answering {
    running: Mutex<HashSet<(String, String)>>,
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
pub fn start<'a>(
    answering: &'a Answering,
    store: &Store,
    parts: &Parts,
    principal: String,
    body: &[u8],
) -> Result<Start<'a>> {
    let Some(key) = key(parts)? else {
        return Ok(Start::Fresh(None));
    };
    let fingerprint = fingerprint(parts, body);
    let entry = (principal.clone(), key.to_owned());
    {
        let mut running = answering.running.lock().unwrap_or_else(|e| e.into_inner());
        if !running.insert(entry.clone()) {
            return Err(Problem::conflict(
                "a request with this Idempotency-Key is still being answered; retry once it \
                 has been",
            ));
        }
    }
    let running = Running {
        set: &answering.running,
        entry,
        key: IdempotencyKey {
            key: key.to_owned(),
            principal,
            fingerprint,
            expires_ms: now_ms().saturating_add(TTL_MS),
        },
    };
    match store.remembered(&running.key.principal, key) {
        Some(answer) if answer.fingerprint == fingerprint => Ok(Start::Repeat(answer)),
        Some(_) => Err(reused()),
        None => Ok(Start::Fresh(Some(running))),
    }
}

/// The answer to a key used before for another request.
pub fn reused() -> Problem {
    Problem::unprocessable(
        "this Idempotency-Key was used for another request (another method, path or body); \
         use a new key for a new request",
    )
}

/// A remembered response: its status and JSON body, with the `ETag` of the calendar state it
/// showed: `state` as kept, or (kept without it, by an earlier version) the version the body
/// names of the calendar's creation `incarnation`.
pub fn replay(
    status: u16,
    body: Vec<u8>,
    state: Option<(u64, u64)>,
    incarnation: u64,
) -> Response<Body> {
    let state = state.or_else(|| {
        serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["version"].as_u64())
            .map(|version| (incarnation, version))
    });
    let mut response = Response::new(Body::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(state) = state {
        headers.insert(ETAG, HeaderValue::from(etag::Tag::state(state)));
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

/// What to do with a `POST` whose answer shows a new key.
#[derive(Debug)]
pub enum Keyed<'a> {
    /// Answer it; with `Some`, remember the answer with [`remember_keyed`].
    Fresh(Option<Remember<'a>>),
    /// A repeat: the first answer again, its key opened by this request's token; and that
    /// answer's JSON, for headers that derive from it.
    Repeat(Response<Body>, serde_json::Value),
}

/// A running request whose answer shows a new key, and the token to seal the key with.
#[derive(Debug)]
pub struct Remember<'a> {
    running: Running<'a>,
    token: String,
}

impl Remember<'_> {
    /// What the blocking commit needs to remember the answer: the key it is remembered by,
    /// and the sealing token. The request stays running (a repeat is 409) while `self` lives.
    pub fn sealing(&self) -> (IdempotencyKey, String) {
        (self.running.key.clone(), self.token.clone())
    }
}

/// Starts a `POST` of `principal` whose answer shows a new key, as [`start`] does.
///
/// # Errors
///
/// As [`start`]; 422 when a remembered answer cannot be opened with this request's token.
pub(crate) fn start_keyed<'a>(
    cx: &Ctx<'a>,
    principal: &Principal,
    body: &[u8],
) -> Result<Keyed<'a>> {
    let (app, parts) = (cx.app, cx.parts);
    let token = auth::request_token(&parts.headers).unwrap_or_default();
    match start(
        &app.answering,
        &app.store,
        parts,
        self::principal(Some(principal), parts, cx.client),
        body,
    )? {
        Start::Fresh(running) => Ok(Keyed::Fresh(running.map(|running| Remember {
            running,
            token: token.to_owned(),
        }))),
        Start::Repeat(answer) => {
            let opened = unseal(token, &answer).ok_or_else(|| {
                Problem::unprocessable(
                    "the answer remembered for this Idempotency-Key cannot be opened with this \
                     key; use a new Idempotency-Key",
                )
            })?;
            let json = serde_json::from_slice(&opened).unwrap_or_default();
            let mut response = Response::new(Body::new(Bytes::from(opened)));
            if let Answer::Response { status, state, .. } = answer.answer {
                *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
                if let Some(state) = state {
                    response
                        .headers_mut()
                        .insert(ETAG, HeaderValue::from(etag::Tag::state(state)));
                }
            }
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            Ok(Keyed::Repeat(response, json))
        }
    }
}

/// Remembers `body`, the answer of a request started by [`start_keyed`], its key sealed, with
/// `state`, the calendar state it showed (its `ETag`), if any; to be called in the blocking
/// commit, right after the change. Not remembering is not a failure of the request (the
/// change is made, and its answer is the one to give): it is logged, and a repeat is then
/// answered as a new request.
pub fn remember_keyed(
    store: &Storage,
    sealing: &(IdempotencyKey, String),
    status: u16,
    body: &[u8],
    state: Option<(u64, u64)>,
) {
    let (key, token) = sealing;
    let answer = Answer::Response {
        status,
        body: seal(token, key, body),
        state,
    };
    if let Err(err) = store.remember(key, answer) {
        tracing::warn!(%err, "an answer with a new key was not remembered for its Idempotency-Key");
    }
}

/// The prefix of a sealed key in a remembered answer.
const SEALED: &str = "sealed:";

/// The answer to remember for `body`, an answer that shows a new key once (`"key"`): the key's
/// secret (after its last `_`) is sealed first, XORed with a keystream of HMAC-SHA256 keyed
/// by the token the request was authorized with and bound to the idempotency key and the
/// request's fingerprint. The journal then never holds a usable key, and only a repeat that
/// presents the same token (which the store does not keep either) can open it again. A body
/// without a key is remembered as it is.
pub fn seal(token: &str, remembered: &IdempotencyKey, body: &[u8]) -> Vec<u8> {
    convert(token, remembered, body, Direction::Seal).unwrap_or_else(|| body.to_vec())
}

/// The answer a repeat gets from a remembered `answer` that [`seal`] made: the key opened
/// with the repeat's `token` (the same token, since the principal is the same key). `None`
/// when the answer cannot be opened (it then says nothing usable to this requester), or is
/// not a response.
pub fn unseal(token: &str, answer: &Remembered) -> Option<Vec<u8>> {
    let Answer::Response { body, .. } = &answer.answer else {
        return None;
    };
    let key = IdempotencyKey {
        key: answer.key.clone(),
        principal: answer.principal.clone(),
        fingerprint: answer.fingerprint,
        expires_ms: answer.expires_ms,
    };
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    match value.get("key").and_then(serde_json::Value::as_str) {
        Some(k) if k.contains(SEALED) => convert(token, &key, body, Direction::Open),
        _ => Some(body.clone()),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Seal,
    Open,
}

/// Seals or opens the secret of the `"key"` of a JSON object `body`.
fn convert(
    token: &str,
    remembered: &IdempotencyKey,
    body: &[u8],
    way: Direction,
) -> Option<Vec<u8>> {
    let mut value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let shown = value.get("key")?.as_str()?;
    let cut = shown.rfind('_')? + 1;
    let (head, secret) = shown.split_at(cut);
    let input: Vec<u8> = match way {
        Direction::Seal => secret.as_bytes().to_vec(),
        Direction::Open => hex_decode(secret.strip_prefix(SEALED)?)?,
    };
    let stream = keystream(token, remembered, input.len());
    let output: Vec<u8> = input.iter().zip(stream).map(|(a, b)| a ^ b).collect();
    let secret = match way {
        Direction::Seal => format!("{SEALED}{}", hex_encode(&output)),
        Direction::Open => String::from_utf8(output).ok()?,
    };
    value["key"] = serde_json::Value::String(format!("{head}{secret}"));
    let mut out = serde_json::to_vec(&value).ok()?;
    // What followed the object (the answers end with a newline), byte for byte.
    let trailing = body.len() - body.trim_ascii_end().len();
    out.extend_from_slice(&body[body.len() - trailing..]);
    Some(out)
}

/// `len` bytes of HMAC-SHA256(`token`; a label, the idempotency key, the fingerprint and a
/// block counter).
fn keystream(token: &str, remembered: &IdempotencyKey, len: usize) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, token.as_bytes());
    let mut out = Vec::with_capacity(len + 32);
    let mut block = 0u32;
    while out.len() < len {
        let mut ctx = ring::hmac::Context::with_key(&key);
        ctx.update(b"availability idempotent answer\n");
        ctx.update(remembered.key.as_bytes());
        ctx.update(b"\n");
        ctx.update(&remembered.fingerprint);
        ctx.update(&block.to_be_bytes());
        out.extend_from_slice(ctx.sign().as_ref());
        block += 1;
    }
    out.truncate(len);
    out
}

fn hex_encode(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remembered(body: &[u8]) -> (IdempotencyKey, Remembered) {
        let key = IdempotencyKey {
            key: "retry-7".to_owned(),
            principal: "key:0123456789ab".to_owned(),
            fingerprint: [7; 32],
            expires_ms: 1,
        };
        let answer = Remembered {
            key: key.key.clone(),
            principal: key.principal.clone(),
            fingerprint: key.fingerprint,
            expires_ms: key.expires_ms,
            answer: Answer::Response {
                status: 201,
                body: seal("avk_0123456789ab_token", &key, body),
                state: None,
            },
        };
        (key, answer)
    }

    #[test]
    fn a_sealed_key_opens_with_the_same_token_only() {
        let body = b"{\"calendar\":\"bob\",\"key\":\"avk_5a8cf6e8d136_3acfa4a81c673036fc7d78173a0071f28da0287711d1a82f\",\"version\":1}\n";
        let (_, answer) = remembered(body);
        let Answer::Response { body: stored, .. } = &answer.answer else {
            panic!("a response");
        };
        let stored = String::from_utf8(stored.clone()).expect("JSON");
        assert!(
            !stored.contains("3acfa4a81c673036"),
            "the secret is in the journal: {stored}"
        );
        assert!(stored.contains("avk_5a8cf6e8d136_sealed:"), "{stored}");
        assert_eq!(
            unseal("avk_0123456789ab_token", &answer).as_deref(),
            Some(&body[..])
        );
        let other = unseal("avk_0123456789ab_other", &answer).map(String::from_utf8);
        assert!(
            !matches!(&other, Some(Ok(text)) if text.contains("3acfa4a81c673036")),
            "another token opened it: {other:?}"
        );
    }

    #[test]
    fn answers_without_a_key_are_kept_as_they_are() {
        let body = br#"{"id":"1","calendar":"room"}"#;
        let (_, answer) = remembered(body);
        assert!(matches!(&answer.answer, Answer::Response { body: kept, .. } if kept == body));
        assert_eq!(unseal("anything", &answer).as_deref(), Some(&body[..]));
    }
}
