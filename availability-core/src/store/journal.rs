//! The log: the store's one file, an append-only sequence of checksummed records (calendars,
//! admin keys, overrides, bookings, remembered answers, groups), with group commit, recovery,
//! growth (`growth`) and compaction (`compaction`) (docs/format.md, sections 4 to 8).
//!
//! # Appending
//!
//! A record is framed (CRC, length, sequence number, durable mark, kind), written at the end
//! of the file under the state lock (with `pwrite`, not through the mapping: a store to a
//! mapped page that a flush has just written back faults to make it writable again, and that
//! fault cost more than the copy), and acknowledged once a flush that began after
//! it was written has returned: the same group commit as the store file's, so concurrent
//! bookings on different calendars share one msync. Every frame carries the journal's
//! durable mark at the moment it was written (every record before it was on disk then), so
//! recovery can tell a torn tail, which no one was told is durable, from damage to records
//! that were.
//!
//! # Compaction
//!
//! The journal keeps an index of what is live: per calendar its version, next booking id,
//! overrides and bookings, and the unexpired remembered answers. When the records appended
//! since the last compaction outgrow the live set, a new file holding just the live set
//! (less what retention drops and what belongs to deleted calendars) is written, flushed
//! and renamed over the journal. Every record appended before it is in it, so every waiter
//! is then durable.

use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use std::format;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::backend::Backend;
use super::calendar::default_calendar;
use super::file::corrupt;
use super::format::PAGE;
use super::group_commit::GroupCommit;
use super::journal_format::{
    frame, later_frame, next, End, Header, Record, Remembered, FRAME, HEADER, MAX_PAYLOAD,
};
use super::journal_live::Live;

mod compaction;
mod growth;

pub(super) use self::compaction::image_of;
pub(super) use self::compaction::Image;
use self::growth::{
    collect_growth, grow, grow_ahead, grown_len, settle_growth, storage_full, GrowError,
};
use crate::error::{Error, Kind};

/// A new store file's length: its header and a page of room (about twenty records); it
/// grows as [`grown_len`] says.
const INITIAL_LEN: usize = 2 * PAGE;
/// The journal is compacted when the records appended since the last compaction take more
/// than this, and more than twice the live set.
const COMPACT_MIN: usize = 1 << 20;

/// The bytes of a new store: the calendar `default` (zone UTC, every slot unavailable) and
/// nothing else.
pub(crate) fn new_image() -> Vec<u8> {
    let mut image = Image::new(0, 1);
    image.push(&Record::Calendar(Arc::new(default_calendar())));
    image.finish()
}

/// A log with no record: a mirror's ([`Store::mirror`](super::Store::mirror)).
pub(crate) fn empty_image() -> Vec<u8> {
    Image::new(0, 1).finish()
}

/// The journal of an open store.
pub(super) struct Journal {
    state: Mutex<State>,
    flushes: GroupCommit,
    /// Every record with a sequence number below this is durable.
    durable: AtomicU64,
}

impl core::fmt::Debug for Journal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Journal").finish_non_exhaustive()
    }
}

struct State {
    file: Arc<Backend>,
    generation: u64,
    next_seq: u64,
    /// Where the next record goes.
    end: usize,
    /// The mapped length.
    len: usize,
    /// The bytes written since a flush last took them.
    pending: Option<(usize, usize)>,
    /// Set when a write, flush or sync failed: every later append is refused.
    failed: Option<String>,
    /// Set for a mirror's log, which takes no append.
    mirror: bool,
    live: Live,
    /// Bytes appended since the journal was last written whole.
    appended: usize,
    /// Compaction is not considered until `appended` passes this: the cheap test that keeps
    /// a write from walking the live set.
    check_at: usize,
    /// Set while a compaction writes the new file: one at a time.
    compacting: bool,
    /// A growth writing the room ahead of the appends, on a thread of its own: it returns the
    /// new length once the room is written and synced.
    growing: Option<std::thread::JoinHandle<Result<usize, GrowError>>>,
    /// Set when a growth found the disk full (or the quota spent): new calendars are refused
    /// until a growth succeeds; writes to stored ones go on in the room left. When to try
    /// growing again.
    full: Option<(String, std::time::Instant)>,
}

impl Journal {
    /// Opens the log in `file`: makes it durable, reads its records in order, handing each
    /// to `apply` (which refuses one that does not apply to the state before it), and clears
    /// a torn tail.
    ///
    /// # Errors
    ///
    /// [`Error::is_corrupt`] for a header that is not a store's, for damage to records that
    /// a later record says were durable, or for a record `apply` refuses; [`Error::is_io`]
    /// when flushing or clearing fails.
    pub(super) fn open(
        file: Backend,
        apply: &mut dyn FnMut(&Record) -> Result<(), String>,
    ) -> Result<Journal, Error> {
        Journal::open_as(file, Header::decode, apply)
    }

