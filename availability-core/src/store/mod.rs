//! The snapshot store and its file (the format: `docs/format.md`; the design: `docs/design.md`).
//!
//! A [`Store`] holds every calendar in one memory-mapped file. Readers get a calendar's
//! current state with [`Store::get`], which never blocks: the state is an immutable
//! [`Calendar`] behind an `Arc`, published with `arc-swap`. A commit validates its change,
//! writes the new state into the record copy that does not hold the newest valid state,
//! flushes it to disk with `msync(MS_SYNC)` (sharing the flush with concurrent commits to
//! other calendars), and only then publishes the new state and returns it. So a commit that
//! returned `Ok` survives `kill -9` and power loss, and a crash leaves each calendar at its
//! last acknowledged state or at the one being written, never at a mixture.
//!
//! The file format (byte layout, commit steps, recovery rules) is specified in
//! `docs/format.md`.
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
//! - this module: the [`Store`] API and the published snapshots readers load.
//! - `calendar`: the calendar value ([`Calendar`], [`Change`]) and the rules for changing it.
//! - `checked`: what a record holds, checked on the way in and out: ids ([`check_id`]), zone
//!   names ([`check_zone_name`]), keys ([`KeyHash`], [`KeyScope`]), and each one's limit.
//! - `writer`: the single writer: copy bookkeeping, the whole group-commit protocol, growth,
//!   and refusing writes after a failed flush.
//! - `open`: a new file's image, the migration of format version 1, and recovery: making
//!   the file durable, replaying the journal onto the calendars, choosing each
//!   record's copy, checking the whole file.
//! - `format`: the bytes: header, record copies and payloads; pure encode and decode.
//! - `journal`: the journal of dated data (overrides, bookings, remembered answers): appends
//!   with group commit, recovery of a torn tail, compaction; `journal_format` its bytes.
//! - `backend`: where the bytes live: the mapped file, or the test double.
//! - `file`: the mapped file: atomic creation, the lock, the mapping, flushes, growth; the
//!   per-platform part (lock, positional I/O) in one small module each.
//! - `double` (feature `test-backend`): an in-memory file that keeps only what was flushed
//!   and loses power at a chosen write, for tests and fuzzing.

mod backend;
mod calendar;
mod checked;
#[cfg(feature = "test-backend")]
pub mod double;
mod expect;
mod file;
mod format;
mod group_commit;
mod journal;
mod journal_format;
mod open;
mod writer;

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arc_swap::ArcSwap;
use chrono::NaiveDate;

use self::backend::Backend;
use self::calendar::{
    add_key, incarnation, new_calendar, next_state, next_version, not_found, remove_key,
};
pub use self::calendar::{Calendar, Change, DEFAULT_CALENDAR, DEFAULT_ZONE};
use self::checked::now_ms;
pub use self::checked::{check_id, check_zone_name, KeyHash, KeyScope};
pub use self::expect::{Authority, Expected};
use self::file::{corrupt, MappedFile};
use self::format::{PayloadKind, FORMAT_VERSION};
pub use self::journal_format::Remembered;
use self::journal_format::{Owner, Record};
use self::open::zone_or_utc;
use self::writer::Writer;
use crate::dated::{day_number, Booking, BookingId, Claim, Dated, DayOverride};
use crate::error::{Error, Kind};

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
        double::FileDouble::new(open::new_file_image())
    }

    /// An empty journal, as [`Store::open`](Store::open) creates it beside a new
    /// store file.
    pub fn new_journal() -> double::FileDouble {
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

/// A named group of calendars: an id and its members' ids, in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    id: String,
    members: Vec<String>,
}

impl Group {
    pub(crate) fn new(id: String, members: Vec<String>) -> Group {
        Group { id, members }
    }

    /// The group's id, `[a-z0-9][a-z0-9-]{0,62}`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The members' calendar ids, in the order they were given.
    pub fn members(&self) -> &[String] {
        &self.members
    }
}

/// What a booking request with an idempotency key is remembered by (HTTP `Idempotency-Key`,
/// with whoever sent it and a digest of the request).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The key, 1 to 255 bytes of printable ASCII.
    pub key: String,
    /// Who sent it, at most 255 bytes.
    pub principal: String,
    /// A digest of the request, to tell a repeat from a reuse of the key.
    pub fingerprint: [u8; 32],
    /// When the answer may be forgotten, in milliseconds since the Unix epoch.
    pub expires_ms: i64,
}

