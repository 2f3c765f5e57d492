//! The rules of group bookings, as functions of the group and its members' calendars: the
//! store applies them under its writer lock (every member calendar and the group held), a
//! database backend inside its transaction (every member row locked). As in [`super::decide`],
//! nothing here changes anything.
//!
//! A group booking is a booking of each member it claims (every member for
//! [`Mode::All`], one for [`Mode::Any`]), all of one span, each carrying a [`GroupRef`] to the
//! group and the group booking's id: the parts are the group booking, and there is nothing
//! else to keep in step. A part is an ordinary booking of its calendar (it claims the owner's
//! slots, the owner may cancel it); the group cancels and moves its parts together.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::calendar::{next_version, Calendar};
use super::expect::Authority;
use super::groups::{Group, GroupType};
use super::journal_format::{GroupSpan, GroupWrite, Owner as RecordOwner};
use super::open::zone_or_utc;
use crate::dated::{Booking, Claim, Dated, GroupRef};
use crate::error::{Error, Kind};
use crate::slots::{self, owner_day, Mode, Offer, Owner, Rule};
use crate::store::checked::KeyHash;
use crate::tz::Zone;

const DAY: i64 = 86_400;

/// A group booking as its parts tell it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupBooking {
    /// Its id, unique in the store.
    pub id: u64,
    /// The group type it was made by.
    pub booking_type: String,
    /// The span, in seconds since the Unix epoch.
    pub start: i64,
    /// The end of the span.
    pub end: i64,
    /// When it was made, in milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// Its label, if any.
    pub label: Option<String>,
    /// The parts that remain: each member calendar's id and its booking, in the group's
    /// member order.
    pub parts: Vec<(String, Arc<Booking>)>,
}

/// What a group booking asks for.
#[derive(Clone, Debug)]
pub struct GroupRequest<'a> {
    /// The group type's name.
    pub name: &'a str,
    /// The start, in seconds since the Unix epoch.
    pub start: i64,
    /// Every member, or one.
    pub mode: Mode,
    /// A label for the owners.
    pub label: Option<String>,
    /// The key that made it, if a key of the store did.
    pub key_id: Option<String>,
    /// Now, in seconds since the Unix epoch.
    pub now: i64,
}

/// A decided write to a group booking: the member calendars it changes as they are after it
/// (in the group's member order, one per part), and the group booking after it (as it was,
/// when cancelled).
#[derive(Clone, Debug)]
pub struct Decided {
    /// The member calendars it changes, after it.
    pub calendars: Vec<Arc<Calendar>>,
    /// The group booking, after it.
    pub booking: GroupBooking,
    /// Whether it cancels the group booking.
    pub cancelled: bool,
}

/// The group's booking type `name`, or why not.
fn group_type<'g>(group: &'g Group, name: &str) -> Result<&'g GroupType, Error> {
    group.booking_type(name).ok_or_else(|| {
        Error::new(
            Kind::NotFound,
            std::format!("group {:?} has no booking type {name:?}", group.id()),
        )
    })
}

/// The group's bookings of type `name` among `members` that start in `[from, to)`, one
/// (id, start) per group booking, by id.
fn of_type(
    group: &Group,
    members: &[Option<Arc<Calendar>>],
    name: &str,
    (from, to): (i64, i64),
) -> Vec<(u64, i64)> {
    let mut seen: Vec<(u64, i64)> = Vec::new();
    for calendar in members.iter().flatten() {
        for b in calendar.dated().bookings(from, to) {
            if let Some(r) = b.group() {
                if r.group == group.id()
                    && b.booking_type() == Some(name)
                    && (from..to).contains(&b.start())
                {
                    seen.push((r.id, b.start()));
                }
            }
        }
    }
    seen.sort_unstable();
    seen.dedup_by_key(|(id, _)| *id);
    seen
}

/// The starts of the group's bookings of type `name` (one per group booking) among
/// `members` that start in `[from, to)`.
pub fn booked_starts(
    group: &Group,
    members: &[Option<Arc<Calendar>>],
    name: &str,
    range: (i64, i64),
) -> Vec<i64> {
    of_type(group, members, name, range)
        .into_iter()
        .map(|(_, start)| start)
        .collect()
}

impl GroupBooking {
    /// Group booking `id` as `part` tells it, its parts still to add.
    fn of_part(id: u64, part: &Booking) -> GroupBooking {
        GroupBooking {
            id,
            booking_type: String::from(part.booking_type().unwrap_or_default()),
            start: part.start(),
            end: part.end(),
            created_ms: part.created_unix_ms(),
            label: part.label().map(String::from),
            parts: Vec::new(),
        }
    }
}

