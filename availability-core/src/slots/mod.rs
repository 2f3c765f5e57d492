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
//!
//! # How the list is made
//!
//! In three layers, so that a group can reuse the first two: a **grid** of candidate starts
//! (a zone's wall times `interval` apart, as instants, date by date; a date that keeps one
//! offset around it is a formula, a date near an offset change lists its starts); per
//! calendar, **marks** over that grid saying which spans it can take (free slots by plane
//! operations, buffers by merged intervals around bookings); and on top the rules about the
//! present (notice and horizon narrow the range) and the daily limit (whole dates cleared).
//! Marks of calendars on one grid combine word by word: all members (AND) or how many.
//! `reference` decides every start with [`refusal`] instead; tests compare the two.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::conflict::BookingId;
use crate::dated::{Dated, MAX_AHEAD_SECONDS};
use crate::error::{Error, Kind};
use crate::tz::Zone;
use crate::week::Week;

mod check;
mod grid;
mod group;
mod take;
#[cfg(test)]
mod tests;

pub use self::check::{check, instants_at, owner_day, reference, refusal, taking, timing};
use self::grid::{Grid, Marks};
pub use self::group::{group_slots, GroupSlot, Mode};
use self::take::{take, Span};

const MINUTE: i64 = 60;
const DAY: i64 = 86_400;
/// `a / b` rounded up, for `b > 0`.
#[inline]
fn div_ceil(a: i64, b: i64) -> i64 {
    -(-a).div_euclid(b)
}

/// Instants further than this from 1970 (about 2,000 years) offer no start.
const FURTHEST: i64 = 1 << 36;

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
            if label.is_empty()
                || label.len() > crate::dated::MAX_LABEL
                || label.chars().any(char::is_control)
            {
                return Err(Error::invalid_field(
                    Kind::InvalidBookingType,
                    "label",
                    format!(
                        "`label` is 1 to {} bytes of text without control characters",
                        crate::dated::MAX_LABEL
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The span of a booking of this type that starts at `start`.
    pub fn span(&self, start: i64) -> (i64, i64) {
        (
            start,
            start.saturating_add(i64::from(self.duration) * MINUTE),
        )
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

/// Every bookable start of `offer` on `owner`'s calendar in `[from, to)` (seconds), in time
/// order: the starts [`refusal`] accepts. A type that [`BookingType::check`] refuses offers
/// none, and neither do instants more than about 2,000 years from 1970.
///
/// Plane operations, not a walk over minutes: the notice and the horizon narrow the range;
/// each owner date keeping one offset around it decides all its starts from the free slots
/// of its owner week (available, unclaimed) by shifts and ANDs, a date near an offset change
/// checks its starts one by one exactly; buffers clear the starts near each booking; the
/// daily limit clears whole dates.
pub fn slots(owner: &Owner<'_>, offer: &Offer<'_>, from: i64, to: i64) -> Vec<i64> {
    let ty = offer.rules;
    if ty.check().is_err() {
        return Vec::new();
    }
    let Some((lo, hi)) = window(offer, from, to) else {
        return Vec::new();
    };
    let grid = Grid::new(owner.zone, ty.interval, lo, hi);
    let span = Span {
        duration: i64::from(ty.duration) * MINUTE,
        before: i64::from(ty.buffer_before) * MINUTE,
        after: i64::from(ty.buffer_after) * MINUTE,
    };
    let mut marks = take(owner, span, &grid);
    if let Some(most) = ty.per_day {
        let starts = owner
            .dated
            .all_bookings()
            .filter(|b| b.group().is_none() && b.booking_type() == Some(offer.name))
            .map(|b| b.start());
        per_day(starts, most, &grid, &mut marks);
    }
    let mut out = Vec::new();
    for day in &grid.days {
        out.extend(marks.ones(day).map(|j| grid.instant(day, j)));
    }
    if !out.is_sorted() {
        // Across a fold at midnight two dates' starts interleave.
        out.sort_unstable();
    }
    out
}

/// The starts `[from, to)` that the notice and the horizon leave, as `[lo, hi)`; `None` when
/// none.
fn window(offer: &Offer<'_>, from: i64, to: i64) -> Option<(i64, i64)> {
    let ty = offer.rules;
    let now = offer.now;
    let duration = i64::from(ty.duration) * MINUTE;
    let lo = from
        .max(now.saturating_add(i64::from(ty.notice) * MINUTE))
        .max(-FURTHEST);
    let hi = to
        .min(now.saturating_add(i64::from(ty.horizon) * DAY))
        // A span must end within the two years a booking may: end <= now + 730 days.
        .min(now.saturating_add(MAX_AHEAD_SECONDS - duration + 1))
        .min(FURTHEST);
    (lo < hi).then_some((lo, hi))
}

/// Unmarks the dates of `grid` on which `most` of the bookings that start at `starts` start.
fn per_day(starts: impl Iterator<Item = i64>, most: u32, grid: &Grid, marks: &mut Marks) {
    let (Some(first), Some(last)) = (grid.days.first(), grid.days.last()) else {
        return;
    };
    // Owner dates are less than a day from UTC's, and the grid knows the offsets from four
    // days before its range to four days after.
    let (lo, hi) = (first.date * DAY - DAY, (last.date + 2) * DAY);
    let mut dates: Vec<i64> = starts
        .filter(|start| (lo..hi).contains(start))
        .map(|start| (start + grid.offsets.at(start)).div_euclid(DAY))
        .collect();
    if dates.len() < most as usize {
        return;
    }
    dates.sort_unstable();
    for day in &grid.days {
        let made =
            dates.partition_point(|&d| d <= day.date) - dates.partition_point(|&d| d < day.date);
        if made >= most as usize {
            marks.clear_day(day);
        }
    }
}

/// The longest booking type name.
pub const MAX_NAME: usize = 63;

/// Checks a booking type's name: 1 to 63 characters of `a-z`, `0-9` and `-`, starting with a
/// letter or digit (the alphabet of calendar ids).
///
/// # Errors
///
/// [`Error::is_invalid_booking_type`], with [`Error::field`] `name`.
pub fn check_name(name: &str) -> Result<(), Error> {
    let bytes = name.as_bytes();
    let first_ok = bytes
        .first()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let rest_ok = bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
    if first_ok && rest_ok && bytes.len() <= MAX_NAME {
        return Ok(());
    }
    Err(Error::invalid_field(
        Kind::InvalidBookingType,
        "name",
        format!(
            "invalid booking type name {:?}: it must be 1 to {MAX_NAME} characters of a-z, 0-9 \
             and '-', starting with a letter or digit",
            crate::error::Truncated(name)
        ),
    ))
}
