//! The pattern written out: the owner's `TZID` with a `VTIMEZONE` made from the server's own zone
//! data (one observance per offset change from the first ISO week of the given year to the end of
//! the next year), then one `VAVAILABILITY` (`BUSYTYPE:BUSY-UNAVAILABLE`: time it does not offer is
//! busy) with one weekly `AVAILABLE` per run of available half hours, grouped by days with the same
//! hours (`RRULE:FREQ=WEEKLY;BYDAY=MO,TU,...`). RFC 7953 has no tentative free time, so maybe runs
//! go into `X-AVAILABILITY-MAYBE` components of the same shape, which standard readers ignore (they
//! see that time busy, which never promises too much) and this reader takes back.
//!
//! A recurrence instance lasts the *exact* duration of its first one (RFC 5545 section 3.8.5.3), so
//! a run that crossed the wall-clock time of an offset change would gain or lose real time on the
//! day of the change. Runs are therefore cut at the wall times on both sides of every change the
//! `VTIMEZONE` lists: no instance then spans a change, and each keeps its wall-clock hours.

use std::collections::BTreeMap;

use availability_core::tz::{IsoWeek, Zone};
use availability_core::{Day, Slot, Status, Week, HALF_HOURS_PER_DAY};
use chrono::{Datelike, NaiveDate, NaiveDateTime};

use super::common::{local_midnight, DAY_CODES, MAYBE_COMPONENT};
use crate::ics::{escape_text, local_stamp, offset_text, push_line, utc_stamp, PRODID};

/// The instant at wall time `local` in `zone` (the earlier one in a fold, the one the earlier
/// offset gives in a gap).
fn instant_of(zone: Zone, local: i64) -> i64 {
    let before = i64::from(zone.offset_at(local - 86_400).unwrap_or(0));
    let guess = local - before;
    let offset = i64::from(zone.offset_at(guess).unwrap_or(0));
    if offset == before {
        guess
    } else {
        let other = local - offset;
        if i64::from(zone.offset_at(other).unwrap_or(0)) == offset {
            other.min(guess)
        } else {
            guess
        }
    }
}

fn naive(local: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp(local, 0)
        .map(|t| t.naive_utc())
        .unwrap_or_default()
}

/// The offset changes of `zone` from the Monday of `anchor` to the end of the next year: the
/// offset at the start, then (instant, offset) per change.
fn changes(zone: Zone, anchor: IsoWeek) -> Vec<(i64, i32)> {
    let from = instant_of(zone, local_midnight(anchor.monday()));
    let end = NaiveDate::from_ymd_opt(anchor.year().saturating_add(2), 1, 1)
        .map_or(from + 2 * 366 * 86_400, |d| {
            instant_of(zone, local_midnight(d))
        });
    zone.transitions(from, end)
}