/// Group booking `id` of `group` as the parts held by `members` tell it; `None` when no part
/// remains.
pub fn find(group: &Group, members: &[Option<Arc<Calendar>>], id: u64) -> Option<GroupBooking> {
    let mut found: Option<GroupBooking> = None;
    for calendar in members.iter().flatten() {
        let part = calendar.dated().all_bookings().find(|b| {
            b.group()
                .is_some_and(|r| r.id == id && r.group == group.id())
        });
        let Some(part) = part else { continue };
        let booking = found.get_or_insert_with(|| GroupBooking::of_part(id, part));
        booking
            .parts
            .push((String::from(calendar.id()), Arc::clone(part)));
    }
    found
}

/// The group's bookings with a part among `members` that starts in `[from, to)`, by start
/// and then id.
pub fn list(
    group: &Group,
    members: &[Option<Arc<Calendar>>],
    (from, to): (i64, i64),
) -> Vec<GroupBooking> {
    let mut by_id: alloc::collections::BTreeMap<u64, GroupBooking> = Default::default();
    for calendar in members.iter().flatten() {
        for part in calendar.dated().bookings(from, to) {
            let Some(r) = part.group().filter(|r| r.group == group.id()) else {
                continue;
            };
            if !(from..to).contains(&part.start()) {
                continue;
            }
            by_id
                .entry(r.id)
                .or_insert_with(|| GroupBooking::of_part(r.id, &part))
                .parts
                .push((String::from(calendar.id()), Arc::clone(&part)));
        }
    }
    let mut out: Vec<GroupBooking> = by_id.into_values().collect();
    out.sort_by_key(|b| (b.start, b.id));
    out
}

/// A member's state for the rules: its week, its dated data (a copy to change) and zone.
struct Member<'a> {
    calendar: &'a Calendar,
    dated: Dated,
    zone: Zone,
}

