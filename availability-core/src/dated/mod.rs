//! Dated availability: overrides and bookings on top of the recurring week.
//!
//! The pattern ([`Week`]) says what usually holds. A calendar's [`Dated`] data says what holds
//! on real dates, in the owner's zone and calendar:
//!
//! - an **override** ([`DayOverride`]) replaces one owner date's 48 slots;
//! - a **booking** ([`Booking`]) claims a span of real time: every owner slot that any instant
//!   of the span falls in. A claim succeeds only if each of those slots is available in the
//!   effective week and not claimed by another booking.
//!
//! The **effective week** of a concrete owner ISO week is the pattern, each overridden date's
//! day replaced, claimed slots made unavailable ([`Dated::effective`]). It is three plane
//! operations per word: the per-week planes are kept up to date when dated data changes, so
//! reading never walks slots or bookings. A view of a concrete viewer week ([`Dated::view`])
//! judges each instant by the owner date it falls on (a viewer week can read two owner
//! weeks); a calendar without dated data takes exactly the pattern's path.
//!
//! ```
//! use availability_core::dated::{Claim, Dated};
//! use availability_core::tz::{IsoWeek, Plan, Zone};
//! use availability_core::{Status, Week};
//!
//! let owner: Zone = "Europe/Paris".parse()?;
//! let pattern = Week::AVAILABLE;
//! let mut dated = Dated::new();
//! // 2026-12-01 09:00 to 10:00 in Paris (UTC+01).
//! let start = 1_796_112_000;
//! let now = start - 86_400;
//! let booking = dated.claim(owner, &pattern, &Claim::new(start, start + 3600), now)?;
//! assert_eq!(booking.slot_count(), 2);
//!
//! let week: IsoWeek = "2026-12-01".parse()?;
//! let effective = dated.effective(&pattern, week);
//! assert_eq!(effective.status("tuesday 09:00".parse()?), Status::Unavailable);
//! assert_eq!(effective.status("tuesday 10:00".parse()?), Status::Available);
//!
//! // The same hour again is refused, naming the booking that holds it.
//! let again = dated.claim(owner, &pattern, &Claim::new(start + 1800, start + 5400), now);
//! let conflict = again.unwrap_err();
//! assert_eq!(conflict.conflict_details().and_then(|c| c.booking()), Some(booking.id()));
//!
//! // A viewer in New York sees the hour at 03:00 their time.
//! let plan = Plan::new(owner, "America/New_York".parse()?, week)?;
//! let view = dated.view(&pattern, &plan);
//! assert_eq!(view.status("tuesday 03:00".parse()?), Status::Unavailable);
//! assert_eq!(view.status("tuesday 04:00".parse()?), Status::Available);
//! # Ok::<(), availability_core::Error>(())
//! ```

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Bound;

use chrono::{Datelike, NaiveDate};

pub use crate::conflict::{BookingId, Conflict};
use crate::grid::{HALF_HOURS_PER_DAY, SLOTS};
use crate::plane::Plane;
use crate::tz::interval::Interval;
use crate::tz::plan::week_number;
use crate::tz::{IsoWeek, Plan, Zone};
use crate::week::Week;

mod chunked;
mod claims;
mod types;

use self::chunked::{Ledger, WeekPlanes, Weeks};
pub use self::types::{Booking, Claim, DayOverride, GroupRef};

const HALF_HOUR: i64 = 1800;
const DAY_SECONDS: i64 = 86_400;
/// The longest booking.
pub const MAX_SPAN_SECONDS: i64 = 7 * DAY_SECONDS;
/// How far ahead a booking may end.
pub const MAX_AHEAD_SECONDS: i64 = 730 * DAY_SECONDS;
/// The longest booking label, in bytes.
pub const MAX_LABEL: usize = 200;
/// The bits of a day's 48 slots.
const DAY_MASK: u64 = (1 << HALF_HOURS_PER_DAY) - 1;
/// `NaiveDate::num_days_from_ce` of 1970-01-01.
const EPOCH_DAYS_FROM_CE: i64 = 719_163;