    /// Reads a journal of format version 2 (the dated data beside a store file of fixed
    /// records) as [`Journal::open`] reads the log, to migrate it.
    ///
    /// # Errors
    ///
    /// As [`Journal::open`].
    pub(super) fn read_v2(
        file: Backend,
        apply: &mut dyn FnMut(&Record) -> Result<(), String>,
    ) -> Result<(), Error> {
        Journal::open_as(file, Header::decode_journal, apply).map(drop)
    }

    fn open_as(
        file: Backend,
        header: fn(&[u8]) -> Result<Header, String>,
        apply: &mut dyn FnMut(&Record) -> Result<(), String>,
    ) -> Result<Journal, Error> {
        file.sync_all()?;
        let path = file.path().to_path_buf();
        let mut live = Live::default();
        let (header, next_seq, end, torn, len) = file.read(|bytes| {
            let header = header(bytes).map_err(|what| corrupt(&path, &what))?;
            let body = bytes.get(HEADER..).unwrap_or_default();
            let mut at = 0usize;
            let mut seq = header.first_seq;
            let why = loop {
                match next(body.get(at..).unwrap_or_default(), seq) {
                    Ok(Some((record, size))) => {
                        apply(&record)
                            .map_err(|what| corrupt(&path, &format!("record {seq}: {what}")))?;
                        live.apply(&record);
                        at += size;
                        seq += 1;
                    }
                    Ok(None) => break End::Clean,
                    Err(why) => break End::Invalid(format!("record {seq}: {why}")),
                }
            };
            let (end, next_seq) = (at, seq);
            if runs_past_the_end(body.get(end..).unwrap_or_default()) {
                // Growth writes its zeros, and syncs them, before any record goes there: a
                // record cannot run past the end of the file unless the file was cut short.
                // (A growth torn by a crash leaves zeros of any length, no record.)
                return Err(corrupt(
                    &path,
                    &format!(
                        "the file is {} bytes and its record {next_seq} runs past its end: \
                         the file was truncated",
                        bytes.len()
                    ),
                ));
            }
            if let End::Invalid(what) = &why {
                // A torn tail is records no one was told are durable. A valid later frame
                // whose durable mark covers the damaged record says otherwise: refuse.
                let mut at = end;
                while at + 8 <= body.len() {
                    if let Some((seq, durable)) =
                        later_frame(body.get(at..).unwrap_or_default(), next_seq)
                    {
                        if durable > next_seq {
                            return Err(corrupt(
                                &path,
                                &format!(
                                    "{what}; record {seq} further on says records before \
                                     {durable} were durable, so acknowledged data is damaged"
                                ),
                            ));
                        }
                    }
                    at += 8;
                }
            }
            let torn = body
                .get(end..)
                .is_some_and(|rest| rest.iter().any(|&b| b != 0));
            Ok::<_, Error>((header, next_seq, HEADER + end, torn, bytes.len()))
        })??;
        if torn {
            clear_tail(&file, end, len)?;
        }
        file.release_pages();
        Ok(Journal {
            state: Mutex::new(State {
                file: Arc::new(file),
                generation: header.generation,
                next_seq,
                end,
                len,
                pending: None,
                failed: None,
                mirror: false,
                live,
                appended: end - HEADER,
                check_at: COMPACT_MIN,
                compacting: false,
                growing: None,
                full: None,
            }),
            flushes: GroupCommit::new(next_seq - 1, refusing),
            durable: AtomicU64::new(next_seq),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, Error> {
        self.state
            .lock()
            .map_err(|_| refusing("a journal write panicked"))
    }

    /// Appends `record` and returns once it is durable (group commit).
    ///
    /// # Errors
    ///
    /// [`Error::is_io`] when a write, growth or flush failed (the log then refuses every
    /// later append) or had failed before.
    pub(super) fn append(&self, record: &Record) -> Result<(), Error> {
        let ticket = self.write(&mut |_| Ok(record.clone()), false)?.0;
        self.flush_through(ticket)
    }

    /// Appends the record `make` builds from the sequence number it will have (a new
    /// calendar's incarnation is the sequence number of the record that creates it), and
    /// returns it once it is durable (group commit). `make` may refuse: nothing is written.
    /// The record adds a calendar: while the disk is full it is refused, so that the room
    /// left serves the calendars there are.
    ///
    /// # Errors
    ///
    /// What `make` returns, or as [`Journal::append`].
    pub(super) fn append_made(
        &self,
        make: &mut dyn FnMut(u64) -> Result<Record, Error>,
    ) -> Result<Record, Error> {
        let (ticket, record) = self.write(make, true)?;
        self.flush_through(ticket)?;
        Ok(record)
    }

    /// As [`Journal::append_made`] for a record that adds no calendar (a group booking's
    /// id is the sequence number of the record that makes it).
    pub(super) fn append_numbered(
        &self,
        make: &mut dyn FnMut(u64) -> Result<Record, Error>,
    ) -> Result<Record, Error> {
        let (ticket, record) = self.write(make, false)?;
        self.flush_through(ticket)?;
        Ok(record)
    }

    /// Writes the record `make` builds, as the next one, without waiting for it to be
    /// durable; returns its sequence number (the ticket to wait for) and the record.
    fn write(
        &self,
        make: &mut dyn FnMut(u64) -> Result<Record, Error>,
        grows_the_store: bool,
    ) -> Result<(u64, Record), Error> {
        let mut state = self.lock()?;
        if let Some(reason) = &state.failed {
            return Err(refusing(reason));
        }
        if state.mirror {
            return Err(Error::new(
                crate::error::Kind::Io,
                "this store mirrors a database: its writes are the database's",
            ));
        }
        collect_growth(&mut state, false)?;
        if let (true, Some((why, retry_at))) = (grows_the_store, &state.full) {
            if std::time::Instant::now() < *retry_at {
                // The room left is kept for the calendars there are.
                return Err(storage_full(why));
            }
            // Room may have been freed since: try again, now.
            collect_growth(&mut state, true)?;
            if state.full.is_some() {
                let to = grown_len(state.len, 0);
                let grown = grow(&state.file, state.len, to);
                settle_growth(&mut state, grown)?;
            }
        }
        let seq = state.next_seq;
        let record = make(seq)?;
        let bytes = frame(seq, self.durable.load(Ordering::Acquire), &record);
        let needed = state.end + bytes.len();
        if needed > state.len {
            // The room ran out before a growth ahead of it finished, or without one: wait
            // for it, or grow now. A growth that fails (a full disk) changes nothing and
            // refuses only this record; one whose sync fails refuses every later one.
            collect_growth(&mut state, true)?;
            if needed > state.len {
                let to = grown_len(state.len, needed);
                let grown = grow(&state.file, state.len, to);
                settle_growth(&mut state, grown)?;
            }
        }
        let result = write_record(&mut state, &bytes);
        if let Err(err) = &result {
            state.failed.get_or_insert_with(|| err.to_string());
        }
        result?;
        state.live.apply(&record);
        state.next_seq += 1;
        grow_ahead(&mut state);
        Ok((seq, record))
    }

    /// Returns once every record up to `ticket` is durable, flushing every record written
    /// so far in one msync unless another thread already has.
    fn flush_through(&self, ticket: u64) -> Result<(), Error> {
        let flushed = self.flushes.wait_for(ticket, || {
            let mut state = self.lock()?;
            if let Some(reason) = &state.failed {
                // A sync failed after this record was written (a growth's): it may have
                // dropped the record, and a flush now would prove nothing.
                return Err(refusing(reason));
            }
            let flush = state.pending.take().map(|(start, end)| {
                let file = Arc::clone(&state.file);
                move || file.flush_span(start, end)
            });
            Ok((state.next_seq - 1, flush))
        });
        match flushed {
            Ok(flushed) => {
                self.durable.fetch_max(flushed + 1, Ordering::AcqRel);
                Ok(())
            }
            Err(err) => {
                if let Ok(mut state) = self.lock() {
                    state.failed.get_or_insert_with(|| err.to_string());
                }
                Err(err)
            }
        }
    }

    /// The answer remembered for idempotency key `key` of `principal`, if any.
    pub(super) fn remembered(&self, principal: &str, key: &str) -> Option<Remembered> {
        let state = self.state.lock().ok()?;
        state
            .live
            .remembered
            .get(&(String::from(principal), String::from(key)))
            .cloned()
    }

    /// Every remembered answer that expires after `now_ms`, in (principal, key) order: a
    /// copy of the index as of now, which costs O(1) under the lock.
    pub(super) fn remembered_after(&self, now_ms: i64) -> Vec<Remembered> {
        let kept = match self.state.lock() {
            Ok(state) => state.live.remembered.clone(),
            Err(_) => return Vec::new(),
        };
        kept.values()
            .filter(|answer| answer.expires_ms > now_ms)
            .cloned()
            .collect()
    }

    /// The pattern history the log keeps for calendar `id` of `incarnation`, oldest first.
    pub(super) fn history(
        &self,
        id: &str,
        incarnation: u64,
    ) -> Option<Vec<super::history::PastPattern>> {
        self.state.lock().ok()?.live.history(id, incarnation)
    }

    /// A copy of the outbox as of now (O(1) under the lock: its maps are persistent).
    pub(super) fn outbox(&self) -> super::outbox::Outbox {
        self.state
            .lock()
            .map(|state| state.live.outbox.clone())
            .unwrap_or_default()
    }

    /// The sequence number the next record gets: every incarnation given so far is below it.
    pub(super) fn next_seq(&self) -> u64 {
        self.state.lock().map_or(1, |state| state.next_seq)
    }

    /// Makes the log refuse every append: its store is a mirror.
    pub(super) fn refuse_appends(&self) {
        if let Ok(mut state) = self.lock() {
            state.mirror = true;
        }
    }

    /// Keeps `answer` among the remembered ones without writing it (a mirror's), dropping
    /// those that expired before `now_ms`.
    pub(super) fn keep_remembered(&self, answer: Remembered, now_ms: i64) {
        if let Ok(mut state) = self.lock() {
            let remembered = &mut state.live.remembered;
            if remembered.len() % 1024 == 1023 {
                *remembered = remembered
                    .iter()
                    .filter(|(_, kept)| kept.expires_ms > now_ms)
                    .map(|(key, kept)| (key.clone(), kept.clone()))
                    .collect();
            }
            remembered.insert((answer.principal.clone(), answer.key.clone()), answer);
        }
    }

    /// What a backup copies: the file the log is in, the length of its header and records
    /// so far, and the last record's sequence number, once every one of those records is
    /// durable. The records stay as they are in that file: appends go on past them, and a
    /// compaction renames a new file over the path but leaves this one (held here) as it was.
    ///
    /// # Errors
    ///
    /// [`Error::is_io`] when the log refuses appends (a flush failed: what it holds may not
    /// be durable), or it is a mirror's, which holds no record.
    pub(super) fn backup(&self) -> Result<(Arc<Backend>, usize, u64), Error> {
        let (file, end, last) = {
            let state = self.lock()?;
            if let Some(reason) = &state.failed {
                return Err(refusing(reason));
            }
            if state.mirror {
                return Err(Error::new(
                    crate::error::Kind::Io,
                    "this store mirrors a database and holds no records: back the database \
                     up with its own tools (pg_dump, replication)",
                ));
            }
            (Arc::clone(&state.file), state.end, state.next_seq - 1)
        };
        self.flush_through(last)?;
        Ok((file, end, last))
    }

    /// How many bytes the journal file has (for tests and metrics).
    pub(super) fn file_len(&self) -> usize {
        self.state.lock().map_or(0, |state| state.len)
    }

    /// Why appends are refused, once a flush or a compaction has failed.
    pub(super) fn failure(&self) -> Option<String> {
        match self.state.lock() {
            Ok(state) => state.failed.clone(),
            Err(_) => Some(String::from("a write panicked")),
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        // A growth still writing holds the file (and its lock): wait for it, so that the
        // store can be opened again as soon as it is closed.
        if let Ok(mut state) = self.state.lock() {
            if let Some(growing) = state.growing.take() {
                let _ = growing.join();
            }
        }
    }
}

/// Whether the frame at the start of `rest` (not a valid record) claims more bytes than
/// there are: a partial frame header, or a payload length past the end.
fn runs_past_the_end(rest: &[u8]) -> bool {
    match rest.get(..FRAME) {
        None => rest.iter().any(|&b| b != 0),
        Some(head) => {
            let len = head
                .get(4..8)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map_or(0, u32::from_le_bytes) as usize;
            head.iter().any(|&b| b != 0) && FRAME + len.min(MAX_PAYLOAD) > rest.len()
        }
    }
}

/// Writes `bytes` at the journal's end, which has room for them.
fn write_record(state: &mut State, bytes: &[u8]) -> Result<(), Error> {
    let start = state.end;
    let end = start + bytes.len();
    state.file.write_at(start, bytes)?;
    state.pending = Some(match state.pending {
        None => (start, end),
        Some((a, b)) => (a.min(start), b.max(end)),
    });
    state.end = end;
    state.appended += bytes.len();
    Ok(())
}

/// Zeros the bytes from `end` to `len` (a torn tail) and syncs, so that no fragment of a torn
/// record can ever be read as the continuation of the records appended from now on.
fn clear_tail(file: &Backend, end: usize, len: usize) -> Result<(), Error> {
    let mut page = end - end % PAGE;
    while page < len {
        let from = end.max(page) - page;
        let dirty = file.read(|bytes| {
            bytes
                .get(page + from..(page + PAGE).min(bytes.len()))
                .is_some_and(|b| b.iter().any(|&x| x != 0))
        })?;
        if dirty {
            file.stage_page(page, |p| {
                if let Some(rest) = p.get_mut(from..) {
                    rest.fill(0);
                }
            })?;
        }
        page += PAGE;
    }
    file.sync()
}

#[cold]
fn refusing(reason: &str) -> Error {
    Error::new(
        Kind::Io,
        format!(
            "the store refuses writes since a write to its file failed ({reason}); reopen it \
             to see what is on disk"
        ),
    )
}
