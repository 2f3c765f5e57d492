//! [`Interval`] and [`Timestamp`]: exact availability as real instants.

use core::fmt;

use alloc::vec::Vec;
use chrono::{DateTime, FixedOffset};

use crate::error::Error;
use crate::grid::Status;
use crate::tz::{IsoWeek, Plan, Zone};
use crate::week::Week;

/// A real instant with the UTC offset the viewer's clocks had at it.
///
/// Prints as RFC 3339 with that offset and whole seconds, such as
/// `2026-11-23T09:00:00-08:00`; UTC prints as `+00:00`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp {
    unix_seconds: i64,
    offset_seconds: i32,
}

impl Timestamp {
    pub(crate) const fn new(unix_seconds: i64, offset_seconds: i32) -> Timestamp {
        Timestamp {
            unix_seconds,
            offset_seconds,
        }
    }

    /// Seconds since 1970-01-01T00:00:00Z.
    pub const fn unix_seconds(self) -> i64 {
        self.unix_seconds
    }

    /// The viewer's offset from UTC at this instant, in seconds east.
    pub const fn offset_seconds(self) -> i32 {
        self.offset_seconds
    }

    /// The instant as a chrono date-time with its offset.
    pub fn to_datetime(self) -> Option<DateTime<FixedOffset>> {
        let offset = FixedOffset::east_opt(self.offset_seconds)?;
        Some(DateTime::from_timestamp(self.unix_seconds, 0)?.with_timezone(&offset))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let local = self
            .unix_seconds
            .checked_add(i64::from(self.offset_seconds))
            .and_then(|local| jiff::Timestamp::from_second(local).ok())
            .ok_or(fmt::Error)?;
        let local = jiff::tz::Offset::UTC.to_datetime(local);
        let date = local.date();
        let (sign, offset) = if self.offset_seconds < 0 {
            ('-', self.offset_seconds.unsigned_abs())
        } else {
            ('+', self.offset_seconds.unsigned_abs())
        };
        write!(
            f,
            "{date}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
            local.hour(),
            local.minute(),
            local.second(),
            offset / 3600,
            offset / 60 % 60
        )
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A maximal run `[start, end)` of real instants during which the owner has one status
/// (maybe or available for [`Plan::intervals`], any for [`Plan::runs`]), with the viewer's
/// offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Interval {
    /// The first instant of the run.
    pub start: Timestamp,
    /// The first instant after the run.
    pub end: Timestamp,
    /// The owner's status: [`Status::Maybe`] or [`Status::Available`] in
    /// [`Plan::intervals`].
    pub status: Status,
}

/// The exact availability of `week`, owned in `owner`'s wall-clock time, during the ISO week
/// `iso` of the viewer's zone; [`Plan::intervals`] without a cached plan.
///
/// # Errors
///
/// As [`Plan::new`].
pub fn intervals(
    week: &Week,
    owner: Zone,
    viewer: Zone,
    iso: IsoWeek,
) -> Result<Vec<Interval>, Error> {
    Ok(Plan::new(owner, viewer, iso)?.intervals(week))
}

/// The owner's `week` as seen from `viewer` during `iso`; [`Plan::apply`] without a cached
/// plan.
///
/// # Errors
///
/// As [`Plan::new`].
pub fn view(week: &Week, owner: Zone, viewer: Zone, iso: IsoWeek) -> Result<Week, Error> {
    Ok(Plan::new(owner, viewer, iso)?.apply(week))
}
