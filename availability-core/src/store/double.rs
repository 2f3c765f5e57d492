//! A file double for power-loss tests (feature `test-backend`): an in-memory store file that
//! keeps two images, what the process sees (the page cache) and what is on disk (what was
//! flushed), and crashes at a chosen write.
//!
//! It models the medium that docs/format.md, section 1, assumes:
//!
//! - a page written into the file (through the mapping) is in the cache only;
//! - `flush_span` (msync of a range) copies that range of the cache to the disk;
//! - `sync_all` and `sync` (fsync, fdatasync) copy the whole cache to the disk, the file's
//!   length included; a growth's pages (written past the end) are durable only after them;
//! - a **kill** (SIGKILL) at a write lets that write reach the cache and stops the process:
//!   the cache survives, and the next process reads it;
//! - a **power loss** at a write stops everything and keeps only the disk, plus whatever part
//!   of that one write the [`Tear`] lets through (the write was in progress when the power
//!   went: none of it, all of it, a prefix, or some of its 512-byte sectors).
//!
//! Every page write and every growth write is one *write point*, numbered from 0 in the
//! order the store makes them; [`FileDouble::writes`] counts them, so a test can run a
//! sequence once, then again with a crash at each point in turn. [`FileDouble::fail_sync`]
//! makes a chosen flush or sync fail instead, as a disk error would.
//!
//! After a crash every operation fails; [`FileDouble::reboot`] gives the file the next
//! process (after a kill) or the next boot (after a power loss) finds.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use std::format;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use super::file::{io_error, outside};
use super::format::PAGE;
use crate::error::Error;

/// The size of the units a torn write is made of.
const SECTOR: usize = 512;

/// How much of the write in progress reaches the disk when the power goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tear {
    /// None of it.
    Lost,
    /// All of it (the power went between the write and its flush).
    Whole,
    /// Its first bytes, at most this many.
    Prefix(usize),
    /// Each 512-byte sector with probability one half, chosen by this seed.
    Sectors(u64),
}

/// When and how the double crashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crash {
    /// The process is killed right after write point `at` reached the cache.
    Kill {
        /// The write point (0 is the first write after the double was made or rebooted).
        at: u64,
    },
    /// The power goes during write point `at`.
    PowerLoss {
        /// The write point (0 is the first write after the double was made or rebooted).
        at: u64,
        /// What part of that write reaches the disk.
        tear: Tear,
    },
}

/// An in-memory store file that keeps only what was flushed. Cloning shares the file, so a
/// test keeps a handle while a store owns another.
#[derive(Clone, Debug)]
pub struct FileDouble {
    disk: Arc<Mutex<Disk>>,
    path: PathBuf,
}

#[derive(Debug)]
struct Disk {
    /// What survives a power loss.
    durable: Vec<u8>,
    /// What the process reads and writes (the page cache).
    cache: Vec<u8>,
    /// How many bytes the mapping covers; page writes past it fail, as they would.
    mapped: usize,
    /// Write points so far.
    writes: u64,
    /// Flushes and syncs so far.
    syncs: u64,
    crash: Option<Crash>,
    fail_sync: Option<u64>,
    /// What happened, once the double has crashed.
    down: Option<Crash>,
}

impl FileDouble {
    /// A file holding `image` on disk (and so in the cache).
    pub fn new(image: Vec<u8>) -> FileDouble {
        FileDouble {
            disk: Arc::new(Mutex::new(Disk {
                durable: image.clone(),
                mapped: image.len(),
                cache: image,
                writes: 0,
                syncs: 0,
                crash: None,
                fail_sync: None,
                down: None,
            })),
            path: PathBuf::from("(file double)"),
        }
    }

    /// Crashes as `crash` says when its write point comes.
    pub fn crash_at(&self, crash: Crash) {
        self.lock().crash = Some(crash);
    }

    /// Makes flush or sync number `n` (0 is the next one) fail, writing nothing to disk.
    pub fn fail_sync(&self, n: u64) {
        let mut disk = self.lock();
        disk.fail_sync = Some(disk.syncs + n);
    }

    /// The write points so far.
    pub fn writes(&self) -> u64 {
        self.lock().writes
    }

    /// The flushes and syncs so far.
    pub fn syncs(&self) -> u64 {
        self.lock().syncs
    }

