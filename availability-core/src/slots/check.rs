//! The exact check of one start ([`refusal`]), and the plain listing that decides every start
//! of the grid with it ([`reference`]).

use alloc::format;
use alloc::vec::Vec;

use crate::dated::{Claim, MAX_AHEAD_SECONDS};
use crate::error::Error;
use crate::tz::Zone;

use super::{Offer, Owner, Rule, DAY, MINUTE};

/// The owner's wall clock at `instant`, in seconds since 1970-01-01 00:00 local.
fn wall(zone: Zone, instant: i64) -> i64 {
    instant.saturating_add(i64::from(zone.offset_at(instant).unwrap_or(0)))
}

/// The owner date (days since 1970-01-01) that `instant` falls on.
pub fn owner_day(zone: Zone, instant: i64) -> i64 {
    wall(zone, instant).div_euclid(DAY)
}

/// The instants at which the wall clock of `zone` shows `wall` (seconds since 1970-01-01
/// 00:00 local): none in a gap, two in a fold, in time order.
pub fn instants_at(zone: Zone, wall: i64) -> Vec<i64> {
    let mut out: Vec<i64> = Vec::with_capacity(2);
    for (_, offset) in zone.transitions(wall - 2 * DAY, wall + 2 * DAY) {
        let t = wall - i64::from(offset);
        if zone.offset_at(t) == Some(offset) && !out.contains(&t) {
            out.push(t);
        }
    }
    out.sort_unstable();
    out
}

/// Why `start` cannot be booked as `offer` on `owner`'s calendar; `None` when it can.
pub fn refusal(owner: &Owner<'_>, offer: &Offer<'_>, start: i64) -> Option<Rule> {
    let Owner { dated, zone, .. } = *owner;
    let Offer {
        name, rules: ty, ..
    } = *offer;
    if let Some(rule) = timing(zone, offer, start) {
        return Some(rule);
    }
    if let Some(rule) = taking(owner, offer.rules, start) {
        return Some(rule);
    }
    if let Some(most) = ty.per_day {
        let day = owner_day(zone, start);
        // Owner dates are at most 26 hours from UTC's. A group booking's part is counted by
        // its group.
        let made = dated
            .bookings(day * DAY - 2 * DAY, day * DAY + 3 * DAY)
            .iter()
            .filter(|b| {
                b.group().is_none()
                    && b.booking_type() == Some(name)
                    && owner_day(zone, b.start()) == day
            })
            .count();
        if made >= most as usize {
            return Some(Rule::PerDay);
        }
    }
    None
}

/// The rules about the clock (1 to 3): whether `start` is one of the type's starts on the
/// wall clock of `zone`, and within its notice and horizon.
pub fn timing(zone: Zone, offer: &Offer<'_>, start: i64) -> Option<Rule> {
    let Offer { rules: ty, now, .. } = *offer;
    let minute_of_day = wall(zone, start).rem_euclid(DAY) / MINUTE;
    // (A type's interval is at least 5 once checked; 0 would make no grid at all.)
    let interval = i64::from(ty.interval).max(1);
    if start % MINUTE != 0 || ty.interval == 0 || minute_of_day % interval != 0 {
        return Some(Rule::OffGrid);
    }
    let (_, end) = ty.span(start);
    if start < now.saturating_add(i64::from(ty.notice) * MINUTE) {
        return Some(Rule::Notice);
    }
    if start >= now.saturating_add(i64::from(ty.horizon) * DAY)
        || end > now.saturating_add(MAX_AHEAD_SECONDS)
    {
        return Some(Rule::Horizon);
    }
    None
}

/// The rules about the owner's time (4 and 5): whether `owner` can take the span of a
/// booking of `ty` at `start`, and its buffers.
pub fn taking(owner: &Owner<'_>, ty: &super::BookingType, start: i64) -> Option<Rule> {
    let Owner {
        pattern,
        dated,
        zone,
    } = *owner;
    let (_, end) = ty.span(start);
    if let Err(err) = dated.check_claim(zone, pattern, &Claim::new(start, end)) {
        return Some(match err.conflict_details().and_then(|c| c.booking()) {
            Some(id) => Rule::Taken(id),
            None => Rule::Unavailable,
        });
    }
    let before = i64::from(ty.buffer_before) * MINUTE;
    let after = i64::from(ty.buffer_after) * MINUTE;
    if before > 0 || after > 0 {
        if let Some(b) = dated.bookings(start - before, end + after).first() {
            return Some(Rule::Buffer(b.id()));
        }
    }
    None
}

/// [`slots`] the plain way: every start of the grid, each decided by [`refusal`]. What tests
/// compare the fast answer with.
#[doc(hidden)]
pub fn reference(owner: &Owner<'_>, offer: &Offer<'_>, from: i64, to: i64) -> Vec<i64> {
    let (zone, ty) = (owner.zone, offer.rules);
    let mut out = Vec::new();
    let first = owner_day(zone, from) - 1;
    let last = owner_day(zone, to) + 1;
    for day in first..=last {
        let mut minute = 0;
        while minute < 1_440 {
            for start in instants_at(zone, day * DAY + i64::from(minute) * MINUTE) {
                if (from..to).contains(&start) && refusal(owner, offer, start).is_none() {
                    out.push(start);
                }
            }
            minute += ty.interval;
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// [`refusal`] as a result: the error names the rule ([`Error::rule`]) and, in its message,
/// the start.
///
/// # Errors
///
/// [`Error::is_conflict`] with [`Error::rule`] set, when a rule refuses `start`.
pub fn check(owner: &Owner<'_>, offer: &Offer<'_>, start: i64) -> Result<(), Error> {
    match refusal(owner, offer, start) {
        None => Ok(()),
        Some(rule) => Err(Error::refused_by(
            rule,
            format!(
                "a booking of type {:?} cannot start then: {rule} ({})",
                offer.name,
                rule.as_str()
            ),
        )),
    }
}
