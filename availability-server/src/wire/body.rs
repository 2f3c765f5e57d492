//! Request bodies: read whole, under a size cap and a time limit, and parsed as JSON.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, EXPECT, TRANSFER_ENCODING};
use http::request::Parts;
use http::StatusCode;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use hyper::body::{Frame, SizeHint};

use super::{Problem, Result};

/// The error of a request body, whatever the transport.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body, boxed once when a handler needs it (reads never touch theirs).
pub type RequestBody = UnsyncBoxBody<Bytes, BoxError>;

/// Boxes a body that announces no data (`declared` is false): nothing to watch or drain.
pub fn boxed<B>(body: B) -> RequestBody
where
    B: hyper::body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    body.map_err(Into::into).boxed_unsync()
}

/// Boxes a body that announces data, for the handler, and keeps a hold on it: once the
/// handler has answered, [`Leftover::drain`] (HTTP/1.1) or [`Leftover::discard`] (HTTP/2)
/// reads what it left unread, so that an answer given before the body was read (401, 403,
/// 404, 415, 429, ...) does not cut the connection, or the stream, while the client is still
/// sending.
pub fn hold<B>(body: B) -> (RequestBody, Leftover<B>)
where
    B: hyper::body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    let slot = Arc::new(std::sync::Mutex::new(Some(body)));
    let ended = Arc::new(AtomicBool::new(false));
    let touched = Arc::new(AtomicBool::new(false));
    let watched = Watched {
        slot: Arc::clone(&slot),
        ended: Arc::clone(&ended),
        touched: Arc::clone(&touched),
    };
    let leftover = Leftover {
        slot,
        ended,
        touched,
    };
    (watched.map_err(Into::into).boxed_unsync(), leftover)
}

/// The hold [`hold`] keeps on a request body.
pub struct Leftover<B> {
    slot: Arc<std::sync::Mutex<Option<B>>>,
    ended: Arc<AtomicBool>,
    /// The handler began reading it: what it left is what it refused (too large, too slow),
    /// not to be read again.
    touched: Arc<AtomicBool>,
}

