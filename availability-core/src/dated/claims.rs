//! Changing dated data: overrides, claims and their checks, cancellations, moving to another
//! owner zone, and dropping what retention no longer keeps.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;

use chrono::NaiveDate;

use super::chunked::{Ledger, WeekPlanes, Weeks};
use super::types::{Booking, Claim, DayOverride};
use super::{
    date_of_day, day_number, first_instant_in, owner_slots, week_of_day, Dated, DAY_SECONDS,
    MAX_SPAN_SECONDS,
};
use crate::conflict::{BookingId, Conflict};
use crate::error::{Error, Kind};
use crate::grid::{Time, HALF_HOURS_PER_DAY};
use crate::plane::Plane;
use crate::tz::{IsoWeek, Zone};
use crate::week::Week;

impl Dated {
    /// Sets owner date `date`'s slots to `day` (replacing an earlier override).
    ///
    /// # Errors
    ///
    /// [`Error::is_out_of_range`] for a date outside the years views support.
    pub fn set_override(&mut self, date: NaiveDate, day: DayOverride) -> Result<(), Error> {
        IsoWeek::containing(date)?;
        let d = day_number(date);
        self.overrides.insert(d, day);
        self.rebuild_override_planes(d);
        Ok(())
    }

    /// Removes the override of owner date `date`; whether there was one.
    pub fn remove_override(&mut self, date: NaiveDate) -> bool {
        let d = day_number(date);
        let had = self.overrides.remove(&d).is_some();
        if had {
            self.rebuild_override_planes(d);
        }
        had
    }

    /// Sets the override planes of day number `d`'s week from `self.overrides`.
    fn rebuild_override_planes(&mut self, d: i64) {
        let n = week_of_day(d);
        let index = (d + 3).rem_euclid(7) as usize;
        let at = index * HALF_HOURS_PER_DAY;
        let day_slots = Plane::range(at, at + HALF_HOURS_PER_DAY);
        let day = self.overrides.get(&d).copied();
        self.weeks.update(n, |planes| {
            planes.overridden = planes.overridden.and_not(day_slots);
            planes.over.open = planes.over.open.and_not(day_slots);
            planes.over.firm = planes.over.firm.and_not(day_slots);
            if let Some(day) = day {
                planes.overridden = planes.overridden.or(day_slots);
                planes.over.open = planes
                    .over
                    .open
                    .or(Plane::from_low_bits(day.open).shift_up(at));
                planes.over.firm = planes
                    .over
                    .firm
                    .or(Plane::from_low_bits(day.firm).shift_up(at));
            }
        });
    }

    /// Books `claim` on a calendar whose owner zone is `zone` and pattern `pattern`: every
    /// owner slot that an instant of the span falls in must be available in the effective
    /// week and unclaimed. Checks the span rules against `now` (seconds since the epoch) and
    /// stamps the booking with `now`.
    ///
    /// # Errors
    ///
    /// [`Error::is_invalid_span`] when [`Claim::check`] refuses the span;
    /// [`Error::is_conflict`] when a slot is not free ([`Error::conflict_details`] names the
    /// first one and whether a booking or the availability refused it).
    /// Nothing changes on error.
    pub fn claim(
        &mut self,
        zone: Zone,
        pattern: &Week,
        claim: &Claim,
        now: i64,
    ) -> Result<Arc<Booking>, Error> {
        claim.check(now)?;
        let id = self.next_booking_id();
        self.insert_booking(zone, pattern, claim, id, now.saturating_mul(1000))
    }

    /// Adds a booking as it was made (reading it back from a store): no span rules and no
    /// availability check. Its slots are those its span falls in under `zone`; should that
    /// zone's rules have changed since, so that it now shares a slot with another booking,
    /// both keep it (a booking that was acknowledged is never dropped). A repeated id
    /// replaces the earlier booking.
    pub fn restore_booking(
        &mut self,
        zone: Zone,
        claim: &Claim,
        id: BookingId,
        created_ms: i64,
    ) -> Arc<Booking> {
        self.cancel(id);
        let slots = owner_slots(zone, claim.start, claim.end);
        self.hold(id, claim, created_ms, slots)
    }

    /// Books `claim` again as booking `id`, made at `created_ms`, with the checks of
    /// [`Dated::claim`] but its span rules (the caller checked them): how a booking is moved,
    /// once the caller has cancelled it in its copy.
    #[cfg(feature = "std")]
    pub(crate) fn rebook(
        &mut self,
        zone: Zone,
        pattern: &Week,
        claim: &Claim,
        id: BookingId,
        created_ms: i64,
    ) -> Result<Arc<Booking>, Error> {
        self.insert_booking(zone, pattern, claim, id, created_ms)
    }

