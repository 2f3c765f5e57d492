//! The store and its file (the format: `docs/format.md`; the design: `docs/design.md`).
//!
//! A [`Store`] holds every calendar in one file, a log of checksummed records. Readers get a
//! calendar's current state with [`Store::get`], which never blocks: the state is an
//! immutable [`Calendar`] behind an `Arc`, published with `arc-swap`. A write checks its
//! change against the calendar's state, appends the record that says so, waits until a flush
//! that began after it has returned (concurrent writes share one flush: group commit), and
//! only then publishes the new state and returns it. So a write that returned `Ok` survives
//! `kill -9` and power loss, and a crash leaves each calendar at its last acknowledged state
//! or with the record being written, never with part of it.
//!
//! ```
//! use availability_core::store::{Change, Store};
//! use availability_core::{Batch, Day, Entry, Status};
//!
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("store.avs");
//! let store = Store::open(&path)?; // created, with the `default` calendar
//! let batch = Batch::from(vec![Entry::range(
//!     Day::Monday,
//!     "09:00".parse()?,
//!     "17:00".parse()?,
//!     Status::Available,
//! )]);
//! let after = store.commit("default", Some(1), &Change::Apply(batch))?;
//! assert_eq!(after.version(), 2);
//! assert_eq!(store.get("default").map(|c| c.version()), Some(2));
//!
//! // A stale expected version (HTTP If-Match) changes nothing.
//! let stale = store.commit("default", Some(1), &Change::SetZone("Europe/Paris".into()));
//! assert!(stale.unwrap_err().is_version_mismatch());
//!
//! drop(store);
//! let reopened = Store::open(&path)?;
//! assert_eq!(reopened.get("default").map(|c| c.week()), Some(after.week()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layout
//!
//! Each file answers one question:
//!
//! - this module: the [`Store`], opening it, its reads and the steps every write shares;
//!   `directory` the published calendars readers look up and list.
//! - the writes, by what they change: `calendars` (create, change, delete), `admin` (the
//!   admin keys), `dates` (overrides and bookings), `groups` (named groups), `remembered`
//!   (answers kept for idempotency keys) and `webhooks` (endpoints and the attempts to
//!   deliver to them); `expect` what a write expects to still hold when it commits.
//! - `webhook`: the webhook values (endpoints, events, attempts); `outbox` the endpoints and
//!   the events waiting for them as the log's index keeps them, each event derived from the
//!   record of its change.
//! - `history`: a calendar's pattern history ([`PastPattern`]), which the log's index keeps.
//! - `calendar`: the calendar value ([`Calendar`], [`Change`]) and the rules for changing it.
//! - `checked`: what a record holds, checked on the way in and out: ids ([`check_id`]), zone
//!   names ([`check_zone_name`]), keys ([`KeyHash`], [`KeyScope`]), and each one's limit.
//! - `writer`: the order of writes: one in flight per calendar.
//! - `journal`: the log: appends with group commit (`group_commit`), growth, recovery of a
//!   torn tail, compaction; `journal_live` its index of what is live, which compaction
//!   writes again; `journal_format` its bytes.
//! - `format`: the bytes of a calendar's record and keys, and of the fixed records of the
//!   formats before; `open` opening the log and building the state readers see; `migrate`
//!   reading the formats before.
//! - `copy`: a new store file written from the published state ([`Store::write_copy`]),
//!   and how much a store holds ([`Counts`]).
//! - `backend`: where the bytes live: the file, or the test double; `file` the file: atomic
//!   creation, the lock, the mapping for reading, flushes, growth, replacement; the
//!   per-platform part (lock, positional I/O) in one small module each.
//! - `double` (feature `test-backend`): an in-memory file that keeps only what was flushed
//!   and loses power at a chosen write, for tests and fuzzing.

mod admin;
mod backend;
mod backup;
pub use self::backup::BackupSource;
mod calendar;
mod calendars;
pub use self::calendars::{batch_ids, NewCalendar};
mod checked;
mod copy;
mod dates;
pub mod decide;
mod directory;
#[cfg(feature = "test-backend")]
pub mod double;
// Without the feature, only a mirror's empty file uses it.
#[cfg(not(feature = "test-backend"))]
#[allow(dead_code, unreachable_pub)]
mod double;
mod expect;
mod file;
pub use self::file::StoreLock;
mod format;
pub mod group_book;
mod group_commit;
mod group_writes;
mod groups;
mod history;
mod id_key;
pub use self::history::{PastPattern, MAX_HISTORY};
mod journal;
mod journal_format;
mod journal_live;
mod migrate;
mod mirror;
mod open;
mod outbox;
mod remembered;
mod webhook;
mod webhooks;
mod writer;

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Bound;
use std::path::{Path, PathBuf};

