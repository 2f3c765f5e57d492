//! What one calendar can take: for each start of a grid, whether the span is free (every owner
//! slot it touches available and unclaimed) and its buffers clear of every booking. The
//! rules about the present (notice, horizon) and the daily limit are the caller's.
//!
//! Free spans are found with plane operations. A date whose offset holds from a day before to
//! two days after (a regular date of the calendar's own grid) reads its 48 free slots and the
//! next date's as one 96-bit word `f`; a start at wall minute `m` touches
//! `k = ceil((m % 30 + duration) / 30)` half hours from `m / 30`, and can be taken when bit
//! `m / 30` of `f & f >> 1 & ... & f >> (k - 1)` is set (computed by doubling, for the two
//! values `k` takes). Any other start (near an offset change, or on another zone's grid) is
//! checked exactly, as a claim is. Buffers are exact against bookings' real spans: each
//! booking forbids the starts in `(start - duration - buffer_after, end + buffer_before)`, and
//! the merged intervals clear ranges of marks.

use alloc::vec::Vec;

use crate::dated::{week_of_day, Claim, Dated};
use crate::grid::HALF_HOURS_PER_DAY;
use crate::plane::{Plane, WORDS};
use crate::week::Week;

use super::grid::{DayStarts, Grid, GridDay, Marks, Offsets};
use super::{div_ceil, Owner, DAY};

const HALF_HOUR: i64 = 1800;
const DAY_MASK: u64 = (1 << HALF_HOURS_PER_DAY) - 1;

/// A span's length and the margins around it, in seconds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    pub(crate) duration: i64,
    pub(crate) before: i64,
    pub(crate) after: i64,
}

/// The starts of `grid` at which `owner` can take `span`.
pub(crate) fn take(owner: &Owner<'_>, span: Span, grid: &Grid) -> Marks {
    take_with(owner, span, grid, None)
}

/// As [`take`], with the owner zone's offsets over the grid's range ([`offsets_for`]) when
/// the caller has them: a group's members share their zones' offsets.
pub(crate) fn take_with(
    owner: &Owner<'_>,
    span: Span,
    grid: &Grid,
    offsets: Option<&Offsets>,
) -> Marks {
    let mut marks = Marks::all(grid);
    free(owner, span.duration, grid, offsets, &mut marks);
    buffers(owner.dated, span, grid, &mut marks);
    marks
}

/// The offsets of `zone` over `grid`'s range and four days around it: what a calendar in
/// `zone` needs to read its slots at the grid's starts.
pub(crate) fn offsets_for(zone: crate::tz::Zone, grid: &Grid) -> Offsets {
    let (lo, hi) = grid
        .days
        .iter()
        .fold((i64::MAX, i64::MIN), |(lo, hi), day| {
            let (first, last) = grid.bounds(day);
            (lo.min(first), hi.max(last))
        });
    Offsets::new(zone, lo.min(hi) - 4 * DAY, hi + 4 * DAY)
}

/// Bit `h` set when bits `h..h + k` of `f` all are (`k >= 1`).
#[inline]
fn runs(f: u128, k: i64) -> u128 {
    let mut r = f;
    let mut len = 1;
    while len * 2 <= k {
        r &= r >> len;
        len *= 2;
    }
    if len < k {
        r &= r >> (k - len);
    }
    r
}

/// The free slots of owner dates, a week's plane at a time.
struct FreeDays<'a> {
    pattern: &'a Week,
    dated: &'a Dated,
    week: Option<(i64, Plane)>,
    /// The date read last as the second of two, and its free slots.
    carried: Option<(i64, u64)>,
}

