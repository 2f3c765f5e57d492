//! The slot grid: days, half-hour boundaries, slots and statuses.
//!
//! Slot `i = day * 48 + half_hour`; day 0 is Monday and half hour 0 is 00:00-00:30. Every type
//! here parses from and prints to the text the HTTP API uses, and every parse error says what
//! was wrong and what is allowed.

use core::fmt;

/// Days in a week.
pub const DAYS: usize = 7;
/// Half hours in a day.
pub const HALF_HOURS_PER_DAY: usize = 48;
/// Slots in a week: `DAYS * HALF_HOURS_PER_DAY`.
pub const SLOTS: usize = DAYS * HALF_HOURS_PER_DAY;

/// How available a slot is. The three statuses form a chain:
/// `Unavailable < Maybe < Available`.
///
/// ```
/// use availability_core::Status;
///
/// assert!(Status::Unavailable < Status::Maybe && Status::Maybe < Status::Available);
/// assert_eq!("MAYBE".parse::<Status>()?, Status::Maybe);
/// assert_eq!(Status::Available.to_string(), "available");
/// # Ok::<(), availability_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum Status {
    /// Not available.
    #[default]
    Unavailable = 0,
    /// Possibly available.
    Maybe = 1,
    /// Available.
    Available = 2,
}

impl Status {
    /// The three statuses, from least to most available.
    pub const ALL: [Status; 3] = [Status::Unavailable, Status::Maybe, Status::Available];

    /// The lower-case name used in JSON and CSV: `unavailable`, `maybe` or `available`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Unavailable => "unavailable",
            Status::Maybe => "maybe",
            Status::Available => "available",
        }
    }

    /// The status a slot has given its bit in the `open` plane and in the `firm` plane.
    ///
    /// `firm` without `open` cannot occur in a valid week; it reads as available.
    #[inline]
    pub(crate) const fn from_bits(open: bool, firm: bool) -> Status {
        match (open, firm) {
            (_, true) => Status::Available,
            (true, false) => Status::Maybe,
            (false, false) => Status::Unavailable,
        }
    }

    /// Whether a slot with this status has its bit set in the `open` plane.
    #[inline]
    pub(crate) const fn is_open(self) -> bool {
        !matches!(self, Status::Unavailable)
    }

    /// Whether a slot with this status has its bit set in the `firm` plane.
    #[inline]
    pub(crate) const fn is_firm(self) -> bool {
        matches!(self, Status::Available)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A day of the week; Monday is day 0.
///
/// ```
/// use availability_core::Day;
///
/// assert_eq!("Tuesday".parse::<Day>()?, Day::Tuesday);
/// assert_eq!("sun".parse::<Day>()?, Day::Sunday);
/// assert_eq!("0".parse::<Day>()?, Day::Monday);
/// assert_eq!(Day::Wednesday.index(), 2);
/// assert_eq!(Day::Friday.to_string(), "friday");
/// # Ok::<(), availability_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Day {
    /// Day 0.
    Monday = 0,
    /// Day 1.
    Tuesday = 1,
    /// Day 2.
    Wednesday = 2,
    /// Day 3.
    Thursday = 3,
    /// Day 4.
    Friday = 4,
    /// Day 5.
    Saturday = 5,
    /// Day 6.
    Sunday = 6,
}

impl Day {
    /// The seven days, Monday first.
    pub const ALL: [Day; 7] = [
        Day::Monday,
        Day::Tuesday,
        Day::Wednesday,
        Day::Thursday,
        Day::Friday,
        Day::Saturday,
        Day::Sunday,
    ];

    /// Monday to Friday.
    pub const WEEKDAYS: [Day; 5] = [
        Day::Monday,
        Day::Tuesday,
        Day::Wednesday,
        Day::Thursday,
        Day::Friday,
    ];

    /// The day with index `index` (0 = Monday), or `None` past 6.
    pub const fn from_index(index: usize) -> Option<Day> {
        if index < DAYS {
            Some(Day::ALL[index])
        } else {
            None
        }
    }