    /// How the double crashed, if it has.
    pub fn crashed(&self) -> Option<Crash> {
        self.lock().down
    }

    /// What is on disk: what a power loss now would leave.
    pub fn durable(&self) -> Vec<u8> {
        self.lock().durable.clone()
    }

    /// What the process sees.
    pub fn cache(&self) -> Vec<u8> {
        self.lock().cache.clone()
    }

    /// The file the next process finds: after a kill (or no crash) the cache and the disk as
    /// they are; after a power loss, the disk only. Counters and plans start afresh.
    pub fn reboot(&self) -> FileDouble {
        let disk = self.lock();
        let durable = disk.durable.clone();
        let cache = match disk.down {
            Some(Crash::PowerLoss { .. }) => durable.clone(),
            _ => disk.cache.clone(),
        };
        FileDouble {
            disk: Arc::new(Mutex::new(Disk {
                durable,
                mapped: cache.len(),
                cache,
                writes: 0,
                syncs: 0,
                crash: None,
                fail_sync: None,
                down: None,
            })),
            path: self.path.clone(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Disk> {
        // A panic while the lock was held left plain bytes; they are still worth reading.
        self.disk.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn error(&self, doing: &str, what: &str) -> Error {
        io_error(&self.path, doing, io::Error::other(String::from(what)))
    }

    fn check_up(&self, disk: &Disk, doing: &str) -> Result<(), Error> {
        match disk.down {
            None => Ok(()),
            Some(Crash::Kill { .. }) => Err(self.error(doing, "the process was killed")),
            Some(Crash::PowerLoss { .. }) => Err(self.error(doing, "the power failed")),
        }
    }

    /// One write point: `bytes` at `at`, into the cache, or crashing as planned.
    fn write(&self, disk: &mut Disk, at: usize, bytes: &[u8], doing: &str) -> Result<(), Error> {
        self.check_up(disk, doing)?;
        let point = disk.writes;
        disk.writes += 1;
        match disk.crash {
            Some(crash @ Crash::PowerLoss { at: when, tear }) if when == point => {
                tear_onto(&mut disk.durable, at, bytes, tear);
                disk.down = Some(crash);
                return Err(self.error(doing, "the power failed"));
            }
            _ => {}
        }
        put(&mut disk.cache, at, bytes);
        match disk.crash {
            Some(crash @ Crash::Kill { at: when }) if when == point => {
                disk.down = Some(crash);
                Err(self.error(doing, "the process was killed"))
            }
            _ => Ok(()),
        }
    }

    /// One flush or sync: copies `start..end` of the cache to the disk, unless this one is
    /// planned to fail.
    fn flush(&self, disk: &mut Disk, start: usize, end: usize, doing: &str) -> Result<(), Error> {
        self.check_up(disk, doing)?;
        let n = disk.syncs;
        disk.syncs += 1;
        if disk.fail_sync == Some(n) {
            return Err(self.error(doing, "injected I/O error"));
        }
        let end = end.min(disk.cache.len());
        if start < end {
            let bytes = disk.cache.get(start..end).unwrap_or_default().to_vec();
            put(&mut disk.durable, start, &bytes);
        }
        if end == disk.cache.len() {
            // A sync of everything makes the length durable too (the file never shrinks).
            disk.durable.truncate(disk.cache.len());
        }
        Ok(())
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn sync_all(&self) -> Result<(), Error> {
        let mut disk = self.lock();
        let len = disk.cache.len();
        self.flush(
            &mut disk,
            0,
            len,
            "flushing the file to disk before reading it",
        )
    }

    pub(crate) fn copy_prefix(
        &self,
        len: usize,
        out: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let disk = self.lock();
        self.check_up(&disk, "reading")?;
        match disk.cache.get(..len) {
            Some(bytes) => out(bytes),
            None => Err(Error::new(
                crate::error::Kind::Io,
                "a backup asked for bytes past the end of the file",
            )),
        }
    }

    pub(crate) fn read<R>(&self, read: impl FnOnce(&[u8]) -> R) -> Result<R, Error> {
        let disk = self.lock();
        self.check_up(&disk, "reading")?;
        let mapped = disk.mapped.min(disk.cache.len());
        Ok(read(disk.cache.get(..mapped).unwrap_or_default()))
    }

    pub(crate) fn stage_page(
        &self,
        offset: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<(), Error> {
        let mut disk = self.lock();
        if offset + PAGE > disk.mapped.min(disk.cache.len()) {
            return Err(outside(&self.path, offset));
        }
        let mut page = [0u8; PAGE];
        page.copy_from_slice(disk.cache.get(offset..offset + PAGE).unwrap_or(&[0; PAGE]));
        fill(&mut page);
        self.write(&mut disk, offset, &page, "writing a page")
    }

    pub(crate) fn write_at(&self, offset: usize, bytes: &[u8]) -> Result<(), Error> {
        let mut disk = self.lock();
        if offset.saturating_add(bytes.len()) > disk.mapped.min(disk.cache.len()) {
            return Err(outside(&self.path, offset));
        }
        self.write(&mut disk, offset, bytes, "writing")
    }

    pub(crate) fn flush_span(&self, start: usize, end: usize) -> Result<(), Error> {
        let mut disk = self.lock();
        let end = end.min(disk.mapped);
        self.flush(&mut disk, start, end, "flushing pages to disk")
    }

    pub(crate) fn extend(&self, from: usize, tail: &[u8]) -> Result<(), Error> {
        let mut disk = self.lock();
        self.write(&mut disk, from, tail, "writing the pages of a growth")
    }

    pub(crate) fn sync(&self) -> Result<(), Error> {
        let mut disk = self.lock();
        let len = disk.cache.len();
        self.flush(&mut disk, 0, len, "flushing a growth to disk")
    }

    /// A rename of a flushed new file over this one: one write point, atomic (a power loss
    /// at it keeps the old file when the tear is [`Tear::Lost`], the new one otherwise).
    pub(crate) fn replace(&self, image: &[u8]) -> Result<FileDouble, Error> {
        let mut disk = self.lock();
        self.check_up(&disk, "replacing the file")?;
        let point = disk.writes;
        disk.writes += 1;
        match disk.crash {
            Some(crash @ Crash::PowerLoss { at: when, tear }) if when == point => {
                if tear != Tear::Lost {
                    disk.durable = image.to_vec();
                }
                disk.down = Some(crash);
                return Err(self.error("replacing the file", "the power failed"));
            }
            _ => {}
        }
        disk.durable = image.to_vec();
        disk.cache = image.to_vec();
        disk.mapped = image.len();
        if let Some(crash @ Crash::Kill { at: when }) = disk.crash {
            if when == point {
                disk.down = Some(crash);
                return Err(self.error("replacing the file", "the process was killed"));
            }
        }
        Ok(self.clone())
    }

    pub(crate) fn remap(&self, len: usize) -> Result<(), Error> {
        let mut disk = self.lock();
        self.check_up(&disk, "mapping")?;
        if len > disk.cache.len() {
            return Err(self.error("mapping", &format!("the file is shorter than {len} bytes")));
        }
        disk.mapped = disk.mapped.max(len);
        Ok(())
    }
}

/// Writes `bytes` at `at`, growing `image` with zeros as needed.
fn put(image: &mut Vec<u8>, at: usize, bytes: &[u8]) {
    let end = at + bytes.len();
    if image.len() < end {
        image.resize(end, 0);
    }
    if let Some(dst) = image.get_mut(at..end) {
        dst.copy_from_slice(bytes);
    }
}

/// Lets the part of the write `bytes` at `at` that `tear` says reach `disk`.
fn tear_onto(disk: &mut Vec<u8>, at: usize, bytes: &[u8], tear: Tear) {
    match tear {
        Tear::Lost => {}
        Tear::Whole => put(disk, at, bytes),
        Tear::Prefix(n) => put(
            disk,
            at,
            bytes.get(..n.min(bytes.len())).unwrap_or_default(),
        ),
        Tear::Sectors(seed) => {
            // A write past the end extends the file: the sectors that did not arrive read as
            // zeros there (a hole), and as the old bytes elsewhere.
            if disk.len() < at + bytes.len() {
                disk.resize(at + bytes.len(), 0);
            }
            for (i, sector) in bytes.chunks(SECTOR).enumerate() {
                if mix(seed, i) & 1 == 1 {
                    put(disk, at + i * SECTOR, sector);
                }
            }
        }
    }
}

/// A well-mixed 64-bit value from a seed and an index (SplitMix64's finaliser).
fn mix(seed: u64, i: usize) -> u64 {
    let mut z = seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
