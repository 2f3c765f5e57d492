//! The snapshot store and its file (DESIGN.md section 4).
//!
//! A [`Store`] holds every calendar in one memory-mapped file. Readers get a calendar's
//! current state with [`Store::get`], which never blocks: the state is an immutable
//! [`Calendar`] behind an `Arc`, published with `arc-swap`. A commit validates its change,
//! writes the new state into the record copy that does not hold the newest valid state,
//! flushes it to disk with `msync(MS_SYNC)` (sharing the flush with concurrent commits to
//! other calendars), and only then publishes the new state and returns it. So a commit that returned `Ok` survives `kill -9`
//! and power loss, and a crash leaves each calendar at its last acknowledged state or at the
//! one being written, never at a mixture.
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
//! - `format`: the bytes: header, record copies, payloads; pure encode and decode.
//! - `file`: the file: atomic creation, the lock, the mapping, flushed page writes, growth.
//! - this module: the records in memory, the published snapshots and the commit rules.

mod file;
mod format;

use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::hash::{BuildHasherDefault, Hasher};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;

use self::file::{corrupt, StoreFile};
pub use self::format::KeyHash;
use self::format::{
    check_id, check_key_id, check_zone, choose, copy_offset, encode_copy, encode_header, file_len,
    record_name, CalendarRecord, MetaRecord, PayloadKind, MAX_KEYS, MAX_SLOTS, META_RECORD, PAGE,
};
use crate::batch::Batch;
use crate::error::{Error, Kind};
use crate::week::Week;

/// Calendar slots in a new file. The file doubles when they are all taken.
const INITIAL_SLOTS: u32 = 8;

/// The calendar every store has from its first open.
pub const DEFAULT_CALENDAR: &str = "default";
/// The owner zone of the `default` calendar.
pub const DEFAULT_ZONE: &str = "UTC";

/// A calendar's state at one version: immutable, shared by `Arc`.
#[derive(Clone, PartialEq, Eq)]
pub struct Calendar {
    record: CalendarRecord,
}

impl Calendar {
    /// The calendar's id, `[a-z0-9][a-z0-9-]{0,62}`.
    pub fn id(&self) -> &str {
        &self.record.id
    }

    /// The owner's time zone (an IANA name); the week is wall-clock time there.
    pub fn zone(&self) -> &str {
        &self.record.zone
    }

    /// The week, in the owner's wall-clock time.
    pub fn week(&self) -> Week {
        self.record.week
    }

    /// The version: 1 when created, one more for every committed change.
    pub fn version(&self) -> u64 {
        self.record.version
    }

    /// When the last change was committed, in milliseconds since the Unix epoch.
    pub fn changed_at_unix_ms(&self) -> i64 {
        self.record.changed_at_ms
    }

    /// When the last change was committed.
    pub fn changed_at(&self) -> SystemTime {
        let ms = self.record.changed_at_ms;
        let offset = Duration::from_millis(ms.unsigned_abs());
        let time = if ms >= 0 {
            UNIX_EPOCH.checked_add(offset)
        } else {
            UNIX_EPOCH.checked_sub(offset)
        };
        time.unwrap_or(UNIX_EPOCH)
    }

    /// The hashes of the calendar's keys.
    pub fn keys(&self) -> &[KeyHash] {
        &self.record.keys
    }

    /// The hash of the key with id `key_id`.
    pub fn key(&self, key_id: &str) -> Option<&KeyHash> {
        self.record.keys.iter().find(|k| k.id() == key_id)
    }
}

impl fmt::Debug for Calendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Key hashes stay out of logs.
        f.debug_struct("Calendar")
            .field("id", &self.record.id)
            .field("zone", &self.record.zone)
            .field("version", &self.record.version)
            .field("changed_at_unix_ms", &self.record.changed_at_ms)
            .field("keys", &self.record.keys.len())
            .field("week", &self.record.week)
            .finish()
    }
}

/// One change to a calendar, committed by [`Store::commit`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// Applies a batch of edits to the current week (HTTP `PATCH`).
    Apply(Batch),
    /// Replaces the week: the batch's slots get their statuses, every other slot is
    /// unavailable (HTTP `PUT`).
    Replace(Batch),
    /// Sets the owner's time zone; the stored wall-clock week stays as written.
    SetZone(String),
    /// Adds a key hash; its id must be new to the calendar.
    AddKey(KeyHash),
    /// Removes the key with this id.
    RemoveKey(String),
}

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
    /// The single writer: the bookkeeping of which copy is newest, and which records have a
    /// write that is not yet flushed.
    writer: Mutex<Writer>,
    /// Signalled (with `writer` held) when a record's staged write is flushed and published.
    settled: Condvar,
    /// Held by the thread that flushes on behalf of every commit staged so far.
    flushes: Mutex<Flushes>,
    /// The locked, mapped file.
    file: StoreFile,
}