impl<'a> Member<'a> {
    fn new(calendar: &'a Calendar, cutoff: i64) -> Member<'a> {
        let zone = zone_or_utc(calendar.zone());
        let mut dated = Dated::clone(calendar.dated());
        dated.compact_before(zone, cutoff);
        Member {
            calendar,
            dated,
            zone,
        }
    }

    fn refusal(&self, ty: &crate::slots::BookingType, start: i64) -> Option<Rule> {
        let week = self.calendar.week();
        let owner = Owner {
            pattern: &week,
            dated: &self.dated,
            zone: self.zone,
        };
        slots::taking(&owner, ty, start)
    }

    /// Its bookings of this group's type `name` in the owner week (Monday to Sunday) that
    /// `start` falls in.
    fn week_count(&self, group: &str, name: &str, start: i64) -> usize {
        let day = owner_day(self.zone, start);
        let monday = day - (day + 3).rem_euclid(7);
        self.dated
            .bookings(monday * DAY - 2 * DAY, (monday + 9) * DAY)
            .iter()
            .filter(|b| {
                b.group().is_some_and(|r| r.group == group)
                    && b.booking_type() == Some(name)
                    && (monday..monday + 7).contains(&owner_day(self.zone, b.start()))
            })
            .count()
    }

    /// The calendar after the write, with `dated` as it is now.
    fn finish(self) -> Result<Arc<Calendar>, Error> {
        let version = next_version(self.calendar)?;
        Ok(Arc::new(Calendar {
            record: Arc::clone(&self.calendar.record),
            version,
            dated: Arc::new(self.dated),
        }))
    }
}

/// Refused: a rule names itself, and the member it refused for.
#[cold]
fn refused(rule: Rule, member: Option<&str>, name: &str) -> Error {
    let who = member.map_or(String::new(), |m| std::format!(" (member {m:?})"));
    Error::refused_by(
        rule,
        std::format!(
            "a group booking of type {name:?} cannot start then: {rule}{who} ({})",
            rule.as_str()
        ),
    )
}

/// The group rules of a start (the clock's, in the type's zone, and its `per_day` over the
/// group's bookings other than `except`).
fn group_rules(
    group: &Group,
    members: &[Option<Arc<Calendar>>],
    name: &str,
    ty: &GroupType,
    start: i64,
    now: i64,
    except: Option<u64>,
) -> Result<(), Error> {
    let zone = zone_or_utc(&ty.zone);
    let offer = Offer {
        name,
        rules: &ty.rules,
        now,
    };
    if let Some(rule) = slots::timing(zone, &offer, start) {
        return Err(refused(rule, None, name));
    }
    if let Some(most) = ty.rules.per_day {
        let day = owner_day(zone, start);
        // Dates are at most 26 hours from UTC's.
        let made = of_type(
            group,
            members,
            name,
            (day * DAY - 2 * DAY, day * DAY + 3 * DAY),
        )
        .into_iter()
        .filter(|&(id, at)| Some(id) != except && owner_day(zone, at) == day)
        .count();
        if made >= most as usize {
            return Err(Error::refused_by(
                Rule::PerDay,
                std::format!(
                    "a group booking of type {name:?} cannot start then: the group's date has \
                     the type's most bookings (per_day)"
                ),
            ));
        }
    }
    Ok(())
}

/// Books `request` on `group` as group booking `id`: checks the group's rules, then claims
/// the span on every member ([`Mode::All`]) or on the one that can take it with the fewest
/// of the group's bookings of the type in its owner week, ties by id ([`Mode::Any`]).
/// `members` are the member calendars as they are now, in the group's order (`None` for a
/// calendar that does not exist); `cutoff` as retention prunes before it.
///
/// # Errors
///
/// [`Error::is_not_found`] when the group has no such type; [`Error::is_conflict`] with
/// [`Error::rule`] when a rule refuses (the message names the member); the authority's errors
/// when `by` no longer covers a member ([`Authority::PublicBooking`] needs every member
/// claimed to take bookings from anyone); [`Error::is_invalid_span`] for a label the rules
/// refuse.
pub fn book(
    group: &Group,
    members: &[Option<Arc<Calendar>>],
    request: &GroupRequest<'_>,
    (by, admin_keys): (&Authority, &[KeyHash]),
    id: u64,
    cutoff: i64,
) -> Result<Decided, Error> {
    let name = request.name;
    let ty = group_type(group, name)?;
    let (start, end) = ty.rules.span(request.start);
    group_rules(group, members, name, ty, start, request.now, None)?;
    let claim = Claim {
        start,
        end,
        label: request.label.clone(),
        key_id: request.key_id.clone(),
        booking_type: Some(String::from(name)),
        group: Some(GroupRef {
            group: String::from(group.id()),
            id,
        }),
    };
    claim.check(request.now)?;
    let missing = |i: usize| refused(Rule::Unavailable, Some(&group.members()[i]), name);
    let mut out = Vec::new();
    let mut parts = Vec::new();
    match request.mode {
        Mode::All => {
            // Every member exists and takes this caller's bookings before any rule is asked.
            for (i, calendar) in members.iter().enumerate() {
                let calendar = calendar.as_ref().ok_or_else(|| missing(i))?;
                by.check(Some(calendar), admin_keys)?;
            }
            for calendar in members.iter().flatten() {
                let mut member = Member::new(calendar, cutoff);
                if let Some(rule) = member.refusal(&ty.rules, start) {
                    return Err(refused(rule, Some(calendar.id()), name));
                }
                let part =
                    member
                        .dated
                        .claim(member.zone, &calendar.week(), &claim, request.now)?;
                parts.push((String::from(calendar.id()), part));
                out.push(member.finish()?);
            }
        }
        Mode::Any => {
            let mut first_refusal: Option<Error> = None;
            // (count, id): the fairest member is the least.
            let mut best: Option<(usize, &str, Member<'_>)> = None;
            for (i, calendar) in members.iter().enumerate() {
                let Some(calendar) = calendar.as_deref() else {
                    first_refusal.get_or_insert_with(|| missing(i));
                    continue;
                };
                if by.check(Some(calendar), admin_keys).is_err() {
                    continue;
                }
                let member = Member::new(calendar, cutoff);
                if let Some(rule) = member.refusal(&ty.rules, start) {
                    first_refusal.get_or_insert_with(|| refused(rule, Some(calendar.id()), name));
                    continue;
                }
                let count = member.week_count(group.id(), name, start);
                if best
                    .as_ref()
                    .is_none_or(|(c, id, _)| (count, calendar.id()) < (*c, *id))
                {
                    best = Some((count, calendar.id(), member));
                }
            }
            let Some((_, _, mut member)) = best else {
                return Err(first_refusal.unwrap_or_else(|| {
                    Error::new(
                        Kind::Forbidden,
                        "no member of the group takes bookings from this caller",
                    )
                }));
            };
            let calendar = member.calendar;
            let part = member
                .dated
                .claim(member.zone, &calendar.week(), &claim, request.now)?;
            parts.push((String::from(calendar.id()), part));
            out.push(member.finish()?);
        }
    }
    Ok(Decided {
        calendars: out,
        booking: GroupBooking {
            id,
            booking_type: String::from(name),
            start,
            end,
            created_ms: request.now.saturating_mul(1000),
            label: request.label.clone(),
            parts,
        },
        cancelled: false,
    })
}

/// The group booking `id` found among `members`, or why not.
fn existing(
    group: &Group,
    members: &[Option<Arc<Calendar>>],
    id: u64,
) -> Result<GroupBooking, Error> {
    find(group, members, id).ok_or_else(|| {
        Error::new(
            Kind::NotFound,
            std::format!("group {:?} has no booking {id}", group.id()),
        )
    })
}

/// The members that hold a part of `booking`, each with its part.
fn holders<'a>(
    members: &'a [Option<Arc<Calendar>>],
    booking: &GroupBooking,
) -> Vec<(&'a Calendar, Arc<Booking>)> {
    let mut out = Vec::with_capacity(booking.parts.len());
    for calendar in members.iter().flatten() {
        if let Some((_, part)) = booking.parts.iter().find(|(id, _)| id == calendar.id()) {
            out.push((&**calendar, Arc::clone(part)));
        }
    }
    out
}

/// Cancels every remaining part of group booking `id` of `group`.
///
/// # Errors
///
/// [`Error::is_not_found`] when no part of it remains; the authority's errors when `by` no
/// longer covers it.
pub fn cancel(
    group: &Group,
    members: &[Option<Arc<Calendar>>],
    id: u64,
    (by, admin_keys): (&Authority, &[KeyHash]),
    cutoff: i64,
) -> Result<Decided, Error> {
    by.check(None, admin_keys)?;
    let booking = existing(group, members, id)?;
    let mut out = Vec::new();
    for (calendar, part) in holders(members, &booking) {
        let mut member = Member::new(calendar, cutoff);
        member.dated.cancel(part.id());
        out.push(member.finish()?);
    }
    Ok(Decided {
        calendars: out,
        booking,
        cancelled: true,
    })
}

/// Moves every remaining part of group booking `id` of `group` to start at `start`, in one
/// write: the group's rules (its own other bookings counted) and each holder's are checked
/// for the new span without the part it holds now.
///
/// # Errors
///
/// As [`book`] for the new span; [`Error::is_not_found`] when no part remains.
pub fn reschedule(
    group: &Group,
    members: &[Option<Arc<Calendar>>],
    id: u64,
    start: i64,
    now: i64,
    (by, admin_keys): (&Authority, &[KeyHash]),
    cutoff: i64,
) -> Result<Decided, Error> {
    by.check(None, admin_keys)?;
    let old = existing(group, members, id)?;
    let name = old.booking_type.as_str();
    let ty = group_type(group, name)?;
    let (start, end) = ty.rules.span(start);
    group_rules(group, members, name, ty, start, now, Some(id))?;
    let mut out = Vec::new();
    let mut parts = Vec::new();
    for (calendar, part) in holders(members, &old) {
        let mut member = Member::new(calendar, cutoff);
        member.dated.cancel(part.id());
        if let Some(rule) = member.refusal(&ty.rules, start) {
            return Err(refused(rule, Some(calendar.id()), name));
        }
        let mut claim = part.claim();
        claim.start = start;
        claim.end = end;
        let moved = member.dated.rebook(
            member.zone,
            &calendar.week(),
            &claim,
            part.id(),
            part.created_unix_ms(),
        )?;
        parts.push((String::from(calendar.id()), moved));
        out.push(member.finish()?);
    }
    Ok(Decided {
        calendars: out,
        booking: GroupBooking {
            start,
            end,
            parts,
            ..old
        },
        cancelled: false,
    })
}

/// The record of a decided write to a group booking of group `group`.
pub(super) fn record_of(group: &str, decided: &Decided) -> GroupWrite {
    let b = &decided.booking;
    let parts = decided
        .calendars
        .iter()
        .zip(&decided.booking.parts)
        .map(|(calendar, (_, part))| {
            (
                RecordOwner {
                    id: String::from(calendar.id()),
                    incarnation: calendar.incarnation(),
                    version: calendar.version(),
                },
                part.id().0,
            )
        })
        .collect();
    GroupWrite {
        group: GroupRef {
            group: String::from(group),
            id: b.id,
        },
        span: (!decided.cancelled).then(|| GroupSpan {
            start: b.start,
            end: b.end,
            created_ms: b.created_ms,
            key_id: b
                .parts
                .first()
                .and_then(|(_, p)| p.key_id().map(String::from)),
            label: b.label.clone(),
            booking_type: b.booking_type.clone(),
        }),
        parts,
    }
}
