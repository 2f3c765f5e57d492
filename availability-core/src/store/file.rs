//! The store file on disk: atomic creation, the exclusive lock, the mapping it is read
//! through, positioned writes with a synchronous flush, growth and replacement.
//!
//! This layer knows pages and offsets, not calendars. A write is staged into the mapping with
//! [`MappedFile::stage_page`] and made durable by [`MappedFile::flush_span`]
//! (`msync(MS_SYNC)`); only after that may a commit be acknowledged. Growth is three steps,
//! [`MappedFile::extend`], [`MappedFile::sync`] and [`MappedFile::remap`], so that the
//! writer can tell a failed write (nothing lost) from a failed flush (which stops all
//! writes).
//!
//! The lock is `flock` on Unix and the standard library's `File::try_lock` elsewhere; the
//! mapping is memmap2's on every platform.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::string::String;
use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use std::vec::Vec;
use std::{format, process};

use memmap2::{MmapMut, MmapOptions};

use super::format::PAGE;
use crate::error::{Error, Kind};

/// An open, locked and mapped store file.
#[derive(Debug)]
pub(crate) struct MappedFile {
    path: PathBuf,
    /// Holds the lock for as long as the store is open: closing it releases the lock.
    file: File,
    /// The whole file (at least every page the meta record counts). Never shrinks while
    /// mapped; growth maps a new, longer view first and then drops the old one. Pages are
    /// written into it under the write lock.
    map: RwLock<MmapMut>,
    /// A second mapping of the same file, used only to flush. `msync(MS_SYNC)` on any shared
    /// mapping of a file writes back the file's dirty pages in that range however they were
    /// dirtied, so flushing through this one lets writers keep writing pages into `map`
    /// while a flush runs (group commit). A page written during a flush may reach the disk
    /// half-written; it belongs to a commit that this flush does not acknowledge, whose
    /// record still has its other copy, and its own flush comes later.
    flusher: RwLock<MmapMut>,
}

/// An error about the file's contents, naming the file.
#[cold]
pub(crate) fn corrupt(path: &Path, what: &str) -> Error {
    Error::new(
        Kind::Corrupt,
        format!(
            "store file {}: {what}. The file was not changed; restore it from a backup \
             or move it aside to start a new store",
            path.display()
        ),
    )
}

#[cold]
pub(crate) fn io_error(path: &Path, doing: &str, err: io::Error) -> Error {
    Error::io(format!("store file {}: {doing}", path.display()), err)
}

