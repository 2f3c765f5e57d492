//! Booking types and the starts they offer.
//!
//! A [`BookingType`] is what a booker picks ("30-minute call"): a duration, a start every
//! `interval` minutes from the owner's local midnight, buffers, a minimum notice, a horizon and
//! an optional daily limit. Its **starts** on an owner date are the owner's wall times
//! `0, interval, 2 * interval, ...` before midnight: a wall time that a DST gap skips is no
//! start, one that a fold repeats is two (both instants).
//!
//! A start is **bookable** when, in this order ([`Rule`] names the first that refuses):
//!
//! 1. it is one of the type's starts ([`Rule::OffGrid`]);
//! 2. `start >= now + notice` ([`Rule::Notice`]);
//! 3. `start < now + horizon days`, and the span ends within the two years a booking may
//!    ([`Rule::Horizon`]);
//! 4. every owner slot an instant of `[start, start + duration)` falls in is available and
//!    unclaimed in the effective weeks, as [`Dated::claim`] checks ([`Rule::Unavailable`],
//!    [`Rule::Taken`]);
//! 5. the span widened by `buffer_before` and `buffer_after` overlaps no other booking's real
//!    span ([`Rule::Buffer`]);
//! 6. fewer than `per_day` bookings of this type start on the start's owner date
//!    ([`Rule::PerDay`]).
//!
//! [`refusal`] decides one start (what a booking's commit checks); [`slots`] lists every
//! bookable start in a range.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::conflict::BookingId;
use crate::dated::{Claim, Dated, MAX_AHEAD_SECONDS};
use crate::error::{Error, Kind};
use crate::tz::Zone;
use crate::week::Week;

const MINUTE: i64 = 60;
const DAY: i64 = 86_400;

/// The most days a slots answer covers.
pub const MAX_DAYS: i64 = 62;
/// The most booking types a calendar or group has.
pub const MAX_TYPES: usize = 32;

/// What a booker picks: the rules a booking of this type keeps. Minutes unless named.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BookingType {
    /// How long a booking lasts, 5 to 1,440.
    pub duration: u32,
    /// Minutes between possible starts, from the owner's local midnight, 5 to 1,440.
    pub interval: u32,
    /// Margin before a booking that must overlap no other booking, 0 to 720.
    pub buffer_before: u32,
    /// Margin after a booking, likewise, 0 to 720.
    pub buffer_after: u32,
    /// The earliest start, counted from now, 0 to 1,051,200 (730 days).
    pub notice: u32,
    /// Days ahead a start may be (`start < now + horizon days`), 1 to 730.
    pub horizon: u32,
    /// The most bookings of this type that start on one owner date, 1 to 1,000.
    pub per_day: Option<u32>,
    /// What bookers read, at most 200 bytes of text without control characters.
    pub label: Option<String>,
}

impl BookingType {
    /// The horizon when none is given, in days.
    pub const DEFAULT_HORIZON: u32 = 60;

    /// A type of `duration` minutes with every other rule at its default: a start every
    /// `duration` minutes, no buffers, no notice, a horizon of
    /// [`BookingType::DEFAULT_HORIZON`] days, no daily limit, no label.
    pub fn new(duration: u32) -> BookingType {
        BookingType {
            duration,
            interval: duration,
            buffer_before: 0,
            buffer_after: 0,
            notice: 0,
            horizon: BookingType::DEFAULT_HORIZON,
            per_day: None,
            label: None,
        }
    }