/// The pattern of calendar `id` (`week`, in `zone`) as a `VCALENDAR`; `stamp` is its last
/// change (Unix seconds) and `anchor` the week its rules and `VTIMEZONE` start in.
pub fn export(id: &str, zone: Zone, week: &Week, stamp: i64, anchor: IsoWeek) -> Vec<u8> {
    let changes = changes(zone, anchor);
    let mut out = Vec::with_capacity(2048);
    push_line(&mut out, "BEGIN:VCALENDAR");
    push_line(&mut out, "VERSION:2.0");
    push_line(&mut out, &format!("PRODID:{PRODID}"));
    push_line(&mut out, "CALSCALE:GREGORIAN");
    push_timezone(&mut out, zone, anchor, &changes);
    let tzid = escape_param(zone.name());
    let stamp = utc_stamp(stamp);
    push_line(&mut out, "BEGIN:VAVAILABILITY");
    push_line(&mut out, &format!("UID:availability-{id}@availability"));
    push_line(&mut out, &format!("DTSTAMP:{stamp}"));
    push_line(&mut out, &format!("SUMMARY:{}", escape_text(id)));
    push_line(&mut out, "BUSYTYPE:BUSY-UNAVAILABLE");
    let cuts = cuts(&changes);
    for (status, component, tag) in [
        (Status::Available, "AVAILABLE", "available"),
        (Status::Maybe, MAYBE_COMPONENT, "maybe"),
    ] {
        for ((from, to), days) in runs(week, status, &cuts) {
            let first = days.trailing_zeros() as u64;
            let date = anchor.monday() + chrono::Days::new(first);
            let start = naive(local_midnight(date) + i64::from(from) * 1800);
            let end = naive(local_midnight(date) + i64::from(to) * 1800);
            let byday: Vec<&str> = (0..7)
                .filter(|d| days & (1 << d) != 0)
                .map(|d| DAY_CODES[d])
                .collect();
            push_line(&mut out, &format!("BEGIN:{component}"));
            push_line(
                &mut out,
                &format!(
                    "UID:{tag}-{}-{}-{}-{id}@availability",
                    byday.concat(),
                    local_stamp(start).get(9..13).unwrap_or(""),
                    local_stamp(end).get(9..13).unwrap_or("")
                ),
            );
            push_line(&mut out, &format!("DTSTAMP:{stamp}"));
            push_line(
                &mut out,
                &format!("DTSTART;TZID={tzid}:{}", local_stamp(start)),
            );
            push_line(&mut out, &format!("DTEND;TZID={tzid}:{}", local_stamp(end)));
            push_line(
                &mut out,
                &format!("RRULE:FREQ=WEEKLY;BYDAY={}", byday.join(",")),
            );
            push_line(&mut out, &format!("END:{component}"));
        }
    }
    push_line(&mut out, "END:VAVAILABILITY");
    push_line(&mut out, "END:VCALENDAR");
    out
}

/// A parameter value, quoted when it holds a character a bare one may not.
fn escape_param(value: &str) -> String {
    if value.contains([':', ';', ',']) {
        format!("\"{}\"", value.replace('"', ""))
    } else {
        value.to_owned()
    }
}

/// The `VTIMEZONE` of `zone`: an observance from the anchor's Monday, then one per change. An
/// offset above the lowest of the period is daylight time.
fn push_timezone(out: &mut Vec<u8>, zone: Zone, anchor: IsoWeek, changes: &[(i64, i32)]) {
    let lowest = changes.iter().map(|c| c.1).min().unwrap_or(0);
    let kind = |offset: i32| {
        if offset > lowest {
            "DAYLIGHT"
        } else {
            "STANDARD"
        }
    };
    push_line(out, "BEGIN:VTIMEZONE");
    push_line(out, &format!("TZID:{}", zone.name()));
    let mut previous = changes.first().map_or(0, |c| c.1);
    let start = naive(local_midnight(anchor.monday()));
    let observances = std::iter::once((start, previous, previous)).chain(
        changes.iter().skip(1).map(|&(t, offset)| {
            let from = previous;
            previous = offset;
            (naive(t + i64::from(from)), from, offset)
        }),
    );
    for (local, from, to) in observances.collect::<Vec<_>>() {
        push_line(out, &format!("BEGIN:{}", kind(to)));
        push_line(out, &format!("DTSTART:{}", local_stamp(local)));
        push_line(out, &format!("TZOFFSETFROM:{}", offset_text(from)));
        push_line(out, &format!("TZOFFSETTO:{}", offset_text(to)));
        push_line(out, &format!("END:{}", kind(to)));
    }
    push_line(out, "END:VTIMEZONE");
}

/// Per weekday, the half-hour boundaries (0..=48) where a run must end: the wall times on
/// both sides of every change.
fn cuts(changes: &[(i64, i32)]) -> [[bool; HALF_HOURS_PER_DAY + 1]; 7] {
    let mut cuts = [[false; HALF_HOURS_PER_DAY + 1]; 7];
    let mut previous = changes.first().map_or(0, |c| c.1);
    for &(t, offset) in changes.iter().skip(1) {
        for wall in [t + i64::from(previous), t + i64::from(offset)] {
            let day = naive(wall).weekday().num_days_from_monday() as usize;
            let second = wall.rem_euclid(86_400);
            for h in [second / 1800, (second + 1799) / 1800] {
                if let Some(cut) = usize::try_from(h).ok().and_then(|h| cuts[day].get_mut(h)) {
                    *cut = true;
                }
            }
        }
        previous = offset;
    }
    cuts
}

