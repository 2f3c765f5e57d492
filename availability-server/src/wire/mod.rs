//! What goes over the wire, for every handler: request bodies read under a cap, the entity
//! tags and the preconditions that compare them, content codings, and the shapes of answers
//! (JSON documents, the result of a write, problems).
//!
//! Each format has one owner here: the module that writes an entity tag is the one that
//! parses it back from `If-Match`, so the two cannot drift apart. Nothing here knows the
//! routes or the store; handlers call down into it and it never calls back up.

pub mod body;
pub mod coding;
pub mod cors;
pub mod etag;
pub mod problem;
pub mod response;

use bytes::Bytes;
use http_body_util::Full;

pub use problem::Problem;

/// A response body: always a complete buffer, since every body this server sends is either
/// rendered once and cached or small.
pub type Body = Full<Bytes>;

/// What a handler returns; the error side becomes a problem response.
pub type Result<T> = std::result::Result<T, Problem>;