impl MappedFile {
    /// Opens and locks the file at `path`, first creating it with the bytes `image()` when
    /// there is no file there.
    pub(crate) fn open(path: &Path, image: impl FnOnce() -> Vec<u8>) -> Result<MappedFile, Error> {
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                create_atomically(path, &image())?;
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(path)
                    .map_err(|e| io_error(path, "opening the new file", e))?
            }
            Err(err) => return Err(io_error(path, "opening", err)),
        };
        lock(&file, path)?;
        let len = file
            .metadata()
            .map_err(|e| io_error(path, "reading its size", e))?
            .len();
        let len = usize::try_from(len).map_err(|_| corrupt(path, "the file is too large"))?;
        if len < PAGE {
            // Too short to map usefully; read what there is so the header check can say
            // whether it is a truncated store or something else entirely.
            let mut bytes = std::vec![0u8; len];
            platform::read_exact_at(&file, &mut bytes, 0)
                .map_err(|e| io_error(path, "reading", e))?;
            let what = super::format::sniff_version(&bytes)
                .err()
                .unwrap_or_else(|| String::from("the file is too short"));
            return Err(corrupt(path, &what));
        }
        let flusher = map(&file, len).map_err(|e| io_error(path, "mapping", e))?;
        let map = map(&file, len).map_err(|e| io_error(path, "mapping", e))?;
        Ok(MappedFile {
            path: path.to_path_buf(),
            file,
            map: RwLock::new(map),
            flusher: RwLock::new(flusher),
        })
    }

    /// Replaces the file with one holding `image`, atomically (a temporary file, flushed,
    /// renamed over this one, the directory flushed), and opens and locks the new file. A
    /// crash leaves the old file or the new one at the path, never a mixture.
    pub(crate) fn replace(&self, image: &[u8]) -> Result<MappedFile, Error> {
        write_then(&self.path, image, "a replacement", |temp| {
            std::fs::rename(temp, &self.path)
                .map_err(|e| io_error(&self.path, "renaming a replacement into place", e))
        })?;
        MappedFile::open(&self.path, Vec::new)
    }

    /// The path the store was opened at.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Makes the whole file durable (`fsync`): at open, so that nothing this process reads
    /// is lost to a power failure after it has built on it.
    pub(crate) fn sync_all(&self) -> Result<(), Error> {
        self.file
            .sync_all()
            .map_err(|e| io_error(&self.path, "flushing the file to disk before reading it", e))
    }

    /// Reads the mapped bytes (at open), while no write or growth can happen.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Result<R, Error> {
        let map = self.map.read().map_err(|_| self.poisoned())?;
        Ok(f(&map))
    }

    /// Hands the file's first `len` bytes to `out`, a megabyte at a time, read with
    /// positioned reads rather than through the mapping (which a growth may replace
    /// meanwhile). A backup's copy: bytes that no append changes.
    pub(crate) fn copy_prefix(
        &self,
        len: usize,
        out: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        const CHUNK: usize = 1 << 20;
        let mut buf = std::vec![0u8; CHUNK.min(len)];
        let mut at = 0;
        while at < len {
            let n = CHUNK.min(len - at);
            let chunk = &mut buf[..n];
            platform::read_exact_at(&self.file, chunk, at as u64)
                .map_err(|e| io_error(&self.path, "reading it for a backup", e))?;
            out(chunk)?;
            at += n;
        }
        Ok(())
    }

    /// Lets go of the mapped pages this process has touched (reading the file at open): they
    /// stay in the page cache, and in the file, but no longer count as this process's
    /// memory. The store keeps what the file describes, not the file.
    pub(crate) fn release_pages(&self) {
        if let Ok(map) = self.map.read() {
            release(&map);
        }
    }

    /// Lets `fill` write the page at `offset` in place. Nothing is durable until a flush.
    pub(crate) fn stage_page(
        &self,
        offset: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<(), Error> {
        let mut map = self.map.write().map_err(|_| self.poisoned())?;
        let Some(page) = map.get_mut(offset..offset + PAGE) else {
            return Err(outside(&self.path, offset));
        };
        fill(page);
        Ok(())
    }

    /// Writes `bytes` at `offset`, inside the mapped part, with a positioned write (not
    /// through the mapping, so no write fault follows a flush). Nothing is durable until a
    /// flush. A write past the mapped part is refused, as [`MappedFile::stage_page`] refuses
    /// one: lengthening the file is [`MappedFile::extend`]'s, with its sync.
    pub(crate) fn write_at(&self, offset: usize, bytes: &[u8]) -> Result<(), Error> {
        let mapped = self.map.read().map_err(|_| self.poisoned())?.len();
        if offset.saturating_add(bytes.len()) > mapped {
            return Err(outside(&self.path, offset));
        }
        platform::write_all_at(&self.file, bytes, offset as u64)
            .map_err(|e| io_error(&self.path, "writing", e))
    }

    /// Flushes the bytes `start..end` in one msync(MS_SYNC): returns once they are durable.
    /// The kernel writes only the dirty pages among them, and the disk's cache flush is paid
    /// once for all.
    pub(crate) fn flush_span(&self, start: usize, end: usize) -> Result<(), Error> {
        let map = self.flusher.read().map_err(|_| self.poisoned())?;
        // `flush_range` is msync(MS_SYNC): the asynchronous variant only schedules the write.
        map.flush_range(start, end.saturating_sub(start))
            .map_err(|e| io_error(&self.path, "flushing pages to disk", e))
    }

    /// Writes `tail` from offset `from` (the end of the part in use, which may be before the
    /// end of the file if an earlier growth was interrupted), extending the file. Not durable
    /// until [`MappedFile::sync`]; not mapped until [`MappedFile::remap`].
    ///
    /// The new pages are written with `write`, not `set_len`, so their blocks are allocated
    /// now: a full disk is an error here rather than a fault on a later store to the mapping.
    pub(crate) fn extend(&self, from: usize, tail: &[u8]) -> Result<(), Error> {
        write_pages(&self.file, tail, from)
            .map_err(|e| io_error(&self.path, "writing the pages of a growth", e))
    }

    /// Makes the file's data and length durable (`fdatasync`).
    pub(crate) fn sync(&self) -> Result<(), Error> {
        self.file
            .sync_data()
            .map_err(|e| io_error(&self.path, "flushing a growth to disk", e))
    }

    /// Maps at least `len` bytes of the file, replacing the mappings only once the new ones
    /// exist.
    pub(crate) fn remap(&self, len: usize) -> Result<(), Error> {
        let mut current = self.map.write().map_err(|_| self.poisoned())?;
        let mut flusher = self.flusher.write().map_err(|_| self.poisoned())?;
        let len = len.max(current.len());
        let new_flusher = map(&self.file, len).map_err(|e| io_error(&self.path, "mapping", e))?;
        let new_map = map(&self.file, len).map_err(|e| io_error(&self.path, "mapping", e))?;
        // The old mappings are dropped (unmapped) only now that the new ones exist.
        *flusher = new_flusher;
        *current = new_map;
        Ok(())
    }

    #[cold]
    fn poisoned(&self) -> Error {
        Error::new(
            Kind::Io,
            format!(
                "store file {}: a thread panicked while using the mapping; reopen the store",
                self.path.display()
            ),
        )
    }
}