impl<B> std::fmt::Debug for Leftover<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leftover")
            .field("ended", &self.ended.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<B> Leftover<B>
where
    B: hyper::body::Body<Data = Bytes> + Send + Unpin + 'static,
{
    /// Whether the body has been read to its end: at once when the handler read it, or after
    /// reading it here when the handler answered without touching it, when its announced
    /// length is at most [`DRAIN_BYTES`] and it arrives within `timeout`. `false` when it is
    /// larger or slower, or when the handler stopped reading it part way: the connection must
    /// then close.
    ///
    /// For HTTP/1.1, before its answer is sent: see [`Leftover::discard`] for HTTP/2.
    pub async fn drain(self, timeout: Duration) -> bool {
        if self.ended.load(Ordering::Relaxed) {
            return true;
        }
        if self.touched.load(Ordering::Relaxed) {
            return false;
        }
        let Some(mut body) = self.take() else {
            return false;
        };
        // Only a body of announced length within the bound: a larger one, or one of unknown
        // length, is not worth its transfer.
        if body.size_hint().upper().is_none_or(|n| n > DRAIN_BYTES) {
            return false;
        }
        tokio::time::timeout(timeout, read_out(&mut body))
            .await
            .unwrap_or(false)
    }

    /// For HTTP/2: reads and drops what the handler left of the body, up to [`DRAIN_BYTES`]
    /// and until `deadline`, then lets the stream go. A body the handler did not touch, of
    /// announced length within the bound, is read before the answer: this returns once it has
    /// been. Any other (larger, of no announced length, or left part way by the handler, as a
    /// 413 of a body with no length is) is read by a task of its own, beside the answer, which
    /// goes out at once; so is one whose client `expects_continue` ([`expects_continue`]),
    /// since it waits for an answer before it sends.
    ///
    /// An HTTP/2 answer may end its stream before the request has (RFC 9113, section 8.1);
    /// the server then resets the stream's request side with `NO_ERROR`. A client still
    /// sending may take that reset for a failure of the whole request: curl 7.88 with nghttp2
    /// drops an answer it has already received and reports "Stream error in the HTTP/2
    /// framing layer". Read first, a body ends before its answer and the stream with it, with
    /// no reset at all. Read beside the answer, a body keeps its stream open until the client
    /// has sent it all or has seen the answer and stopped sending (curl stops at an error
    /// status, and ends its side of the stream); only a body past the bound, or one still
    /// arriving at the deadline, has its stream reset under it, after the answer.
    ///
    /// Reading first avoids a race that reading beside cannot: a client that stops sending
    /// short of the length it announced breaks that announcement, so h2 resets the stream
    /// (`PROTOCOL_ERROR`) and drops whatever of the answer it has not yet written, which can
    /// be all but its head.
    pub async fn discard(self, deadline: tokio::time::Instant, expects_continue: bool) {
        if self.ended.load(Ordering::Relaxed) {
            return;
        }
        let Some(mut body) = self.take() else {
            return;
        };
        let first = !expects_continue
            && !self.touched.load(Ordering::Relaxed)
            && body.size_hint().upper().is_some_and(|n| n <= DRAIN_BYTES);
        // Dropping the body once it is read, or past the bound or the deadline, releases the
        // stream.
        let rest = async move {
            let _ = tokio::time::timeout_at(deadline, read_out(&mut body)).await;
        };
        if first {
            rest.await;
        } else {
            tokio::spawn(rest);
        }
    }

    /// The body, taken from the handler's side (which reads nothing more).
    fn take(&self) -> Option<B> {
        self.slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

/// Reads `body` to its end and drops what it reads; `false` past [`DRAIN_BYTES`] of data, or
/// on an error.
async fn read_out<B>(body: &mut B) -> bool
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let mut left = DRAIN_BYTES;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return false };
        if let Ok(chunk) = frame.into_data() {
            match left.checked_sub(chunk.len() as u64) {
                Some(l) => left = l,
                None => return false,
            }
        }
    }
    true
}

