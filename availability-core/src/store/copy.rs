//! A copy of a store's published state as a new store file: what moving a database's
//! calendars back to one machine writes (`availability-server migrate`), and what a copy of a
//! store is checked against (its counts).
//!
//! The copy is a log of the current format written whole, as compaction writes one
//! (docs/format.md, section 8, step 2): the admin keys, then per calendar its record, its
//! state record (version and next booking id), its overrides and bookings, then the
//! unexpired remembered answers and the groups. It is built from what readers see, not from
//! the log's index, so a mirror (which has no log of its own) copies the same way as a store
//! file.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use std::path::Path;

use super::calendar::Calendar;
use super::checked::now_ms;
use super::file;
use super::journal::Image;
use super::journal_format::{Owner, Record, Remembered};
use super::open::zone_or_utc;
use super::Store;
use crate::dated::day_number;
use crate::error::Error;

/// How much a store holds, by kind: what a copy is checked against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Calendars.
    pub calendars: usize,
    /// Calendar keys, over all calendars.
    pub keys: usize,
    /// Overrides, over all calendars.
    pub overrides: usize,
    /// Live bookings, over all calendars.
    pub bookings: usize,
    /// Named groups.
    pub groups: usize,
    /// Stored admin keys.
    pub admin_keys: usize,
    /// Answers remembered for idempotency keys that have not expired.
    pub remembered: usize,
    /// Webhook endpoints.
    pub webhooks: usize,
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} calendars with {} keys, {} overrides and {} bookings; {} groups, {} admin \
             keys, {} remembered answers, {} webhooks",
            self.calendars,
            self.keys,
            self.overrides,
            self.bookings,
            self.groups,
            self.admin_keys,
            self.remembered,
            self.webhooks
        )
    }
}

impl Store {
    /// How much the store holds now: its calendars with their keys, overrides and bookings,
    /// its groups, admin keys and unexpired remembered answers.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        self.for_each(|calendar| {
            counts.calendars += 1;
            counts.keys += calendar.keys().len();
            counts.overrides += calendar.dated().all_overrides().count();
            counts.bookings += calendar.dated().booking_count();
        });
        counts.groups = self.groups.load().len();
        counts.admin_keys = self.admin_keys.load().len();
        counts.remembered = self.remembered_answers().len();
        counts.webhooks = self.webhooks().len();
        counts
    }

    /// Every remembered answer that has not expired, in (principal, key) order.
    pub fn remembered_answers(&self) -> Vec<Remembered> {
        self.journal.remembered_after(now_ms())
    }

    /// The least incarnation a calendar created in this store from now on could get: above
    /// every incarnation it holds and, for a store file, every one it ever gave (deleted
    /// calendars' included). A mirror knows only the calendars it holds.
    pub fn next_incarnation(&self) -> u64 {
        let mut next = self.journal.next_seq();
        self.for_each(|calendar| next = next.max(calendar.incarnation().saturating_add(1)));
        next.max(1)
    }

    /// Writes a new store file at `path` (whose directory must exist) holding this store's
    /// published state: every calendar with its id, incarnation, version, zone, week, keys,
    /// booking flag, change time, next booking id, overrides and bookings; the admin keys,
    /// the groups, the unexpired remembered answers, and the webhook endpoints with their
    /// last attempts and the events waiting for them. What retention would drop when the
    /// copy is opened (bookings and overrides that ended long ago) is left out. Calendars
    /// created in the copy get incarnations from `next_incarnation` on, or past every
    /// incarnation copied if that is more, so an entity tag never repeats across the move.
    ///
    /// The file is written under a temporary name beside `path`, flushed, linked into place
    /// and the directory flushed: `path` holds the whole copy or nothing. Returns what the
    /// copy holds.
    ///
    /// # Errors
    ///
    /// [`Error::is_already_exists`] when `path` exists (a copy never replaces a file);
    /// [`Error::is_io`] when writing, flushing or linking it failed.
    pub fn write_copy(
        &self,
        path: impl AsRef<Path>,
        next_incarnation: u64,
    ) -> Result<Counts, Error> {
        let path = path.as_ref();
        let now = now_ms();
        let cutoff = now.div_euclid(1000) - self.retention_seconds;
        let calendars = self.list();
        // Past every incarnation and group booking id copied: both are sequence numbers.
        let first_seq = calendars
            .iter()
            .map(|calendar| {
                let parts = calendar.dated().all_bookings().filter_map(|b| b.group());
                parts
                    .map(|g| g.id)
                    .fold(calendar.incarnation(), u64::max)
                    .saturating_add(1)
            })
            .fold(next_incarnation.max(1), u64::max);
        let mut image = Image::new(0, first_seq);
        let mut counts = Counts::default();
        let admin_keys = self.admin_keys();
        counts.admin_keys = admin_keys.len();
        image.push(&Record::AdminKeys(admin_keys.to_vec()));
        for calendar in &calendars {
            records_of(calendar, cutoff, &mut counts, &mut |record| {
                image.push(&record)
            });
        }
        for answer in self.journal.remembered_after(now) {
            counts.remembered += 1;
            image.push(&Record::Remember(answer));
        }
        for group in self.groups() {
            counts.groups += 1;
            image.push(&Record::Group(group));
        }
        // Last, as compaction writes them: the records above make no events.
        let outbox = self.journal.outbox();
        counts.webhooks = outbox.hooks().len();
        outbox.each_record(cutoff.saturating_mul(1000), &mut |record| {
            image.push(&record)
        });
        file::create_new(path, &image.finish())?;
        Ok(counts)
    }
}

/// Hands `out` the records of `calendar` as a log written whole holds them: its record, then
/// (when its version passed its record's, or it gave booking ids) its state, its overrides
/// and its bookings, less what ended before `cutoff` (seconds since the epoch) as retention
/// drops it; counts them in `counts`.
fn records_of(calendar: &Calendar, cutoff: i64, counts: &mut Counts, out: &mut dyn FnMut(Record)) {
    out(Record::Calendar(Arc::clone(&calendar.record)));
    counts.calendars += 1;
    counts.keys += calendar.keys().len();
    let pruned;
    let dated = if calendar.dated.is_empty() {
        &*calendar.dated
    } else {
        let mut dated = (*calendar.dated).clone();
        dated.compact_before(zone_or_utc(calendar.zone()), cutoff);
        pruned = dated;
        &pruned
    };
    let owner = || Owner {
        id: String::from(calendar.id()),
        incarnation: calendar.incarnation(),
        version: calendar.version(),
    };
    let next_booking = dated.next_booking_id().0;
    if calendar.version() > calendar.record.version || next_booking > 1 {
        out(Record::State {
            owner: owner(),
            next_booking,
        });
    }
    for (date, day) in dated.all_overrides() {
        let (open, firm) = day.bits();
        counts.overrides += 1;
        out(Record::Override {
            owner: owner(),
            day: day_number(date),
            open,
            firm,
        });
    }
    for booking in dated.all_bookings() {
        counts.bookings += 1;
        out(Record::book(owner(), booking, None));
    }
}
