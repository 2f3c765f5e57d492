//! Where the store's bytes live: the memory-mapped file, or the file double that the
//! power-loss tests crash at every write (feature `test-backend`) and that a mirror holds.
//!
//! An enum rather than a trait object or a type parameter: the choice is made once, at open,
//! and `Store` keeps one type.
//!
//! The operations are the ones the format's durability argument (docs/format.md, sections 1
//! and 5) is made of: a page written into the file's cache is not durable; `flush_span`
//! (msync of a range) makes that range durable; `sync_all` and `sync` (fsync, fdatasync)
//! make everything durable, the file's length included.

use alloc::vec::Vec;
use std::path::Path;

use super::double::FileDouble;
use super::file::{MappedFile, Staged};
use crate::error::Error;

#[derive(Debug)]
pub(crate) enum Backend {
    /// The real file, memory-mapped.
    Mapped(MappedFile),
    /// A file in memory that keeps only what was flushed: for power-loss tests, and as a
    /// mirror's file, which holds no record.
    Double(FileDouble),
}

/// Forwards a call to the backend in use.
macro_rules! forward {
    ($self:ident, $file:ident => $call:expr) => {
        match $self {
            Backend::Mapped($file) => $call,
            Backend::Double($file) => $call,
        }
    };
}

impl Backend {
    /// The path named in error messages.
    pub(crate) fn path(&self) -> &Path {
        forward!(self, f => f.path())
    }

    /// Makes everything written so far durable (fsync).
    pub(crate) fn sync_all(&self) -> Result<(), Error> {
        forward!(self, f => f.sync_all())
    }

    /// Reads the whole file as it is now (at open).
    pub(crate) fn read<R>(&self, read: impl FnOnce(&[u8]) -> R) -> Result<R, Error> {
        forward!(self, f => f.read(read))
    }

    /// Hands the first `len` bytes to `out`, in order, without the mapping: a backup's
    /// copy, taken while appends go on past `len`.
    pub(crate) fn copy_prefix(
        &self,
        len: usize,
        out: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        forward!(self, f => f.copy_prefix(len, out))
    }

    /// Lets `fill` write the page at `offset`; nothing is durable until a flush.
    #[inline]
    pub(crate) fn stage_page(
        &self,
        offset: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<(), Error> {
        forward!(self, f => f.stage_page(offset, fill))
    }

    /// Writes `bytes` at `offset` inside the file (pwrite); nothing is durable until a flush.
    pub(crate) fn write_at(&self, offset: usize, bytes: &[u8]) -> Result<(), Error> {
        forward!(self, f => f.write_at(offset, bytes))
    }

    /// Makes the bytes `start..end` durable (msync).
    #[inline]
    pub(crate) fn flush_span(&self, start: usize, end: usize) -> Result<(), Error> {
        forward!(self, f => f.flush_span(start, end))
    }

    /// Writes `tail` at `from`, extending the file; not durable, not mapped.
    pub(crate) fn extend(&self, from: usize, tail: &[u8]) -> Result<(), Error> {
        forward!(self, f => f.extend(from, tail))
    }

    /// Makes the file's data and length durable (fdatasync).
    pub(crate) fn sync(&self) -> Result<(), Error> {
        forward!(self, f => f.sync())
    }

    /// Maps at least `len` bytes.
    pub(crate) fn remap(&self, len: usize) -> Result<(), Error> {
        forward!(self, f => f.remap(len))
    }

    /// Replaces the whole file with `image` atomically (a new file renamed over this one)
    /// and returns the new file; this one is left as it was.
    pub(crate) fn replace(&self, image: &[u8]) -> Result<Backend, Error> {
        match self {
            Backend::Mapped(f) => f.replace(image).map(Backend::Mapped),
            Backend::Double(f) => f.replace(image).map(Backend::Double),
        }
    }

    /// Lets go of the file's pages read so far (at open): they are the file's, not state.
    pub(crate) fn release_pages(&self) {
        match self {
            Backend::Mapped(f) => f.release_pages(),
            Backend::Double(_) => {}
        }
    }

    /// Whether a growth may write its room from another thread while appends go on: the
    /// real file; not the double, whose write points must come in one order.
    pub(crate) fn grows_in_the_background(&self) -> bool {
        matches!(self, Backend::Mapped(_))
    }

    /// Writes `image` beside the file as its replacement, flushed; nothing changes at the
    /// path until [`StagedFile::finish`].
    pub(crate) fn stage(&self, image: Vec<u8>) -> Result<StagedFile, Error> {
        match self {
            Backend::Mapped(f) => f.stage(&image).map(StagedFile::Mapped),
            Backend::Double(f) => Ok(StagedFile::Double(f.clone(), image)),
        }
    }
}

/// A replacement written beside the file ([`Backend::stage`]).
#[derive(Debug)]
pub(crate) enum StagedFile {
    Mapped(Staged),
    /// The double's replacement is made whole at the end, so that its crash points are the
    /// real file's last steps: the one that makes the new file the store.
    Double(FileDouble, Vec<u8>),
}

impl StagedFile {
    /// Writes `bytes` at `offset` of the replacement, flushes it and puts it in the file's
    /// place atomically; returns the new file.
    pub(crate) fn finish(self, offset: usize, bytes: &[u8]) -> Result<Backend, Error> {
        match self {
            StagedFile::Mapped(staged) => staged.finish(offset, bytes).map(Backend::Mapped),
            StagedFile::Double(file, mut image) => {
                let needed = offset + bytes.len();
                if needed > image.len() {
                    image.resize(needed.next_multiple_of(super::format::PAGE), 0);
                }
                image[offset..needed].copy_from_slice(bytes);
                file.replace(&image).map(Backend::Double)
            }
        }
    }
}
