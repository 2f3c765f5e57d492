//! Online backup: a copy of the store file taken while the store serves.

use alloc::sync::Arc;

use super::backend::Backend;
use super::Store;
use crate::error::{Error, Kind};

/// What a backup copies, fixed when it begins ([`Store::begin_backup`]): the store file's
/// header and every record appended before then, all of them durable. Holding it keeps that
/// file readable, also after a compaction has renamed a new one over its path.
#[derive(Debug)]
pub struct BackupSource {
    file: Arc<Backend>,
    bytes: usize,
    last_record: u64,
}

impl BackupSource {
    /// The copy's length in bytes.
    pub fn len(&self) -> u64 {
        self.bytes as u64
    }

    /// Whether the copy is empty (never: it holds at least the header).
    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    /// The sequence number of the copy's last record: every write acknowledged before the
    /// backup began is at or before it.
    pub fn last_record(&self) -> u64 {
        self.last_record
    }

    /// Writes the copy to `out`, a megabyte at a time: a store file as it stands, which opens
    /// with [`Store::open`] (that checks every record). The bytes are read from the file with
    /// positioned reads, not through its mapping: appends go on past them meanwhile.
    ///
    /// # Errors
    ///
    /// [`Error::is_io`] when reading the file or writing to `out` fails.
    pub fn copy_to(&self, out: &mut dyn std::io::Write) -> Result<(), Error> {
        let writing =
            |e: std::io::Error| Error::new(Kind::Io, std::format!("writing the backup: {e}"));
        self.file.copy_prefix(self.bytes, &mut |chunk| {
            out.write_all(chunk).map_err(writing)
        })?;
        out.flush().map_err(writing)
    }
}

impl Store {
    /// Begins a backup: fixes what it copies (every record appended so far, each made durable
    /// first, so that the copy holds every write acknowledged before this call and nothing a
    /// crash could take back) and returns it, to copy with [`BackupSource::copy_to`]. The
    /// store goes on taking reads and writes meanwhile; writes wait for nothing but their own
    /// flush.
    ///
    /// # Errors
    ///
    /// [`Error::is_io`] when the store refuses writes (a flush failed, so what it holds may
    /// not be durable: reopen it first), or when it mirrors a database (back the database up
    /// with its own tools).
    pub fn begin_backup(&self) -> Result<BackupSource, Error> {
        let (file, bytes, last_record) = self.journal.backup()?;
        Ok(BackupSource {
            file,
            bytes,
            last_record,
        })
    }

    /// [`Store::begin_backup`] and [`BackupSource::copy_to`]: a consistent copy of the store
    /// file written to `out` while the store serves. Returns what was copied.
    ///
    /// # Errors
    ///
    /// As those two.
    pub fn backup(&self, out: &mut dyn std::io::Write) -> Result<BackupSource, Error> {
        let source = self.begin_backup()?;
        source.copy_to(out)?;
        Ok(source)
    }
}
