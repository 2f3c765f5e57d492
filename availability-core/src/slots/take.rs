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
use super::{div_ceil, Owner, DAY, MINUTE};

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
    let mut marks = Marks::all(grid);
    free(owner, span.duration, grid, &mut marks);
    buffers(owner.dated, span, grid, &mut marks);
    marks
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
fn free(owner: &Owner<'_>, duration: i64, grid: &Grid, marks: &mut Marks) {
    if !(1..=DAY).contains(&duration) {
        // The bit tricks hold for spans of at most a day.
        for day in &grid.days {
            exact(owner, duration, grid, day, marks);
        }
        return;
    }
    let own = owner.zone == grid.zone;
    let theirs;
    let offsets = if own {
        &grid.offsets
    } else {
        let (lo, hi) = grid
            .days
            .iter()
            .fold((i64::MAX, i64::MIN), |(lo, hi), day| {
                let (first, last) = grid.bounds(day);
                (lo.min(first), hi.max(last))
            });
        theirs = Offsets::new(owner.zone, lo.min(hi) - 4 * DAY, hi + 4 * DAY);
        &theirs
    };
    let mut days = FreeDays {
        pattern: owner.pattern,
        dated: owner.dated,
        week: None,
        carried: None,
    };
    let short = div_ceil(duration, HALF_HOUR);
    let interval = grid.step / MINUTE;
    for day in &grid.days {
        match day.starts {
            DayStarts::Regular { first, count, .. } if own => {
                let f = days.two(day.date);
                let short_runs = runs(f, short) as u64 & DAY_MASK;
                let long_runs = runs(f, short + 1) as u64 & DAY_MASK;
                let (first, count) = (i64::from(first), count as usize);
                if interval == 30 {
                    // Start j is half hour first + j, and every span has `short` of them.
                    marks.words[day.word] &= short_runs >> first;
                    continue;
                }
                // Start j at wall minute m touches the long run when it starts late in its
                // half hour.
                let late = short * HALF_HOUR - duration;
                let mut m = first * interval;
                for (k, word) in marks.words[day.word..day.word + count.div_ceil(64)]
                    .iter_mut()
                    .enumerate()
                {
                    let mut bits = 0u64;
                    for j in 0..(count - 64 * k).min(64) {
                        let runs = if (m % 30) * MINUTE > late {
                            long_runs
                        } else {
                            short_runs
                        };
                        bits |= (runs >> (m / 30) & 1) << j;
                        m += interval;
                    }
                    *word &= bits;
                }
            }
            _ => {
                // Each start alone: by its owner date's planes when one offset holds over
                // the span, exactly as a claim is checked otherwise.
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
