//! The POSIX `TZ` rule that a TZif file's footer gives for the instants after its last
//! transition (RFC 8536 section 3.3, with the extensions of its version 3: hours from -167 to
//! 167 in transition times).
//!
//! `PST8PDT,M3.2.0,M11.1.0` is standard time 8 hours west of UTC, and daylight time one hour
//! ahead of it from 02:00 on the second Sunday of March to 02:00 on the first Sunday of
//! November. A rule without a daylight part (`<+0545>-5:45`) is one offset for ever.

use crate::tz::civil;

/// A parsed POSIX `TZ` rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Posix {
    /// Standard time's offset, in seconds east of UTC (the sign of the text's is reversed).
    std: i32,
    dst: Option<Dst>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Dst {
    offset: i32,
    /// When daylight time starts, on the wall clock of standard time.
    start: Change,
    /// When it ends, on the wall clock of daylight time.
    end: Change,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Change {
    date: RuleDate,
    /// Seconds after the date's midnight, -167 to 167 hours.
    time: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RuleDate {
    /// `Jn`: day 1 to 365, February 29 never counted.
    Julian(u16),
    /// `n`: day 0 to 365 counted from January 1, February 29 counted.
    Zero(u16),
    /// `Mm.w.d`: weekday `d` (0 Sunday) of week `w` (5 is the last) of month `m`.
    Month { month: u8, week: u8, weekday: u8 },
}

impl Posix {
    /// Parses a rule; `None` if it is not one.
    pub(crate) fn parse(text: &[u8]) -> Option<Posix> {
        let mut p = Parser { text, at: 0 };
        p.name()?;
        let std = -p.offset()?;
        if p.done() {
            return Some(Posix { std, dst: None });
        }
        p.name()?;
        let offset = if p.peek() == Some(b',') {
            std.checked_add(3600)?
        } else {
            -p.offset()?
        };
        p.expect(b',')?;
        let start = p.change()?;
        p.expect(b',')?;
        let end = p.change()?;
        if !p.done() {
            return None;
        }
        Some(Posix {
            std,
            dst: Some(Dst { offset, start, end }),
        })
    }

    /// The offset in seconds east of UTC at the instant `t`.
    pub(crate) fn offset_at(&self, t: i64) -> i32 {
        let Some(dst) = &self.dst else {
            return self.std;
        };
        let year = civil::year_of(t.saturating_add(i64::from(self.std)));
        let (start, end) = dst.bounds(self.std, year);
        let daylight = if start < end {
            start <= t && t < end
        } else {
            t < end || start <= t
        };
        if daylight {
            dst.offset
        } else {
            self.std
        }
    }

    /// Instants in `(from, to]` at which [`Posix::offset_at`] may change: a superset of the
    /// real changes, in no particular order.
    pub(crate) fn candidates(&self, from: i64, to: i64, out: &mut alloc::vec::Vec<i64>) {
        let Some(dst) = &self.dst else {
            return;
        };
        let std = i64::from(self.std);
        let first = civil::year_of(from.saturating_add(std)) - 1;
        let last = civil::year_of(to.saturating_add(std)) + 1;
        for year in first..=last {
            let (start, end) = dst.bounds(self.std, year);
            // The year boundary on standard time's clock, where `offset_at` moves to the
            // next year's rule.
            let new_year = civil::days_from_civil(year, 1, 1) * 86_400 - std;
            for t in [start, end, new_year] {
                if from < t && t <= to {
                    out.push(t);
                }
            }
        }
    }
}

impl Dst {
    /// The instants at which daylight time starts and ends in `year`.
    fn bounds(&self, std: i32, year: i32) -> (i64, i64) {
        let start = self.start.local(year) - i64::from(std);
        let end = self.end.local(year) - i64::from(self.offset);
        (start, end)
    }
}

impl Change {
    /// Wall-clock seconds since 1970-01-01 00:00 of this change in `year`.
    fn local(&self, year: i32) -> i64 {
        let day = match self.date {
            RuleDate::Julian(n) => {
                let n = i64::from(n) - 1;
                let leap_day = i64::from(civil::is_leap(year) && n >= 59);
                civil::days_from_civil(year, 1, 1) + n + leap_day
            }
            RuleDate::Zero(n) => civil::days_from_civil(year, 1, 1) + i64::from(n),
            RuleDate::Month {
                month,
                week,
                weekday,
            } => {
                let first = civil::days_from_civil(year, month, 1);
                // 1970-01-01 was a Thursday (weekday 4).
                let first_weekday = (first + 4).rem_euclid(7);
                let mut day = first + (i64::from(weekday) - first_weekday).rem_euclid(7);
                day += 7 * (i64::from(week) - 1);
                let length = civil::days_in_month(year, month);
                while day >= first + length {
                    day -= 7;
                }
                day
            }
        };
        day * 86_400 + i64::from(self.time)
    }
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn done(&self) -> bool {
        self.at == self.text.len()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// A zone abbreviation: three or more letters, or `<...>` of letters, digits, `+`, `-`.
    fn name(&mut self) -> Option<()> {
        if self.peek()? == b'<' {
            self.at += 1;
            let begin = self.at;
            while self.peek()? != b'>' {
                let c = self.peek()?;
                if !(c.is_ascii_alphanumeric() || c == b'+' || c == b'-') {
                    return None;
                }
                self.at += 1;
            }
            let length = self.at - begin;
            self.at += 1;
            (length >= 3).then_some(())
        } else {
            let begin = self.at;
            while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                self.at += 1;
            }
            (self.at - begin >= 3).then_some(())
        }
    }

    /// `[+-]hh[:mm[:ss]]` as seconds, hours at most `max_hours`.
    fn hms(&mut self, max_hours: i32) -> Option<i32> {
        let sign = match self.peek()? {
            b'+' => {
                self.at += 1;
                1
            }
            b'-' => {
                self.at += 1;
                -1
            }
            _ => 1,
        };
        let hours = self.number(max_hours)?;
        let mut seconds = hours * 3600;
        if self.peek() == Some(b':') {
            self.at += 1;
            seconds += self.number(59)? * 60;
            if self.peek() == Some(b':') {
                self.at += 1;
                seconds += self.number(59)?;
            }
        }
        Some(sign * seconds)
    }

    /// A UTC offset as the text writes it (positive west of Greenwich).
    fn offset(&mut self) -> Option<i32> {
        self.hms(24)
    }

    /// A decimal number of one to three digits, at most `max`.
    fn number(&mut self, max: i32) -> Option<i32> {
        let begin = self.at;
        let mut value: i32 = 0;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            if self.at - begin == 3 {
                return None;
            }
            value = value * 10 + i32::from(c - b'0');
            self.at += 1;
        }
        (self.at > begin && value <= max).then_some(value)
    }

    fn change(&mut self) -> Option<Change> {
        let date = match self.peek()? {
            b'J' => {
                self.at += 1;
                let n = self.number(365)?;
                RuleDate::Julian(u16::try_from(n).ok().filter(|n| *n >= 1)?)
            }
            b'M' => {
                self.at += 1;
                let month = self.number(12)?;
                self.expect(b'.')?;
                let week = self.number(5)?;
                self.expect(b'.')?;
                let weekday = self.number(6)?;
                if month < 1 || week < 1 {
                    return None;
                }
                RuleDate::Month {
                    month: u8::try_from(month).ok()?,
                    week: u8::try_from(week).ok()?,
                    weekday: u8::try_from(weekday).ok()?,
                }
            }
            _ => RuleDate::Zero(u16::try_from(self.number(365)?).ok()?),
        };
        let time = if self.peek() == Some(b'/') {
            self.at += 1;
            self.hms(167)?
        } else {
            2 * 3600
        };
        Some(Change { date, time })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(year: i32, month: u8, day: u8, hour: i64) -> i64 {
        civil::days_from_civil(year, month, day) * 86_400 + hour * 3600
    }

    #[test]
    fn fixed_and_seasonal_rules() {
        let kathmandu = Posix::parse(b"<+0545>-5:45").expect("parses");
        assert_eq!(kathmandu.offset_at(0), 5 * 3600 + 45 * 60);

        let us = Posix::parse(b"PST8PDT,M3.2.0,M11.1.0").expect("parses");
        // 2026-03-08 02:00 PST is 10:00 UTC; 2026-11-01 02:00 PDT is 09:00 UTC.
        assert_eq!(us.offset_at(at(2026, 3, 8, 10) - 1), -8 * 3600);
        assert_eq!(us.offset_at(at(2026, 3, 8, 10)), -7 * 3600);
        assert_eq!(us.offset_at(at(2026, 11, 1, 9) - 1), -7 * 3600);
        assert_eq!(us.offset_at(at(2026, 11, 1, 9)), -8 * 3600);

        // Southern hemisphere: daylight time spans the new year.
        let auckland = Posix::parse(b"NZST-12NZDT,M9.5.0,M4.1.0/3").expect("parses");
        assert_eq!(auckland.offset_at(at(2027, 1, 15, 0)), 13 * 3600);
        assert_eq!(auckland.offset_at(at(2026, 7, 1, 0)), 12 * 3600);

        // Daylight time all year, as zic writes it.
        let permanent = Posix::parse(b"EST5EDT,0/0,J365/25").expect("parses");
        for year in [2026, 2027, 2028] {
            for (month, day) in [(1, 1), (6, 30), (12, 31)] {
                assert_eq!(permanent.offset_at(at(year, month, day, 0)), -4 * 3600);
            }
        }
        // Far instants clamp rather than overflow.
        for t in [i64::MIN, i64::MAX] {
            assert!([-8 * 3600, -7 * 3600].contains(&us.offset_at(t)));
        }
        let mut candidates = alloc::vec::Vec::new();
        us.candidates(at(2026, 1, 1, 0), at(2027, 1, 1, 0), &mut candidates);
        assert!(candidates.contains(&at(2026, 3, 8, 10)));
        assert!(candidates.contains(&at(2026, 11, 1, 9)));
    }

    #[test]
    fn malformed_rules_are_refused() {
        for bad in [
            &b""[..],
            b"P8",
            b"PST",
            b"PST8PDT",
            b"PST8PDT,M3.2.0",
            b"PST8PDT,M13.2.0,M11.1.0",
            b"PST8PDT,M3.6.0,M11.1.0",
            b"PST8PDT,M3.2.7,M11.1.0",
            b"PST8PDT,J0,J365",
            b"PST8PDT,366,J365",
            b"PST25",
            b"<+05",
            b"<+0545>-5:60",
            b"PST8PDT,M3.2.0/168,M11.1.0",
            b"PST8 ",
            b"PST8PDT,M3.2.0,M11.1.0x",
            b"PST1234",
        ] {
            assert_eq!(Posix::parse(bad), None, "{:?}", core::str::from_utf8(bad));
        }
    }
}