impl IdempotencyKey {
    fn check(&self) -> Result<(), Error> {
        if self.key.is_empty()
            || self.key.len() > journal_format::MAX_IDEMPOTENCY_KEY
            || !self.key.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
            || self.principal.len() > journal_format::MAX_IDEMPOTENCY_KEY
        {
            return Err(Error::new(
                Kind::Parse,
                "an idempotency key is 1 to 255 characters of printable ASCII, and its \
                 principal at most 255 bytes",
            ));
        }
        Ok(())
    }
}

/// How a booking's answer is made for [`Store::book`] to remember it: given the calendar
/// after the booking and the booking, the HTTP status and body.
pub type Answer<'a> = &'a dyn Fn(&Calendar, &Booking) -> (u16, Vec<u8>);

/// The snapshot store: every calendar, in one checksummed memory-mapped file.
///
/// `Store` is `Send + Sync`; share it with `Arc`. Reads never block. Writes
/// ([`Store::commit`], [`Store::create`], [`Store::delete`], the admin keys) are serialized
/// and block until their page is on disk, so call them off async workers (for example in
/// `spawn_blocking`).
///
/// After a flush fails the store refuses further writes (reads go on): the kernel may have
/// dropped the unwritten page, so only reopening the file tells what is durable.
///
/// Commits to different calendars share flushes (group commit): each writes its page into
/// the mapping, and one of them flushes every page written so far with one `msync`, which
/// costs about as much as flushing one page. A calendar never has two commits in flight: a
/// second waits until the first is durable, so one of its two copies is always valid on disk.
/// Creating and deleting calendars and changing admin keys flush on their own.
pub struct Store {
    /// The published calendars. Replaced whole only when a calendar is created or deleted;
    /// commits swap the one calendar's state inside its [`Published`].
    directory: ArcSwap<Directory>,
    /// The published admin key hashes.
    admin_keys: ArcSwap<Vec<KeyHash>>,
    /// The single writer, its bookkeeping and the file.
    writer: Writer,
    /// The dated data's file.
    journal: journal::Journal,
    /// The named groups, by id.
    groups: ArcSwap<alloc::collections::BTreeMap<String, Arc<Group>>>,
    /// Held by a group write from its check to its publication.
    group_writes: std::sync::Mutex<()>,
    /// How long dated data is kept after it ends, in seconds.
    retention_seconds: i64,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("calendars", &self.directory.load().by_id.len())
            .finish_non_exhaustive()
    }
}

/// The directory's map. Ids reach it from the network: every read looks one up, and admins
/// choose the ids it holds. A fixed hash function (FxHash) would let whoever can create
/// calendars pick ids that all collide and make every read walk them; foldhash is about as
/// fast on short strings and seeds every map at random, so collisions cannot be precomputed.
type ById = HashMap<Arc<str>, Arc<Published>, foldhash::fast::RandomState>;

#[derive(Default)]
struct Directory {
    by_id: ById,
}