/// The number of `date` counted in days from 1970-01-01.
pub(crate) fn day_number(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce()) - EPOCH_DAYS_FROM_CE
}

/// The date of day number `day` (see [`day_number`]).
pub(crate) fn date_of_day(day: i64) -> Option<NaiveDate> {
    let ce = i32::try_from(day.checked_add(EPOCH_DAYS_FROM_CE)?).ok()?;
    NaiveDate::from_num_days_from_ce_opt(ce)
}

/// The number of the ISO week of day number `day` (week 0 holds 1970-01-01).
pub(crate) fn week_of_day(day: i64) -> i64 {
    (day + 3).div_euclid(7)
}

/// The ISO week number (as [`week_of_day`]) of `week`.
pub(crate) fn week_number_of(week: IsoWeek) -> i64 {
    week_of_day(day_number(week.monday()))
}

/// A calendar's dated data: its overrides and bookings, and per owner week the planes that
/// make the effective week.
///
/// A value: changes are made to a copy (the store publishes each new state whole).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Dated {
    /// Per owner week number, its planes; only weeks with an override or a claim.
    weeks: Weeks,
    /// Per owner day number.
    overrides: BTreeMap<i64, DayOverride>,
    bookings: Ledger,
    /// The id the next booking gets.
    next_booking: u64,
}

impl fmt::Debug for Dated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dated")
            .field("overrides", &self.overrides.len())
            .field("bookings", &self.bookings.len())
            .field("next_booking", &self.next_booking)
            .finish()
    }
}

impl Dated {
    /// No overrides and no bookings.
    pub fn new() -> Dated {
        Dated {
            next_booking: 1,
            ..Dated::default()
        }
    }

    /// Whether there are no overrides and no bookings: views then read the pattern alone.
    pub fn is_empty(&self) -> bool {
        self.weeks.is_empty()
    }

    /// The effective week of owner ISO week `week`: `pattern` with each overridden date's day
    /// replaced and claimed slots unavailable.
    #[inline]
    pub fn effective(&self, pattern: &Week, week: IsoWeek) -> Week {
        self.effective_by_number(pattern, week_number_of(week))
    }

    #[inline]
    fn effective_by_number(&self, pattern: &Week, n: i64) -> Week {
        match self.weeks.get(n) {
            Some(planes) => planes.effective(pattern),
            None => *pattern,
        }
    }

    /// The slots of owner week number `n` (as [`week_of_day`] counts) that a booking may
    /// take: available in the effective week, and so unclaimed.
    #[inline]
    pub(crate) fn free_plane(&self, pattern: &Week, n: i64) -> Plane {
        self.effective_by_number(pattern, n).firm
    }

    /// The owner's effective weeks seen through `plan` (whose owner zone must be the
    /// calendar's): [`Plan::apply`] of the effective weeks, each instant judged by the owner
    /// week it falls in.
    pub fn view(&self, pattern: &Week, plan: &Plan) -> Week {
        self.through(plan, |planes| match planes {
            Some(planes) => planes.effective(pattern),
            None => *pattern,
        })
    }

