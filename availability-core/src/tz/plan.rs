//! [`Plan`]: how one (owner zone, viewer zone, ISO week) view maps owner slots to viewer
//! slots, precomputed so that viewing a week is a few word operations.

use alloc::vec::Vec;

use crate::error::Error;
use crate::grid::{Slot, Status, HALF_HOURS_PER_DAY, SLOTS};
use crate::plane::Plane;
use crate::tz::interval::{Interval, Timestamp};
use crate::tz::{IsoWeek, Zone};
use crate::week::Week;

const HALF_HOUR: i64 = 1800;
const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;
const SLOTS_I64: i64 = SLOTS as i64;
/// The week slot of wall-clock second 0 (1970-01-01 00:00, a Thursday): slot 3 * 48.
const EPOCH_SLOT: i64 = 3 * HALF_HOURS_PER_DAY as i64;
/// How far around the viewer's week its instants can lie: more than any UTC offset.
const MARGIN: i64 = 2 * DAY;

/// The precomputed view of (owner zone, viewer zone, ISO week): which owner slots each viewer
/// slot takes its status from, by the rule of the [module docs](crate::tz).
///
/// A viewer slot draws from owner slots at one or more *shifts* `k`: viewer slot `v` reads
/// owner slot `(v + k) % 336`. A week where one offset difference holds throughout is one
/// shift for every slot, so viewing is one rotation of both planes; a quarter-hour offset
/// difference is two shifts, combined by minimum; a week in which either zone changes offset
/// has slots with different shifts, and gap slots with none. The plan keeps, per shift, the
/// slots that do not use it, so that [`Plan::apply`] is one rotation per shift and three word
/// operations per word.
///
/// Building a plan reads both zones' offset changes around the week (microseconds);
/// keep plans in a [`PlanCache`] where many views repeat.
///
/// ```
/// use availability_core::tz::{IsoWeek, Plan, Zone};
/// use availability_core::{Status, Week};
///
/// // Owner in New York, viewer in Berlin, a week with no offset change in either zone.
/// let plan = Plan::new("America/New_York".parse()?, "Europe/Berlin".parse()?, "2026-W48".parse()?)?;
/// assert_eq!(plan.shifts().collect::<Vec<_>>(), [336 - 12]); // six hours earlier
/// let mut owner = Week::UNAVAILABLE;
/// owner.set("monday 09:00".parse()?, Status::Available);
/// let view = plan.apply(&owner);
/// assert_eq!(view.status("monday 15:00".parse()?), Status::Available);
/// assert_eq!(view.counts().available, 1);
/// # Ok::<(), availability_core::Error>(())
/// ```
#[cfg_attr(feature = "std", doc = "[`PlanCache`]: crate::tz::PlanCache")]
#[cfg_attr(not(feature = "std"), doc = "[`PlanCache`]: crate#features")]
#[derive(Clone, Debug)]
pub struct Plan {
    owner: Zone,
    viewer: Zone,
    week: IsoWeek,
    apply: Apply,
    /// Viewer slots that hold at least one real instant; the others are gap slots.
    covered: Plane,
    /// The real instants of the viewer's week, cut where either zone changes offset.
    pieces: Vec<Piece>,
    /// The owner ISO weeks the view reads (by [`week_number`]), each with the owner slots
    /// read in it: what a view of dated data needs to know.
    owner_weeks: Vec<(i64, Plane)>,
    /// `None` when no owner slot is read in two owner weeks, so one week made of each owner
    /// week's part can be applied as usual; otherwise the terms per (owner week, shift).
    dated_terms: Option<Vec<(i64, Term)>>,
}

/// How to apply a plan; the first two are the common cases, with no masks at all.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Apply {
    /// Every slot reads one shift.
    Rotate(usize),
    /// Every slot reads both shifts, combined by minimum (a quarter-hour offset difference).
    Rotate2(usize, usize),
    /// Anything else: the minimum over the shifts, where each shift counts only for the slots
    /// outside its `others` plane, limited to the covered slots.
    General(Vec<Term>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Term {
    shift: usize,
    /// The viewer slots that do not read this shift.
    others: Plane,
}

/// Real instants `[start, end)` of the viewer's week during which neither zone changes offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Piece {
    start: i64,
    end: i64,
    viewer_offset: i32,
    owner_offset: i32,
    /// The viewer's offset at the instant `end`, which may already be the next one.
    end_offset: i32,
}