impl FreeDays<'_> {
    /// The 48 free slots of owner date `date`: available in the effective week, unclaimed.
    fn day(&mut self, date: i64) -> u64 {
        let n = week_of_day(date);
        let plane = match self.week {
            Some((w, plane)) if w == n => plane,
            _ => {
                let plane = self.dated.free_plane(self.pattern, n);
                self.week = Some((n, plane));
                plane
            }
        };
        let at = (date + 3).rem_euclid(7) as usize * HALF_HOURS_PER_DAY;
        let (w, b) = (at / 64, at % 64);
        let low = plane.0[w] >> b;
        let high = if b != 0 && w + 1 < WORDS {
            plane.0[w + 1] << (64 - b)
        } else {
            0
        };
        (low | high) & DAY_MASK
    }

    /// The free slots of `date` and of the next date, as bits 0-47 and 48-95.
    fn two(&mut self, date: i64) -> u128 {
        let this = match self.carried {
            Some((d, bits)) if d == date => bits,
            _ => self.day(date),
        };
        let next = self.day(date + 1);
        self.carried = Some((date + 1, next));
        u128::from(this) | u128::from(next) << HALF_HOURS_PER_DAY
    }
}

/// Unmarks the starts whose span is not free.
fn free(owner: &Owner<'_>, duration: i64, grid: &Grid, given: Option<&Offsets>, marks: &mut Marks) {
    if !(1..=DAY).contains(&duration) {
        // The bit tricks hold for spans of at most a day.
        for day in &grid.days {
            exact(owner, duration, grid, day, marks);
        }
        return;
    }
    let own = owner.zone == grid.zone;
    let theirs;
    let offsets = match given {
        _ if own => &grid.offsets,
        Some(given) => given,
        None => {
            theirs = offsets_for(owner.zone, grid);
            &theirs
        }
    };
    let mut days = FreeDays {
        pattern: owner.pattern,
        dated: owner.dated,
        week: None,
        carried: None,
    };
    let short = div_ceil(duration, HALF_HOUR);
    for day in &grid.days {
        if let DayStarts::Regular {
            midnight,
            first,
            count,
        } = day.starts
        {
            if count == 0 {
                continue;
            }
            let base = midnight + i64::from(first) * grid.step;
            let last = base + (i64::from(count) - 1) * grid.step;
            // One offset of the owner's over every span of the date: the starts are the
            // owner's wall times `base + offset + j * step`, a formula too. On the owner's
            // own grid that is the date's own wall clock.
            let wall = if own {
                Some(day.date * DAY + i64::from(first) * grid.step)
            } else {
                offsets
                    .steady(base, last + duration - 1)
                    .map(|offset| base + offset)
            };
            if let Some(wall) = wall {
                let starts = Steady {
                    wall,
                    count: count as usize,
                    step: grid.step,
                };
                steady(
                    &mut days,
                    &starts,
                    duration,
                    short,
                    &mut marks.words[day.word..],
                );
                continue;
            }
        }
        // Each start alone: by its owner date's planes when one offset holds over the span,
        // exactly as a claim is checked otherwise.
        for j in 0..day.len() {
            let t = grid.instant(day, j);
            let free = match offsets.steady(t, t + duration - 1) {
                Some(offset) => {
                    let wall = t + offset;
                    let (date, s) = (wall.div_euclid(DAY), wall.rem_euclid(DAY));
                    let k = div_ceil(s % HALF_HOUR + duration, HALF_HOUR);
                    runs(days.two(date), k) >> (s / HALF_HOUR) & 1 != 0
                }
                None => fits(owner, t, duration),
            };
            if !free {
                marks.clear(day, j, j + 1);
            }
        }
    }
}

/// The starts of a date of the grid in the owner's wall time: `count` of them, `step`
/// seconds apart from `wall` (seconds since 1970-01-01 00:00 on the owner's clock).
struct Steady {
    wall: i64,
    count: usize,
    step: i64,
}

/// The lowest `n` bits.
#[inline]
fn low(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1 << n) - 1
    }
}

