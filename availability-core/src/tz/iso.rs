//! [`IsoWeek`]: a concrete Monday-to-Sunday week, named as ISO 8601 names it.
//!
//! The calendar (ISO week dates, days, dates of instants) is jiff's; chrono's `NaiveDate` is
//! what the public methods take and give.

use core::fmt;
use core::hash::{Hash, Hasher};
use core::str::FromStr;

use alloc::format;
use chrono::{Datelike, NaiveDate};
use jiff::civil::{Date, ISOWeekDate, Weekday};
use jiff::SignedDuration;

use crate::error::Truncated;
use crate::error::{Error, Kind};
use crate::grid::Day;
use crate::tz::Zone;

/// An ISO 8601 week: Monday to Sunday, numbered within its ISO year (`2026-W48` is
/// 2026-11-23 to 2026-11-29). A view shows one such week in the viewer's zone.
///
/// Only weeks of ISO years [`IsoWeek::MIN_YEAR`] to [`IsoWeek::MAX_YEAR`] exist as values:
/// the time-zone database lists explicit offset changes up to 2099, and before 1973 some
/// zones had offsets that were not whole minutes, which RFC 3339 cannot write. Other
/// years are refused with [`Error::is_out_of_range`].
///
/// ```
/// use availability_core::tz::IsoWeek;
///
/// let week: IsoWeek = "2026-W48".parse()?;
/// assert_eq!(week, "2026-11-26".parse()?); // any date of the week names it
/// assert_eq!(week.to_string(), "2026-W48");
/// let dates = week.dates();
/// assert_eq!(dates[0].to_string(), "2026-11-23");
/// assert_eq!(dates[6].to_string(), "2026-11-29");
///
/// // 2026-01-01 is a Thursday, so it belongs to the first week of 2026...
/// assert_eq!("2026-01-01".parse::<IsoWeek>()?.to_string(), "2026-W01");
/// // ...and 2027-01-01, a Friday, to the last week of 2026, which has 53.
/// assert_eq!("2027-01-01".parse::<IsoWeek>()?.to_string(), "2026-W53");
/// assert!("2025-W53".parse::<IsoWeek>().unwrap_err().is_parse());
/// assert!("2150-W01".parse::<IsoWeek>().unwrap_err().is_out_of_range());
/// # Ok::<(), availability_core::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct IsoWeek {
    /// The week's Monday; always a Monday of an ISO year in the supported range.
    monday: Date,
}

/// 1970-01-01, day 0 of [`IsoWeek::start_seconds`].
const EPOCH: Date = Date::constant(1970, 1, 1);

impl IsoWeek {
    /// The first supported ISO year.
    pub const MIN_YEAR: i32 = 1973;
    /// The last supported ISO year.
    pub const MAX_YEAR: i32 = 2099;

    /// Week `week` (1 to 52 or 53) of ISO year `year`.
    ///
    /// # Errors
    ///
    /// [`Error::is_out_of_range`] for a year outside the supported range,
    /// [`Error::is_parse`] for a week number that the year does not have.
    pub fn new(year: i32, week: u32) -> Result<IsoWeek, Error> {
        check_year(year)?;
        match iso_monday(year, week) {
            Some(monday) => Ok(IsoWeek { monday }),
            None => Err(Error::new(
                Kind::Parse,
                format!(
                    "invalid week {year}-W{week:02}: ISO year {year} has weeks 01 to {:02}",
                    weeks_in(year)
                ),
            )),
        }
    }

    /// The week that contains `date`.
    ///
    /// # Errors
    ///
    /// [`Error::is_out_of_range`] when the date's ISO year is outside the supported range.
    pub fn containing(date: NaiveDate) -> Result<IsoWeek, Error> {
        match civil(date.year(), date.month(), date.day()) {
            Some(date) => IsoWeek::containing_date(date),
            None => Err(out_of_range(format!("date {date}"))),
        }
    }

    /// The week that contains `date`, a jiff date.
    fn containing_date(date: Date) -> Result<IsoWeek, Error> {
        let iso = date.iso_week_date();
        check_year(i32::from(iso.year()))?;
        let back = i64::from(iso.weekday().to_monday_zero_offset());
        match date.checked_sub(SignedDuration::from_hours(24 * back)) {
            Ok(monday) => Ok(IsoWeek { monday }),
            Err(_) => Err(out_of_range(format!("date {date}"))),
        }
    }

    /// The week that contains the instant `unix_seconds` (seconds since 1970-01-01 UTC) on
    /// the wall clocks of `zone`.
    ///
    /// # Errors
    ///
    /// [`Error::is_out_of_range`] when that week is outside the supported range.
    pub fn at(zone: Zone, unix_seconds: i64) -> Result<IsoWeek, Error> {
        let local = zone
            .offset_at(unix_seconds)
            .and_then(|offset| unix_seconds.checked_add(i64::from(offset)))
            .and_then(|local| jiff::Timestamp::from_second(local).ok())
            .ok_or_else(|| out_of_range(format!("instant {unix_seconds}")))?;
        IsoWeek::containing_date(jiff::tz::Offset::UTC.to_datetime(local).date())
    }

