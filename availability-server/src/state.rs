//! The seam between the HTTP layer and the core: what the routes need from the store and from
//! the time-zone engine, as two small traits.
//!
//! Routes call only [`Backend`] and [`Zones`]; nothing else in the server knows how calendars
//! are stored or how a week is converted between zones. That keeps each handler about HTTP,
//! and lets the integration tests drive the whole HTTP stack against plain in-memory
//! implementations.

use std::sync::Arc;

use availability_core::{Batch, Status, Week};

/// A stored key: its public id and the bcrypt hash of the whole token. The plaintext token is
/// never stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyHash {
    /// The id part of `avk_<id>_<secret>`: it finds the one hash to check.
    pub id: String,
    /// The bcrypt hash of the whole token.
    pub hash: String,
}

/// One calendar as the store holds it, at one version.
#[derive(Clone, Debug)]
pub struct Calendar {
    /// `[a-z0-9][a-z0-9-]{0,62}`.
    pub id: String,
    /// The owner's IANA time-zone name.
    pub zone: String,
    /// Grows by one per committed change.
    pub version: u64,
    /// When the last change was committed, in seconds since the Unix epoch.
    pub updated: i64,
    /// The stored week, in the owner's wall-clock time.
    pub week: Week,
    /// The calendar's keys.
    pub keys: Vec<KeyHash>,
}

/// A change to one calendar, committed atomically and durably.
#[derive(Clone, Debug)]
pub enum Change {
    /// Apply a batch of edits to the current week (PATCH).
    Apply(Batch),
    /// Replace the whole week with the batch's slots, every other slot unavailable (PUT).
    Replace(Batch),
    /// Change the owner's time zone; the stored wall-clock week stays as written.
    SetZone(String),
    /// Add a calendar key.
    AddKey(KeyHash),
    /// Revoke the calendar key with this id.
    RemoveKey(String),
}

/// Why the store refused or failed a change.
#[derive(Debug)]
pub enum StoreError {
    /// No calendar with that id.
    NotFound,
    /// The id is taken.
    AlreadyExists,
    /// The calendar is at another version than the change expected.
    VersionMismatch {
        /// The version the calendar is at.
        current: u64,
    },
    /// No key with that id on the calendar.
    KeyNotFound,
    /// The change is invalid (a batch entry, a zone): a message for the client.
    Invalid(String),
    /// The change does not fit the store's limits (too many keys): a message for the client.
    Capacity(String),
    /// The store failed (I/O): logged, never sent.
    Failed(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::NotFound => f.write_str("no such calendar"),
            StoreError::AlreadyExists => f.write_str("the calendar id is taken"),
            StoreError::VersionMismatch { current } => {
                write!(f, "the calendar is at version {current}")
            }
            StoreError::KeyNotFound => f.write_str("no such key"),
            StoreError::Invalid(m) | StoreError::Capacity(m) | StoreError::Failed(m) => {
                f.write_str(m)
            }
        }
    }
}

/// The calendars: lock-free reads, durable writes.
///
/// Writes block on the disk (fsync); the routes call them on tokio's blocking pool.
pub trait Backend: Send + Sync + 'static {
    /// The calendar's current state. Called on every read, so it must not block.
    fn get(&self, id: &str) -> Option<Arc<Calendar>>;
    /// Every calendar, ordered by id.
    fn list(&self) -> Vec<Arc<Calendar>>;
    /// Creates a calendar with an unavailable week at version 1.
    fn create(
        &self,
        id: &str,
        zone: &str,
        key: Option<KeyHash>,
    ) -> Result<Arc<Calendar>, StoreError>;
    /// Removes a calendar.
    fn delete(&self, id: &str) -> Result<(), StoreError>;
    /// Commits one change; with `expected`, only if the calendar is at that version.
    /// Returns the new state once it is durable.
    fn commit(
        &self,
        id: &str,
        change: Change,
        expected: Option<u64>,
    ) -> Result<Arc<Calendar>, StoreError>;
    /// The admin keys kept in the store.
    fn admin_keys(&self) -> Vec<KeyHash>;
    /// Adds an admin key, durably.
    fn add_admin_key(&self, key: KeyHash) -> Result<(), StoreError>;
    /// Makes everything acknowledged durable before exit.
    fn flush(&self) -> Result<(), StoreError>;
}

/// A concrete ISO week as seen from one zone.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IsoWeek {
    /// `2026-W48`.
    pub label: String,
    /// Monday to Sunday, `YYYY-MM-DD`.
    pub dates: [String; 7],
}

/// One exact interval of a view: RFC 3339 instants with the viewer's offsets, `[start, end)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interval {
    /// The first instant, for example `2026-11-23T09:00:00-05:00`.
    pub start: String,
    /// The instant after the last, same form.
    pub end: String,
    /// `maybe` or `available` (unavailable time is omitted).
    pub status: Status,
}

/// The time-zone engine (DESIGN.md section 3).
pub trait Zones: Send + Sync + 'static {
    /// The canonical name of an IANA zone, or a message for the client.
    fn zone(&self, name: &str) -> Result<String, String>;
    /// The ISO week `param` (`2026-W48` or a date in it), or the week containing `now_unix`
    /// in `zone` when `param` is `None`; or a message for the client.
    fn week(&self, zone: &str, param: Option<&str>, now_unix: i64) -> Result<IsoWeek, String>;
    /// The stored week (owner's wall clock in `owner`) seen from `viewer` in `week`: slot
    /// `i` is viewer day `i / 48`, half hour `i % 48`.
    fn view(
        &self,
        owner: &str,
        viewer: &str,
        week: &IsoWeek,
        stored: &Week,
    ) -> Result<Week, String>;
    /// The exact intervals of the same view, `unavailable` omitted, adjacent equal runs merged.
    fn intervals(
        &self,
        owner: &str,
        viewer: &str,
        week: &IsoWeek,
        stored: &Week,
    ) -> Result<Vec<Interval>, String>;
}
