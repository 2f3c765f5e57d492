//! The single writer: which copy of each record is newest, staging pages, group commit,
//! growth, and refusing every write once a flush has failed.
//!
//! # The commit protocol (docs/format.md, section 5)
//!
//! A write to a record goes to the copy that does **not** hold its newest valid state, and is
//! acknowledged only once a flush that began after the page was written has returned. So at
//! every moment one copy of every record is valid on disk, and a crash leaves each record at
//! its old state or its new one.
//!
//! Commits to calendars share their flushes (group commit):
//!
//! 1. Under the writer lock, a commit waits until its record has no write in flight
//!    ([`Writer::settled`]), then writes its page into the file's cache ([`Writer::stage`]),
//!    takes a ticket (`written`, the number of pages staged so far), widens the `pending`
//!    span, marks the record in flight, and lets the lock go.
//! 2. It then waits for its ticket to be durable ([`Writer::flush_through`], the group commit
//!    of `group_commit`, which the journal shares). If a flush that began after its page was
//!    written has already completed, it is done. Otherwise it takes the whole pending span
//!    and the newest ticket (under the writer lock, so that no page is half-counted), and
//!    flushes that span in one msync, which makes durable every page staged so far, its own
//!    and those of the commits queued behind the flush lock; their owners find their tickets
//!    covered and do not flush again.
//! 3. Under the writer lock again, the record leaves the in-flight set; if the flush and
//!    every flush before it succeeded, the new state is published to readers and the commit
//!    acknowledged. Waiters for the record are woken.
//!
//! Creating and deleting calendars, admin key changes and growth are rare: they flush their
//! own page at once, holding the writer lock ([`Writer::write_now`]).
//!
//! After any failed flush or sync the writer refuses every later write (`failed`): the kernel
//! may have dropped the unwritten pages and cleared the error, so a later successful flush
//! proves nothing (and on Linux a failed `fdatasync` may have consumed the error that a
//! concurrent commit's msync would have reported). Only reopening tells what is on disk.

use alloc::collections::BTreeSet;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use std::format;
use std::sync::{Condvar, Mutex, MutexGuard};

use super::backend::Backend;
use super::format::{
    copy_offset, encode_copy, file_len, free_slot_pages, record_name, MetaRecord, PayloadKind,
    MAX_SLOTS, META_RECORD, PAGE,
};
use super::group_commit::GroupCommit;
use crate::error::{Error, Kind};

/// The write side of a store: the bookkeeping, the flush lock and the file.
#[derive(Debug)]
pub(super) struct Writer {
    /// The bookkeeping, locked by every write for as long as it touches it.
    state: Mutex<WriterState>,
    /// Signalled (with `state` held) when a record's staged write is flushed and published.
    settled: Condvar,
    /// The flush lock, held by the thread that flushes on behalf of every commit staged so far.
    flushes: GroupCommit,
    /// Where the bytes go.
    file: Backend,
}

/// Where a record's newest valid state is.
#[derive(Clone, Copy, Debug)]
pub(super) struct Copies {
    /// The copy (0 or 1) that holds it; a commit writes the other one.
    pub(super) newest: usize,
    /// Its sequence number; a commit writes one more.
    pub(super) seq: u64,
}

/// What the writer knows of the file.
#[derive(Debug)]
pub(super) struct WriterState {
    /// The meta record as it is on disk.
    pub(super) meta: MetaRecord,
    meta_copies: Copies,
    /// Per calendar slot, in slot order.
    slots: Vec<Copies>,
    /// Slots that hold no calendar, lowest first.
    pub(super) free: BTreeSet<u32>,
    /// Set when a flush or sync failed; every later write is refused with this message.
    failed: Option<String>,
    /// How many commits have been staged (written to the mapping, not necessarily flushed):
    /// each staged commit's ticket.
    written: u64,
    /// The bytes holding the pages staged since a flush last took them: the next flush's
    /// span.
    pending: Option<(usize, usize)>,
    /// Records with a staged write that is not yet flushed. A record never has two: the
    /// copy that is not being written must stay the valid one until the write is durable.
    in_flight: BTreeSet<u32>,
}

impl WriterState {
    /// The bookkeeping of a file just read: the meta record and where each record's newest
    /// copy is.
    pub(super) fn new(
        meta: MetaRecord,
        meta_copies: Copies,
        slots: Vec<Copies>,
        free: BTreeSet<u32>,
    ) -> WriterState {
        WriterState {
            meta,
            meta_copies,
            slots,
            free,
            failed: None,
            written: 0,
            pending: None,
            in_flight: BTreeSet::new(),
        }
    }