    /// Checks every field's range.
    ///
    /// # Errors
    ///
    /// [`Error::is_invalid_booking_type`], with [`Error::field`] naming the field.
    pub fn check(&self) -> Result<(), Error> {
        let within = |field: &'static str, value: u32, low: u32, high: u32| {
            if (low..=high).contains(&value) {
                Ok(())
            } else {
                Err(Error::invalid_field(
                    Kind::InvalidBookingType,
                    field,
                    format!("`{field}` must be a whole number from {low} to {high}, not {value}"),
                ))
            }
        };
        within("duration", self.duration, 5, 1_440)?;
        within("interval", self.interval, 5, 1_440)?;
        within("buffer_before", self.buffer_before, 0, 720)?;
        within("buffer_after", self.buffer_after, 0, 720)?;
        within("notice", self.notice, 0, 1_051_200)?;
        within("horizon", self.horizon, 1, 730)?;
        if let Some(per_day) = self.per_day {
            within("per_day", per_day, 1, 1_000)?;
        }
        if let Some(label) = &self.label {
            if label.len() > crate::dated::MAX_LABEL || label.chars().any(char::is_control) {
                return Err(Error::invalid_field(
                    Kind::InvalidBookingType,
                    "label",
                    format!(
                        "`label` is at most {} bytes of text without control characters",
                        crate::dated::MAX_LABEL
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The span of a booking of this type that starts at `start`.
    pub fn span(&self, start: i64) -> (i64, i64) {
        (start, start + i64::from(self.duration) * MINUTE)
    }
}

/// The rule that refuses a start, in the order [`refusal`] checks them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Not one of the type's starts (a wall time off the interval's grid, or seconds).
    OffGrid,
    /// Sooner than the type's notice.
    Notice,
    /// Beyond the type's horizon.
    Horizon,
    /// An owner slot of the span is not available.
    Unavailable,
    /// An owner slot of the span is held by this booking.
    Taken(BookingId),
    /// The span with its buffers overlaps this booking.
    Buffer(BookingId),
    /// The owner date has its `per_day` bookings of this type.
    PerDay,
}

impl Rule {
    /// The rule's name in answers: `off_grid`, `notice`, `horizon`, `unavailable`, `taken`,
    /// `buffer` or `per_day`.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::OffGrid => "off_grid",
            Rule::Notice => "notice",
            Rule::Horizon => "horizon",
            Rule::Unavailable => "unavailable",
            Rule::Taken(_) => "taken",
            Rule::Buffer(_) => "buffer",
            Rule::PerDay => "per_day",
        }
    }

    /// The booking behind the refusal, for [`Rule::Taken`] and [`Rule::Buffer`].
    pub fn booking(self) -> Option<BookingId> {
        match self {
            Rule::Taken(id) | Rule::Buffer(id) => Some(id),
            _ => None,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::OffGrid => f.write_str("it is not one of the type's start times"),
            Rule::Notice => f.write_str("it is sooner than the type's notice allows"),
            Rule::Horizon => f.write_str("it is further ahead than the type's horizon"),
            Rule::Unavailable => f.write_str("the owner is not available for all of it"),
            Rule::Taken(id) => write!(f, "booking {id} holds part of it"),
            Rule::Buffer(id) => write!(f, "booking {id} is within the type's buffers"),
            Rule::PerDay => f.write_str("the owner's date has the type's most bookings"),
        }
    }
}

/// The owner's wall clock at `instant`, in seconds since 1970-01-01 00:00 local.
fn wall(zone: Zone, instant: i64) -> i64 {
    instant + i64::from(zone.offset_at(instant).unwrap_or(0))
}

/// The owner date (days since 1970-01-01) that `instant` falls on.
pub fn owner_day(zone: Zone, instant: i64) -> i64 {
    wall(zone, instant).div_euclid(DAY)
}

/// The instants at which the wall clock of `zone` shows `wall` (seconds since 1970-01-01
/// 00:00 local): none in a gap, two in a fold, in time order.
pub fn instants_at(zone: Zone, wall: i64) -> Vec<i64> {
    let mut out: Vec<i64> = Vec::with_capacity(2);
    for (_, offset) in zone.transitions(wall - 2 * DAY, wall + 2 * DAY) {
        let t = wall - i64::from(offset);
        if zone.offset_at(t) == Some(offset) && !out.contains(&t) {
            out.push(t);
        }
    }
    out.sort_unstable();
    out
}

/// What decides whether a calendar can take a span: its pattern, dated data and owner zone.
#[derive(Clone, Copy, Debug)]
pub struct Owner<'a> {
    /// The recurring week, in the owner's wall time.
    pub pattern: &'a Week,
    /// The overrides and bookings.
    pub dated: &'a Dated,
    /// The owner's zone.
    pub zone: Zone,
}

/// A booking type as asked for: its name (bookings of it count toward `per_day`), its
/// rules, and the present instant.
#[derive(Clone, Copy, Debug)]
pub struct Offer<'a> {
    /// The type's name.
    pub name: &'a str,
    /// The type's rules.
    pub rules: &'a BookingType,
    /// Now, in seconds since the Unix epoch.
    pub now: i64,
}