/// Group commit: how far the flushes have got.
#[derive(Default)]
struct Flushes {
    /// Every commit staged with a number up to this one is durable.
    flushed: u64,
    /// Set when a flush failed: no later flush may be trusted to cover the lost pages.
    failed: Option<String>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("calendars", &self.directory.load().by_id.len())
            .finish_non_exhaustive()
    }
}

type ById = HashMap<Arc<str>, Arc<Published>, BuildHasherDefault<IdHasher>>;

#[derive(Default)]
struct Directory {
    by_id: ById,
}

/// The hasher of the directory: FxHash, rustc's own. Reads are the hot path and ids are short;
/// SipHash's resistance to chosen-key flooding buys nothing here, since only admins choose ids
/// and a store holds at most 65536 of them.
#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

impl IdHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for IdHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            if let Some(head) = word.get_mut(..rest.len()) {
                head.copy_from_slice(rest);
            }
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// One calendar's slot and its current state.
struct Published {
    slot: u32,
    current: ArcSwap<Calendar>,
}

/// Where a record's newest valid state is.
#[derive(Clone, Copy, Debug)]
struct Copies {
    /// The copy (0 or 1) that holds it; a commit writes the other one.
    newest: usize,
    /// Its sequence number; a commit writes one more.
    seq: u64,
}

struct Writer {
    meta: MetaRecord,
    meta_copies: Copies,
    /// Per calendar slot, in slot order.
    slots: Vec<Copies>,
    /// Slots that hold no calendar, lowest first.
    free: BTreeSet<u32>,
    /// Set when a flush failed; every later write is refused with this message.
    failed: Option<String>,
    /// How many commits have been staged (written to the mapping, not necessarily flushed).
    written: u64,
    /// The bytes holding the pages staged since a flush last took them: the next flush's
    /// span.
    pending: Option<(usize, usize)>,
    /// Records with a staged write that is not yet flushed. A record never has two: the
    /// copy that is not being written must stay the valid one until the write is durable.
    in_flight: BTreeSet<u32>,
}