    /// The index of the day: 0 for Monday to 6 for Sunday.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The lower-case English name: `monday` ... `sunday`.
    pub const fn name(self) -> &'static str {
        match self {
            Day::Monday => "monday",
            Day::Tuesday => "tuesday",
            Day::Wednesday => "wednesday",
            Day::Thursday => "thursday",
            Day::Friday => "friday",
            Day::Saturday => "saturday",
            Day::Sunday => "sunday",
        }
    }

    /// The capitalised English name: `Monday` ... `Sunday` (the CSV header uses it).
    pub const fn title(self) -> &'static str {
        match self {
            Day::Monday => "Monday",
            Day::Tuesday => "Tuesday",
            Day::Wednesday => "Wednesday",
            Day::Thursday => "Thursday",
            Day::Friday => "Friday",
            Day::Saturday => "Saturday",
            Day::Sunday => "Sunday",
        }
    }

    /// The day after this one, wrapping from Sunday to Monday.
    pub const fn next(self) -> Day {
        Day::ALL[(self as usize + 1) % DAYS]
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// A half-hour boundary within a day: `00:00`, `00:30`, ... `23:30`, and `24:00` (the end of
/// the day, allowed only as the end of a range).
///
/// ```
/// use availability_core::Time;
///
/// let nine: Time = "09:00".parse()?;
/// assert_eq!((nine.hour(), nine.minute(), nine.half_hours()), (9, 0, 18));
/// assert_eq!(Time::END_OF_DAY.to_string(), "24:00");
/// assert!("09:15".parse::<Time>().is_err());
/// assert!("24:30".parse::<Time>().is_err());
/// # Ok::<(), availability_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(u8);

impl Time {
    /// `00:00`, the start of the day.
    pub const MIDNIGHT: Time = Time(0);
    /// `24:00`, the end of the day.
    pub const END_OF_DAY: Time = Time(HALF_HOURS_PER_DAY as u8);

    /// The time `half_hours` half hours after midnight, for `0..=48`.
    pub const fn from_half_hours(half_hours: usize) -> Option<Time> {
        if half_hours <= HALF_HOURS_PER_DAY {
            Some(Time(half_hours as u8))
        } else {
            None
        }
    }

    /// Half hours since midnight: 0 for `00:00` to 48 for `24:00`.
    pub const fn half_hours(self) -> usize {
        self.0 as usize
    }

    /// The hour, 0 to 24.
    pub const fn hour(self) -> u8 {
        self.0 / 2
    }

    /// The minute: 0 or 30.
    pub const fn minute(self) -> u8 {
        (self.0 % 2) * 30
    }

    /// Whether this is `24:00`, which ends a range but does not start a slot.
    pub const fn is_end_of_day(self) -> bool {
        self.0 as usize == HALF_HOURS_PER_DAY
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = [
            b'0' + self.hour() / 10,
            b'0' + self.hour() % 10,
            b':',
            b'0' + self.minute() / 10,
            b'0',
        ];
        // The bytes are ASCII digits and a colon.
        f.pad(core::str::from_utf8(&text).unwrap_or("??:??"))
    }
}

/// One half hour of the week: index `day * 48 + half_hour`, from 0 (Monday 00:00) to 335
/// (Sunday 23:30).
///
/// ```
/// use availability_core::{Day, Slot, Time};
///
/// let slot = Slot::new(Day::Tuesday, "09:30".parse()?)?;
/// assert_eq!(slot.index(), 48 + 19);
/// assert_eq!(slot.to_string(), "tuesday 09:30");
/// assert_eq!("Tue 09:30".parse::<Slot>()?, slot);
/// assert!(Slot::new(Day::Monday, Time::END_OF_DAY).is_err());
/// # Ok::<(), availability_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot(u16);

impl Slot {
    /// The slot with index `index`, or `None` from 336 on.
    pub const fn from_index(index: usize) -> Option<Slot> {
        if index < SLOTS {
            Some(Slot(index as u16))
        } else {
            None
        }
    }

    /// Every slot of the week, Monday 00:00 first.
    pub fn all() -> impl DoubleEndedIterator<Item = Slot> + ExactSizeIterator {
        (0..SLOTS as u16).map(Slot)
    }

    /// The index, 0 to 335.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// The day the slot is on.
    pub const fn day(self) -> Day {
        Day::ALL[self.index() / HALF_HOURS_PER_DAY]
    }

    /// The half hour of the day, 0 (00:00) to 47 (23:30).
    pub const fn half_hour(self) -> usize {
        self.index() % HALF_HOURS_PER_DAY
    }

    /// The time the slot starts.
    pub const fn start(self) -> Time {
        Time(self.half_hour() as u8)
    }

    /// The time the slot ends (`24:00` for the last slot of a day).
    pub const fn end(self) -> Time {
        Time(self.half_hour() as u8 + 1)
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.day(), self.start())
    }
}