/// Unmarks the starts (whose marks begin at `words[0]`) whose span of `duration` seconds
/// (`short` half hours from a start on the half hour) is not free. The starts lie within a day
/// of the first, so on two owner dates at most: each date's runs of `short` and `short + 1`
/// free half hours (with the next date's, for spans past midnight) decide its starts.
fn steady(days: &mut FreeDays<'_>, starts: &Steady, duration: i64, short: i64, words: &mut [u64]) {
    let (date, s0) = (starts.wall.div_euclid(DAY), starts.wall.rem_euclid(DAY));
    let f0 = days.two(date);
    // The next date's runs only when a start falls on it.
    let wraps = s0 + (starts.count as i64 - 1) * starts.step >= DAY;
    let f1 = if wraps { days.two(date + 1) } else { 0 };
    let short_runs = [
        runs(f0, short) as u64 & DAY_MASK,
        runs(f1, short) as u64 & DAY_MASK,
    ];
    let long_runs = |f0, f1| {
        [
            runs(f0, short + 1) as u64 & DAY_MASK,
            runs(f1, short + 1) as u64 & DAY_MASK,
        ]
    };
    // A start late in its half hour touches one more.
    let late = short * HALF_HOUR - duration;
    if starts.step == HALF_HOUR {
        // Start j is in half hour h0 + j (of the next date past 48), each at the same minute
        // of its half hour, so every span touches as many.
        let h0 = (s0 / HALF_HOUR) as usize;
        let runs = if s0 % HALF_HOUR > late {
            long_runs(f0, f1)
        } else {
            short_runs
        };
        let wrap = HALF_HOURS_PER_DAY - h0;
        let bits = (runs[0] >> h0) & low(wrap) | runs[1] << wrap;
        words[0] &= bits | !low(starts.count);
        return;
    }
    let long_runs = long_runs(f0, f1);
    let mut s = s0;
    for (k, word) in words[..starts.count.div_ceil(64)].iter_mut().enumerate() {
        let mut bits = 0u64;
        for j in 0..(starts.count - 64 * k).min(64) {
            let (i, at) = if s >= DAY { (1, s - DAY) } else { (0, s) };
            let runs = if at % HALF_HOUR > late {
                long_runs[i]
            } else {
                short_runs[i]
            };
            bits |= (runs >> (at / HALF_HOUR) & 1) << j;
            s += starts.step;
        }
        *word &= bits;
    }
}

/// Whether a claim of `duration` seconds from `t` finds every slot free.
#[cold]
fn fits(owner: &Owner<'_>, t: i64, duration: i64) -> bool {
    let claim = Claim::new(t, t.saturating_add(duration));
    owner
        .dated
        .check_claim(owner.zone, owner.pattern, &claim)
        .is_ok()
}

/// Unmarks the starts of `day` whose span a claim would refuse, one by one.
#[cold]
fn exact(owner: &Owner<'_>, duration: i64, grid: &Grid, day: &GridDay, marks: &mut Marks) {
    for j in 0..day.len() {
        if !fits(owner, grid.instant(day, j), duration) {
            marks.clear(day, j, j + 1);
        }
    }
}

/// Unmarks the starts whose span, widened by the buffers, overlaps a booking.
fn buffers(dated: &Dated, span: Span, grid: &Grid, marks: &mut Marks) {
    if span.before == 0 && span.after == 0 {
        // Without buffers a booking that overlaps the span shares a slot with it.
        return;
    }
    let Some(lo) = grid.days.iter().map(|d| grid.bounds(d).0).min() else {
        return;
    };
    let hi = grid
        .days
        .iter()
        .map(|d| grid.bounds(d).1)
        .max()
        .unwrap_or(lo);
    let reach = span.duration + span.after;
    let mut forbidden: Vec<(i64, i64)> = dated
        .all_bookings()
        .filter(|b| b.start() - reach < hi && b.end() + span.before > lo)
        .map(|b| (b.start() - reach, b.end() + span.before))
        .collect();
    if forbidden.is_empty() {
        return;
    }
    forbidden.sort_unstable();
    // Merge overlapping open intervals (touching ones leave their common end allowed).
    let mut merged: Vec<(i64, i64)> = Vec::with_capacity(forbidden.len());
    for (a, b) in forbidden {
        match merged.last_mut() {
            Some(last) if a < last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    for day in &grid.days {
        let (first, last) = grid.bounds(day);
        let mut i = merged.partition_point(|iv| iv.1 <= first);
        while let Some(&(a, b)) = merged.get(i) {
            if a >= last {
                break;
            }
            let (j_lo, j_hi) = grid.between(day, a, b);
            marks.clear(day, j_lo, j_hi);
            i += 1;
        }
    }
}

const _: () = assert!(DAY == 48 * HALF_HOUR);