impl Plan {
    /// The plan for viewing an owner's week from `viewer` during `week`.
    ///
    /// # Errors
    ///
    /// None for the weeks an [`IsoWeek`] can name; the `Result` leaves room for data that
    /// cannot answer.
    pub fn new(owner: Zone, viewer: Zone, week: IsoWeek) -> Result<Plan, Error> {
        let week_start = week.start_seconds();
        let week_end = week_start + WEEK;
        let (from, to) = (week_start - MARGIN, week_end + MARGIN);
        let viewer_changes = viewer.changes(from, to);
        let owner_changes = if owner == viewer {
            viewer_changes.clone()
        } else {
            owner.changes(from, to)
        };
        let raw = merge(&viewer_changes, &owner_changes, to);

        let mut pieces = Vec::with_capacity(raw.len());
        let mut uses: Vec<(usize, Plane)> = Vec::new();
        let mut dated_uses: Vec<((i64, usize), Plane)> = Vec::new();
        let mut owner_weeks: Vec<(i64, Plane)> = Vec::new();
        for (i, piece) in raw.iter().enumerate() {
            let ov = i64::from(piece.viewer_offset);
            let oo = i64::from(piece.owner_offset);
            let lo = piece.start.max(week_start - ov);
            let hi = piece.end.min(week_end - ov);
            if lo >= hi {
                continue;
            }
            let end_offset = if hi < piece.end {
                piece.viewer_offset
            } else {
                raw.get(i + 1)
                    .map_or(piece.viewer_offset, |p| p.viewer_offset)
            };
            pieces.push(Piece {
                start: lo,
                end: hi,
                end_offset,
                ..*piece
            });
            // Within the piece both offsets are fixed; cut it where the viewer's or the
            // owner's wall clock passes a half hour, and each part lies in one viewer slot and
            // one owner slot.
            let mut t = lo;
            while t < hi {
                let viewer_slot = (t + ov - week_start).div_euclid(HALF_HOUR);
                let owner_half_hour = (t + oo).div_euclid(HALF_HOUR);
                let viewer_next = week_start + (viewer_slot + 1) * HALF_HOUR - ov;
                let owner_next = (owner_half_hour + 1) * HALF_HOUR - oo;
                let next = hi.min(viewer_next).min(owner_next);
                let owner_slot = (owner_half_hour + EPOCH_SLOT).rem_euclid(SLOTS_I64);
                let shift = (owner_slot - viewer_slot).rem_euclid(SLOTS_I64);
                if let (Ok(v), Ok(k), Ok(o)) = (
                    usize::try_from(viewer_slot),
                    usize::try_from(shift),
                    usize::try_from(owner_slot),
                ) {
                    if v < SLOTS {
                        let n = week_number(owner_half_hour);
                        mark(&mut uses, k, v);
                        mark(&mut owner_weeks, n, o);
                        mark(&mut dated_uses, (n, k), v);
                    }
                }
                t = next;
            }
        }

        uses.sort_unstable_by_key(|(k, _)| *k);
        let covered = uses
            .iter()
            .fold(Plane::EMPTY, |acc, (_, slots)| acc.or(*slots));
        let apply = match uses.as_slice() {
            [(k, slots)] if *slots == Plane::FULL => Apply::Rotate(*k),
            [(k1, s1), (k2, s2)] if *s1 == Plane::FULL && *s2 == Plane::FULL => {
                Apply::Rotate2(*k1, *k2)
            }
            _ => Apply::General(
                uses.iter()
                    .map(|(shift, slots)| Term {
                        shift: *shift,
                        others: Plane::FULL.and_not(*slots),
                    })
                    .collect(),
            ),
        };
        owner_weeks.sort_unstable_by_key(|(n, _)| *n);
        let mut seen = Plane::EMPTY;
        let disjoint = owner_weeks.iter().all(|(_, slots)| {
            let fresh = seen.and(*slots) == Plane::EMPTY;
            seen = seen.or(*slots);
            fresh
        });
        let dated_terms = (!disjoint).then(|| {
            dated_uses
                .iter()
                .map(|((n, shift), slots)| {
                    let others = Plane::FULL.and_not(*slots);
                    (
                        *n,
                        Term {
                            shift: *shift,
                            others,
                        },
                    )
                })
                .collect()
        });
        Ok(Plan {
            owner,
            viewer,
            week,
            apply,
            covered,
            pieces,
            owner_weeks,
            dated_terms,
        })
    }

    /// The viewer slots that hold at least one real instant (not gaps).
    pub(crate) fn covered(&self) -> Plane {
        self.covered
    }

    /// The first and last owner week numbers the view reads.
    pub(crate) fn owner_week_span(&self) -> Option<(i64, i64)> {
        Some((self.owner_weeks.first()?.0, self.owner_weeks.last()?.0))
    }