    /// The viewer slots of `plan`'s view that show a booked owner slot: those in which some
    /// instant falls in an owner slot a booking claims. [`Dated::view`] shows them
    /// unavailable, like slots never offered; this tells them apart, without saying whose.
    /// They are the available slots of the week returned (every other slot unavailable).
    ///
    /// The claimed planes seen through the same plan: slot `v` is free of claims when every
    /// owner slot behind it is (the plan's minimum), and booked when it holds an instant
    /// (it is no gap) and is not free. Word operations, as the view.
    ///
    /// ```
    /// use availability_core::dated::{Claim, Dated};
    /// use availability_core::tz::{IsoWeek, Plan};
    /// use availability_core::{Status, Week};
    ///
    /// let mut dated = Dated::new();
    /// // 2026-12-01 09:00 to 10:00 in Paris (UTC+01).
    /// let start = 1_796_112_000;
    /// let owner = "Europe/Paris".parse()?;
    /// dated.claim(owner, &Week::AVAILABLE, &Claim::new(start, start + 3600), start - 86_400)?;
    /// // In Kathmandu (UTC+05:45) the hour is 13:45 to 14:45: three half hours show it.
    /// let week: IsoWeek = "2026-12-01".parse()?;
    /// let plan = Plan::new(owner, "Asia/Kathmandu".parse()?, week)?;
    /// let booked = dated.booked(&plan);
    /// assert_eq!(booked.counts().available, 3);
    /// assert_eq!(booked.status("tuesday 13:30".parse()?), Status::Available);
    /// assert_eq!(booked.status("tuesday 14:30".parse()?), Status::Available);
    /// assert_eq!(booked.status("tuesday 15:00".parse()?), Status::Unavailable);
    /// # Ok::<(), availability_core::Error>(())
    /// ```
    pub fn booked(&self, plan: &Plan) -> Week {
        if self.weeks.is_empty() {
            return Week::UNAVAILABLE;
        }
        let free = self.through(plan, |planes| match planes {
            Some(planes) => {
                let free = Plane::FULL.and_not(planes.claimed);
                Week {
                    open: free,
                    firm: free,
                }
            }
            None => Week::AVAILABLE,
        });
        let booked = plan.covered().and_not(free.firm);
        Week {
            open: booked,
            firm: booked,
        }
    }

    /// `plan` applied to a week made per owner week by `week_of` from that week's planes
    /// (`None` for a week without dated data), each instant judged by the owner week it
    /// falls in.
    #[inline]
    fn through(&self, plan: &Plan, week_of: impl Fn(Option<&WeekPlanes>) -> Week) -> Week {
        let Some((first, last)) = plan.owner_week_span().filter(|_| !self.weeks.is_empty()) else {
            return plan.apply(&week_of(None));
        };
        if first == last {
            // The common case: the view reads one owner week.
            return plan.apply(&week_of(self.weeks.get(first)));
        }
        // One walk of the map for the (at most three) owner weeks the view reads.
        let mut found: [Option<(i64, &WeekPlanes)>; 3] = [None; 3];
        for (slot, (n, planes)) in found.iter_mut().zip(self.weeks.range(first, last)) {
            *slot = Some((*n, planes));
        }
        if found.iter().all(Option::is_none) {
            return plan.apply(&week_of(None));
        }
        plan.apply_by_week(|n| {
            week_of(
                found
                    .iter()
                    .flatten()
                    .find(|(w, _)| *w == n)
                    .map(|(_, planes)| *planes),
            )
        })
    }

    /// [`Plan::intervals`] of the effective weeks, as [`Dated::view`].
    pub fn intervals(&self, pattern: &Week, plan: &Plan) -> Vec<Interval> {
        if self.weeks.is_empty() {
            return plan.intervals(pattern);
        }
        plan.intervals_by_week(|n| self.effective_by_number(pattern, n))
    }

    /// [`Plan::runs`] of the effective weeks, as [`Dated::view`]: every real instant of the
    /// viewed week by its owner status (a booked slot is unavailable).
    pub fn runs(&self, pattern: &Week, plan: &Plan) -> Vec<Interval> {
        if self.weeks.is_empty() {
            return plan.runs(pattern);
        }
        plan.runs_by_week(|n| self.effective_by_number(pattern, n))
    }

    /// The override of owner date `date`.
    pub fn override_on(&self, date: NaiveDate) -> Option<DayOverride> {
        self.overrides.get(&day_number(date)).copied()
    }

    /// The overrides of owner dates `from..=to`, in date order.
    pub fn overrides(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Iterator<Item = (NaiveDate, DayOverride)> + '_ {
        let range = (
            Bound::Included(day_number(from)),
            Bound::Included(day_number(to).max(day_number(from))),
        );
        self.overrides
            .range(range)
            .filter_map(|(day, o)| Some((date_of_day(*day)?, *o)))
    }

