//! What goes over the wire, for every handler: request bodies read under a cap, the entity
//! tags and the preconditions that compare them, content codings, the shapes of answers
//! (JSON documents, the result of a write, problems), and listings a page at a time.
//!
//! Each format has one owner here: the module that writes an entity tag is the one that
//! parses it back from `If-Match`, so the two cannot drift apart. Nothing here knows the
//! routes or the store; handlers call down into it and it never calls back up.

pub mod body;
pub mod client;
pub mod coding;
pub mod cors;
pub mod etag;
pub mod listing;
pub mod problem;
pub mod query;
pub mod request_id;
pub mod response;

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use http_body_util::Full;
use hyper::body::{Frame, SizeHint};

pub use problem::Problem;

/// A response body: a complete buffer (every answer but one is rendered once and cached, or
/// small), or a stream of chunks for the one that is not, the event stream.
pub struct Body(Inner);

enum Inner {
    Full(Full<Bytes>),
    Stream {
        chunks: Pin<Box<dyn Stream<Item = Bytes> + Send>>,
        /// Kept until the stream ends or is dropped: what the server holds for a request in
        /// flight, so a connection that streams is not closed as idle.
        _held: Option<Box<dyn Send>>,
    },
}

impl Body {
    /// A complete body of these bytes.
    pub fn new(bytes: impl Into<Bytes>) -> Body {
        Body(Inner::Full(Full::new(bytes.into())))
    }

    /// No bytes.
    pub fn empty() -> Body {
        Body::new(Bytes::new())
    }

    /// A body sent chunk by chunk as `chunks` yields them; it ends when they do.
    pub fn stream(chunks: impl Stream<Item = Bytes> + Send + 'static) -> Body {
        Body(Inner::Stream {
            chunks: Box::pin(chunks),
            _held: None,
        })
    }

    /// Whether the body is a stream (it may last long after its handler returned).
    pub fn is_stream(&self) -> bool {
        matches!(self.0, Inner::Stream { .. })
    }

    /// Keeps `held` alive as long as a streaming body (a complete body drops it at once).
    pub fn hold(&mut self, held: Box<dyn Send>) {
        if let Inner::Stream { _held, .. } = &mut self.0 {
            *_held = Some(held);
        }
    }
}

impl From<Full<Bytes>> for Body {
    fn from(full: Full<Bytes>) -> Body {
        Body(Inner::Full(full))
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Inner::Full(full) => f.debug_tuple("Body").field(full).finish(),
            Inner::Stream { .. } => f.write_str("Body(stream)"),
        }
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, Infallible>>> {
        match &mut self.get_mut().0 {
            Inner::Full(full) => Pin::new(full).poll_frame(cx),
            Inner::Stream { chunks, .. } => chunks
                .as_mut()
                .poll_next(cx)
                .map(|chunk| chunk.map(|bytes| Ok(Frame::data(bytes)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Inner::Full(full) => full.is_end_stream(),
            Inner::Stream { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Inner::Full(full) => full.size_hint(),
            Inner::Stream { .. } => SizeHint::default(),
        }
    }
}

/// What a handler returns; the error side becomes a problem response.
pub type Result<T> = std::result::Result<T, Problem>;