/// Whether the client waits for an answer before it sends the body (`Expect: 100-continue`).
/// hyper sends the interim 100 over HTTP/1.1 when the body is first read, but not over
/// HTTP/2: there the client sends once its wait times out (curl after a second), and a body
/// read before the answer would hold the answer that long.
pub fn expects_continue(parts: &Parts) -> bool {
    parts
        .headers
        .get(EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// Whether the request has a body: its head says so (a length above zero, or a transfer
/// coding), or its `body` has not ended, as an HTTP/2 request's body, which needs no length,
/// may not have.
pub fn declared<B: hyper::body::Body>(parts: &Parts, body: &B) -> bool {
    !body.is_end_stream()
        || parts.headers.contains_key(TRANSFER_ENCODING)
        || parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

/// A held body that says when it has been read from, and when to its end.
struct Watched<B> {
    slot: Arc<std::sync::Mutex<Option<B>>>,
    ended: Arc<AtomicBool>,
    touched: Arc<AtomicBool>,
}

impl<B: hyper::body::Body + Unpin> hyper::body::Body for Watched<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Self::Data>, Self::Error>>> {
        let mut slot = self
            .slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(inner) = slot.as_mut() else {
            return Poll::Ready(None);
        };
        self.touched.store(true, Ordering::Relaxed);
        let polled = Pin::new(&mut *inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || inner.is_end_stream() {
            self.ended.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .is_none_or(hyper::body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .map_or_else(SizeHint::default, hyper::body::Body::size_hint)
    }
}

/// How much of a body is read, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// The largest body read, in bytes.
    pub max_bytes: usize,
    /// Time for the body to arrive once the head has.
    pub timeout: Duration,
}

/// The most of an announced body that is still read, and dropped, when its request is answered
/// without it (a 413 over the cap, a 401, a 404, ...).
/// Most clients send the whole body before they read an answer: a server that answers early
/// and closes leaves their body unread, and a TLS connection closed with data unread is reset,
/// so such a client sees a broken connection instead of the answer. Reading the body (within the
/// body's time limit) lets it see the answer, and keeps the connection usable; a body larger
/// than this is not worth its transfer, and its connection is closed with notice. Over HTTP/2
/// the bound is on what is read beside the answer, of a body of any length; past it, the
/// stream is reset.
const DRAIN_BYTES: u64 = 1 << 20;

/// Whether the request's `Content-Type` is `media_type` (any case, parameters aside).
pub fn has_type(parts: &Parts, media_type: &str) -> bool {
    parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(media_type))
}

/// Whether the request's `Content-Type` is JSON (`application/json` or `application/*+json`).
pub fn has_json_type(parts: &Parts) -> bool {
    parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| {
            v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
        })
}

/// Reads a JSON body.
///
/// # Errors
///
/// 415 unless the content type is JSON; 413 past the limit (checked while reading, since a
/// chunked body announces no length); 408 when it takes too long; 400 when it cannot be read.
pub async fn read_json(limits: BodyLimits, parts: &Parts, body: RequestBody) -> Result<Bytes> {
    if !has_json_type(parts) {
        return Err(Problem::unsupported_media_type());
    }
    read(limits, parts, body).await
}

/// Reads a body whose content type the caller has checked, under the same limits as
/// [`read_json`].
///
/// # Errors
///
/// As [`read_json`], less the 415.
pub async fn read(limits: BodyLimits, parts: &Parts, body: RequestBody) -> Result<Bytes> {
    let announced = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = limits.max_bytes;
    if announced.is_some_and(|n| n > limit as u64) {
        // Refused untouched: the router reads a body of up to [`DRAIN_BYTES`] after the
        // answer (`Leftover::drain`), so its sender sees the 413.
        return Err(Problem::too_large(limit));
    }
    // Bytes are counted as frames arrive, and the first frame past the limit fails the read,
    // so a chunked body is never buffered beyond it. The timeout stops a body trickled byte by
    // byte from holding the request (and its connection) open.
    match tokio::time::timeout(limits.timeout, collect(body, limit)).await {
        Ok(result) => result,
        Err(_) => Err(Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} s; send it at once",
                limits.timeout.as_secs()
            ),
        )),
    }
}

/// The data of `body`, or 413 as soon as it passes `limit` bytes.
async fn collect(mut body: RequestBody, limit: usize) -> Result<Bytes> {
    let mut data = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| {
            Problem::bad_request(format!("the request body could not be read: {err}"))
        })?;
        if let Ok(chunk) = frame.into_data() {
            if data.len() + chunk.len() > limit {
                return Err(Problem::too_large(limit));
            }
            data.extend_from_slice(&chunk);
        }
    }
    Ok(data.freeze())
}

/// Reads a JSON body that may be left out: no `Content-Type` is no body (empty bytes);
/// otherwise as [`read_json`].
///
/// # Errors
///
/// As [`read_json`].
pub async fn read_optional_json(
    limits: BodyLimits,
    parts: &Parts,
    body: RequestBody,
) -> Result<Bytes> {
    if parts.headers.contains_key(CONTENT_TYPE) {
        read_json(limits, parts, body).await
    } else {
        Ok(Bytes::new())
    }
}

/// [`parse_json`] for a body that may be left out: empty or blank is `T::default()`.
///
/// # Errors
///
/// As [`parse_json`].
pub fn parse_optional_json<T: serde::de::DeserializeOwned + Default>(
    bytes: &[u8],
    what: &str,
) -> Result<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_json(bytes, what)
    }
}

/// Parses a JSON body into `T`, with serde's message (it names the line and column).
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|err| Problem::bad_request(format!("the body is not a valid {what}: {err}")))
}