    /// Records booking `id` of `claim`, holding `slots` (checked by the caller).
    fn hold(
        &mut self,
        id: BookingId,
        claim: &Claim,
        created_ms: i64,
        slots: Vec<(i64, Plane)>,
    ) -> Arc<Booking> {
        for (n, wanted) in &slots {
            self.weeks
                .update(*n, |planes| planes.claimed = planes.claimed.or(*wanted));
        }
        let booking = Arc::new(Booking::made(
            id,
            claim,
            created_ms,
            slots.into_boxed_slice(),
        ));
        self.bookings.insert(Arc::clone(&booking));
        self.next_booking = self.next_booking.max(id.0.saturating_add(1));
        booking
    }

    /// A booking whose span overlaps `[start, end)` in real time, if there is one. Claims
    /// never make two (any shared instant falls in a shared slot), so a store that reads one
    /// back has damaged data.
    pub fn overlapping(&self, zone: Zone, start: i64, end: i64) -> Option<BookingId> {
        let slots = owner_slots(zone, start, end);
        let shares = slots.iter().any(|(n, wanted)| {
            self.weeks
                .get(*n)
                .is_some_and(|p| p.claimed.and(*wanted) != Plane::EMPTY)
        });
        if !shares {
            return None;
        }
        self.bookings
            .near(start, end)
            .find(|b| b.start < end && start < b.end)
            .map(|b| b.id)
    }

    /// Makes sure no booking gets an id below `next` (ids are never reused, also after the
    /// bookings that had them are gone).
    pub fn reserve_booking_ids(&mut self, next: u64) {
        self.next_booking = self.next_booking.max(next);
    }

    fn insert_booking(
        &mut self,
        zone: Zone,
        pattern: &Week,
        claim: &Claim,
        id: BookingId,
        created_ms: i64,
    ) -> Result<Arc<Booking>, Error> {
        if claim.end <= claim.start || claim.end.saturating_sub(claim.start) > MAX_SPAN_SECONDS {
            return Err(Error::new(
                Kind::InvalidSpan,
                "a booking's end must be after its start, at most 7 days later",
            ));
        }
        let slots = self.check_claim(zone, pattern, claim)?;
        Ok(self.hold(id, claim, created_ms, slots))
    }

    /// Checks that every owner slot of `claim`'s span is available in the effective weeks
    /// and unclaimed, as [`Dated::claim`] does (without its span rules), and returns those
    /// slots per owner week number.
    ///
    /// # Errors
    ///
    /// [`Error::is_conflict`], naming the first slot in time that is not free.
    pub(crate) fn check_claim(
        &self,
        zone: Zone,
        pattern: &Week,
        claim: &Claim,
    ) -> Result<Vec<(i64, Plane)>, Error> {
        let slots = owner_slots(zone, claim.start, claim.end);
        // The first slot in time that is not free, and why.
        for (n, wanted) in &slots {
            let planes = self.weeks.get(*n).copied().unwrap_or_default();
            let without_claims = WeekPlanes {
                claimed: Plane::EMPTY,
                ..planes
            }
            .effective(pattern);
            let free = without_claims.firm.and_not(planes.claimed);
            let refused = wanted.and_not(free);
            let Some(slot) = refused.ones().next() else {
                continue;
            };
            return Err(self.conflict(zone, pattern, &planes, *n, slot, claim));
        }
        Ok(slots)
    }

    #[cold]
    fn conflict(
        &self,
        zone: Zone,
        pattern: &Week,
        planes: &WeekPlanes,
        n: i64,
        slot: usize,
        claim: &Claim,
    ) -> Error {
        let day = n * 7 - 3 + (slot / HALF_HOURS_PER_DAY) as i64;
        // The slot's instants lie within a day of its owner date's UTC day.
        let near = ((day - 2) * DAY_SECONDS, (day + 3) * DAY_SECONDS);
        let booking = planes
            .claimed
            .get(slot)
            .then(|| {
                self.bookings
                    .near(near.0, near.1)
                    .find(|b| b.slots.iter().any(|(w, p)| *w == n && p.get(slot)))
                    .map(|b| b.id)
            })
            .flatten();
        let status = WeekPlanes {
            claimed: Plane::EMPTY,
            ..*planes
        }
        .effective(pattern)
        .status_at(slot);
        let date = date_of_day(day).unwrap_or_default();
        let time = Time::from_half_hours(slot % HALF_HOURS_PER_DAY).unwrap_or(Time::MIDNIGHT);
        let instant = first_instant_in(zone, claim.start, claim.end, day, slot);
        let conflict = Conflict {
            date,
            time,
            instant,
            booking,
            status,
        };
        let why = match booking {
            Some(id) => format!("it is held by booking {id}"),
            None => format!("it is {} there", status.as_str()),
        };
        Error::conflict(
            conflict,
            format!("the slot at {time} on {date} (owner's time) cannot be booked: {why}"),
        )
    }