enum SlotValue {
    Free,
    Calendar(CalendarRecord),
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn default_calendar() -> CalendarRecord {
    CalendarRecord {
        id: String::from(DEFAULT_CALENDAR),
        zone: String::from(DEFAULT_ZONE),
        week: Week::UNAVAILABLE,
        version: 1,
        changed_at_ms: now_ms(),
        keys: Vec::new(),
    }
}

/// The pages of calendar slots `from..to`, each a free record in copy A and zeros in copy B.
fn free_slot_pages(from: u32, to: u32) -> Vec<u8> {
    let mut bytes = std::vec![0u8; 2 * PAGE * (to - from) as usize];
    for (i, pair) in bytes.chunks_exact_mut(2 * PAGE).enumerate() {
        let record = from + i as u32 + 1;
        if let Some(copy_a) = pair.get_mut(..PAGE) {
            encode_copy(copy_a, record, 1, PayloadKind::Free, &[]);
        }
    }
    bytes
}

/// The bytes of a new store file: header, meta record, `default` in slot 0, free slots.
fn new_file_image() -> Vec<u8> {
    let mut image = Vec::with_capacity(file_len(INITIAL_SLOTS));
    image.extend_from_slice(&encode_header());
    let meta = MetaRecord {
        slots: INITIAL_SLOTS,
        admin_keys: Vec::new(),
    };
    let mut copy = [0u8; PAGE];
    encode_copy(&mut copy, META_RECORD, 1, PayloadKind::Meta, &meta.encode());
    image.extend_from_slice(&copy);
    image.extend_from_slice(&[0u8; PAGE]);
    encode_copy(
        &mut copy,
        1,
        1,
        PayloadKind::Calendar,
        &default_calendar().encode(),
    );
    image.extend_from_slice(&copy);
    image.extend_from_slice(&[0u8; PAGE]);
    image.extend_from_slice(&free_slot_pages(1, INITIAL_SLOTS));
    image
}

impl Store {
    /// Opens the store file at `path`, creating it (with the `default` calendar, zone `UTC`)
    /// when there is no file. The directory must exist.
    ///
    /// Opening reads and checks every record and writes nothing: a damaged copy next to a
    /// valid one is repaired by the next commit to its record.
    ///
    /// # Errors
    ///
    /// - [`Error::is_locked`]: another process (or another `Store` here) has it open. A lock
    ///   that is released within 100 ms (a previous process exiting) is waited for.
    /// - [`Error::is_corrupt`]: the header is wrong (magic, format version, CRC, sizes), the
    ///   file is shorter than its records, or a record has no valid copy. The message names
    ///   the file, the record and what failed. The file is left as it was.
    /// - [`Error::is_io`]: the operating system refused to create, open, lock or map it.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, Error> {
        let file = StoreFile::open(path.as_ref(), new_file_image)?;
        let (writer, by_id) = file.read(|bytes| load(file.path(), bytes))??;
        let admin_keys = writer.meta.admin_keys.clone();
        Ok(Store {
            directory: ArcSwap::from_pointee(Directory { by_id }),
            admin_keys: ArcSwap::from_pointee(admin_keys),
            writer: Mutex::new(writer),
            settled: Condvar::new(),
            flushes: Mutex::new(Flushes::default()),
            file,
        })
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
    /// [`Error::is_parse`] for an id that is not `[a-z0-9][a-z0-9-]{0,62}` or a zone name
    /// that is not 1 to 64 characters of an IANA name's alphabet (the name is not looked up),
    /// [`Error::is_already_exists`] when the id is taken, [`Error::is_capacity`] when the
    /// file has reached its largest size, [`Error::is_io`] when the write failed.
    pub fn create(&self, id: &str, zone: &str) -> Result<Arc<Calendar>, Error> {
        check_id(id)?;
        check_zone(zone)?;
        let mut writer = self.writer()?;
        if self.contains(id) {
            return Err(Error::new(
                Kind::AlreadyExists,
                std::format!("calendar {id:?} already exists"),
            ));
        }
        let slot = match writer.free.first().copied() {
            Some(slot) => slot,
            None => writer.grow(&self.file)?,
        };
        let record = CalendarRecord {
            id: String::from(id),
            zone: String::from(zone),
            week: Week::UNAVAILABLE,
            version: 1,
            changed_at_ms: now_ms(),
            keys: Vec::new(),
        };
        writer.write_now(
            &self.file,
            slot + 1,
            PayloadKind::Calendar,
            &record.encode(),
        )?;
        writer.free.remove(&slot);
        let calendar = Arc::new(Calendar { record });
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
    /// # Errors
    ///
    /// [`Error::is_not_found`] when there is no such calendar, [`Error::is_io`] when the write
    /// failed.
    pub fn delete(&self, id: &str) -> Result<(), Error> {
        let (mut writer, directory, published) = self.settled_writer(id)?;
        let slot = published.slot;
        writer.write_now(&self.file, slot + 1, PayloadKind::Free, &[])?;
        writer.free.insert(slot);
        let mut by_id = directory.by_id.clone();
        by_id.remove(id);
        self.directory.store(Arc::new(Directory { by_id }));
        Ok(())
    }

    /// Commits one change to calendar `id`, bumping its version by one, and returns the new
    /// state once it is on disk (and published to readers).
    ///
    /// With `expected_version` (HTTP `If-Match`), the change is made only if the calendar is
    /// at that version.
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
    /// - [`Error::is_io`]: the write or the flush failed.
    pub fn commit(
        &self,
        id: &str,
        expected_version: Option<u64>,
        change: &Change,
    ) -> Result<Arc<Calendar>, Error> {
        let (mut writer, _, published) = self.settled_writer(id)?;
        let current = published.current.load_full();
        let version = current.record.version;
        if let Some(expected) = expected_version {
            if expected != version {
                return Err(Error::new(
                    Kind::VersionMismatch,
                    std::format!(
                        "calendar {id:?} is at version {version}, not {expected}: it changed \
                         since it was read; read it again and retry"
                    ),
                ));
            }
        }
        let mut record = current.record.clone();
        apply(&mut record, change)?;
        record.version = version.checked_add(1).ok_or_else(|| {
            Error::new(
                Kind::Capacity,
                std::format!("calendar {id:?} has reached the last version number"),
            )
        })?;
        // Never let the time of last change run backwards, even if the clock does.
        record.changed_at_ms = now_ms().max(current.record.changed_at_ms);

        // Group commit: stage the page, let other writers stage theirs, and have one thread
        // flush them all. The record stays in flight (no other write to it) until then.
        let record_number = published.slot + 1;
        let offset = writer.stage(
            &self.file,
            record_number,
            PayloadKind::Calendar,
            &record.encode(),
        )?;
        writer.pending = Some(match writer.pending {
            None => (offset, offset + PAGE),
            Some((start, end)) => (start.min(offset), end.max(offset + PAGE)),
        });
        writer.written += 1;
        let staged = writer.written;
        writer.in_flight.insert(record_number);
        drop(writer);

        let flushed = self.flush_through(staged);

        let mut writer = self.writer.lock().map_err(|_| poisoned())?;
        writer.in_flight.remove(&record_number);
        let result = match (flushed, &writer.failed) {
            (Err(err), _) => {
                writer
                    .failed
                    .get_or_insert_with(|| alloc::string::ToString::to_string(&err));
                Err(err)
            }
            (Ok(()), Some(reason)) => Err(refusing(reason)),
            (Ok(()), None) => {
                let calendar = Arc::new(Calendar { record });
                published.current.store(Arc::clone(&calendar));
                Ok(calendar)
            }
        };
        drop(writer);
        self.settled.notify_all();
        result
    }

    /// Adds an admin key hash. Returns once it is on disk.
    ///
    /// # Errors
    ///
    /// [`Error::is_already_exists`] when the key id is taken, [`Error::is_capacity`] when
    /// there are 16 admin keys, [`Error::is_io`] when the write failed.
    pub fn add_admin_key(&self, key: KeyHash) -> Result<(), Error> {
        let mut writer = self.writer()?;
        let mut meta = writer.meta.clone();
        add_key(&mut meta.admin_keys, key, "the admin keys")?;
        writer.write_meta(&self.file, meta)?;
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
        let mut writer = self.writer()?;
        let mut meta = writer.meta.clone();
        remove_key(&mut meta.admin_keys, key_id, "the admin keys")?;
        writer.write_meta(&self.file, meta)?;
        self.admin_keys
            .store(Arc::new(writer.meta.admin_keys.clone()));
        Ok(())
    }

    /// The writer, once no other write is in progress.
    fn writer(&self) -> Result<MutexGuard<'_, Writer>, Error> {
        let writer = self.writer.lock().map_err(|_| poisoned())?;
        if let Some(reason) = &writer.failed {
            return Err(refusing(reason));
        }
        Ok(writer)
    }