/// Why `start` cannot be booked as `offer` on `owner`'s calendar; `None` when it can.
pub fn refusal(owner: &Owner<'_>, offer: &Offer<'_>, start: i64) -> Option<Rule> {
    let Owner {
        pattern,
        dated,
        zone,
    } = *owner;
    let Offer {
        name,
        rules: ty,
        now,
    } = *offer;
    let minute_of_day = wall(zone, start).rem_euclid(DAY) / MINUTE;
    if start % MINUTE != 0 || minute_of_day % i64::from(ty.interval) != 0 {
        return Some(Rule::OffGrid);
    }
    let (_, end) = ty.span(start);
    if start < now + i64::from(ty.notice) * MINUTE {
        return Some(Rule::Notice);
    }
    if start >= now + i64::from(ty.horizon) * DAY || end > now + MAX_AHEAD_SECONDS {
        return Some(Rule::Horizon);
    }
    if let Err(err) = dated.check_claim(zone, pattern, &Claim::new(start, end)) {
        return Some(match err.conflict_details().and_then(|c| c.booking()) {
            Some(id) => Rule::Taken(id),
            None => Rule::Unavailable,
        });
    }
    let before = i64::from(ty.buffer_before) * MINUTE;
    let after = i64::from(ty.buffer_after) * MINUTE;
    if before > 0 || after > 0 {
        if let Some(b) = dated.bookings(start - before, end + after).first() {
            return Some(Rule::Buffer(b.id()));
        }
    }
    if let Some(most) = ty.per_day {
        let day = owner_day(zone, start);
        // Owner dates are at most 26 hours from UTC's.
        let made = dated
            .bookings(day * DAY - 2 * DAY, day * DAY + 3 * DAY)
            .iter()
            .filter(|b| b.booking_type() == Some(name) && owner_day(zone, b.start()) == day)
            .count();
        if made >= most as usize {
            return Some(Rule::PerDay);
        }
    }
    None
}

/// Every bookable start of `offer` on `owner`'s calendar in `[from, to)` (seconds), in time
/// order: the starts [`refusal`] accepts.
pub fn slots(owner: &Owner<'_>, offer: &Offer<'_>, from: i64, to: i64) -> Vec<i64> {
    reference(owner, offer, from, to)
}

/// [`slots`] the plain way: every start of the grid, each decided by [`refusal`]. What tests
/// compare the fast answer with.
#[doc(hidden)]
pub fn reference(owner: &Owner<'_>, offer: &Offer<'_>, from: i64, to: i64) -> Vec<i64> {
    let (zone, ty) = (owner.zone, offer.rules);
    let mut out = Vec::new();
    let first = owner_day(zone, from) - 1;
    let last = owner_day(zone, to) + 1;
    for day in first..=last {
        let mut minute = 0;
        while minute < 1_440 {
            for start in instants_at(zone, day * DAY + i64::from(minute) * MINUTE) {
                if (from..to).contains(&start) && refusal(owner, offer, start).is_none() {
                    out.push(start);
                }
            }
            minute += ty.interval;
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// [`refusal`] as a result: the error names the rule ([`Error::rule`]) and, in its message,
/// the start.
///
/// # Errors
///
/// [`Error::is_conflict`] with [`Error::rule`] set, when a rule refuses `start`.
pub fn check(owner: &Owner<'_>, offer: &Offer<'_>, start: i64) -> Result<(), Error> {
    match refusal(owner, offer, start) {
        None => Ok(()),
        Some(rule) => Err(Error::refused_by(
            rule,
            format!(
                "a booking of type {:?} cannot start then: {rule} ({})",
                offer.name,
                rule.as_str()
            ),
        )),
    }
}
