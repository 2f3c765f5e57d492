//! A group's starts: a grid in the group's zone, each member's marks of the starts it can
//! take (its own pattern, dated data, bookings and buffers, in its own zone), combined word by
//! word: every member (`Mode::All`, a meeting) or at least one (`Mode::Any`, a round robin,
//! with how many could take it).
//!
//! The rules about the present (notice, horizon) narrow the grid's range as for a calendar.
//! A group type's daily limit counts the group's bookings of the type on the group zone's
//! dates: the caller gives their starts.

use alloc::vec::Vec;

use crate::tz::Zone;

use super::grid::{Grid, Marks, Offsets};
use super::take::{offsets_for, take_with, Span};
use super::{window, Offer, Owner, MINUTE};

/// Whose time a group's start needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Every member's: a meeting.
    All,
    /// At least one member's: a round robin.
    Any,
}

/// A start a group can book, and how many of its members could take it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupSlot {
    /// The start, in seconds since the Unix epoch.
    pub start: i64,
    /// How many members could take the span (all of them for [`Mode::All`]).
    pub free: u32,
}

/// Every start of `offer` in `[from, to)` on the grid of `zone` (starts `interval` minutes
/// apart from each of its midnights) that `members` can take as `mode` asks, in time order.
/// `booked` are the starts of the group's bookings of the type, which its `per_day` counts
/// by `zone`'s dates. A type whose fields are out of range, and a group without members,
/// offer nothing.
pub fn group_slots(
    members: &[Owner<'_>],
    zone: Zone,
    offer: &Offer<'_>,
    mode: Mode,
    (from, to): (i64, i64),
    booked: &[i64],
) -> Vec<GroupSlot> {
    let ty = offer.rules;
    if ty.check().is_err() || members.is_empty() {
        return Vec::new();
    }
    let Some((lo, hi)) = window(offer, from, to) else {
        return Vec::new();
    };
    let grid = Grid::new(zone, ty.interval, lo, hi);
    let span = Span {
        duration: i64::from(ty.duration) * MINUTE,
        before: i64::from(ty.buffer_before) * MINUTE,
        after: i64::from(ty.buffer_after) * MINUTE,
    };
    // Members share zones: each zone's offsets over the grid are found once.
    let mut zones: Vec<(Zone, Offsets)> = Vec::new();
    let mut take = |member: &Owner<'_>| {
        let at = match zones.iter().position(|(z, _)| *z == member.zone) {
            Some(at) => at,
            None => {
                zones.push((member.zone, offsets_for(member.zone, &grid)));
                zones.len() - 1
            }
        };
        take_with(member, span, &grid, Some(&zones[at].1))
    };
    let mut out = Vec::new();
    let mut open = Marks::all(&grid);
    if let Some(most) = ty.per_day {
        super::per_day(booked.iter().copied(), most, &grid, &mut open);
    }
    match mode {
        Mode::All => {
            let mut everyone = open;
            for member in members {
                let marks = take(member);
                for (a, b) in everyone.words.iter_mut().zip(&marks.words) {
                    *a &= b;
                }
                if everyone.words.iter().all(|w| *w == 0) {
                    return Vec::new();
                }
            }
            let count = u32::try_from(members.len()).unwrap_or(u32::MAX);
            for day in &grid.days {
                out.extend(everyone.ones(day).map(|j| GroupSlot {
                    start: grid.instant(day, j),
                    free: count,
                }));
            }
        }
        Mode::Any => {
            // Bit-sliced counters, one plane of words per bit of the count: adding a member's
            // marks is a ripple carry over the planes, word by word.
            let mut counts: Vec<Vec<u64>> = Vec::new();
            for member in members {
                let mut carry = take(member).words;
                for (c, o) in carry.iter_mut().zip(&open.words) {
                    *c &= o;
                }
                for plane in counts.iter_mut() {
                    let mut any = 0;
                    for (c, p) in carry.iter_mut().zip(plane.iter_mut()) {
                        let next = *c & *p;
                        *p ^= *c;
                        *c = next;
                        any |= next;
                    }
                    if any == 0 {
                        break;
                    }
                }
                if carry.iter().any(|w| *w != 0) {
                    counts.push(carry);
                }
            }
            // The starts some member can take: a count with any bit set.
            let mut some = Marks {
                words: alloc::vec![0; grid.words],
            };
            for plane in &counts {
                for (s, p) in some.words.iter_mut().zip(plane) {
                    *s |= p;
                }
            }
            for day in &grid.days {
                out.extend(some.ones(day).map(|j| {
                    let (w, b) = (day.word + j / 64, j % 64);
                    let free = counts
                        .iter()
                        .enumerate()
                        .map(|(bit, plane)| u32::from(plane[w] >> b & 1 == 1) << bit)
                        .sum::<u32>();
                    GroupSlot {
                        start: grid.instant(day, j),
                        free,
                    }
                }));
            }
        }
    }
    if !out.is_sorted_by_key(|s| s.start) {
        // Across a fold at midnight two dates' starts interleave.
        out.sort_unstable_by_key(|s| s.start);
    }
    out
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;
    use crate::dated::{Claim, Dated};
    use crate::slots::{instants_at, refusal, BookingType};
    use crate::week::Week;
    use crate::{Batch, Day, Entry, Status};

    const DAY: i64 = 86_400;
    /// Monday 2027-03-08 00:00 UTC: the range below crosses the US change (03-14) and
    /// Europe's (03-28).
    const MONDAY: i64 = 1_804_464_000;

    fn mix(mut x: u64) -> u64 {
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }

    /// A week of long days that differ by seed, some of them starting with a maybe.
    fn week(seed: u64) -> Week {
        let mut batch = Batch::new();
        for (i, day) in Day::ALL.iter().enumerate() {
            let r = mix(seed * 7 + i as u64);
            // Long days, so that four zones apart still meet at times.
            let from = (r % 12) as usize;
            let to = (from + 24 + (r >> 8) as usize % 24).min(48);
            let time = |h: usize| crate::Time::from_half_hours(h).expect("time");
            batch.push(Entry::range(*day, time(from), time(to), Status::Available));
            if r >> 16 & 3 == 0 {
                batch.push(Entry::range(
                    *day,
                    time(from),
                    time(from + 1),
                    Status::Maybe,
                ));
            }
        }
        batch.apply(&Week::UNAVAILABLE).expect("week")
    }

    /// Whether `owner` can take a span of `rules` at `start`, by the exact check of one start
    /// with every rule about the present or the grid out of the way.
    fn can_take(owner: &Owner<'_>, rules: &BookingType, start: i64) -> bool {
        let mut open = rules.clone();
        open.interval = 1;
        open.notice = 0;
        open.horizon = 730;
        open.per_day = None;
        let offer = Offer {
            name: "x",
            rules: &open,
            now: MONDAY - DAY,
        };
        refusal(owner, &offer, start).is_none()
    }

    #[test]
    fn a_group_takes_what_every_member_or_any_member_can_take() {
        let zones: [Zone; 4] = [
            "America/New_York".parse().expect("zone"),
            "Europe/London".parse().expect("zone"),
            "Asia/Kolkata".parse().expect("zone"),
            "Australia/Lord_Howe".parse().expect("zone"),
        ];
        let group_zone: Zone = "Asia/Kathmandu".parse().expect("zone");
        let (mut offered_all, mut offered_any, mut counts) = (0, 0, [0_usize; 5]);
        for seed in 0..12_u64 {
            let patterns: Vec<Week> = (0..4).map(|m| week(seed * 10 + m)).collect();
            let mut dated: Vec<Dated> = Vec::new();
            for (m, zone) in zones.iter().enumerate() {
                let mut d = Dated::new();
                for b in 0..6_u64 {
                    let r = mix(seed * 100 + m as u64 * 10 + b);
                    let start =
                        MONDAY + (r % (20 * 48)) as i64 * 1800 + ((r >> 20) & 1) as i64 * 900;
                    let claim = Claim::new(start, start + 1800 + ((r >> 24) % 3) as i64 * 900);
                    let _ = d.claim(*zone, &Week::AVAILABLE, &claim, MONDAY - DAY);
                }
                dated.push(d);
            }
            let members: Vec<Owner<'_>> = (0..4)
                .map(|m| Owner {
                    pattern: &patterns[m],
                    dated: &dated[m],
                    zone: zones[m],
                })
                .collect();
            let mut rules = BookingType::new([30, 45, 60][seed as usize % 3]);
            // Every duration meets every interval over the 12 seeds (3 and 4 share no factor).
            rules.interval = [15, 30, 20, 30][seed as usize % 4];
            rules.buffer_after = [0, 10, 30][(seed as usize / 3) % 3];
            let offer = Offer {
                name: "meet",
                rules: &rules,
                now: MONDAY - DAY,
            };
            let (from, to) = (MONDAY, MONDAY + 14 * DAY);
            // The grid by hand: each Kathmandu date's wall times, through the zone.
            let mut starts: Vec<i64> = Vec::new();
            for date in MONDAY / DAY - 1..=(MONDAY + 14 * DAY) / DAY + 1 {
                let mut minute = 0;
                while minute < 1_440 {
                    starts.extend(
                        instants_at(group_zone, date * DAY + i64::from(minute) * 60)
                            .into_iter()
                            .filter(|t| (from..to).contains(t)),
                    );
                    minute += rules.interval;
                }
            }
            starts.sort_unstable();
            starts.dedup();
            let mut all = Vec::new();
            let mut any = Vec::new();
            for &start in &starts {
                let free = members
                    .iter()
                    .filter(|m| can_take(m, &rules, start))
                    .count() as u32;
                if free == 4 {
                    all.push(GroupSlot { start, free });
                }
                if free > 0 {
                    any.push(GroupSlot { start, free });
                }
            }
            offered_all += all.len();
            offered_any += any.len();
            for slot in &any {
                counts[slot.free as usize] += 1;
            }
            assert_eq!(
                group_slots(&members, group_zone, &offer, Mode::All, (from, to), &[]),
                all,
                "seed {seed}: all"
            );
            assert_eq!(
                group_slots(&members, group_zone, &offer, Mode::Any, (from, to), &[]),
                any,
                "seed {seed}: any"
            );
        }
        // The cases reach every count of free members, and meetings are rarer than any.
        assert!(
            offered_all > 0 && offered_any > offered_all,
            "{offered_all} {offered_any}"
        );
        assert!(counts[1..].iter().all(|&n| n > 0), "{counts:?}");
    }
}