/// A page write outside the file's mapped part: a bug, reported rather than a panic.
#[cold]
pub(crate) fn outside(path: &Path, offset: usize) -> Error {
    Error::new(
        Kind::Io,
        format!(
            "store file {}: page at offset {offset} is outside the mapping",
            path.display()
        ),
    )
}

/// Maps `len` bytes of `file` for reading and writing.
/// `madvise(MADV_DONTNEED)` over a shared mapping of a file: the pages are dropped from the
/// process, not from the file (a shared mapping has no private copies to lose), and a later
/// access reads them again. Elsewhere than Unix, nothing.
#[cfg(unix)]
#[allow(unsafe_code)]
fn release(map: &MmapMut) {
    // SAFETY: the mapping is shared (`map_mut` of a file), so DONTNEED discards no data, and
    // nothing holds a reference into it across this call (the caller holds its lock).
    let _ = unsafe { map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
}

#[cfg(not(unix))]
fn release(_map: &MmapMut) {}

#[allow(unsafe_code)]
fn map(file: &File, len: usize) -> io::Result<MmapMut> {
    // SAFETY: a mapping is undefined behaviour if another process changes or truncates the
    // file while it is mapped (this process maps it twice, but writes through one mapping
    // only and reads the other never, so no Rust reference sees bytes change under it).
    // `file` holds the exclusive lock (taken before the first map and held until after the
    // last unmap), every store opens the file only after taking that lock, and the store
    // itself never truncates the file. Only this process writes to it,
    // through this mapping or through positional writes to pages past the mapped length.
    unsafe { MmapOptions::new().len(len).map_mut(file) }
}

/// The exclusive lock of an existing store file, taken without reading the file (which
/// may be damaged): what keeps a server from opening a store while it is replaced
/// ([`StoreLock::take`]).
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

impl StoreLock {
    /// Takes the lock of the store file at `path`, as opening the store does, and holds it
    /// until dropped. The file is neither read nor changed.
    ///
    /// # Errors
    ///
    /// [`Error::is_locked`] when a process has the store open; [`Error::is_io`] when the
    /// file cannot be opened (also when there is none).
    pub fn take(path: &Path) -> Result<StoreLock, Error> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| io_error(path, "opening", e))?;
        lock(&file, path)?;
        Ok(StoreLock { _file: file })
    }
}

/// Takes the exclusive lock of the store file `file` at `path` ([`lock_with_grace`]).
fn lock(file: &File, path: &Path) -> Result<(), Error> {
    lock_with_grace(file).map_err(|err| {
        if err.kind() == io::ErrorKind::WouldBlock {
            Error::new(
                Kind::Locked,
                format!(
                    "store file {} is open in another process (it holds the file's \
                     exclusive lock); stop that process first",
                    path.display()
                ),
            )
        } else {
            io_error(path, "locking", err)
        }
    })
}

/// How long [`lock_with_grace`] waits for a lock that is held.
const LOCK_GRACE: Duration = Duration::from_millis(100);

