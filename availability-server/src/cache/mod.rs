//! The cache of rendered bodies.
//!
//! A read renders its body once per (calendar version, viewer zone, ISO week, format), keeps it as
//! shared [`Bytes`](bytes::Bytes), and serves every later request for the same key by cloning the
//! handle: no copy and no re-rendering until the calendar changes. The key names the calendar
//! version by the store's own `Arc` of it (see [`Key`]), so a calendar that is deleted and created
//! again under the same id can never be served a body of the old one. A lookup borrows its key from
//! the request and hashes it once; the map is keyed by that hash, and each body keeps its whole key
//! to tell a collision from a hit.
//!
//! Compressed forms are made on first demand, once per body, and kept beside it.
//!
//! The cache is bounded by count and by bytes: when an insertion would pass either, the oldest
//! bodies (by insertion) go, down to three quarters of the bound. That is cruder than LRU, but
//! it costs nothing on hits (no list to reorder under a lock), and what is evicted is only
//! re-rendered. A write forgets its calendar's bodies at once ([`Cache::forget`]): a body of a
//! superseded version is never served again, so it must not hold memory either.
//!
//! One kind of key names no versions: a named group's answer is found by the group alone
//! ([`NamedKey`]), so that a cached read of a large group does not look up every member. For
//! it the forgetting is what keeps answers current, together with the check made when one is
//! kept ([`Cache::insert_checked`]).
//!
//! - `key`: what a body depends on ([`Key`], [`GroupKey`], [`NamedKey`], the [`Format`]), and
//!   their hashes: where a body goes in the map, and its entity tag.
//! - `rendered`: a body ([`Rendered`]), its compressed forms and their entity tags.
//! - `map`: the bounded map ([`Cache`]): lookups, eviction, and the index by calendar.

#[cfg(test)]
mod fixture;
mod key;
mod map;
mod rendered;

pub use key::{Format, GroupKey, Key, NamedKey, SlotsBody};
pub use map::Cache;
pub use rendered::Rendered;