    /// The week that contains the present moment on the wall clocks of `zone`: the default
    /// week of a view.
    ///
    /// # Errors
    ///
    /// [`Error::is_out_of_range`] when the system clock is outside the supported years.
    #[cfg(feature = "std")]
    pub fn current(zone: Zone) -> Result<IsoWeek, Error> {
        let now = match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
        };
        IsoWeek::at(zone, now)
    }

    /// The ISO year (which can differ from the calendar year of the week's first or last days).
    pub fn year(self) -> i32 {
        i32::from(self.monday.iso_week_date().year())
    }

    /// The week number within its ISO year, 1 to 53.
    pub fn week(self) -> u32 {
        // 1 to 53, never negative.
        self.monday.iso_week_date().week().unsigned_abs().into()
    }

    /// The week's Monday.
    pub fn monday(self) -> NaiveDate {
        naive(self.monday)
    }

    /// The date of `day` in this week.
    pub fn date(self, day: Day) -> NaiveDate {
        naive(self.day(day))
    }

    /// The seven dates of the week, Monday first.
    pub fn dates(self) -> [NaiveDate; 7] {
        let mut date = self.monday;
        let mut dates = [naive(date); 7];
        for next in dates.iter_mut().skip(1) {
            // Within the supported years the days of a week always exist.
            date = date.tomorrow().unwrap_or(date);
            *next = naive(date);
        }
        dates
    }

    /// The week after this one, if it is still in the supported range.
    pub fn next(self) -> Option<IsoWeek> {
        let monday = self
            .monday
            .checked_add(SignedDuration::from_hours(7 * 24))
            .ok()?;
        IsoWeek::containing_date(monday).ok()
    }

    /// The week before this one, if it is still in the supported range.
    pub fn previous(self) -> Option<IsoWeek> {
        let monday = self
            .monday
            .checked_sub(SignedDuration::from_hours(7 * 24))
            .ok()?;
        IsoWeek::containing_date(monday).ok()
    }

    /// The wall-clock second of the week's Monday 00:00, counted from 1970-01-01 00:00.
    pub(crate) fn start_seconds(self) -> i64 {
        self.monday.duration_since(EPOCH).as_secs()
    }

    /// The date of `day` in this week.
    fn day(self, day: Day) -> Date {
        // Within the supported years the days of a week always exist.
        let hours = 24 * day.index() as i64;
        self.monday
            .checked_add(SignedDuration::from_hours(hours))
            .unwrap_or(self.monday)
    }
}

/// Weeks hash as one word made of the Monday's year, month and day: the plan and render
/// caches hash them on every read.
impl Hash for IsoWeek {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (year, month, day) = (self.monday.year(), self.monday.month(), self.monday.day());
        state.write_u32((year as u32) << 16 | (month as u32) << 8 | day as u32);
    }
}

/// The Monday of week `week` of ISO year `year`, if the year has that week.
fn iso_monday(year: i32, week: u32) -> Option<Date> {
    let year = i16::try_from(year).ok()?;
    let week = i8::try_from(week).ok()?;
    Some(ISOWeekDate::new(year, week, Weekday::Monday).ok()?.date())
}

/// The date `year`-`month`-`day` as jiff has it, if there is such a day.
fn civil(year: i32, month: u32, day: u32) -> Option<Date> {
    let (year, month, day) = (
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
    );
    Date::new(year, month, day).ok()
}

/// The same date as chrono writes it. Every date of the supported years exists in both.
fn naive(date: Date) -> NaiveDate {
    NaiveDate::from_ymd_opt(
        i32::from(date.year()),
        date.month().unsigned_abs().into(),
        date.day().unsigned_abs().into(),
    )
    .unwrap_or_default()
}

fn weeks_in(year: i32) -> u32 {
    if iso_monday(year, 53).is_some() {
        53
    } else {
        52
    }
}

fn check_year(year: i32) -> Result<(), Error> {
    if (IsoWeek::MIN_YEAR..=IsoWeek::MAX_YEAR).contains(&year) {
        Ok(())
    } else {
        Err(out_of_range(format!("ISO year {year}")))
    }
}

#[cold]
fn out_of_range(what: alloc::string::String) -> Error {
    Error::new(
        Kind::OutOfRange,
        format!(
            "{what} is outside the supported weeks: views cover ISO years {} to {}",
            IsoWeek::MIN_YEAR,
            IsoWeek::MAX_YEAR
        ),
    )
}

/// Parses `2026-W48` (the ISO week name) or `2026-11-23` (any date of the week).
impl FromStr for IsoWeek {
    type Err = Error;

    fn from_str(s: &str) -> Result<IsoWeek, Error> {
        let b = s.as_bytes();
        let digits = |range: core::ops::Range<usize>| -> Option<u32> {
            let part = b.get(range)?;
            part.iter().try_fold(0u32, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
            })
        };
        let bad = || {
            Error::new(
                Kind::Parse,
                format!(
                    "invalid week {:?}: expected an ISO week such as \"2026-W48\" or a date \
                     such as \"2026-11-23\"",
                    Truncated(s)
                ),
            )
        };
        let year = digits(0..4).ok_or_else(bad)?;
        let year = i32::try_from(year).map_err(|_| bad())?;
        match (b.len(), b.get(4), b.get(5)) {
            (8, Some(b'-'), Some(b'W' | b'w')) => {
                let week = digits(6..8).ok_or_else(bad)?;
                IsoWeek::new(year, week)
            }
            (10, Some(b'-'), _) if b.get(7) == Some(&b'-') => {
                let (month, day) = (
                    digits(5..7).ok_or_else(bad)?,
                    digits(8..10).ok_or_else(bad)?,
                );
                let date = civil(year, month, day).ok_or_else(|| {
                    Error::new(
                        Kind::Parse,
                        format!("invalid date {:?}: no such day", Truncated(s)),
                    )
                })?;
                IsoWeek::containing_date(date)
            }
            _ => Err(bad()),
        }
    }
}

/// Writes the ISO week name, such as `2026-W48`.
impl fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let iso = self.monday.iso_week_date();
        write!(f, "{:04}-W{:02}", iso.year(), iso.week())
    }
}

impl fmt::Debug for IsoWeek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IsoWeek({self} from {})", self.monday)
    }
}