/// Takes the exclusive lock, waiting up to [`LOCK_GRACE`] if it is held. A lock can be held
/// briefly by a process that is not using the store: a previous server that is exiting, or a
/// child between `fork` and `exec` (it shares its parent's descriptors, and with them the
/// lock). A store that is really open elsewhere stays locked, and then this fails.
fn lock_with_grace(file: &File) -> io::Result<()> {
    let deadline = Instant::now() + LOCK_GRACE;
    loop {
        match platform::lock_exclusive(file) {
            Err(err) if err.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

/// What differs between platforms: positional I/O and the lock.
#[cfg(unix)]
mod platform {
    use std::fs::File;
    use std::io;
    use std::os::unix::fs::FileExt;
    use std::os::unix::io::AsRawFd;

    pub(super) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
        file.read_exact_at(buf, offset)
    }

    pub(super) fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
        file.write_all_at(buf, offset)
    }

    /// Takes `flock(LOCK_EX | LOCK_NB)` on the file: fails with `WouldBlock` when another
    /// open file description (another process, or another `Store` in this one) holds it.
    #[allow(unsafe_code)]
    pub(super) fn lock_exclusive(file: &File) -> io::Result<()> {
        // SAFETY: flock takes a descriptor number and no pointers; `file` owns the descriptor
        // and keeps it open for the duration of the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Flushes the directory, so that a new name in it is durable.
    pub(super) fn sync_dir(dir: &std::path::Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

/// What differs between platforms: positional I/O and the lock. Elsewhere than Unix the
/// standard library's exclusive file lock (Rust 1.89) stands in for `flock`, and positional
/// I/O seeks (only the writer, holding its lock, or the open, before any writer, use it).
#[cfg(not(unix))]
mod platform {
    use std::fs::File;
    use std::io::{self, Read, Seek, SeekFrom, Write};

    pub(super) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let mut file = file;
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(buf)
    }

    pub(super) fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut file = file;
        file.seek(SeekFrom::Start(offset))?;
        file.write_all(buf)
    }

    /// Takes the exclusive lock without waiting: fails with `WouldBlock` when held.
    /// `File::try_lock` is stable since Rust 1.89, so building for these platforms needs it;
    /// Unix builds keep the crate's older minimum.
    #[clippy::msrv = "1.89"]
    pub(super) fn lock_exclusive(file: &File) -> io::Result<()> {
        file.try_lock().map_err(|err| match err {
            std::fs::TryLockError::WouldBlock => io::ErrorKind::WouldBlock.into(),
            std::fs::TryLockError::Error(err) => err,
        })
    }

    /// Directories cannot be opened as files everywhere; the new name's durability is then
    /// the file system's.
    pub(super) fn sync_dir(_dir: &std::path::Path) -> io::Result<()> {
        Ok(())
    }
}

/// Creates `path` holding `bytes`, so that the path either does not exist or holds the whole
/// image: the bytes go to a temporary file that is flushed and then hard-linked to `path`.
/// Linking, unlike renaming, fails when `path` exists, so a concurrent creator can never
/// replace a store that another process already opened.
fn create_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_then(path, bytes, "a new file", |temp| {
        match std::fs::hard_link(temp, path) {
            Ok(()) => Ok(()),
            // Another process created it first: use theirs.
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(err) => Err(io_error(path, "linking a new file into place", err)),
        }
    })
}

/// Creates `path` holding `bytes` as [`create_atomically`] does, but refuses when `path`
/// exists: a copy of a store never replaces a file.
pub(crate) fn create_new(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_then(path, bytes, "a new file", |temp| {
        std::fs::hard_link(temp, path).map_err(|err| {
            if err.kind() == io::ErrorKind::AlreadyExists {
                Error::new(
                    Kind::AlreadyExists,
                    format!(
                        "{} exists: a copy is only written as a new file",
                        path.display()
                    ),
                )
            } else {
                io_error(path, "linking a new file into place", err)
            }
        })
    })
}

/// Writes `bytes` at `offset` one page at a time.
///
/// Where the file system caches files in large folios (ext4 on Linux 6.18, as on the machine
/// this was measured on), a buffered write gets folios as large as the write, and they keep
/// that size in the cache: each later small write into one, and each flush that writes it
/// back, walks the block state of the whole folio. A journal appends records of a hundred
/// bytes or so, and flushes them, into pages first written by a growth or a compaction; a
/// growth of megabytes written in one call made every later commit cost about 25 us more of
/// CPU (the booking benchmark's probe: 187-202 us a booking before, 161-181 us after).
/// Writing page by page keeps those folios one page long, for a few thousand more system
/// calls per growth.
fn write_pages(file: &File, bytes: &[u8], offset: usize) -> io::Result<()> {
    let mut at = offset;
    for page in bytes.chunks(PAGE) {
        platform::write_all_at(file, page, at as u64)?;
        at += page.len();
    }
    Ok(())
}

/// Writes `bytes` to a temporary file beside `path` and flushes it, lets `place` put it at
/// `path` (a link or a rename), then flushes the directory so that the new entry is durable.
fn write_then(
    path: &Path,
    bytes: &[u8],
    what: &str,
    place: impl FnOnce(&Path) -> Result<(), Error>,
) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let temp = dir.join(format!(".{name}.new-{}-{nanos}", process::id()));
    let result = (|| -> Result<(), Error> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| io_error(path, &format!("creating a temporary file for {what}"), e))?;
        write_pages(&file, bytes, 0).map_err(|e| io_error(path, &format!("writing {what}"), e))?;
        file.sync_all()
            .map_err(|e| io_error(path, &format!("flushing {what}"), e))?;
        place(&temp)?;
        // The new directory entry is durable only once the directory is flushed.
        platform::sync_dir(&dir)
            .map_err(|e| io_error(path, &format!("flushing the directory of {what}"), e))
    })();
    // The temporary name is only scaffolding; failing to remove it loses nothing.
    let _ = std::fs::remove_file(&temp);
    result
}

