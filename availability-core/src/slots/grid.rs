//! The starts a grid offers: a zone's wall times `interval` minutes apart from each local
//! midnight, as instants, date by date; and marks, one bit per start.
//!
//! Most dates keep one offset for the whole day and well around it: their starts are
//! `midnight + i * interval`, kept as that formula. A date near an offset change lists its
//! starts one by one (a wall time in a gap gives none, one in a fold gives two). A calendar's
//! slots use its own zone's grid; a group's would use the group's zone, and combine its
//! members' marks word by word.

use alloc::vec::Vec;

use crate::tz::Zone;

use super::{div_ceil, DAY, MINUTE};

/// A zone's offsets over a window: the offset at its start, then each change, as
/// [`Zone::transitions`] gives them.
#[derive(Clone, Debug)]
pub(crate) struct Offsets {
    changes: Vec<(i64, i32)>,
    end: i64,
}

impl Offsets {
    /// The offsets of `zone` over `[from, to]`.
    pub(crate) fn new(zone: Zone, from: i64, to: i64) -> Offsets {
        Offsets {
            changes: zone.changes(from, to),
            end: to,
        }
    }

    /// The index of the offset in force at `t` (the first one before the window).
    fn segment(&self, t: i64) -> usize {
        self.changes.partition_point(|c| c.0 <= t).saturating_sub(1)
    }

    /// The offset at `t` (inside the window).
    pub(crate) fn at(&self, t: i64) -> i64 {
        self.changes
            .get(self.segment(t))
            .map_or(0, |c| i64::from(c.1))
    }

    /// The offset that holds over all of `[from, to]`, if one does and the window covers it.
    pub(crate) fn steady(&self, from: i64, to: i64) -> Option<i64> {
        let first = self.changes.first()?;
        if from < first.0 || to > self.end {
            return None;
        }
        let i = self.segment(from);
        match self.changes.get(i + 1) {
            Some(next) if next.0 <= to => None,
            _ => Some(i64::from(self.changes[i].1)),
        }
    }

    /// The instants in `[lo, hi)` at which the wall clock shows `wall` (seconds since
    /// 1970-01-01 00:00 local), added to `out`: one per offset whose time holds it.
    fn instants_at(&self, wall: i64, lo: i64, hi: i64, out: &mut Vec<i64>) {
        for (i, &(since, offset)) in self.changes.iter().enumerate() {
            let until = self.changes.get(i + 1).map_or(self.end, |c| c.0);
            let t = wall - i64::from(offset);
            if since <= t && t < until && lo <= t && t < hi {
                out.push(t);
            }
        }
    }
}

/// How one date's starts are kept.
#[derive(Clone, Debug)]
pub(crate) enum DayStarts {
    /// The date keeps one offset from a day before its midnight to two days after: start `j`
    /// is wall time `(first + j) * interval`, at `midnight + (first + j) * interval`.
    Regular {
        /// The instant of the date's 00:00.
        midnight: i64,
        /// The first wall time's index (those before lie outside the range).
        first: u32,
        /// How many starts.
        count: u32,
    },
    /// A date near an offset change: its starts, in time order.
    Listed(Vec<i64>),
}

/// One date of a grid: its starts, and where their marks begin.
#[derive(Clone, Debug)]
pub(crate) struct GridDay {
    /// The date, in days since 1970-01-01 in the grid's zone.
    pub(crate) date: i64,
    /// The first word of its marks.
    pub(crate) word: usize,
    pub(crate) starts: DayStarts,
}

impl GridDay {
    /// How many starts.
    pub(crate) fn len(&self) -> usize {
        match &self.starts {
            DayStarts::Regular { count, .. } => *count as usize,
            DayStarts::Listed(list) => list.len(),
        }
    }
}

/// Every start a grid offers in a range, date by date (dates in time order of their
/// midnights; across a fold at midnight, two dates' starts can interleave).
#[derive(Clone, Debug)]
pub(crate) struct Grid {
    pub(crate) zone: Zone,
    /// The zone's offsets from four days before the range to four days after.
    pub(crate) offsets: Offsets,
    /// Seconds between starts.
    pub(crate) step: i64,
    pub(crate) days: Vec<GridDay>,
    /// Words of marks over all days.
    pub(crate) words: usize,
}