    /// The writer, once calendar `id` has no write in flight, with the directory and the
    /// calendar as they are then.
    #[allow(clippy::type_complexity)]
    fn settled_writer(
        &self,
        id: &str,
    ) -> Result<(MutexGuard<'_, Writer>, Arc<Directory>, Arc<Published>), Error> {
        let mut writer = self.writer()?;
        loop {
            // Looked up again after every wait: the calendar may be gone or recreated.
            let directory = self.directory.load_full();
            let Some(published) = directory.by_id.get(id).cloned() else {
                return Err(not_found(id));
            };
            if !writer.in_flight.contains(&(published.slot + 1)) {
                return Ok((writer, directory, published));
            }
            writer = self.settled.wait(writer).map_err(|_| poisoned())?;
            if let Some(reason) = &writer.failed {
                return Err(refusing(reason));
            }
        }
    }

    /// Returns once every commit staged up to number `staged` is durable, flushing them
    /// (and any staged since) in one msync unless another thread already has.
    fn flush_through(&self, staged: u64) -> Result<(), Error> {
        let mut flushes = self.flushes.lock().map_err(|_| poisoned())?;
        if let Some(reason) = &flushes.failed {
            return Err(refusing(reason));
        }
        if flushes.flushed >= staged {
            return Ok(());
        }
        // Every commit numbered up to `target` is in the mapping now, within `span`, so one
        // flush covers them all. A page staged later gets the next flush.
        let (target, span) = {
            let mut writer = self.writer.lock().map_err(|_| poisoned())?;
            (writer.written, writer.pending.take())
        };
        let Some((start, end)) = span else {
            // Nothing is waiting: a flush that took this commit's page has completed.
            flushes.flushed = target;
            return Ok(());
        };
        match self.file.flush_span(start, end) {
            Ok(()) => {
                flushes.flushed = target;
                Ok(())
            }
            Err(err) => {
                flushes.failed = Some(alloc::string::ToString::to_string(&err));
                Err(err)
            }
        }
    }
}

#[cold]
fn poisoned() -> Error {
    Error::new(
        Kind::Io,
        "the store refuses writes: a write panicked while in progress; reopen it",
    )
}

#[cold]
fn refusing(reason: &str) -> Error {
    Error::new(
        Kind::Io,
        std::format!(
            "the store refuses writes since a flush failed ({reason}); reopen it to see what \
             is on disk"
        ),
    )
}

/// Reads and checks a whole mapped file: the writer's bookkeeping and the calendars.
fn load(path: &Path, bytes: &[u8]) -> Result<(Writer, ById), Error> {
    format::check_header(bytes).map_err(|what| corrupt(path, &what))?;
    if bytes.len() < file_len(0) {
        return Err(corrupt(
            path,
            &std::format!(
                "the file is {} bytes, too short for its header and meta record ({} bytes)",
                bytes.len(),
                file_len(0)
            ),
        ));
    }
    let page = |offset: usize| bytes.get(offset..offset + PAGE).unwrap_or_default();
    let pair = |record: u32| [page(copy_offset(record, 0)), page(copy_offset(record, 1))];
    let meta = choose(pair(META_RECORD), META_RECORD, |kind, payload| {
        if kind != PayloadKind::Meta {
            return Err(std::format!(
                "payload kind {kind:?} where the meta record belongs"
            ));
        }
        MetaRecord::decode(payload)
    })
    .map_err(|what| corrupt(path, &std::format!("{}: {what}", record_name(META_RECORD))))?;
    let slot_count = meta.value.slots;
    let needed = file_len(slot_count);
    if bytes.len() < needed {
        return Err(corrupt(
            path,
            &std::format!(
                "the file is {} bytes, but its meta record counts {slot_count} calendar \
                 slots, which need {needed} bytes: the file was truncated",
                bytes.len()
            ),
        ));
    }

    let mut slots = Vec::with_capacity(slot_count as usize);
    let mut free = BTreeSet::new();
    let mut by_id = ById::default();
    for slot in 0..slot_count {
        let record = slot + 1;
        let chosen = choose(pair(record), record, |kind, payload| match kind {
            PayloadKind::Free if payload.is_empty() => Ok(SlotValue::Free),
            PayloadKind::Free => Err(String::from("a free slot with a payload")),
            PayloadKind::Calendar => CalendarRecord::decode(payload).map(SlotValue::Calendar),
            PayloadKind::Meta => Err(String::from("a meta payload in a calendar slot")),
        })
        .map_err(|what| corrupt(path, &std::format!("{}: {what}", record_name(record))))?;
        slots.push(Copies {
            newest: chosen.copy,
            seq: chosen.seq,
        });
        match chosen.value {
            SlotValue::Free => {
                free.insert(slot);
            }
            SlotValue::Calendar(calendar) => {
                let id: Arc<str> = Arc::from(calendar.id.as_str());
                if let Some(other) = by_id.get(&id) {
                    return Err(corrupt(
                        path,
                        &std::format!(
                            "{}: calendar {id:?} is also in calendar slot {}",
                            record_name(record),
                            other.slot
                        ),
                    ));
                }
                let published = Published {
                    slot,
                    current: ArcSwap::from_pointee(Calendar { record: calendar }),
                };
                by_id.insert(id, Arc::new(published));
            }
        }
    }
    let writer = Writer {
        meta_copies: Copies {
            newest: meta.copy,
            seq: meta.seq,
        },
        meta: meta.value,
        slots,
        free,
        failed: None,
        written: 0,
        pending: None,
        in_flight: BTreeSet::new(),
    };
    Ok((writer, by_id))
}

#[cold]
fn not_found(id: &str) -> Error {
    Error::new(Kind::NotFound, std::format!("no calendar {id:?}"))
}

/// Applies `change` to a copy of a calendar; on error the copy is discarded by the caller.
fn apply(record: &mut CalendarRecord, change: &Change) -> Result<(), Error> {
    match change {
        Change::Apply(batch) => record.week = batch.apply(&record.week)?,
        Change::Replace(batch) => record.week = batch.apply_replacing()?,
        Change::SetZone(zone) => {
            check_zone(zone)?;
            record.zone.clone_from(zone);
        }
        Change::AddKey(key) => {
            let whose = std::format!("calendar {:?}", record.id);
            add_key(&mut record.keys, key.clone(), &whose)?;
        }
        Change::RemoveKey(key_id) => {
            let whose = std::format!("calendar {:?}", record.id);
            remove_key(&mut record.keys, key_id, &whose)?;
        }
    }
    Ok(())
}

fn add_key(keys: &mut Vec<KeyHash>, key: KeyHash, whose: &str) -> Result<(), Error> {
    if keys.iter().any(|k| k.id() == key.id()) {
        return Err(Error::new(
            Kind::AlreadyExists,
            std::format!("{whose} already have a key with id {:?}", key.id()),
        ));
    }
    if keys.len() >= MAX_KEYS {
        return Err(Error::new(
            Kind::Capacity,
            std::format!(
                "{whose} already have {MAX_KEYS} keys, the most a record holds; remove one first"
            ),
        ));
    }
    keys.push(key);
    Ok(())
}

fn remove_key(keys: &mut Vec<KeyHash>, key_id: &str, whose: &str) -> Result<(), Error> {
    check_key_id(key_id)?;
    let before = keys.len();
    keys.retain(|k| k.id() != key_id);
    if keys.len() == before {
        return Err(Error::new(
            Kind::NotFound,
            std::format!("{whose} have no key with id {key_id:?}"),
        ));
    }
    Ok(())
}

impl Writer {
    fn copies(&self, record: u32) -> Option<Copies> {
        match record.checked_sub(1) {
            None => Some(self.meta_copies),
            Some(slot) => self.slots.get(slot as usize).copied(),
        }
    }