/// The runs of `status` within each day, cut at `cuts`, as (first half hour, end half hour) ->
/// the days (bit 0 Monday) that have them.
fn runs(
    week: &Week,
    status: Status,
    cuts: &[[bool; HALF_HOURS_PER_DAY + 1]; 7],
) -> BTreeMap<(u8, u8), u8> {
    let mut runs = BTreeMap::new();
    for day in Day::ALL {
        let d = day.index();
        let at =
            |h: usize| Slot::from_index(d * HALF_HOURS_PER_DAY + h).map(|slot| week.status(slot));
        let mut h = 0;
        while h < HALF_HOURS_PER_DAY {
            if at(h) != Some(status) {
                h += 1;
                continue;
            }
            let start = h;
            h += 1;
            while h < HALF_HOURS_PER_DAY && at(h) == Some(status) && !cuts[d][h] {
                h += 1;
            }
            // Both at most 48: they fit a byte.
            *runs.entry((start as u8, h as u8)).or_insert(0u8) |= 1 << d;
        }
    }
    runs
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::ics::pattern) fn zone(name: &str) -> Zone {
        Zone::new(name).expect("zone")
    }

    pub(in crate::ics::pattern) fn anchor() -> IsoWeek {
        IsoWeek::new(2026, 1).expect("week")
    }

    /// Monday to Friday 09:00-17:00 available, Monday 17:00-18:00 maybe, Sunday 01:00-04:00
    /// available (across New York's changes).
    pub(in crate::ics::pattern) fn sample() -> Week {
        Week::from_fn(|s| {
            let (d, h) = (s.day().index(), s.half_hour());
            if d < 5 && (18..34).contains(&h) {
                Status::Available
            } else if d == 0 && (34..36).contains(&h) {
                Status::Maybe
            } else if d == 6 && (2..8).contains(&h) {
                Status::Available
            } else {
                Status::Unavailable
            }
        })
    }

    pub(in crate::ics::pattern) fn text(week: &Week, z: &str) -> String {
        String::from_utf8(export("room-4", zone(z), week, 1_767_225_600, anchor())).expect("utf8")
    }

    #[test]
    fn export_groups_days_and_keeps_maybe_out_of_available() {
        let t = text(&sample(), "UTC");
        assert!(t.contains(
            "BEGIN:AVAILABLE\r\nUID:available-MOTUWETHFR-0900-1700-room-4@availability\r\n"
        ));
        assert!(t.contains("DTSTART;TZID=UTC:20251229T090000\r\n"), "{t}");
        assert!(t.contains("RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR\r\n"));
        assert!(t.contains("BEGIN:X-AVAILABILITY-MAYBE\r\n"));
        assert!(t.contains("DTSTART;TZID=UTC:20251229T170000\r\nDTEND;TZID=UTC:20251229T180000"));
        assert_eq!(t.matches("BEGIN:AVAILABLE").count(), 2);
        assert!(t.contains("BUSYTYPE:BUSY-UNAVAILABLE\r\n"));
    }

    #[test]
    fn runs_are_cut_at_the_wall_times_of_changes() {
        let t = text(&sample(), "America/New_York");
        // Sunday 01:00-04:00 crosses 01:00, 02:00 and 03:00, the wall times on either side
        // of New York's changes: three pieces.
        assert!(t.contains("RRULE:FREQ=WEEKLY;BYDAY=SU\r\n"));
        assert_eq!(t.matches("BYDAY=SU\r\n").count(), 3, "{t}");
        assert!(t.contains("BEGIN:DAYLIGHT\r\nDTSTART:20260308T020000\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\n"), "{t}");
        assert!(t.contains("BEGIN:STANDARD\r\nDTSTART:20261101T020000\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\n"), "{t}");
        assert!(t.contains("BEGIN:STANDARD\r\nDTSTART:20251229T000000\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0500\r\n"), "{t}");
        assert!(t.contains("20271107T020000"), "the next year's changes too");
    }
}