    /// Cancels booking `id`, freeing its slots; returns it, or `None` when there is no such
    /// booking.
    pub fn cancel(&mut self, id: BookingId) -> Option<Arc<Booking>> {
        let booking = self.bookings.remove(id)?;
        for (n, slots) in booking.slots.iter() {
            if self.weeks.get(*n).is_some() {
                self.weeks
                    .update(*n, |planes| planes.claimed = planes.claimed.and_not(*slots));
            }
        }
        Some(booking)
    }

    /// The same dated data for a calendar whose owner zone is now `zone`: bookings claim the
    /// owner slots their real spans fall in there; overrides stay on their owner dates.
    ///
    /// # Errors
    ///
    /// [`Error::is_conflict`] when two bookings would hold one slot in the new zone (a zone
    /// whose offset splits half hours differently).
    pub fn rezone(&self, zone: Zone) -> Result<Dated, Error> {
        let mut out = Dated {
            weeks: Weeks::default(),
            overrides: BTreeMap::new(),
            bookings: Ledger::default(),
            next_booking: self.next_booking,
        };
        for (day, o) in &self.overrides {
            out.overrides.insert(*day, *o);
            out.rebuild_override_planes(*day);
        }
        for booking in self.bookings.values() {
            let claim = booking.claim();
            let slots = owner_slots(zone, claim.start, claim.end);
            for (n, wanted) in &slots {
                let held = out.weeks.get(*n).map_or(Plane::EMPTY, |p| p.claimed);
                if let Some(slot) = held.and(*wanted).ones().next() {
                    let planes = out.weeks.get(*n).copied().unwrap_or_default();
                    return Err(out.conflict(zone, &Week::AVAILABLE, &planes, *n, slot, &claim));
                }
            }
            out.hold(booking.id, &claim, booking.created_ms, slots);
        }
        Ok(out)
    }

    /// The same dated data with every booking's slots derived again under `zone`, as
    /// [`Dated::restore_booking`] does: for time-zone data installed after the data was read.
    /// Never refuses (a booking that now shares a slot keeps it).
    pub fn rederive(&self, zone: Zone) -> Dated {
        let mut out = self.clone();
        for booking in self.bookings.values() {
            let claim = booking.claim();
            out.restore_booking(zone, &claim, booking.id, booking.created_ms);
        }
        out
    }

    /// Drops what lies entirely before `cutoff` (seconds since the epoch) in owner time:
    /// bookings that ended by then and overrides of owner dates before its date (in `zone`).
    /// No answer about an instant at or after `cutoff` changes. Returns how many records
    /// went.
    pub fn compact_before(&mut self, zone: Zone, cutoff: i64) -> usize {
        let mut dropped = 0;
        // Every write calls this; the bound makes it O(1) until a booking has ended.
        if self.bookings.earliest_end <= cutoff {
            let old: Vec<BookingId> = self
                .bookings
                .values()
                .filter(|b| b.end <= cutoff)
                .map(|b| b.id)
                .collect();
            dropped += old.len();
            for id in old {
                self.cancel(id);
            }
            self.bookings.earliest_end = self
                .bookings
                .values()
                .map(|b| b.end)
                .min()
                .unwrap_or(i64::MAX);
        }
        let offset = i64::from(zone.offset_at(cutoff).unwrap_or(0));
        let cutoff_day = (cutoff + offset).div_euclid(DAY_SECONDS);
        let days: Vec<i64> = self
            .overrides
            .range(..cutoff_day)
            .map(|(d, _)| *d)
            .collect();
        dropped += days.len();
        for d in days {
            self.overrides.remove(&d);
            self.rebuild_override_planes(d);
        }
        dropped
    }
}