use arc_swap::ArcSwap;

use self::backend::Backend;
use self::calendar::{next_version, not_found};
pub use self::calendar::{Calendar, Change, DEFAULT_CALENDAR, DEFAULT_ZONE};
use self::checked::now_ms;
pub use self::checked::{check_id, check_zone_name, KeyHash, KeyScope};
pub use self::copy::Counts;
use self::directory::Directory;
pub use self::expect::{Authority, Expected};
use self::file::MappedFile;
pub use self::groups::{Group, GroupType};
pub use self::journal_format::{Answer, Remembered, MAX_BATCH};

/// The format version of the store files this build writes (docs/format.md): a file of an
/// earlier version is rewritten in this one when it is opened.
pub const FORMAT_VERSION: u32 = format::FORMAT_VERSION;
use self::journal_format::{Owner, Record};
use self::open::zone_or_utc;
pub use self::remembered::IdempotencyKey;
pub use self::webhook::{
    clip, Attempt, Delivery, Disabled, Event, EventBooking, EventId, EventKind, EventSet, Head,
    Outcome, Pending, Webhook, KEPT_ATTEMPTS, MAX_SECRET, MAX_URL, MAX_WEBHOOKS,
    MAX_WEBHOOK_CALENDARS,
};
use self::writer::Writer;
use crate::dated::Dated;
use crate::error::Error;

/// How long dated data is kept after it ends, unless [`Options`] say otherwise: 90 days.
pub const DEFAULT_RETENTION_SECONDS: i64 = 90 * 86_400;

/// How a store is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// How long overrides and bookings are kept after they end, in seconds: older ones are
    /// dropped from memory when the calendar is next written or the store opened, and from the
    /// journal when it is next compacted. No answer about the future changes.
    pub retention_seconds: i64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            retention_seconds: DEFAULT_RETENTION_SECONDS,
        }
    }
}

/// The starting images of the file double, made by the code that makes real files (the double
/// itself knows only bytes).
#[cfg(feature = "test-backend")]
impl double::FileDouble {
    /// A file holding a new store, as [`Store::open`](Store::open) creates it.
    pub fn new_store() -> double::FileDouble {
        double::FileDouble::new(journal::new_image())
    }
}

/// The journal's path: the store file's name with `.journal` after it.
pub fn journal_path(store: &Path) -> PathBuf {
    let mut name = store
        .file_name()
        .map(std::ffi::OsStr::to_os_string)
        .unwrap_or_default();
    name.push(".journal");
    store.with_file_name(name)
}

/// The store: every calendar, in one file of checksummed records.
///
/// `Store` is `Send + Sync`; share it with `Arc`. Reads never block. Writes
/// ([`Store::commit`], [`Store::create`], [`Store::delete`], the dated writes, groups and
/// admin keys) block until their record is on disk, so call them off async workers (for
/// example in `spawn_blocking`).
///
/// After a flush fails the store refuses further writes (reads go on): the kernel may have
/// dropped the unwritten pages, so only reopening the file tells what is durable.
///
/// Writes share flushes (group commit): each appends its record, and one of them flushes
/// every record appended so far, which costs about as much as flushing one. A calendar never
/// has two writes in flight: a second waits until the first is durable and published, so
/// each checks its change against the state the first left.
pub struct Store {
    /// The published calendars. Changed only when a calendar is created or deleted; commits
    /// swap the one calendar's state inside its [`Published`].
    directory: Directory,
    /// The published admin key hashes.
    admin_keys: ArcSwap<Vec<KeyHash>>,
    /// The single writer, its bookkeeping and the file.
    writer: Writer,
    /// The dated data's file.
    journal: journal::Journal,
    /// The named groups, by id.
    groups: ArcSwap<imbl::OrdMap<String, Arc<Group>>>,
    /// Held by a group write from its check to its publication.
    group_writes: std::sync::Mutex<()>,
    /// Held by a write of a webhook endpoint from its read to its append.
    webhook_writes: std::sync::Mutex<()>,
    /// How long dated data is kept after it ends, in seconds.
    retention_seconds: i64,
    /// A mirror's removed calendars: the last incarnation removed, by id.
    removed: std::sync::Mutex<std::collections::HashMap<String, u64>>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("calendars", &self.directory.len())
            .finish_non_exhaustive()
    }
}

