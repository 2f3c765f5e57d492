//! Compaction: the live set written as a new file off the lock, the records appended
//! meanwhile framed again under it, and the new file renamed over the log
//! (docs/format.md, section 8).

use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec::Vec;
use std::sync::atomic::Ordering;

use super::super::backend::Backend;
use super::super::format::{u64_at, PAGE};
use super::super::journal_format::{frame, next, Header, Record, HEADER};
use super::super::journal_live::Live;
use super::{collect_growth, refusing, Journal, COMPACT_MIN, INITIAL_LEN};
use crate::error::Error;

/// A new log (generation 0) holding what `live` holds, as compaction writes it, from
/// sequence number `first_seq` on; less bookings and overrides that ended before `cutoff`
/// and answers that expired by `now_ms`.
pub(in crate::store) fn image_of(live: &Live, first_seq: u64, cutoff: i64, now_ms: i64) -> Vec<u8> {
    let mut image = Image::new(0, first_seq);
    live.each_record(cutoff, now_ms, &mut |record| image.push(&record.record()));
    image.finish()
}

/// A journal file being written whole, record by record: its header (generation, first
/// sequence number), the records from there, then zeros to a length with room to append.
pub(in crate::store) struct Image {
    bytes: Vec<u8>,
    first_seq: u64,
    records: u64,
}

impl Image {
    pub(in crate::store) fn new(generation: u64, first_seq: u64) -> Image {
        Image {
            bytes: Header {
                generation,
                first_seq,
            }
            .encode(),
            first_seq,
            records: 0,
        }
    }

    /// Appends `record`, as the next one and durable (a new journal is flushed whole before
    /// it is used).
    pub(in crate::store) fn push(&mut self, record: &Record) {
        let seq = self.first_seq + self.records;
        self.bytes
            .extend_from_slice(&frame(seq, self.first_seq, record));
        self.records += 1;
    }

    /// The records' bytes, after the header.
    pub(super) fn body_len(&self) -> usize {
        self.bytes.len() - HEADER
    }

    /// The file: the records, then zeros to a length with room to append.
    pub(in crate::store) fn finish(mut self) -> Vec<u8> {
        let len = (HEADER + 2 * self.body_len())
            .max(INITIAL_LEN)
            .next_multiple_of(PAGE);
        self.bytes.resize(len, 0);
        self.bytes
    }
}

impl Journal {
    /// Compacts the log if the records appended since it was last written whole outgrow
    /// the live set, keeping the calendars there are, bookings that end after `cutoff` and
    /// overrides from the day before it on (seconds since the epoch), and answers that
    /// expire after `now_ms`. Returns whether it compacted.
    ///
    /// # Errors
    ///
    /// [`Error::is_io`] when writing the new file failed; the journal then refuses appends.
    pub(in crate::store) fn compact_if_due(
        &self,
        cutoff: i64,
        now_ms: i64,
        force: bool,
    ) -> Result<bool, Error> {
        // 1. Under the lock: the cheap test, then the state as of the last record, a copy
        //    that costs O(1).
        let (snapshot, through, tail_from, generation, file) = {
            let mut state = self.lock()?;
            if let Some(reason) = &state.failed {
                return Err(refusing(reason));
            }
            if state.compacting || (!force && state.appended <= state.check_at) {
                return Ok(false);
            }
            state.compacting = true;
            (
                state.live.clone(),
                state.next_seq - 1,
                state.end,
                state.generation + 1,
                Arc::clone(&state.file),
            )
        };
        let result = self.compact_from(
            &snapshot,
            (through, tail_from, generation, &file),
            (cutoff, now_ms),
            force,
        );
        if let Ok(mut state) = self.lock() {
            state.compacting = false;
        }
        result
    }

    /// Steps 2 and 3 of [`Journal::compact_if_due`] (docs/format.md, section 8).
    fn compact_from(
        &self,
        snapshot: &Live,
        (through, tail_from, generation, file): (u64, usize, u64, &Backend),
        (cutoff, now_ms): (i64, i64),
        force: bool,
    ) -> Result<bool, Error> {
        // 2. Without the lock, appends going on: is it due (a walk of every calendar), and
        //    if so the new file's records, written and flushed beside the file.
        let live_bytes = snapshot.live_bytes(cutoff, now_ms);
        if !force {
            let mut state = self.lock()?;
            if state.appended <= COMPACT_MIN.max(2 * live_bytes) {
                // Not yet: look again once the appends could outgrow what is live now.
                state.check_at = COMPACT_MIN.max(2 * live_bytes);
                return Ok(false);
            }
        }
        let first_seq = through + 1;
        let mut image = Image::new(generation, first_seq);
        let mut live = Live::default();
        snapshot.each_record(cutoff, now_ms, &mut |record| {
            let record = record.record();
            image.push(&record);
            live.apply(&record);
        });
        let (records_end, count) = (HEADER + image.body_len(), image.records);
        // A failure here changes nothing: the log goes on as it was, and tries again later.
        let staged = file.stage(image.finish())?;

        // 3. Holding the appends (and any flush): what was appended after the copy, framed
        //    again in the new file's numbering, then the new file in place of the old.
        let mut flushes = self.flushes.hold()?;
        let mut state = self.lock()?;
        // A growth of the old file ahead of the appends is finished first (its result does
        // not matter: the old file is about to go).
        let _ = collect_growth(&mut state, true);
        if let Some(reason) = &state.failed {
            return Err(refusing(reason));
        }
        let appended = state.file.read(|bytes| {
            bytes
                .get(tail_from..state.end)
                .map(<[u8]>::to_vec)
                .unwrap_or_default()
        })?;
        let tail = reframe(&appended, first_seq + count, &mut live);
        let replaced = match staged.finish(records_end, &tail.bytes) {
            Ok(file) => file,
            Err(err) => {
                state.failed.get_or_insert_with(|| err.to_string());
                flushes.fail(&err);
                return Err(err);
            }
        };
        let len = replaced.read(<[u8]>::len)?;
        state.file = Arc::new(replaced);
        state.generation = generation;
        state.next_seq = first_seq + count + tail.records;
        state.end = records_end + tail.bytes.len();
        state.len = len;
        state.pending = None;
        state.live = live;
        state.appended = state.end - HEADER;
        state.check_at = COMPACT_MIN.max(2 * state.appended);
        flushes.covered(state.next_seq - 1);
        self.durable.store(state.next_seq, Ordering::Release);
        Ok(true)
    }
}

/// Records read from a log, framed again for another.
struct Reframed {
    bytes: Vec<u8>,
    records: u64,
}

/// The records in `appended` (whole frames, as the log wrote them), framed again with
/// sequence numbers from `first_seq` on, each its own durable mark (the new file is flushed
/// before it is used), and applied to `live`.
fn reframe(appended: &[u8], first_seq: u64, live: &mut Live) -> Reframed {
    let mut out = Reframed {
        bytes: Vec::with_capacity(appended.len()),
        records: 0,
    };
    let mut at = 0;
    while at < appended.len() {
        let seq = u64_at(appended, at + 8).unwrap_or_default();
        let Ok(Some((record, size))) = next(&appended[at..], seq) else {
            // The log wrote every one of these frames itself, under its lock.
            break;
        };
        live.apply(&record);
        out.bytes.extend_from_slice(&frame(
            first_seq + out.records,
            first_seq + out.records,
            &record,
        ));
        out.records += 1;
        at += size;
    }
    out
}
