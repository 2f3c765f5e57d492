//! Dated writes: overrides of owner dates, bookings and their cancellation, each one record
//! of the log appended while the calendar's write slot is held.

use alloc::sync::Arc;

use chrono::NaiveDate;

use super::calendar::Calendar;
use super::checked::now_ms;
use super::decide::{apply_dated, DatedWrite};
use super::expect::Expected;
use super::journal_format::{Answer, Record, Remembered};
use super::remembered::IdempotencyKey;
use super::Store;
use crate::dated::{day_number, Booking, BookingId, Claim, DayOverride};
use crate::error::{Error, Kind};

impl Store {
    /// Sets the slots of owner date `date` of calendar `id` to `day` (replacing an earlier
    /// override of that date), bumping its version; returns the new state once it is on
    /// disk.
    ///
    /// # Errors
    ///
    /// [`Error::is_not_found`], [`Error::is_version_mismatch`] as for [`Store::commit`];
    /// [`Error::is_out_of_range`] for a date outside the supported years; [`Error::is_io`]
    /// when the journal write failed. Nothing changes on any error.
    pub fn set_override(
        &self,
        id: &str,
        expected: impl Into<Expected>,
        date: NaiveDate,
        day: DayOverride,
    ) -> Result<Arc<Calendar>, Error> {
        self.dated_write(id, expected.into(), |current, dated, owner| {
            apply_dated(current, dated, &DatedWrite::SetOverride(date, day))?;
            let (open, firm) = day.bits();
            let record = Record::Override {
                owner,
                day: day_number(date),
                open,
                firm,
            };
            Ok((record, ()))
        })
        .map(|(calendar, ())| calendar)
    }

    /// Removes the override of owner date `date` of calendar `id`: the pattern holds there
    /// again.
    ///
    /// # Errors
    ///
    /// [`Error::is_not_found`] when there is no such calendar or no override of that date;
    /// otherwise as [`Store::set_override`].
    pub fn clear_override(
        &self,
        id: &str,
        expected: impl Into<Expected>,
        date: NaiveDate,
    ) -> Result<Arc<Calendar>, Error> {
        self.dated_write(id, expected.into(), |current, dated, owner| {
            apply_dated(current, dated, &DatedWrite::ClearOverride(date))?;
            let day = day_number(date);
            Ok((Record::ClearOverride { owner, day }, ()))
        })
        .map(|(calendar, ())| calendar)
    }

    /// Books `claim` on calendar `id`: every owner slot that an instant of the span falls
    /// in must be available in the effective week and unclaimed. Atomic with respect to
    /// every other write to the calendar, and made only if `expected` (the calendar's
    /// incarnation, the key that authorized it, a version; `None` expects nothing) still
    /// holds when it commits. Returns the new state and the booking once it is on disk.
    ///
    /// With `idempotency`, the booking is remembered for the key as [`Answer::Booked`] (in
    /// the same record, so a booking is never on disk without it) and [`Store::remembered`]
    /// returns it until it expires, also after a restart.
    ///
    /// # Errors
    ///
    /// [`Error::is_invalid_span`] for a span the rules refuse ([`Claim::check`], against the
    /// system clock); [`Error::is_conflict`] when a slot is not free
    /// ([`Error::conflict_details`] names the first and why); [`Error::is_unauthorized`] /
    /// [`Error::is_forbidden`] when the authority no longer covers it,
    /// [`Error::is_not_found`] for no such calendar or another incarnation,
    /// [`Error::is_version_mismatch`] for another version, [`Error::is_io`] as for
    /// [`Store::commit`]. Nothing changes on any error.
    pub fn book(
        &self,
        id: &str,
        expected: impl Into<Expected>,
        claim: &Claim,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<(Arc<Calendar>, Arc<Booking>), Error> {
        if let Some(key) = idempotency {
            key.check()?;
        }
        let now = now_ms().div_euclid(1000);
        self.dated_write(id, expected.into(), |current, dated, owner| {
            let booking = apply_dated(current, dated, &DatedWrite::Book { claim, now })?
                .ok_or_else(|| Error::new(Kind::Io, "a booking made no booking"))?;
            let remembered = idempotency.map(|key| Remembered {
                key: key.key.clone(),
                principal: key.principal.clone(),
                fingerprint: key.fingerprint,
                expires_ms: key.expires_ms,
                answer: Answer::Booked {
                    calendar: owner.id.clone(),
                    incarnation: owner.incarnation,
                    version: owner.version,
                    booking: Arc::clone(&booking),
                },
            });
            Ok((Record::book(owner, &booking, remembered), booking))
        })
    }

    /// Cancels booking `booking` of calendar `id`, freeing its slots; returns the new state
    /// and the cancelled booking once that is on disk.
    ///
    /// # Errors
    ///
    /// [`Error::is_not_found`] when there is no such calendar or booking; otherwise as
    /// [`Store::set_override`].
    pub fn cancel(
        &self,
        id: &str,
        expected: impl Into<Expected>,
        booking: BookingId,
    ) -> Result<(Arc<Calendar>, Arc<Booking>), Error> {
        self.dated_write(id, expected.into(), |current, dated, owner| {
            let cancelled = apply_dated(current, dated, &DatedWrite::Cancel(booking))?
                .ok_or_else(|| Error::new(Kind::Io, "a cancellation cancelled nothing"))?;
            let record = Record::Cancel {
                owner,
                id: booking.0,
            };
            Ok((record, cancelled))
        })
    }

    /// Moves booking `booking` of calendar `id` to start at `start` in one commit: the new
    /// span is claimed and the old one freed together, with the same id and a new version of
    /// the calendar. A booking made by a type keeps the type's duration and is checked by
    /// its rules again (`end` must then be `None` or the type's end); an untyped one ends at
    /// `end`, or keeps its length. Returns the new state and the moved booking.
    ///
    /// # Errors
    ///
    /// As [`Store::book`] for the new span (a type's rule that refuses names itself in
    /// [`Error::rule`]); [`Error::is_not_found`] when there is no such booking. On any error
    /// the booking stays where it was.
    pub fn reschedule(
        &self,
        id: &str,
        expected: impl Into<Expected>,
        booking: BookingId,
        start: i64,
        end: Option<i64>,
    ) -> Result<(Arc<Calendar>, Arc<Booking>), Error> {
        let now = now_ms().div_euclid(1000);
        let write = DatedWrite::Move {
            booking,
            start,
            end,
            now,
        };
        self.dated_write(id, expected.into(), |current, dated, owner| {
            let moved = apply_dated(current, dated, &write)?
                .ok_or_else(|| Error::new(Kind::Io, "a move moved nothing"))?;
            Ok((Record::book(owner, &moved, None), moved))
        })
    }
}