    /// Every override, in date order.
    pub fn all_overrides(&self) -> impl Iterator<Item = (NaiveDate, DayOverride)> + '_ {
        self.overrides
            .iter()
            .filter_map(|(day, o)| Some((date_of_day(*day)?, *o)))
    }

    /// The booking with id `id`.
    pub fn booking(&self, id: BookingId) -> Option<&Arc<Booking>> {
        self.bookings.get(id)
    }

    /// The bookings that overlap `[from, to)` (seconds since the epoch), by start. Costs what
    /// the bookings near that time are, not what the calendar holds (for most calendars).
    pub fn bookings(&self, from: i64, to: i64) -> Vec<Arc<Booking>> {
        let mut out: Vec<Arc<Booking>> = self
            .bookings
            .near(from, to)
            .filter(|b| b.start < to && b.end > from)
            .cloned()
            .collect();
        out.sort_by_key(|b| (b.start, b.id));
        out
    }

    /// Every booking, by id.
    pub fn all_bookings(&self) -> impl Iterator<Item = &Arc<Booking>> + '_ {
        self.bookings.values()
    }

    /// How many bookings there are.
    pub fn booking_count(&self) -> usize {
        self.bookings.len()
    }

    /// The id the next booking will get.
    pub fn next_booking_id(&self) -> BookingId {
        BookingId(self.next_booking.max(1))
    }
}

/// The ISO week of week number `n`, inside the supported years.
fn iso_week(n: i64) -> Option<IsoWeek> {
    IsoWeek::containing(date_of_day(n * 7 - 3)?).ok()
}

/// The owner slots that the instants `[start, end)` fall in, per owner week number, in time
/// order: each half hour of the owner's wall clock that some instant of the span shows.
pub(crate) fn owner_slots(zone: Zone, start: i64, end: i64) -> Vec<(i64, Plane)> {
    // Most spans fall in one week: room for one, so that a booking keeps them without a copy.
    let mut out: Vec<(i64, Plane)> = Vec::with_capacity(1);
    let changes = zone.changes(start, end);
    for (i, &(from, offset)) in changes.iter().enumerate() {
        let to = changes.get(i + 1).map_or(end, |c| c.0).min(end);
        let from = from.max(start);
        if from >= to {
            continue;
        }
        let offset = i64::from(offset);
        let first = (from + offset).div_euclid(HALF_HOUR);
        let last = (to - 1 + offset).div_euclid(HALF_HOUR);
        for half_hour in first..=last {
            let n = week_number(half_hour);
            let day = half_hour.div_euclid(HALF_HOURS_PER_DAY as i64);
            let slot = ((day + 3).rem_euclid(7) as usize) * HALF_HOURS_PER_DAY
                + half_hour.rem_euclid(HALF_HOURS_PER_DAY as i64) as usize;
            match out.iter_mut().find(|(w, _)| *w == n) {
                Some((_, plane)) => plane.set(slot, true),
                None => {
                    let mut plane = Plane::EMPTY;
                    plane.set(slot, true);
                    out.push((n, plane));
                }
            }
        }
    }
    out.sort_unstable_by_key(|(n, _)| *n);
    out
}

/// The first instant of `[start, end)` that falls in owner slot `slot` of day number `day`.
fn first_instant_in(zone: Zone, start: i64, end: i64, day: i64, slot: usize) -> i64 {
    let half_hour = day * HALF_HOURS_PER_DAY as i64 + (slot % HALF_HOURS_PER_DAY) as i64;
    let changes = zone.changes(start, end);
    for (i, &(from, offset)) in changes.iter().enumerate() {
        let to = changes.get(i + 1).map_or(end, |c| c.0).min(end);
        let from = from.max(start);
        let offset = i64::from(offset);
        let wall_start = half_hour * HALF_HOUR - offset;
        let candidate = wall_start.max(from);
        if candidate < to && candidate < wall_start + HALF_HOUR {
            return candidate;
        }
    }
    start
}

const _: () = assert!(SLOTS == 7 * HALF_HOURS_PER_DAY);