/// One calendar's slot and its current state.
struct Published {
    slot: u32,
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
        let journal = journal_path(path);
        // A new store's journal is made first, so that a store file without its journal is
        // never the result of a crash: it is damage (or a journal moved away), and refused.
        if std::fs::symlink_metadata(path).is_err() {
            drop(MappedFile::open(&journal, journal::new_image)?);
        }
        let file = MappedFile::open(path, open::new_file_image)?;
        if std::fs::symlink_metadata(&journal).is_err()
            && file.read(|bytes| format::check_header(bytes) == Ok(FORMAT_VERSION))?
        {
            return Err(corrupt(
                &journal,
                "the journal of the store file beside it is missing: it holds the calendars' \
                 overrides and bookings; restore it with the store file",
            ));
        }
        let journal = MappedFile::open(&journal, journal::new_image)?;
        open::open_backend(Backend::Mapped(file), Backend::Mapped(journal), options)
    }

    /// Opens a store over a [`double::FileDouble`] instead of a file, with a new empty
    /// journal, as [`Store::open`] opens a file that exists. For power-loss tests only.
    ///
    /// # Errors
    ///
    /// As [`Store::open`].
    #[cfg(feature = "test-backend")]
    pub fn open_double(file: double::FileDouble) -> Result<Store, Error> {
        Store::open_doubles(file, double::FileDouble::new_journal())
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
            Backend::Double(journal),
            Options::default(),
        )
    }

    /// The current state of calendar `id`. Lock-free: never waits for a writer.
    #[inline]
    pub fn get(&self, id: &str) -> Option<Arc<Calendar>> {
        self.directory
            .load()
            .by_id
            .get(id)
            .map(|published| published.current.load_full())
    }

    /// The current states of calendars `ids`, in their order, from one look at the directory
    /// (a group's members as of one moment); or the first of `ids` that names no calendar.
    /// Lock-free.
    pub fn get_all<'a, S: AsRef<str>>(&self, ids: &'a [S]) -> Result<Vec<Arc<Calendar>>, &'a str> {
        let directory = self.directory.load();
        ids.iter()
            .map(|id| {
                let id = id.as_ref();
                directory
                    .by_id
                    .get(id)
                    .map(|published| published.current.load_full())
                    .ok_or(id)
            })
            .collect()
    }

    /// Whether calendar `id` exists.
    pub fn contains(&self, id: &str) -> bool {
        self.directory.load().by_id.contains_key(id)
    }

    /// Every calendar's current state, by id. Lock-free.
    pub fn list(&self) -> Vec<Arc<Calendar>> {
        let mut all: Vec<Arc<Calendar>> = self
            .directory
            .load()
            .by_id
            .values()
            .map(|published| published.current.load_full())
            .collect();
        all.sort_unstable_by(|a, b| a.id().cmp(b.id()));
        all
    }

    /// The server-wide admin key hashes. Lock-free.
    pub fn admin_keys(&self) -> Arc<Vec<KeyHash>> {
        self.admin_keys.load_full()
    }

    /// The admin key hash with id `key_id`.
    pub fn admin_key(&self, key_id: &str) -> Option<KeyHash> {
        self.admin_keys
            .load()
            .iter()
            .find(|k| k.id() == key_id)
            .cloned()
    }

    /// Creates calendar `id` with owner zone `zone`, every slot unavailable, version 1, no
    /// keys. Returns once it is on disk.
    ///
    /// # Errors
    ///
    /// As [`Store::create_with_keys`].
    pub fn create(&self, id: &str, zone: &str) -> Result<Arc<Calendar>, Error> {
        self.create_with_keys(id, zone, Vec::new())
    }

    /// Creates calendar `id` with owner zone `zone`, every slot unavailable, version 1, and
    /// these keys, in one commit: a crash leaves either no calendar or the calendar with its
    /// keys. Returns once it is on disk.
    ///
    /// # Errors
    ///
    /// [`Error::is_parse`] for an id that is not `[a-z0-9][a-z0-9-]{0,62}` or a zone name
    /// that is not 1 to 64 characters of an IANA name's alphabet (the name is not looked up),
    /// [`Error::is_already_exists`] when the id is taken or two keys share an id,
    /// [`Error::is_capacity`] for more keys than a record holds or when the file has reached
    /// its largest size, [`Error::is_io`] when the write failed.
    pub fn create_with_keys(
        &self,
        id: &str,
        zone: &str,
        keys: Vec<KeyHash>,
    ) -> Result<Arc<Calendar>, Error> {
        self.create_by(id, zone, keys, &Authority::Unchecked)
    }

    /// [`Store::create_with_keys`], authorized by `by`, which is checked again under the
    /// writer lock (an admin key revoked meanwhile creates nothing).
    ///
    /// # Errors
    ///
    /// As [`Store::create_with_keys`]; [`Error::is_unauthorized`] when `by` was revoked,
    /// [`Error::is_forbidden`] when it is not an admin key.
    pub fn create_by(
        &self,
        id: &str,
        zone: &str,
        keys: Vec<KeyHash>,
        by: &Authority,
    ) -> Result<Arc<Calendar>, Error> {
        check_id(id)?;
        check_zone_name(zone)?;
        let mut checked = Vec::with_capacity(keys.len());
        for key in keys {
            add_key(&mut checked, key, "new calendars")?;
        }
        let mut writer = self.writer.lock()?;
        by.check(None, &writer.meta.admin_keys)?;
        if self.contains(id) {
            return Err(Error::new(
                Kind::AlreadyExists,
                std::format!("calendar {id:?} already exists"),
            ));
        }
        let slot = match writer.free.first().copied() {
            Some(slot) => slot,
            None => self.writer.grow(&mut writer)?,
        };
        let created = incarnation(slot, Writer::next_seq(&writer, slot + 1));
        let record = new_calendar(id, zone, checked, created);
        self.writer.write_now(
            &mut writer,
            slot + 1,
            PayloadKind::Calendar,
            &record.encode(),
        )?;
        writer.free.remove(&slot);
        let calendar = Arc::new(Calendar {
            record,
            dated: Arc::new(Dated::new()),
        });
        let published = Arc::new(Published {
            slot,
            current: ArcSwap::new(Arc::clone(&calendar)),
        });
        let mut directory = Directory {
            by_id: self.directory.load().by_id.clone(),
        };
        directory.by_id.insert(Arc::from(id), published);
        self.directory.store(Arc::new(directory));
        Ok(calendar)
    }

    /// Deletes calendar `id` and its keys. Returns once that is on disk.
    ///
    /// With `expected` ([`Expected`]: a version, an incarnation, the key that authorized
    /// it), the calendar is deleted only if each still holds.
    ///
    /// # Errors
    ///
    /// [`Error::is_not_found`] when there is no such calendar (or not the incarnation
    /// expected), [`Error::is_version_mismatch`] when it is not at the expected version,
    /// [`Error::is_unauthorized`] / [`Error::is_forbidden`] when the expected authority no
    /// longer covers it, [`Error::is_io`] when the write failed. Nothing changes on any error.
    pub fn delete(&self, id: &str, expected: impl Into<Expected>) -> Result<(), Error> {
        let expected = expected.into();
        let (mut writer, (directory, published)) = self.settled(id)?;
        let current = published.current.load_full();
        expected.check(id, &current, &writer.meta.admin_keys)?;
        let slot = published.slot;
        self.writer
            .write_now(&mut writer, slot + 1, PayloadKind::Free, &[])?;
        writer.free.insert(slot);
        let mut by_id = directory.by_id.clone();
        by_id.remove(id);
        self.directory.store(Arc::new(Directory { by_id }));
        Ok(())
    }

    /// Commits one change to calendar `id`, bumping its version by one, and returns the new
    /// state once it is on disk (and published to readers).
    ///
    /// With `expected` ([`Expected`]; `Some(version)` for HTTP `If-Match`), the change is
    /// made only if the calendar is at that version and incarnation, and the key that
    /// authorized it still does.
    ///
    /// # Errors
    ///
    /// Nothing changes on any error:
    /// - [`Error::is_not_found`]: no calendar `id` (or, for [`Change::RemoveKey`], no such key).
    /// - [`Error::is_version_mismatch`]: the calendar is not at `expected_version`.
    /// - the batch's own error for an invalid [`Change::Apply`] or [`Change::Replace`]
    ///   ([`Error::entry_index`] names the first bad entry).
    /// - [`Error::is_parse`]: an invalid zone name for [`Change::SetZone`].
    /// - [`Error::is_already_exists`] / [`Error::is_capacity`]: [`Change::AddKey`] with a key
    ///   id the calendar has, or a calendar that has 16 keys already.
    /// - [`Error::is_unauthorized`] / [`Error::is_forbidden`]: the key that authorized the
    ///   change ([`Expected::by`]) was revoked or no longer covers it.
    /// - [`Error::is_io`]: the write or the flush failed.
    ///
    /// A calendar that is not the incarnation expected is not found.
    pub fn commit(
        &self,
        id: &str,
        expected: impl Into<Expected>,
        change: &Change,
    ) -> Result<Arc<Calendar>, Error> {
        let expected = expected.into();
        let (writer, (_, published)) = self.settled(id)?;
        let current = published.current.load_full();
        expected.check(id, &current, &writer.meta.admin_keys)?;
        let record = next_state(&current.record, change)?;
        let dated = match change {
            // Bookings keep their real spans: in the new zone they claim other owner slots.
            Change::SetZone(zone) if !current.dated.is_empty() => {
                Arc::new(current.dated.rezone(zone_or_utc(zone))?)
            }
            _ => Arc::clone(&current.dated),
        };
        let payload = record.encode();
        let calendar = Arc::new(Calendar { record, dated });
        // Group commit: the writer is let go while the page is flushed, so that commits to
        // other calendars share the flush.
        self.writer
            .group_commit(writer, published.slot + 1, &payload, || {
                published.current.store(Arc::clone(&calendar));
            })?;
        Ok(calendar)
    }

    /// Adds an admin key hash. Returns once it is on disk.
    ///
    /// # Errors
    ///
    /// [`Error::is_already_exists`] when the key id is taken, [`Error::is_capacity`] when
    /// there are 16 admin keys, [`Error::is_io`] when the write failed.
    pub fn add_admin_key(&self, key: KeyHash) -> Result<(), Error> {
        self.add_admin_key_by(key, &Authority::Unchecked)
    }

    /// [`Store::add_admin_key`], authorized by `by`, which is checked again under the writer
    /// lock.
    ///
    /// # Errors
    ///
    /// As [`Store::add_admin_key`]; [`Error::is_unauthorized`] when `by` was revoked,
    /// [`Error::is_forbidden`] when it is not an admin key.
    pub fn add_admin_key_by(&self, key: KeyHash, by: &Authority) -> Result<(), Error> {
        let mut writer = self.writer.lock()?;
        by.check(None, &writer.meta.admin_keys)?;
        let mut meta = writer.meta.clone();
        add_key(&mut meta.admin_keys, key, "the admin keys")?;
        self.writer.write_meta(&mut writer, meta)?;
        self.admin_keys
            .store(Arc::new(writer.meta.admin_keys.clone()));
        Ok(())
    }

    /// Removes the admin key with id `key_id`. Returns once that is on disk.
    ///
    /// # Errors
    ///
    /// [`Error::is_not_found`] when there is no such admin key, [`Error::is_io`] when the
    /// write failed.
    pub fn remove_admin_key(&self, key_id: &str) -> Result<(), Error> {
        self.revoke_admin_key(key_id, &Authority::Unchecked, false)
    }

    /// Removes the admin key with id `key_id`, authorized by `by` (checked again under the
    /// writer lock). With `keep_one` (no admin key exists outside the store), the last
    /// stored admin key is not removed: nobody could administer the store after it.
    ///
    /// # Errors
    ///
    /// As [`Store::remove_admin_key`]; [`Error::is_last_admin_key`] when it is the last one
    /// and `keep_one` is set; [`Error::is_unauthorized`] when `by` was revoked,
    /// [`Error::is_forbidden`] when it is not an admin key.
    pub fn revoke_admin_key(
        &self,
        key_id: &str,
        by: &Authority,
        keep_one: bool,
    ) -> Result<(), Error> {
        let mut writer = self.writer.lock()?;
        by.check(None, &writer.meta.admin_keys)?;
        let mut meta = writer.meta.clone();
        remove_key(&mut meta.admin_keys, key_id, "the admin keys")?;
        if keep_one && meta.admin_keys.is_empty() {
            return Err(Error::new(
                Kind::LastAdminKey,
                std::format!(
                    "admin key {key_id:?} is the last admin key: add another before removing \
                     it, or nobody could administer the server"
                ),
            ));
        }
        self.writer.write_meta(&mut writer, meta)?;
        self.admin_keys
            .store(Arc::new(writer.meta.admin_keys.clone()));
        Ok(())
    }

    /// Sets the slots of owner date `date` of calendar `id` to `day` (replacing an earlier
    /// override of that date), bumping its version; returns the new state once it is on
    /// disk.
    ///
    /// # Errors
    ///
    /// [`Error::is_not_found`], [`Error::is_version_mismatch`] as for [`Store::commit`];
    /// [`Error::is_out_of_range`] for a date outside the supported years; [`Error::is_io`]
    /// when the journal write failed. Nothing changes on any error.
    pub fn set_override(
        &self,
        id: &str,
        expected: impl Into<Expected>,
        date: NaiveDate,
        day: DayOverride,
    ) -> Result<Arc<Calendar>, Error> {
        self.dated_write(
            id,
            expected.into(),
            |_, dated, owner| {
                dated.set_override(date, day)?;
                let (open, firm) = day.bits();
                let record = Record::Override {
                    owner,
                    day: day_number(date),
                    open,
                    firm,
                };
                Ok((record, ()))
            },
            |_, (), _| {},
        )
        .map(|(calendar, ())| calendar)
    }

    /// Removes the override of owner date `date` of calendar `id`: the pattern holds there
    /// again.
    ///
    /// # Errors
    ///
    /// [`Error::is_not_found`] when there is no such calendar or no override of that date;
    /// otherwise as [`Store::set_override`].
    pub fn clear_override(
        &self,
        id: &str,
        expected: impl Into<Expected>,
        date: NaiveDate,
    ) -> Result<Arc<Calendar>, Error> {
        self.dated_write(
            id,
            expected.into(),
            |_, dated, owner| {
                if !dated.remove_override(date) {
                    return Err(Error::new(
                        Kind::NotFound,
                        std::format!("calendar {:?} has no override on {date}", owner.id),
                    ));
                }
                let day = day_number(date);
                Ok((Record::ClearOverride { owner, day }, ()))
            },
            |_, (), _| {},
        )
        .map(|(calendar, ())| calendar)
    }

    /// Books `claim` on calendar `id`: every owner slot that an instant of the span falls
    /// in must be available in the effective week and unclaimed. Atomic with respect to
    /// every other write to the calendar; returns the new state and the booking once it is on
    /// disk.
    ///
    /// With `idempotency`, the answer `answer` makes of the booking is kept with it (in the
    /// same record, so a booking is never on disk without its answer) and
    /// [`Store::remembered`] returns it until it expires, also after a restart.
    ///
    /// # Errors
    ///
    /// [`Error::is_invalid_span`] for a span the rules refuse ([`Claim::check`], against the
    /// system clock); [`Error::is_conflict`] when a slot is not free
    /// ([`Error::conflict_details`] names the first and why); [`Error::is_not_found`],
    /// [`Error::is_io`] as for [`Store::commit`]. Nothing changes on any error.
    pub fn book(
        &self,
        id: &str,
        claim: &Claim,
        idempotency: Option<(&IdempotencyKey, Answer<'_>)>,
    ) -> Result<(Arc<Calendar>, Arc<Booking>), Error> {
        self.book_by(id, Expected::default(), claim, idempotency)
    }

    /// [`Store::book`], made only if `expected` (the calendar's incarnation, the key that
    /// authorized it, a version) still holds when it commits.
    ///
    /// # Errors
    ///
    /// As [`Store::book`]; [`Error::is_unauthorized`] / [`Error::is_forbidden`] when the
    /// authority no longer covers it, [`Error::is_not_found`] for another incarnation,
    /// [`Error::is_version_mismatch`] for another version.
    pub fn book_by(
        &self,
        id: &str,
        expected: impl Into<Expected>,
        claim: &Claim,
        idempotency: Option<(&IdempotencyKey, Answer<'_>)>,
    ) -> Result<(Arc<Calendar>, Arc<Booking>), Error> {
        if let Some((key, _)) = idempotency {
            key.check()?;
        }
        let now = now_ms().div_euclid(1000);
        self.dated_write(
            id,
            expected.into(),
            |current, dated, owner| {
                let zone = zone_or_utc(current.zone());
                let booking = dated.claim(zone, &current.week(), claim, now)?;
                let record = Record::Book {
                    owner,
                    id: booking.id().0,
                    start: booking.start(),
                    end: booking.end(),
                    created_ms: booking.created_unix_ms(),
                    key_id: booking.key_id().map(String::from),
                    label: booking.label().map(String::from),
                    remembered: None,
                };
                Ok((record, booking))
            },
            |calendar, booking, record| {
                if let (Some((key, answer)), Record::Book { remembered, .. }) =
                    (idempotency, record)
                {
                    let (status, body) = answer(calendar, booking);
                    *remembered = Some(Remembered {
                        key: key.key.clone(),
                        principal: key.principal.clone(),
                        fingerprint: key.fingerprint,
                        expires_ms: key.expires_ms,
                        status,
                        body,
                    });
                }
            },
        )
    }

    /// Cancels booking `booking` of calendar `id`, freeing its slots; returns the new state
    /// and the cancelled booking once that is on disk.
    ///
    /// # Errors
    ///
    /// [`Error::is_not_found`] when there is no such calendar or booking; otherwise as
    /// [`Store::set_override`].
    pub fn cancel(
        &self,
        id: &str,
        expected: impl Into<Expected>,
        booking: BookingId,
    ) -> Result<(Arc<Calendar>, Arc<Booking>), Error> {
        self.dated_write(
            id,
            expected.into(),
            |_, dated, owner| {
                let cancelled = dated.cancel(booking).ok_or_else(|| {
                    Error::new(
                        Kind::NotFound,
                        std::format!("calendar {:?} has no booking {booking}", owner.id),
                    )
                })?;
                let record = Record::Cancel {
                    owner,
                    id: booking.0,
                };
                Ok((record, cancelled))
            },
            |_, _, _| {},
        )
    }

    /// Keeps `answer` for its idempotency key until it expires (for requests that are not
    /// bookings: [`Store::book`] keeps a booking's answer itself). Returns once it is on disk.
    ///
    /// # Errors
    ///
    /// [`Error::is_parse`] for a key or principal that is too long, or a body over 64 KiB;
    /// [`Error::is_io`] when the journal write failed.
    pub fn remember(&self, answer: Remembered) -> Result<(), Error> {
        IdempotencyKey {
            key: answer.key.clone(),
            principal: answer.principal.clone(),
            fingerprint: answer.fingerprint,
            expires_ms: answer.expires_ms,
        }
        .check()?;
        if answer.body.len() > journal_format::MAX_ANSWER || !(100..=599).contains(&answer.status) {
            return Err(Error::new(
                Kind::Parse,
                "a remembered answer has a status from 100 to 599 and at most 64 KiB of body",
            ));
        }
        self.journal.append(&Record::Remember(answer))?;
        self.compact_journal_if_due(false)
    }

    /// The answer kept for idempotency key `key` of `principal`, if it has not expired.
    pub fn remembered(&self, principal: &str, key: &str) -> Option<Remembered> {
        self.journal
            .remembered(principal, key)
            .filter(|answer| answer.expires_ms > now_ms())
    }

    /// Derives every booking's owner slots again from its span and its calendar's zone, with
    /// the time-zone data in use now. A program that installs a newer release
    /// ([`Tzdb::install`](crate::tz::Tzdb::install)) after opening the store (to learn which
    /// zones its calendars use first) calls this once the release is installed. Versions do
    /// not change: the bookings are the same spans of real time.
    ///
    /// # Errors
    ///
    /// [`Error::is_io`] when the store refuses writes (after a failed flush).
    pub fn refresh_time_zones(&self) -> Result<(), Error> {
        for calendar in self.list() {
            if calendar.dated().is_empty() {
                continue;
            }
            let (writer, (_, published)) = self.settled(calendar.id())?;
            let current = published.current.load_full();
            let dated = current.dated.rederive(zone_or_utc(current.zone()));
            let next = Arc::new(Calendar {
                record: current.record.clone(),
                dated: Arc::new(dated),
            });
            self.writer.exclusive(
                writer,
                published.slot + 1,
                || Ok(()),
                |()| published.current.store(Arc::clone(&next)),
            )?;
        }
        Ok(())
    }

    /// The named group `id`. Lock-free.
    pub fn group(&self, id: &str) -> Option<Arc<Group>> {
        self.groups.load().get(id).cloned()
    }

    /// Every named group, by id. Lock-free.
    pub fn groups(&self) -> Vec<Arc<Group>> {
        self.groups.load().values().cloned().collect()
    }

    /// Creates or replaces the named group `id` with `members` (1 to 1,000 distinct calendar
    /// ids; they are not looked up: a group may name a calendar that is created later).
    /// Returns the group and whether it is new, once it is on disk.
    ///
    /// # Errors
    ///
    /// [`Error::is_parse`] for an id that is not a calendar-style id, a member list that is
    /// empty, longer than 1,000, or names a calendar twice; [`Error::is_io`] when the journal
    /// write failed.
    pub fn put_group(&self, id: &str, members: Vec<String>) -> Result<(Arc<Group>, bool), Error> {
        self.put_group_by(id, members, &Authority::Unchecked)
    }

    /// [`Store::put_group`], authorized by `by`, which is checked again once the group's
    /// write is under way.
    ///
    /// # Errors
    ///
    /// As [`Store::put_group`]; [`Error::is_unauthorized`] when `by` was revoked,
    /// [`Error::is_forbidden`] when it is not an admin key.
    pub fn put_group_by(
        &self,
        id: &str,
        members: Vec<String>,
        by: &Authority,
    ) -> Result<(Arc<Group>, bool), Error> {
        check_id(id)?;
        if members.is_empty() || members.len() > journal_format::MAX_GROUP {
            return Err(Error::new(
                Kind::Parse,
                std::format!(
                    "a group has 1 to {} members; this one has {}",
                    journal_format::MAX_GROUP,
                    members.len()
                ),
            ));
        }
        let mut seen = std::collections::HashSet::with_capacity(members.len());
        for member in &members {
            check_id(member)?;
            if !seen.insert(member.as_str()) {
                return Err(Error::new(
                    Kind::Parse,
                    std::format!("calendar {member:?} is named twice; name each member once"),
                ));
            }
        }
        let _writing = self
            .group_writes
            .lock()
            .map_err(|_| Error::new(Kind::Io, "a group write panicked; reopen the store"))?;
        // Held to the publication: an admin key cannot be revoked between its check and the
        // write it allows.
        let writer = self.writer.lock()?;
        by.check(None, &writer.meta.admin_keys)?;
        let record = Record::Group {
            id: String::from(id),
            members: members.clone(),
        };
        self.journal.append(&record)?;
        let group = Arc::new(Group::new(String::from(id), members));
        let mut groups = (**self.groups.load()).clone();
        let new = groups
            .insert(String::from(id), Arc::clone(&group))
            .is_none();
        self.groups.store(Arc::new(groups));
        drop(writer);
        let _ = self.compact_journal_if_due(false);
        Ok((group, new))
    }

    /// Removes the named group `id`, once that is on disk.
    ///
    /// # Errors
    ///
    /// [`Error::is_not_found`] when there is no such group; [`Error::is_io`] when the journal
    /// write failed.
    pub fn delete_group(&self, id: &str) -> Result<(), Error> {
        self.delete_group_by(id, &Authority::Unchecked)
    }

    /// [`Store::delete_group`], authorized by `by`, which is checked again once the group's
    /// write is under way.
    ///
    /// # Errors
    ///
    /// As [`Store::delete_group`]; [`Error::is_unauthorized`] when `by` was revoked,
    /// [`Error::is_forbidden`] when it is not an admin key.
    pub fn delete_group_by(&self, id: &str, by: &Authority) -> Result<(), Error> {
        let _writing = self
            .group_writes
            .lock()
            .map_err(|_| Error::new(Kind::Io, "a group write panicked; reopen the store"))?;
        let writer = self.writer.lock()?;
        by.check(None, &writer.meta.admin_keys)?;
        if self.group(id).is_none() {
            return Err(Error::new(
                Kind::NotFound,
                std::format!("no group {:?}", crate::error::Truncated(id)),
            ));
        }
        self.journal.append(&Record::DeleteGroup {
            id: String::from(id),
        })?;
        let mut groups = (**self.groups.load()).clone();
        groups.remove(id);
        self.groups.store(Arc::new(groups));
        drop(writer);
        let _ = self.compact_journal_if_due(false);
        Ok(())
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

    fn compact_journal_if_due(&self, force: bool) -> Result<(), Error> {
        let now = now_ms();
        let cutoff = now.div_euclid(1000) - self.retention_seconds;
        let directory = self.directory.load_full();
        let keep = |id: &str, incarnation: u64| {
            directory
                .by_id
                .get(id)
                .is_some_and(|p| p.current.load().incarnation() == incarnation)
        };
        self.journal
            .compact_if_due(&keep, cutoff, now, force)
            .map(|_| ())
    }

    /// One dated write to calendar `id`: `change` makes the next dated state (from a copy of
    /// the current one, pruned of what retention drops) and the journal record that says
    /// so; `amend` may complete the record once the calendar's next state is known. The
    /// record is appended and flushed as the calendar's one write in flight, then the state
    /// published.
    fn dated_write<T>(
        &self,
        id: &str,
        expected: Expected,
        change: impl FnOnce(&Calendar, &mut Dated, Owner) -> Result<(Record, T), Error>,
        amend: impl FnOnce(&Calendar, &T, &mut Record),
    ) -> Result<(Arc<Calendar>, T), Error> {
        let (writer, (_, published)) = self.settled(id)?;
        let current = published.current.load_full();
        expected.check(id, &current, &writer.meta.admin_keys)?;
        let version = next_version(&current.record)?;
        let mut dated = (*current.dated).clone();
        let cutoff = now_ms().div_euclid(1000) - self.retention_seconds;
        dated.compact_before(zone_or_utc(current.zone()), cutoff);
        let owner = Owner {
            id: String::from(id),
            incarnation: current.incarnation(),
            version,
        };
        let (mut record, value) = change(&current, &mut dated, owner)?;
        let mut next = current.record.clone();
        next.version = version;
        let calendar = Arc::new(Calendar {
            record: next,
            dated: Arc::new(dated),
        });
        amend(&calendar, &value, &mut record);
        self.writer.exclusive(
            writer,
            published.slot + 1,
            || self.journal.append(&record),
            |()| published.current.store(Arc::clone(&calendar)),
        )?;
        // The write is durable; a compaction that fails now refuses later dated writes and
        // says why then.
        let _ = self.compact_journal_if_due(false);
        Ok((calendar, value))
    }

    /// The writer, once calendar `id` has no write in flight, with the directory and the
    /// calendar as they are then.
    #[allow(clippy::type_complexity)]
    fn settled(
        &self,
        id: &str,
    ) -> Result<(writer::Guard<'_>, (Arc<Directory>, Arc<Published>)), Error> {
        self.writer.settled(|| {
            // Looked up again after every wait: the calendar may be gone or recreated.
            let directory = self.directory.load_full();
            let published = directory
                .by_id
                .get(id)
                .cloned()
                .ok_or_else(|| not_found(id))?;
            Ok((published.slot + 1, (directory, published)))
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