    /// Writes the next state of `record` into the copy that does not hold its newest valid
    /// state, in the mapping only, and returns that copy's offset. Nothing is durable yet.
    fn stage(
        &mut self,
        file: &StoreFile,
        record: u32,
        kind: PayloadKind,
        payload: &[u8],
    ) -> Result<usize, Error> {
        let Some(copies) = self.copies(record) else {
            return Err(Error::new(
                Kind::Io,
                std::format!("{} is not in the file", record_name(record)),
            ));
        };
        // Only a damaged or hostile file can hold a sequence this high; refuse rather than
        // wrap around to a number the other copy beats.
        let Some(seq) = copies.seq.checked_add(1) else {
            return Err(Error::new(
                Kind::Capacity,
                std::format!("{}: its sequence number is exhausted", record_name(record)),
            ));
        };
        let next = Copies {
            newest: 1 - copies.newest,
            seq,
        };
        let offset = copy_offset(record, next.newest);
        file.stage_page(offset, |page| {
            encode_copy(page, record, next.seq, kind, payload);
        })?;
        match record.checked_sub(1) {
            None => self.meta_copies = next,
            Some(slot) => {
                if let Some(entry) = self.slots.get_mut(slot as usize) {
                    *entry = next;
                }
            }
        }
        Ok(offset)
    }