    /// The view of a calendar whose owner weeks differ: `week_of(n)` is the owner's
    /// (effective) week with number `n`, asked once for each owner week the view reads.
    /// Each instant is judged by the owner week it falls in; otherwise as [`Plan::apply`].
    pub(crate) fn apply_by_week(&self, mut week_of: impl FnMut(i64) -> Week) -> Week {
        match (&self.dated_terms, self.owner_weeks.as_slice()) {
            (None, [(n, _)]) => self.apply(&week_of(*n)),
            (None, parts) => {
                // No owner slot is read in two weeks: take each slot from the week it is read
                // in, and view that one week as usual.
                let mut composite = Week::UNAVAILABLE;
                for (n, slots) in parts {
                    let week = week_of(*n);
                    composite.open = composite.open.or(week.open.and(*slots));
                    composite.firm = composite.firm.or(week.firm.and(*slots));
                }
                self.apply(&composite)
            }
            (Some(terms), parts) => {
                let weeks: Vec<(i64, Week)> =
                    parts.iter().map(|(n, _)| (*n, week_of(*n))).collect();
                let (mut open, mut firm) = (self.covered, self.covered);
                for (n, term) in terms {
                    let Some((_, week)) = weeks.iter().find(|(w, _)| w == n) else {
                        continue;
                    };
                    let rotated = week.rotate(term.shift);
                    open = open.and(rotated.open.or(term.others));
                    firm = firm.and(rotated.firm.or(term.others));
                }
                Week { open, firm }
            }
        }
    }

    /// The owner's zone.
    pub fn owner(&self) -> Zone {
        self.owner
    }

    /// The viewer's zone.
    pub fn viewer(&self) -> Zone {
        self.viewer
    }

    /// The viewed week, in the viewer's zone.
    pub fn week(&self) -> IsoWeek {
        self.week
    }

    /// The owner's week as seen by the viewer: slot `day * 48 + half_hour` of the result is
    /// the viewer's slot on the `day`-th date of [`Plan::week`] at that wall time.
    #[inline]
    #[must_use]
    pub fn apply(&self, week: &Week) -> Week {
        match &self.apply {
            Apply::Rotate(k) => week.rotate(*k),
            Apply::Rotate2(k1, k2) => week.rotate(*k1).min(week.rotate(*k2)),
            Apply::General(terms) => {
                let (mut open, mut firm) = (self.covered, self.covered);
                for term in terms {
                    let rotated = week.rotate(term.shift);
                    open = open.and(rotated.open.or(term.others));
                    firm = firm.and(rotated.firm.or(term.others));
                }
                Week { open, firm }
            }
        }
    }