    fn copies(&self, record: u32) -> Option<Copies> {
        match record.checked_sub(1) {
            None => Some(self.meta_copies),
            Some(slot) => self.slots.get(slot as usize).copied(),
        }
    }

    fn set_copies(&mut self, record: u32, copies: Copies) {
        match record.checked_sub(1) {
            None => self.meta_copies = copies,
            Some(slot) => {
                if let Some(entry) = self.slots.get_mut(slot as usize) {
                    *entry = copies;
                }
            }
        }
    }

    /// Stops all further writes, keeping the first reason.
    fn poison(&mut self, err: &Error) {
        self.failed.get_or_insert_with(|| err.to_string());
    }
}

pub(super) type Guard<'a> = MutexGuard<'a, WriterState>;

impl Writer {
    pub(super) fn new(file: Backend, state: WriterState) -> Writer {
        Writer {
            state: Mutex::new(state),
            settled: Condvar::new(),
            flushes: GroupCommit::new(0, refusing),
            file,
        }
    }

    /// The writer, once no other write holds it; refused after a failed flush.
    pub(super) fn lock(&self) -> Result<Guard<'_>, Error> {
        let state = self.state.lock().map_err(|_| poisoned())?;
        if let Some(reason) = &state.failed {
            return Err(refusing(reason));
        }
        Ok(state)
    }

    /// The writer, once the record that `find` names has no write in flight, with what
    /// `find` returned then. `find` is asked again after every wait (the calendar may have
    /// been deleted or recreated meanwhile) and returns the record number and anything else
    /// the caller needs from that moment.
    pub(super) fn settled<T>(
        &self,
        find: impl Fn() -> Result<(u32, T), Error>,
    ) -> Result<(Guard<'_>, T), Error> {
        let mut state = self.lock()?;
        loop {
            let (record, found) = find()?;
            if !state.in_flight.contains(&record) {
                return Ok((state, found));
            }
            state = self.settled.wait(state).map_err(|_| poisoned())?;
            if let Some(reason) = &state.failed {
                return Err(refusing(reason));
            }
        }
    }

    /// Writes the next state of `record` into the copy that does not hold its newest valid
    /// state, in the file's cache only, and returns that copy's offset. Nothing is durable
    /// yet.
    fn stage(
        &self,
        state: &mut WriterState,
        record: u32,
        kind: PayloadKind,
        payload: &[u8],
    ) -> Result<usize, Error> {
        let Some(copies) = state.copies(record) else {
            return Err(Error::new(
                Kind::Io,
                format!("{} is not in the file", record_name(record)),
            ));
        };
        // Only a damaged or hostile file can hold a sequence this high; refuse rather than
        // wrap around to a number the other copy beats.
        let Some(seq) = copies.seq.checked_add(1) else {
            return Err(Error::new(
                Kind::Capacity,
                format!("{}: its sequence number is exhausted", record_name(record)),
            ));
        };
        let next = Copies {
            newest: 1 - copies.newest,
            seq,
        };
        let offset = copy_offset(record, next.newest);
        self.file.stage_page(offset, |page| {
            encode_copy(page, record, next.seq, kind, payload);
        })?;
        state.set_copies(record, next);
        Ok(offset)
    }

    /// Stages the next state of `record` and flushes it before returning. A failed flush
    /// stops all further writes.
    pub(super) fn write_now(
        &self,
        state: &mut WriterState,
        record: u32,
        kind: PayloadKind,
        payload: &[u8],
    ) -> Result<(), Error> {
        let offset = self.stage(state, record, kind, payload)?;
        self.file
            .flush_span(offset, offset + PAGE)
            .inspect_err(|err| state.poison(err))
    }

    /// Commits `meta` to the meta record, flushed before returning.
    pub(super) fn write_meta(
        &self,
        state: &mut WriterState,
        meta: MetaRecord,
    ) -> Result<(), Error> {
        self.write_now(state, META_RECORD, PayloadKind::Meta, &meta.encode())?;
        state.meta = meta;
        Ok(())
    }

    /// Commits `payload` to calendar record `record` with group commit (steps 1 to 3 of the
    /// module docs), starting from the writer held by `state` (which [`Writer::settled`]
    /// returned for this record). `publish` runs under the writer lock once the page is
    /// durable, before any other write to the record can start.
    pub(super) fn group_commit(
        &self,
        mut state: Guard<'_>,
        record: u32,
        payload: &[u8],
        publish: impl FnOnce(),
    ) -> Result<(), Error> {
        // 1. Stage the page and take a ticket; the record stays in flight until step 3.
        let offset = self.stage(&mut state, record, PayloadKind::Calendar, payload)?;
        state.pending = Some(match state.pending {
            None => (offset, offset + PAGE),
            Some((start, end)) => (start.min(offset), end.max(offset + PAGE)),
        });
        state.written += 1;
        let ticket = state.written;
        state.in_flight.insert(record);
        drop(state);

        // 2. Flush, unless a flush that took this page has completed already.
        let flushed = self.flush_through(ticket);

        // 3. Acknowledge and publish, or refuse.
        let mut state = self.state.lock().map_err(|_| poisoned())?;
        state.in_flight.remove(&record);
        let result = match (flushed, &state.failed) {
            (Err(err), _) => {
                state.poison(&err);
                Err(err)
            }
            (Ok(()), Some(reason)) => Err(refusing(reason)),
            (Ok(()), None) => {
                publish();
                Ok(())
            }
        };
        drop(state);
        self.settled.notify_all();
        result
    }

    /// Runs `work` (a journal append) for calendar record `record` as a write of that
    /// record, starting from the writer held by `state` (which [`Writer::settled`] returned
    /// for it): no other write to the record can start until `work` has finished and, when it
    /// succeeded, `publish` has run under the writer lock.
    pub(super) fn exclusive<T>(
        &self,
        mut state: Guard<'_>,
        record: u32,
        work: impl FnOnce() -> Result<T, Error>,
        publish: impl FnOnce(&T),
    ) -> Result<T, Error> {
        state.in_flight.insert(record);
        drop(state);
        let result = work();
        let mut state = self.state.lock().map_err(|_| poisoned())?;
        state.in_flight.remove(&record);
        if let Ok(value) = &result {
            publish(value);
        }
        drop(state);
        self.settled.notify_all();
        result
    }

    /// The sequence number the next copy of `record` will carry.
    pub(super) fn next_seq(state: &WriterState, record: u32) -> u64 {
        state.copies(record).map_or(1, |c| c.seq.saturating_add(1))
    }

    /// Returns once every commit staged up to ticket `ticket` is durable, flushing them (and
    /// any staged since) in one msync unless another thread already has.
    fn flush_through(&self, ticket: u64) -> Result<(), Error> {
        self.flushes.wait_for(ticket, || {
            let mut state = self.state.lock().map_err(|_| poisoned())?;
            let flush = state
                .pending
                .take()
                .map(|(start, end)| move || self.file.flush_span(start, end));
            Ok((state.written, flush))
        })?;
        Ok(())
    }

    /// Doubles the calendar slots and returns the first new one (docs/format.md, 5.2). The
    /// new slots are written and synced past the end of the part in use before the meta
    /// record counts them, so a crash at any point leaves either the old store (with unused
    /// bytes after it) or the grown one.
    pub(super) fn grow(&self, state: &mut WriterState) -> Result<u32, Error> {
        let old = state.meta.slots;
        let new = old.saturating_mul(2).min(MAX_SLOTS);
        if new <= old {
            return Err(Error::new(
                Kind::Capacity,
                format!("the store holds at most {MAX_SLOTS} calendars; delete one first"),
            ));
        }
        // A failed write loses nothing (the meta record does not count the new pages), but a
        // failed sync is a failed flush like any other: it may have dropped, and cleared the
        // error of, a page that a concurrent commit is about to see flushed.
        self.file
            .extend(file_len(old), &free_slot_pages(old, new))?;
        self.file.sync().inspect_err(|err| state.poison(err))?;
        self.file.remap(file_len(new))?;
        let meta = MetaRecord {
            slots: new,
            admin_keys: state.meta.admin_keys.clone(),
        };
        self.write_meta(state, meta)?;
        state
            .slots
            .extend((old..new).map(|_| Copies { newest: 0, seq: 1 }));
        state.free.extend(old..new);
        Ok(old)
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
        format!(
            "the store refuses writes since a flush failed ({reason}); reopen it to see what \
             is on disk"
        ),
    )
}