    /// Stages the next state of `record` and flushes it before returning. A failed flush
    /// stops all further writes.
    fn write_now(
        &mut self,
        file: &StoreFile,
        record: u32,
        kind: PayloadKind,
        payload: &[u8],
    ) -> Result<(), Error> {
        let offset = self.stage(file, record, kind, payload)?;
        file.flush_page(offset).inspect_err(|err| {
            self.failed = Some(alloc::string::ToString::to_string(err));
        })
    }

    fn write_meta(&mut self, file: &StoreFile, meta: MetaRecord) -> Result<(), Error> {
        self.write_now(file, META_RECORD, PayloadKind::Meta, &meta.encode())?;
        self.meta = meta;
        Ok(())
    }

    /// Doubles the calendar slots and returns the first new one. The new slots are written
    /// and flushed past the end of the part in use before the meta record counts them, so a
    /// crash at any point leaves either the old store (with unused bytes after it) or the
    /// grown one.
    fn grow(&mut self, file: &StoreFile) -> Result<u32, Error> {
        let old = self.meta.slots;
        let new = old.saturating_mul(2).min(MAX_SLOTS);
        if new <= old {
            return Err(Error::new(
                Kind::Capacity,
                std::format!("the store holds at most {MAX_SLOTS} calendars; delete one first"),
            ));
        }
        file.grow(file_len(old), &free_slot_pages(old, new))?;
        let meta = MetaRecord {
            slots: new,
            admin_keys: self.meta.admin_keys.clone(),
        };
        self.write_meta(file, meta)?;
        self.slots
            .extend((old..new).map(|_| Copies { newest: 0, seq: 1 }));
        self.free.extend(old..new);
        Ok(old)
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

    #[test]
    fn a_new_image_opens_as_a_store_with_default() {
        let image = new_file_image();
        assert_eq!(image.len(), file_len(INITIAL_SLOTS));
    }
}
