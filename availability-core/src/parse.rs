//! Reading the grid's values: days, times, slots and statuses from text, and times and slots
//! from numbers; and a week from its text form. Every error says what was wrong and what is allowed.
//!
//! The value types themselves live in `grid`, which knows nothing of errors, so that the error
//! type can name them (a refused claim names its slot) without a cycle.

use alloc::format;
use core::str::FromStr;

use crate::error::{Error, Kind, Truncated};
use crate::grid::{Day, Slot, Status, Time, HALF_HOURS_PER_DAY, SLOTS};
use crate::week::Week;

impl FromStr for Status {
    type Err = Error;

    /// Parses `available`, `maybe` or `unavailable`, in any case.
    fn from_str(s: &str) -> Result<Status, Error> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                Error::new(
                    Kind::Parse,
                    format!(
                        "invalid status {:?}: expected \"available\", \"maybe\" or \"unavailable\"",
                        Truncated(s)
                    ),
                )
            })
    }
}

impl FromStr for Day {
    type Err = Error;

    /// Parses a day name in any case (`monday`, `Mon`), or a number `0` (Monday) to `6`.
    fn from_str(s: &str) -> Result<Day, Error> {
        let found = match s.as_bytes() {
            [digit @ b'0'..=b'6'] => Day::from_index(usize::from(digit - b'0')),
            _ => Day::ALL.into_iter().find(|day| {
                day.name().eq_ignore_ascii_case(s)
                    || (s.len() == 3 && day.name()[..3].eq_ignore_ascii_case(s))
            }),
        };
        found.ok_or_else(|| {
            Error::new(
                Kind::Parse,
                format!(
                    "invalid day {:?}: expected a day name (monday to sunday, any case, \
                     or its first three letters) or a number from 0 (Monday) to 6 (Sunday)",
                    Truncated(s)
                ),
            )
        })
    }
}

impl Time {
    /// The time `hour:minute`.
    ///
    /// # Errors
    ///
    /// Unless `minute` is 0 or 30 and the time is at most `24:00`.
    pub fn new(hour: u8, minute: u8) -> Result<Time, Error> {
        Time::check(hour, minute).map_err(|reason| {
            Error::new(
                Kind::Parse,
                format!("invalid time {hour:02}:{minute:02}: {reason}"),
            )
        })
    }

    fn check(hour: u8, minute: u8) -> Result<Time, &'static str> {
        if minute != 0 && minute != 30 {
            return Err("minutes must be 00 or 30 (times are whole or half hours)");
        }
        if hour > 24 || (hour == 24 && minute != 0) {
            return Err("the latest time is 24:00 (the end of the day)");
        }
        Time::from_half_hours(usize::from(hour) * 2 + usize::from(minute) / 30)
            .ok_or("the latest time is 24:00 (the end of the day)")
    }
}

impl FromStr for Time {
    type Err = Error;

    /// Parses `HH:MM` with two-digit hours and minutes `00` or `30`; `24:00` is allowed.
    fn from_str(s: &str) -> Result<Time, Error> {
        let parsed = match s.as_bytes() {
            [h1, h2, b':', m1, m2] if [h1, h2, m1, m2].iter().all(|b| b.is_ascii_digit()) => {
                let hour = (h1 - b'0') * 10 + (h2 - b'0');
                let minute = (m1 - b'0') * 10 + (m2 - b'0');
                Time::check(hour, minute)
            }
            _ => Err("expected HH:MM, for example 09:00 or 17:30"),
        };
        parsed.map_err(|reason| {
            Error::new(
                Kind::Parse,
                format!("invalid time {:?}: {reason}", Truncated(s)),
            )
        })
    }
}

impl Slot {
    /// The slot at `time` on `day`.
    ///
    /// # Errors
    ///
    /// When `time` is `24:00`, which ends the day rather than starting a slot.
    pub fn new(day: Day, time: Time) -> Result<Slot, Error> {
        if time.is_end_of_day() {
            return Err(Error::new(
                Kind::Parse,
                "24:00 is the end of the day, not a slot; the last slot of a day starts at 23:30",
            ));
        }
        Slot::from_index(day.index() * HALF_HOURS_PER_DAY + time.half_hours())
            .ok_or_else(|| Error::new(Kind::Parse, "a slot starts before 24:00"))
    }
}

impl FromStr for Slot {
    type Err = Error;

    /// Parses a day and a time separated by one space, as [`Display`](core::fmt::Display) prints
    /// them: `tuesday 09:30`.
    fn from_str(s: &str) -> Result<Slot, Error> {
        let Some((day, time)) = s.split_once(' ') else {
            return Err(Error::new(
                Kind::Parse,
                format!(
                    "invalid slot {:?}: expected a day and a time, for example \"monday 09:00\"",
                    Truncated(s)
                ),
            ));
        };
        Slot::new(day.parse()?, time.parse()?)
    }
}