/// A replacement of a file, written and flushed beside it under a temporary name, that a
/// last step completes and renames into place (compaction writes the bulk of a new file
/// while appends go on, then only what was appended meanwhile with them held).
#[derive(Debug)]
pub(crate) struct Staged {
    path: PathBuf,
    dir: PathBuf,
    temp: PathBuf,
    file: Option<File>,
    len: usize,
}

impl MappedFile {
    /// Writes `image` to a temporary file beside this one and flushes it. Nothing changes at
    /// the path until [`Staged::finish`].
    pub(crate) fn stage(&self, image: &[u8]) -> Result<Staged, Error> {
        let path = &self.path;
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let temp = dir.join(format!(".{name}.new-{}-{nanos}", process::id()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| io_error(path, "creating a temporary file for a replacement", e))?;
        let staged = Staged {
            path: path.clone(),
            dir,
            temp,
            file: Some(file),
            len: image.len(),
        };
        let file = staged
            .file
            .as_ref()
            .ok_or_else(|| corrupt(path, "no staged file"))?;
        write_pages(file, image, 0).map_err(|e| io_error(path, "writing a replacement", e))?;
        file.sync_all()
            .map_err(|e| io_error(path, "flushing a replacement", e))?;
        Ok(staged)
    }
}

impl Staged {
    /// Writes `bytes` at `offset` of the replacement (growing it with zeros first if they do
    /// not fit), flushes it, renames it over the file and flushes the directory; returns the
    /// new file, opened and locked.
    pub(crate) fn finish(mut self, offset: usize, bytes: &[u8]) -> Result<MappedFile, Error> {
        let path = self.path.clone();
        let file = self
            .file
            .take()
            .ok_or_else(|| corrupt(&path, "no staged file"))?;
        let needed = offset + bytes.len();
        if needed > self.len {
            let zeros = std::vec![0u8; needed.next_multiple_of(PAGE) - self.len];
            write_pages(&file, &zeros, self.len)
                .map_err(|e| io_error(&path, "growing a replacement", e))?;
        }
        platform::write_all_at(&file, bytes, offset as u64)
            .map_err(|e| io_error(&path, "writing a replacement", e))?;
        file.sync_all()
            .map_err(|e| io_error(&path, "flushing a replacement", e))?;
        std::fs::rename(&self.temp, &path)
            .map_err(|e| io_error(&path, "renaming a replacement into place", e))?;
        platform::sync_dir(&self.dir)
            .map_err(|e| io_error(&path, "flushing the directory of a replacement", e))?;
        MappedFile::open(&path, Vec::new)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        // Not finished (an error, or a store closed meanwhile): the temporary name is only
        // scaffolding; failing to remove it loses nothing.
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Removes the file at `path` and flushes its directory, so that the removal survives a
/// crash (the journal a migration has copied into the new store file).
pub(crate) fn remove_durably(path: &Path) -> Result<(), Error> {
    std::fs::remove_file(path).map_err(|e| io_error(path, "removing the migrated journal", e))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    platform::sync_dir(&dir).map_err(|e| io_error(path, "flushing its directory", e))
}
