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
/// keep plans in a [`PlanCache`](crate::tz::PlanCache) where many views repeat.
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
        let week_start = week
            .monday()
            .and_time(chrono::NaiveTime::MIN)
            .and_utc()
            .timestamp();
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
                if let (Ok(v), Ok(k)) = (usize::try_from(viewer_slot), usize::try_from(shift)) {
                    if v < SLOTS {
                        match uses.iter_mut().find(|(s, _)| *s == k) {
                            Some((_, slots)) => slots.set(v, true),
                            None => {
                                let mut slots = Plane::EMPTY;
                                slots.set(v, true);
                                uses.push((k, slots));
                            }
                        }
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
        Ok(Plan {
            owner,
            viewer,
            week,
            apply,
            covered,
            pieces,
        })
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
        let mut out: Vec<Interval> = Vec::new();
        for piece in &self.pieces {
            let oo = i64::from(piece.owner_offset);
            let mut t = piece.start;
            while t < piece.end {
                let owner_half_hour = (t + oo).div_euclid(HALF_HOUR);
                let next = piece.end.min((owner_half_hour + 1) * HALF_HOUR - oo);
                let owner_slot = (owner_half_hour + EPOCH_SLOT).rem_euclid(SLOTS_I64);
                let status = usize::try_from(owner_slot)
                    .ok()
                    .and_then(Slot::from_index)
                    .map_or(Status::Unavailable, |slot| week.status(slot));
                let end = Timestamp::new(
                    next,
                    if next < piece.end {
                        piece.viewer_offset
                    } else {
                        piece.end_offset
                    },
                );
                if status != Status::Unavailable {
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