/// Reads the text form [`Week`]'s `Display` writes: seven lines of 48 symbols, `.`
/// (unavailable), `?` (maybe) and `#` (available); whitespace is ignored.
impl FromStr for Week {
    type Err = Error;

    fn from_str(s: &str) -> Result<Week, Error> {
        let mut week = Week::UNAVAILABLE;
        let mut n = 0;
        for (offset, c) in s.char_indices().filter(|(_, c)| !c.is_ascii_whitespace()) {
            let status = match c {
                '.' => Status::Unavailable,
                '?' => Status::Maybe,
                '#' => Status::Available,
                other => {
                    return Err(Error::new(
                        Kind::Parse,
                        format!(
                            "invalid week text: {other:?} at byte {offset}; \
                             expected '.' (unavailable), '?' (maybe) or '#' (available)"
                        ),
                    ))
                }
            };
            if let Some(slot) = Slot::from_index(n) {
                week.set(slot, status);
            }
            n += 1;
        }
        if n != SLOTS {
            return Err(Error::new(
                Kind::Parse,
                format!("invalid week text: {n} slot symbols, expected exactly {SLOTS}"),
            ));
        }
        Ok(week)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::SLOTS;
    use alloc::string::ToString;

    #[test]
    fn every_time_round_trips() {
        for half_hours in 0..=HALF_HOURS_PER_DAY {
            let time = Time::from_half_hours(half_hours).expect("in range");
            let text = time.to_string();
            assert_eq!(text.parse::<Time>().expect("parses"), time, "{text}");
            assert_eq!(Time::new(time.hour(), time.minute()).expect("valid"), time);
        }
        assert_eq!(Time::from_half_hours(49), None);
    }

    #[test]
    fn time_errors_say_what_is_allowed() {
        let cases = [
            ("9:00", "expected HH:MM"),
            ("09:15", "minutes must be 00 or 30"),
            ("24:30", "the latest time is 24:00"),
            ("25:00", "the latest time is 24:00"),
            ("0a:00", "expected HH:MM"),
            ("", "expected HH:MM"),
            ("09:00 ", "expected HH:MM"),
            ("٠٩:٠٠", "expected HH:MM"),
        ];
        for (input, expected) in cases {
            let err = input.parse::<Time>().expect_err(input);
            assert!(err.is_parse());
            assert!(err.to_string().contains(expected), "{input}: {err}");
        }
    }

    #[test]
    fn day_names_numbers_and_abbreviations() {
        for day in Day::ALL {
            assert_eq!(day.name().parse::<Day>().expect("name"), day);
            assert_eq!(day.title().parse::<Day>().expect("title"), day);
            assert_eq!(
                day.name().to_uppercase().parse::<Day>().expect("upper"),
                day
            );
            assert_eq!(day.name()[..3].parse::<Day>().expect("abbreviation"), day);
            assert_eq!(day.index().to_string().parse::<Day>().expect("number"), day);
            assert_eq!(Day::from_index(day.index()), Some(day));
        }
        for bad in ["7", "-1", "mo", "mond", "monday ", "", "06"] {
            let err = bad.parse::<Day>().expect_err(bad);
            assert!(
                err.to_string().contains("0 (Monday) to 6 (Sunday)"),
                "{err}"
            );
        }
        assert_eq!(Day::Sunday.next(), Day::Monday);
    }

    #[test]
    fn statuses_parse_in_any_case() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>().expect("lower"), status);
            assert_eq!(
                status
                    .as_str()
                    .to_uppercase()
                    .parse::<Status>()
                    .expect("upper"),
                status
            );
        }
        assert!("busy".parse::<Status>().is_err());
        assert_eq!(Status::from_bits(false, false), Status::Unavailable);
        assert_eq!(Status::from_bits(true, false), Status::Maybe);
        assert_eq!(Status::from_bits(true, true), Status::Available);
    }

    #[test]
    fn slots_cover_the_week_in_order() {
        for (index, slot) in Slot::all().enumerate() {
            assert_eq!(slot.index(), index);
            assert_eq!(Slot::new(slot.day(), slot.start()).expect("valid"), slot);
            assert_eq!(slot.to_string().parse::<Slot>().expect("parses"), slot);
            assert_eq!(slot.end().half_hours(), slot.start().half_hours() + 1);
        }
        assert_eq!(Slot::from_index(SLOTS), None);
        assert_eq!(Slot::all().len(), SLOTS);
    }

    #[test]
    fn long_garbage_is_truncated_in_messages() {
        let garbage = "x".repeat(10_000);
        let message = garbage.parse::<Status>().expect_err("garbage").to_string();
        assert!(message.len() < 200, "{message}");
        assert!(message.contains("..."));
    }
}
