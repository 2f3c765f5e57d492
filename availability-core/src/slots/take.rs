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

use super::grid::{DayStarts, Grid, GridDay, Marks};
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
}

/// Unmarks the starts whose span is not free.
fn free(owner: &Owner<'_>, duration: i64, grid: &Grid, marks: &mut Marks) {
    // The bit tricks hold for spans of at most a day on the calendar's own grid.
    let own = owner.zone == grid.zone && (1..=DAY).contains(&duration);
    let mut days = FreeDays {
        pattern: owner.pattern,
        dated: owner.dated,
        week: None,
    };
    let short = div_ceil(duration, HALF_HOUR);
    let interval = grid.step / MINUTE;
    // The date read last as the next one: (date, its free slots).
    let mut carried: Option<(i64, u64)> = None;
    for day in &grid.days {
        match day.starts {
            DayStarts::Regular { first, count, .. } if own => {
                let this = match carried {
                    Some((d, bits)) if d == day.date => bits,
                    _ => days.day(day.date),
                };
                let next = days.day(day.date + 1);
                carried = Some((day.date + 1, next));
                let f = u128::from(this) | u128::from(next) << HALF_HOURS_PER_DAY;
                let (short_runs, long_runs) = (runs(f, short), runs(f, short + 1));
                let count = count as usize;
                let mut m = i64::from(first) * interval;
                let mut word = 0u64;
                for j in 0..count {
                    let (h, p) = (m / 30, m % 30);
                    let runs = if p * MINUTE + duration > short * HALF_HOUR {
                        long_runs
                    } else {
                        short_runs
                    };
                    word |= ((runs >> h) as u64 & 1) << (j % 64);
                    if j % 64 == 63 || j + 1 == count {
                        marks.words[day.word + j / 64] &= word;
                        word = 0;
                    }
                    m += interval;
                }
            }
            _ => exact(owner, duration, grid, day, marks),
        }
    }
}

/// Unmarks the starts of `day` whose span a claim would refuse, one by one.
#[cold]
fn exact(owner: &Owner<'_>, duration: i64, grid: &Grid, day: &GridDay, marks: &mut Marks) {
    for j in 0..day.len() {
        let t = grid.instant(day, j);
        let claim = Claim::new(t, t.saturating_add(duration));
        if owner
            .dated
            .check_claim(owner.zone, owner.pattern, &claim)
            .is_err()
        {
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