impl Grid {
    /// The starts of wall times `interval` minutes (1 to 1,440) apart from each midnight of
    /// `zone`, in `[lo, hi)`, whole minutes only. The range must be at most a few years
    /// long, within the years the zone database covers.
    pub(crate) fn new(zone: Zone, interval: u32, lo: i64, hi: i64) -> Grid {
        let step = i64::from(interval.max(1)) * MINUTE;
        let mut grid = Grid {
            zone,
            offsets: Offsets::new(zone, lo - 4 * DAY, hi.max(lo) + 4 * DAY),
            step,
            days: Vec::new(),
            words: 0,
        };
        if lo >= hi {
            return grid;
        }
        let per_day = div_ceil(DAY, step);
        let offsets = &grid.offsets;
        let first_date = (lo + offsets.at(lo)).div_euclid(DAY) - 1;
        let last_date = (hi - 1 + offsets.at(hi - 1)).div_euclid(DAY) + 1;
        let (mut days, mut word) = (Vec::new(), 0);
        for date in first_date..=last_date {
            let midnight = date * DAY - offsets.at(date * DAY);
            let starts = match offsets.steady(midnight - DAY, midnight + 2 * DAY) {
                Some(offset) if offset % MINUTE == 0 => {
                    let midnight = date * DAY - offset;
                    let index = |t: i64| div_ceil(t - midnight, step).clamp(0, per_day);
                    let (first, end) = (index(lo), index(hi));
                    DayStarts::Regular {
                        midnight,
                        first: first as u32,
                        count: (end - first).max(0) as u32,
                    }
                }
                Some(_) => DayStarts::Listed(Vec::new()),
                None => {
                    let mut list = Vec::new();
                    for i in 0..per_day {
                        offsets.instants_at(date * DAY + i * step, lo, hi, &mut list);
                    }
                    list.retain(|t| t % MINUTE == 0);
                    list.sort_unstable();
                    list.dedup();
                    DayStarts::Listed(list)
                }
            };
            let len = match &starts {
                DayStarts::Regular { count, .. } => *count as usize,
                DayStarts::Listed(list) => list.len(),
            };
            if len > 0 {
                days.push(GridDay { date, word, starts });
                word += len.div_ceil(64);
            }
        }
        grid.days = days;
        grid.words = word;
        grid
    }

    /// Start `j` of `day`.
    #[inline]
    pub(crate) fn instant(&self, day: &GridDay, j: usize) -> i64 {
        match &day.starts {
            DayStarts::Regular {
                midnight, first, ..
            } => midnight + (i64::from(*first) + j as i64) * self.step,
            DayStarts::Listed(list) => list[j],
        }
    }

    /// The starts `j` of `day` with `lo < start < hi`, as `j_lo..j_hi`.
    pub(crate) fn between(&self, day: &GridDay, lo: i64, hi: i64) -> (usize, usize) {
        match &day.starts {
            DayStarts::Regular {
                midnight,
                first,
                count,
            } => {
                let base = midnight + i64::from(*first) * self.step;
                let count = i64::from(*count);
                let j_lo = ((lo - base).div_euclid(self.step) + 1).clamp(0, count);
                let j_hi = div_ceil(hi - base, self.step).clamp(0, count);
                (j_lo as usize, j_hi.max(j_lo) as usize)
            }
            DayStarts::Listed(list) => {
                let j_lo = list.partition_point(|&t| t <= lo);
                let j_hi = list.partition_point(|&t| t < hi).max(j_lo);
                (j_lo, j_hi)
            }
        }
    }

    /// The first and last start of `day`.
    pub(crate) fn bounds(&self, day: &GridDay) -> (i64, i64) {
        (self.instant(day, 0), self.instant(day, day.len() - 1))
    }
}

/// One bit per start of a [`Grid`], each date's bits from its own word: what a calendar can
/// take, and (for a group) what its members' marks combine to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Marks {
    pub(crate) words: Vec<u64>,
}

impl Marks {
    /// Every start of `grid` marked.
    pub(crate) fn all(grid: &Grid) -> Marks {
        let mut words = alloc::vec![0u64; grid.words];
        for day in &grid.days {
            let len = day.len();
            for (k, word) in words[day.word..day.word + len.div_ceil(64)]
                .iter_mut()
                .enumerate()
            {
                let bits = (len - 64 * k).min(64);
                *word = if bits == 64 { !0 } else { (1 << bits) - 1 };
            }
        }
        Marks { words }
    }

    /// Unmarks starts `j_lo..j_hi` of `day`.
    pub(crate) fn clear(&mut self, day: &GridDay, j_lo: usize, j_hi: usize) {
        let mut j = j_lo;
        while j < j_hi {
            let (w, b) = (j / 64, j % 64);
            let n = (j_hi - j).min(64 - b);
            let mask = if n == 64 { !0 } else { ((1u64 << n) - 1) << b };
            self.words[day.word + w] &= !mask;
            j += n;
        }
    }

    /// Unmarks every start of `day`.
    pub(crate) fn clear_day(&mut self, day: &GridDay) {
        self.clear(day, 0, day.len());
    }

    /// The marked starts `j` of `day`, in order.
    pub(crate) fn ones<'a>(&'a self, day: &GridDay) -> impl Iterator<Item = usize> + 'a {
        let words = &self.words[day.word..day.word + day.len().div_ceil(64)];
        words.iter().enumerate().flat_map(|(k, &word)| {
            let mut w = word;
            core::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let bit = w.trailing_zeros() as usize;
                w &= w - 1;
                Some(64 * k + bit)
            })
        })
    }
}