/// The ids a page lists: those after `after`, or all of them.
fn after_id(after: Option<&str>) -> (Bound<&str>, Bound<&str>) {
    (
        after.map_or(Bound::Unbounded, Bound::Excluded),
        Bound::Unbounded,
    )
}

/// One calendar's current state, swapped by each write to it.
struct Published {
    current: ArcSwap<Calendar>,
}

impl Store {
    /// Opens the store file at `path`, creating it (with the `default` calendar, zone `UTC`)
    /// when there is no file. The directory must exist.
    ///
    /// Opening first flushes the file to disk (so that nothing it reads can be lost to a
    /// later power failure), then reads and checks every record; it writes nothing: a
    /// damaged copy next to a valid one is repaired by the next commit to its record.
    ///
    /// # Errors
    ///
    /// - [`Error::is_locked`]: another process (or another `Store` here) has it open. A lock
    ///   that is released within 100 ms (a previous process exiting) is waited for.
    /// - [`Error::is_corrupt`]: the header is wrong (magic, format version, CRC, sizes), the
    ///   file is shorter than its records, or a record has no valid copy. The message names
    ///   the file, the record and what failed. The file is left as it was.
    /// - [`Error::is_io`]: the operating system refused to create, open, lock, flush or map it.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, Error> {
        Store::open_with(path, Options::default())
    }

    /// Opens the store file at `path` as [`Store::open`] does, with `options`.
    ///
    /// # Errors
    ///
    /// As [`Store::open`].
    pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<Store, Error> {
        let path = path.as_ref();
        let file = MappedFile::open(path, journal::new_image)?;
        // The journal beside a store of format version 2, which its migration reads; beside
        // a store of version 3, one that a migration did not get to remove.
        let journal = journal_path(path);
        let old_journal = match std::fs::symlink_metadata(&journal) {
            Ok(_) => Some(Backend::Mapped(MappedFile::open(&journal, Vec::new)?)),
            Err(_) => None,
        };
        let migrating = old_journal.is_some();
        let store = open::open_backend(Backend::Mapped(file), old_journal, options)?;
        if migrating {
            file::remove_durably(&journal)?;
        }
        Ok(store)
    }

    /// Opens a store over a [`double::FileDouble`] instead of a file, with a new empty
    /// journal, as [`Store::open`] opens a file that exists. For power-loss tests only.
    ///
    /// # Errors
    ///
    /// As [`Store::open`].
    #[cfg(feature = "test-backend")]
    pub fn open_double(file: double::FileDouble) -> Result<Store, Error> {
        open::open_backend(Backend::Double(file), None, Options::default())
    }

    /// Opens a store over two [`double::FileDouble`]s, the store file and its journal. For
    /// power-loss tests only.
    ///
    /// # Errors
    ///
    /// As [`Store::open`].
    #[cfg(feature = "test-backend")]
    pub fn open_doubles(
        file: double::FileDouble,
        journal: double::FileDouble,
    ) -> Result<Store, Error> {
        open::open_backend(
            Backend::Double(file),
            Some(Backend::Double(journal)),
            Options::default(),
        )
    }

    /// How long overrides, bookings and the versions of a pattern are kept after they end,
    /// in seconds ([`Options::retention_seconds`]).
    pub fn retention_seconds(&self) -> i64 {
        self.retention_seconds
    }

    /// The current state of calendar `id`. Lock-free: never waits for a writer.
    #[inline]
    pub fn get(&self, id: &str) -> Option<Arc<Calendar>> {
        self.directory
            .with(id, |published| published.current.load_full())
    }

    /// The current states of calendars `ids`, in their order (a group's members); or the
    /// first of `ids` that names no calendar. Lock-free.
    pub fn get_all<'a, S: AsRef<str>>(&self, ids: &'a [S]) -> Result<Vec<Arc<Calendar>>, &'a str> {
        ids.iter()
            .map(|id| self.get(id.as_ref()).ok_or(id.as_ref()))
            .collect()
    }

    /// Whether calendar `id` exists.
    pub fn contains(&self, id: &str) -> bool {
        self.directory.contains(id)
    }

    /// Every calendar's current state, in id order. Lock-free.
    pub fn list(&self) -> Vec<Arc<Calendar>> {
        self.list_after(None, usize::MAX)
    }

    /// At most `limit` calendars' current states, in id order, from the first id after
    /// `after` (which need not name a calendar), or from the first. Lock-free, and
    /// O(log N + limit): a page of a listing, as of one moment.
    pub fn list_after(&self, after: Option<&str>, limit: usize) -> Vec<Arc<Calendar>> {
        self.directory
            .page(after, limit)
            .iter()
            .map(|published| published.current.load_full())
            .collect()
    }

    /// Calls `f` with every calendar's current state, in no particular order, as of one
    /// moment. Lock-free, and cheaper than [`Store::list`] for a pass over a large store: no
    /// lookup per calendar, no list of them all.
    pub fn for_each(&self, mut f: impl FnMut(&Calendar)) {
        self.directory
            .for_each(|published| f(&published.current.load()));
    }

    /// How many calendars the store holds.
    pub fn len(&self) -> usize {
        self.directory.len()
    }

    /// Whether the store holds no calendar.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the journal anew with only what is live (what compaction does on its own when
    /// the journal has grown well past its live data).
    ///
    /// # Errors
    ///
    /// [`Error::is_io`] when writing the new journal failed; dated writes are then refused
    /// until the store is reopened.
    pub fn compact_journal(&self) -> Result<(), Error> {
        self.compact_journal_if_due(true)
    }

    /// The journal file's length in bytes.
    pub fn journal_len(&self) -> usize {
        self.journal.file_len()
    }

    /// Why the store refuses writes, once a flush (or a compaction) has failed: only
    /// reopening it tells what is durable. `None` while it takes writes.
    pub fn write_failure(&self) -> Option<String> {
        self.journal.failure()
    }

    fn compact_journal_if_due(&self, force: bool) -> Result<(), Error> {
        let now = now_ms();
        let cutoff = now.div_euclid(1000) - self.retention_seconds;
        self.journal.compact_if_due(cutoff, now, force).map(|_| ())
    }

    /// One dated write to calendar `id`: `change` makes the next dated state (from a copy of
    /// the current one, pruned of what retention drops) and the journal record that says
    /// so. The record is appended and flushed as the calendar's one write in flight, then the state
    /// published.
    fn dated_write<T>(
        &self,
        id: &str,
        expected: Expected,
        change: impl FnOnce(&Calendar, &mut Dated, Owner) -> Result<(Record, T), Error>,
    ) -> Result<(Arc<Calendar>, T), Error> {
        let (writer, published) = self.settled(id)?;
        let current = published.current.load_full();
        expected.check(id, &current, &writer.meta.admin_keys)?;
        let version = next_version(&current)?;
        let mut dated = (*current.dated).clone();
        let cutoff = now_ms().div_euclid(1000) - self.retention_seconds;
        dated.compact_before(zone_or_utc(current.zone()), cutoff);
        let owner = Owner {
            id: String::from(id),
            incarnation: current.incarnation(),
            version,
        };
        let (record, value) = change(&current, &mut dated, owner)?;
        let calendar = Arc::new(Calendar {
            record: Arc::clone(&current.record),
            version,
            dated: Arc::new(dated),
        });
        self.writer.exclusive(
            writer,
            id,
            || self.journal.append(&record),
            |_, ()| published.current.store(Arc::clone(&calendar)),
        )?;
        // The write is durable; a compaction that fails now refuses later dated writes and
        // says why then.
        let _ = self.compact_journal_if_due(false);
        Ok((calendar, value))
    }

    /// The writer, once calendar `id` has no write in flight, with the directory and the
    /// calendar as they are then.
    #[allow(clippy::type_complexity)]
    fn settled(&self, id: &str) -> Result<(writer::Guard<'_>, Arc<Published>), Error> {
        self.writer.settled(|| {
            // Looked up again after every wait: the calendar may be gone or recreated.
            let published = self
                .directory
                .with(id, Arc::clone)
                .ok_or_else(|| not_found(id))?;
            Ok((String::from(id), published))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn the_store_is_send_and_sync() {
        assert_send_sync::<Store>();
        assert_send_sync::<Calendar>();
    }
}