    /// The distinct shifts the view reads, in increasing order: viewer slot `v` reads owner
    /// slot `(v + k) % 336` for one or more of them.
    pub fn shifts(&self) -> impl Iterator<Item = usize> + '_ {
        let (one, two, many): (Option<usize>, Option<usize>, &[Term]) = match &self.apply {
            Apply::Rotate(k) => (Some(*k), None, &[]),
            Apply::Rotate2(k1, k2) => (Some(*k1), Some(*k2), &[]),
            Apply::General(terms) => (None, None, terms.as_slice()),
        };
        one.into_iter()
            .chain(two)
            .chain(many.iter().map(|term| term.shift))
    }

    /// Whether the plan is a single rotation of the week, the common case.
    pub fn is_rotation(&self) -> bool {
        matches!(self.apply, Apply::Rotate(_))
    }

    /// Whether viewer slot `slot` is a gap: its wall-clock half hour does not occur in the
    /// viewer's zone that week (clocks skip it), so it is always unavailable.
    pub fn is_gap(&self, slot: Slot) -> bool {
        !self.covered.get(slot.index())
    }

    /// The gap slots of the view, in order; see [`Plan::is_gap`].
    pub fn gaps(&self) -> impl Iterator<Item = Slot> {
        Plane::FULL
            .and_not(self.covered)
            .ones()
            .filter_map(Slot::from_index)
    }

    /// The exact availability of the viewed week: the maximal runs of real instants, in order,
    /// whose owner slot is maybe or available, with the viewer's UTC offsets. Unlike
    /// [`Plan::apply`], these need not start or end on the viewer's half hours.
    pub fn intervals(&self, week: &Week) -> Vec<Interval> {
        self.intervals_by_week(|_| *week)
    }

    /// [`Plan::intervals`] of a calendar whose owner weeks differ, as
    /// [`Plan::apply_by_week`].
    pub(crate) fn intervals_by_week(&self, week_of: impl FnMut(i64) -> Week) -> Vec<Interval> {
        self.walk(week_of, false)
    }

    /// Every real instant of the viewed week, in maximal runs of one owner status, in order:
    /// [`Plan::intervals`] with the unavailable runs too. The runs cover the week without
    /// holes except where the viewer's clocks skip, and do not depend on the viewer's grid.
    pub fn runs(&self, week: &Week) -> Vec<Interval> {
        self.runs_by_week(|_| *week)
    }

    /// [`Plan::runs`] of a calendar whose owner weeks differ, as [`Plan::apply_by_week`].
    pub(crate) fn runs_by_week(&self, week_of: impl FnMut(i64) -> Week) -> Vec<Interval> {
        self.walk(week_of, true)
    }

    /// The runs of the viewed week's real instants by owner status, with the unavailable
    /// ones when `unavailable` is set.
    fn walk(&self, mut week_of: impl FnMut(i64) -> Week, unavailable: bool) -> Vec<Interval> {
        let weeks: Vec<(i64, Week)> = self
            .owner_weeks
            .iter()
            .map(|(n, _)| (*n, week_of(*n)))
            .collect();
        let mut out: Vec<Interval> = Vec::new();
        for piece in &self.pieces {
            let oo = i64::from(piece.owner_offset);
            let mut t = piece.start;
            while t < piece.end {
                let owner_half_hour = (t + oo).div_euclid(HALF_HOUR);
                let next = piece.end.min((owner_half_hour + 1) * HALF_HOUR - oo);
                let owner_slot = (owner_half_hour + EPOCH_SLOT).rem_euclid(SLOTS_I64);
                let n = week_number(owner_half_hour);
                let week = weeks.iter().find(|(w, _)| *w == n).map(|(_, week)| week);
                let status = usize::try_from(owner_slot)
                    .ok()
                    .and_then(Slot::from_index)
                    .zip(week)
                    .map_or(Status::Unavailable, |(slot, week)| week.status(slot));
                let end = Timestamp::new(
                    next,
                    if next < piece.end {
                        piece.viewer_offset
                    } else {
                        piece.end_offset
                    },
                );
                if unavailable || status != Status::Unavailable {
                    match out.last_mut() {
                        Some(last) if last.end.unix_seconds() == t && last.status == status => {
                            last.end = end;
                        }
                        _ => out.push(Interval {
                            start: Timestamp::new(t, piece.viewer_offset),
                            end,
                            status,
                        }),
                    }
                }
                t = next;
            }
        }
        out
    }
}

/// The number of the ISO week that holds wall-clock half hour `half_hour` (counted from
/// 1970-01-01 00:00): week 0 is the one of Monday 1969-12-29, and weeks count on from there.
pub(crate) fn week_number(half_hour: i64) -> i64 {
    (half_hour.div_euclid(HALF_HOURS_PER_DAY as i64) + 3).div_euclid(7)
}

/// Adds bit `bit` to the plane kept for `key`. Consecutive calls nearly always name the key
/// of the previous one, so that is looked at first.
#[inline]
fn mark<K: PartialEq>(planes: &mut Vec<(K, Plane)>, key: K, bit: usize) {
    if let Some((k, plane)) = planes.last_mut() {
        if *k == key {
            plane.set(bit, true);
            return;
        }
    }
    match planes.iter_mut().find(|(k, _)| *k == key) {
        Some((_, plane)) => plane.set(bit, true),
        None => {
            let mut plane = Plane::EMPTY;
            plane.set(bit, true);
            planes.push((key, plane));
        }
    }
}

/// The pieces of `[from, to)` cut at both zones' offset changes.
fn merge(viewer: &[(i64, i32)], owner: &[(i64, i32)], to: i64) -> Vec<Piece> {
    let mut out = Vec::with_capacity(viewer.len() + owner.len());
    let (mut i, mut j) = (0, 0);
    while let (Some(&(vs, vo)), Some(&(os, oo))) = (viewer.get(i), owner.get(j)) {
        let start = vs.max(os);
        let next_v = viewer.get(i + 1).map_or(to, |c| c.0);
        let next_o = owner.get(j + 1).map_or(to, |c| c.0);
        let end = next_v.min(next_o);
        if end > start {
            out.push(Piece {
                start,
                end,
                viewer_offset: vo,
                owner_offset: oo,
                end_offset: vo,
            });
        }
        if end >= to {
            break;
        }
        if next_v == end {
            i += 1;
        }
        if next_o == end {
            j += 1;
        }
    }
    out
}
