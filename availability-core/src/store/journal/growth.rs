//! Growth: the file is lengthened ahead of the appends, on a thread of its own, with zeros
//! written and synced before any record goes there; a full disk refuses only new calendars.

use alloc::string::ToString;
use alloc::sync::Arc;
use std::format;

use super::super::backend::Backend;
use super::super::format::PAGE;
use super::State;
use crate::error::{Error, Kind};

/// The length a growth from `len` makes, with room for `needed` bytes: doubled while the
/// file is small (under 4 MiB), then a quarter more each time, at most 1 GiB at a time. A
/// quarter keeps the room ahead (a quarter to two fifths of the file, see [`grow_ahead`]) in
/// proportion to the records, where doubling left a large store's file up to twice their
/// size (a million calendars' 506 MB of records in a file of 1 GiB).
pub(super) fn grown_len(len: usize, needed: usize) -> usize {
    let step = if len < 4 << 20 { len } else { len / 4 };
    needed.max(len + step.min(1 << 30)).next_multiple_of(PAGE)
}

/// Lengthens `file` from `from` to `to` bytes with zeros, then syncs it. The zeros are written
/// with ordinary writes, a page at a time from one page of zeros (never the whole growth in
/// memory), so a full disk is an error here rather than a fault on a later write.
pub(super) fn grow(file: &Backend, from: usize, to: usize) -> Result<usize, GrowError> {
    const CHUNK: usize = 1 << 20;
    let zeros = alloc::vec![0u8; CHUNK.min(to - from)];
    let mut at = from;
    while at < to {
        let n = CHUNK.min(to - at);
        file.extend(at, &zeros[..n]).map_err(GrowError::Write)?;
        at += n;
    }
    file.sync().map_err(GrowError::Sync)?;
    Ok(to)
}

/// Why a growth failed.
#[derive(Debug)]
pub(super) enum GrowError {
    /// Writing the zeros: nothing is lost (the log does not count them), and a full disk
    /// says so.
    Write(Error),
    /// The sync after them: a failed flush like any other, which may have dropped, and
    /// cleared the error of, a record another thread is about to see flushed.
    Sync(Error),
}

/// Starts a growth ahead of the appends when a quarter of the file or less is left: on a
/// thread of its own for the real file (its zeros go past the end, where no append writes
/// until it is done), at once for the file double (whose write points must come in order).
pub(super) fn grow_ahead(state: &mut State) {
    let left = state.len - state.end;
    if state.growing.is_some() || left > state.len / 4 {
        return;
    }
    if let Some((_, retry_at)) = &state.full {
        if std::time::Instant::now() < *retry_at {
            return;
        }
    }
    let (file, from, to) = (Arc::clone(&state.file), state.len, grown_len(state.len, 0));
    if file.grows_in_the_background() {
        state.growing = Some(std::thread::spawn(move || grow(&file, from, to)));
    } else {
        let grown = grow(&file, from, to);
        // A full disk is remembered (new calendars wait for room); a failed sync refuses
        // every later write, as any failed flush.
        let _ = settle_growth(state, grown);
    }
}

/// Takes the result of a growth ahead of the appends if it has finished (or, with `wait`,
/// once it has).
pub(super) fn collect_growth(state: &mut State, wait: bool) -> Result<(), Error> {
    let finished = state.growing.as_ref().is_some_and(|g| g.is_finished());
    if !(wait || finished) {
        return Ok(());
    }
    let Some(growing) = state.growing.take() else {
        return Ok(());
    };
    let grown = growing.join().unwrap_or_else(|_| {
        Err(GrowError::Write(Error::new(
            Kind::Io,
            "a growth of the store file panicked",
        )))
    });
    settle_growth(state, grown)
}

/// Applies a growth's result: the longer file mapped and used; or, for a full disk, the
/// store marked full (and the error returned); or, for a failed sync, every later write
/// refused.
pub(super) fn settle_growth(
    state: &mut State,
    grown: Result<usize, GrowError>,
) -> Result<(), Error> {
    match grown {
        Ok(len) => {
            state.file.remap(len)?;
            state.len = state.len.max(len);
            state.full = None;
            Ok(())
        }
        Err(GrowError::Write(err)) => {
            if err.is_storage_full() {
                let retry_at = std::time::Instant::now() + std::time::Duration::from_secs(1);
                state.full = Some((err.to_string(), retry_at));
            }
            Err(err)
        }
        Err(GrowError::Sync(err)) => {
            state.failed.get_or_insert_with(|| err.to_string());
            Err(err)
        }
    }
}

/// The refusal of a new calendar while the disk is full.
pub(super) fn storage_full(why: &str) -> Error {
    Error::io(
        format!(
            "the disk is full (or the quota spent): new calendars wait for room; the calendars \
             there are go on being written ({why})"
        ),
        std::io::Error::from(std::io::ErrorKind::StorageFull),
    )
}
