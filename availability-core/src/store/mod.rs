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
//! - `calendar`: the calendar value ([`Calendar`], [`Change`], [`KeyHash`]) and the rules for
//!   changing it: ids ([`check_id`]), zone names ([`check_zone_name`]), keys.
//! - `writer`: the single writer: copy bookkeeping, the whole group-commit protocol, growth,
//!   and refusing writes after a failed flush.
//! - `open`: a new file's image, and recovery: making the file durable, choosing each
//!   record's copy, checking the whole file.
//! - `format`: the bytes: header, record copies and payloads; pure encode and decode.
//! - `backend`: where the bytes live: the mapped file, or the test double.
//! - `file`: the mapped file: atomic creation, the lock, the mapping, flushes, growth; the
//!   per-platform part (lock, positional I/O) in one small module each.
//! - `double` (feature `test-backend`): an in-memory file that keeps only what was flushed
//!   and loses power at a chosen write, for tests and fuzzing.

mod backend;
mod calendar;
#[cfg(feature = "test-backend")]
pub mod double;
mod file;
mod format;
mod open;
mod writer;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use std::collections::HashMap;
use std::path::Path;

use arc_swap::ArcSwap;

use self::backend::Backend;
use self::calendar::{add_key, new_calendar, next_state, not_found, remove_key, version_mismatch};
pub use self::calendar::{
    check_id, check_zone_name, Calendar, Change, KeyHash, DEFAULT_CALENDAR, DEFAULT_ZONE,
};
use self::file::MappedFile;
use self::format::PayloadKind;
use self::writer::Writer;
use crate::error::{Error, Kind};

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
        let file = MappedFile::open(path.as_ref(), open::new_file_image)?;
        open::open_backend(Backend::Mapped(file))
    }

    /// Opens a store over a [`double::FileDouble`] instead of a file, as [`Store::open`]
    /// opens a file that exists. For power-loss tests only.
    ///
    /// # Errors
    ///
    /// As [`Store::open`].
    #[cfg(feature = "test-backend")]
    pub fn open_double(file: double::FileDouble) -> Result<Store, Error> {
        open::open_backend(Backend::Double(file))
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
        check_id(id)?;
        check_zone_name(zone)?;
        let mut checked = Vec::with_capacity(keys.len());
        for key in keys {
            add_key(&mut checked, key, "new calendars")?;
        }
        let mut writer = self.writer.lock()?;
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
        let record = new_calendar(id, zone, checked);
        self.writer.write_now(
            &mut writer,
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
    /// With `expected_version` (HTTP `If-Match`), the calendar is deleted only if it is at
    /// that version.
    ///
    /// # Errors
    ///
    /// [`Error::is_not_found`] when there is no such calendar,
    /// [`Error::is_version_mismatch`] when it is not at `expected_version`, [`Error::is_io`]
    /// when the write failed. Nothing changes on any error.
    pub fn delete(&self, id: &str, expected_version: Option<u64>) -> Result<(), Error> {
        let (mut writer, (directory, published)) = self.settled(id)?;
        let current = published.current.load().version();
        if let Some(expected) = expected_version.filter(|&v| v != current) {
            return Err(version_mismatch(id, expected, current));
        }
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
        let (writer, (_, published)) = self.settled(id)?;
        let current = published.current.load_full();
        let version = current.version();
        if let Some(expected) = expected_version.filter(|&v| v != version) {
            return Err(version_mismatch(id, expected, version));
        }
        let record = next_state(&current.record, change)?;
        let payload = record.encode();
        let calendar = Arc::new(Calendar { record });
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
        let mut writer = self.writer.lock()?;
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
        let mut writer = self.writer.lock()?;
        let mut meta = writer.meta.clone();
        remove_key(&mut meta.admin_keys, key_id, "the admin keys")?;
        self.writer.write_meta(&mut writer, meta)?;
        self.admin_keys
            .store(Arc::new(writer.meta.admin_keys.clone()));
        Ok(())
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
