//! The rules that decide a write, as functions of the state it is checked against: the
//! store applies them under its writer lock to what it has published, and a backend that keeps
//! the calendars elsewhere (a database) applies the same functions to what it read inside its
//! transaction. A function here changes nothing: it returns the next state, or why there is
//! none.
//!
//! ```
//! use availability_core::store::decide::{self, Parts};
//! use availability_core::store::{Calendar, Change, Expected};
//! use availability_core::dated::Dated;
//! use availability_core::{Batch, Week};
//!
//! // As a database backend would: a calendar rebuilt from the rows read in the transaction.
//! let parts = Parts::new("room-1", "Europe/Paris", 7);
//! let current = Calendar::from_parts(parts, Dated::new())?;
//! let next = decide::change(&current, &Expected::from(Some(1)), &[], &Change::Replace(
//!     Batch::from(Vec::new()),
//! ))?;
//! assert_eq!(next.version(), 2);
//! assert_eq!(next.incarnation(), 7);
//! // A stale `If-Match` is refused with the store's own error.
//! let stale = decide::change(&next, &Expected::from(Some(1)), &[], &Change::SetBookingPublic(true));
//! assert!(stale.unwrap_err().is_version_mismatch());
//! # Ok::<(), availability_core::Error>(())
//! ```

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use chrono::NaiveDate;

use super::calendar::{add_key, new_calendar, next_state, next_version, remove_key, shared_dated};
use super::calendar::{Calendar, Change};
pub use super::calendars::batch_creation;
use super::checked::{check_id, check_zone_name, KeyHash};
use super::expect::{Authority, Expected};
use super::format::types::Types;
use super::format::{shared_zone, CalendarRecord};
use super::groups::{Group, GroupType};
use super::journal_format::{self, Answer};
use super::open::zone_or_utc;
use crate::dated::{Booking, BookingId, Claim, Dated, DayOverride};
use crate::error::{Error, Kind};
use crate::slots::{self, BookingType, Offer, Owner};
use crate::week::Week;

/// A calendar's own fields, as a backend that keeps them elsewhere reads them back
/// ([`Calendar::from_parts`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parts {
    /// The id, `[a-z0-9][a-z0-9-]{0,62}`.
    pub id: String,
    /// The owner's zone name.
    pub zone: String,
    /// The recurring week.
    pub week: Week,
    /// The version: every change, dated ones included, adds one.
    pub version: u64,
    /// Which calendar of this id it is: a calendar deleted and created again gets a new one.
    pub incarnation: u64,
    /// When it last changed, in milliseconds since the Unix epoch.
    pub changed_at_ms: i64,
    /// The key hashes.
    pub keys: Vec<KeyHash>,
    /// Whether anyone may book.
    pub booking_public: bool,
    /// The booking types, by name.
    pub booking_types: Vec<(String, BookingType)>,
}

impl Parts {
    /// A new calendar's fields: every slot unavailable, version 1, no keys, changed now.
    pub fn new(id: &str, zone: &str, incarnation: u64) -> Parts {
        Parts::of(&new_calendar(id, zone, Vec::new(), incarnation))
    }

    fn of(record: &CalendarRecord) -> Parts {
        Parts {
            id: String::from(&*record.id),
            zone: String::from(&*record.zone),
            week: record.week,
            version: record.version,
            incarnation: record.incarnation,
            changed_at_ms: record.changed_at_ms,
            keys: record.keys.clone(),
            booking_public: record.booking_public,
            booking_types: record
                .types
                .iter()
                .map(|(name, t)| (String::from(&**name), t.clone()))
                .collect(),
        }
    }
}

impl Calendar {
    /// A calendar from its fields and its dated data, as a backend that keeps them elsewhere
    /// read them. The version is `parts.version`, which counts dated writes too.
    ///
    /// # Errors
    ///
    /// [`Error::is_parse`] for an id or zone name the store would refuse, version 0, or
    /// keys a record cannot hold (a repeated id, more than 16).
    pub fn from_parts(parts: Parts, dated: Dated) -> Result<Calendar, Error> {
        check_id(&parts.id)?;
        check_zone_name(&parts.zone)?;
        if parts.version == 0 {
            return Err(Error::new(Kind::Parse, "calendar versions start at 1"));
        }
        let whose = std::format!("calendar {:?}", parts.id);
        let mut keys = Vec::with_capacity(parts.keys.len());
        for key in parts.keys {
            add_key(&mut keys, key, &whose).map_err(|e| Error::new(Kind::Parse, e.to_string()))?;
        }
        let record = CalendarRecord {
            id: Arc::from(parts.id.as_str()),
            zone: shared_zone(&parts.zone),
            week: parts.week,
            version: parts.version,
            changed_at_ms: parts.changed_at_ms,
            keys,
            incarnation: parts.incarnation,
            booking_public: parts.booking_public,
            types: checked_types(parts.booking_types)?,
        };
        Ok(Calendar {
            version: parts.version,
            record: Arc::new(record),
            dated: shared_dated(dated),
        })
    }

    /// The calendar's own fields (all but its dated data), as [`Calendar::from_parts`]
    /// takes them; the version is the calendar's.
    pub fn parts(&self) -> Parts {
        let mut parts = Parts::of(&self.record);
        parts.version = self.version;
        parts
    }
}

/// Booking types as a record holds them: each checked, by name, no name twice, at most
/// [`MAX_TYPES`](crate::slots::MAX_TYPES).
fn checked_types(mut types: Vec<(String, BookingType)>) -> Result<Types, Error> {
    types.sort_by(|a, b| a.0.cmp(&b.0));
    if types.len() > crate::slots::MAX_TYPES || types.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(Error::new(
            Kind::Parse,
            "booking types: more than the most a calendar has, or a name twice",
        ));
    }
    for (name, t) in &types {
        crate::slots::check_name(name)?;
        t.check()?;
    }
    Ok(types
        .into_iter()
        .map(|(name, t)| (Box::from(name), t))
        .collect())
}

/// A new calendar `id` in `zone` with `keys` and `incarnation`, if `by` may create one given
/// the stored `admin_keys`. Whether the id is free is the caller's to check.
///
/// # Errors
///
/// As [`Store::create`](super::Store::create), but for the id being taken.
pub fn creation(
    id: &str,
    zone: &str,
    keys: Vec<KeyHash>,
    incarnation: u64,
    by: &Authority,
    admin_keys: &[KeyHash],
) -> Result<Calendar, Error> {
    check_id(id)?;
    check_zone_name(zone)?;
    let mut checked = Vec::with_capacity(keys.len());
    for key in keys {
        add_key(&mut checked, key, "new calendars")?;
    }
    by.check(None, admin_keys)?;
    let record = new_calendar(id, zone, checked, incarnation);
    Ok(Calendar {
        version: record.version,
        record: Arc::new(record),
        dated: shared_dated(Dated::new()),
    })
}

/// Checks that `expected` still holds for `current` (and the stored `admin_keys`): the
/// incarnation, then the authority, then the version.
///
/// # Errors
///
/// As [`Store::commit`](super::Store::commit) for these checks.
pub fn expected(
    expected: &Expected,
    current: &Calendar,
    admin_keys: &[KeyHash],
) -> Result<(), Error> {
    expected.check(current.id(), current, admin_keys)
}

/// The state after `change` to `current`, if `expected` holds.
///
/// # Errors
///
/// As [`Store::commit`](super::Store::commit), but for I/O.
pub fn change(
    current: &Calendar,
    expected: &Expected,
    admin_keys: &[KeyHash],
    change: &Change,
) -> Result<Calendar, Error> {
    expected.check(current.id(), current, admin_keys)?;
    let record = next_state(current, change)?;
    let dated = match change {
        // Bookings keep their real spans: in the new zone they claim other owner slots.
        Change::SetZone(zone) if !current.dated.is_empty() => {
            Arc::new(current.dated.rezone(zone_or_utc(zone))?)
        }
        _ => Arc::clone(&current.dated),
    };
    Ok(Calendar {
        version: record.version,
        record: Arc::new(record),
        dated,
    })
}

/// One write of dated data.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DatedWrite<'a> {
    /// Sets an owner date's slots ([`Store::set_override`](super::Store::set_override)).
    SetOverride(NaiveDate, DayOverride),
    /// Removes an owner date's override.
    ClearOverride(NaiveDate),
    /// Books a span ([`Store::book`](super::Store::book)), as of `now` (seconds).
    Book {
        /// The span, label and key.
        claim: &'a Claim,
        /// Now, in seconds since the Unix epoch.
        now: i64,
    },
    /// Cancels a booking.
    Cancel(BookingId),
    /// Moves a booking ([`Store::reschedule`](super::Store::reschedule)) to start at `start`,
    /// as of `now` (seconds): a typed booking keeps its type's duration and rules, an
    /// untyped one ends at `end` (or keeps its length).
    Move {
        /// The booking.
        booking: BookingId,
        /// The new start, in seconds since the Unix epoch.
        start: i64,
        /// The new end, for a booking without a type.
        end: Option<i64>,
        /// Now, in seconds since the Unix epoch.
        now: i64,
    },
}

/// The state after a dated write to `current` (first pruned of what ended before `cutoff`,
/// seconds), if `expected` holds, and the booking made or cancelled.
///
/// # Errors
///
/// As the store's method of the same write, but for I/O.
pub fn dated(
    current: &Calendar,
    expected: &Expected,
    admin_keys: &[KeyHash],
    write: &DatedWrite<'_>,
    cutoff: i64,
) -> Result<(Calendar, Option<Arc<Booking>>), Error> {
    expected.check(current.id(), current, admin_keys)?;
    let version = next_version(current)?;
    let mut dated = (*current.dated).clone();
    let zone = zone_or_utc(current.zone());
    dated.compact_before(zone, cutoff);
    let booking = apply_dated(current, &mut dated, write)?;
    Ok((
        Calendar {
            record: Arc::clone(&current.record),
            version,
            dated: Arc::new(dated),
        },
        booking,
    ))
}

/// Applies `write` to `dated`, the next dated state of `current`.
pub(super) fn apply_dated(
    current: &Calendar,
    dated: &mut Dated,
    write: &DatedWrite<'_>,
) -> Result<Option<Arc<Booking>>, Error> {
    match write {
        DatedWrite::SetOverride(date, day) => {
            dated.set_override(*date, *day)?;
            Ok(None)
        }
        DatedWrite::ClearOverride(date) => {
            if dated.remove_override(*date) {
                Ok(None)
            } else {
                Err(Error::new(
                    Kind::NotFound,
                    std::format!("calendar {:?} has no override on {date}", current.id()),
                ))
            }
        }
        DatedWrite::Book { claim, now } => {
            let zone = zone_or_utc(current.zone());
            typed_rules(current, dated, claim, *now)?;
            dated.claim(zone, &current.week(), claim, *now).map(Some)
        }
        DatedWrite::Move {
            booking,
            start,
            end,
            now,
        } => {
            let zone = zone_or_utc(current.zone());
            let old = dated
                .cancel(*booking)
                .ok_or_else(|| no_booking(current, *booking))?;
            if let Some(part) = old.group() {
                return Err(Error::new(
                    Kind::InvalidSpan,
                    std::format!(
                        "booking {booking} is part of booking {} of group {:?}: it moves with \
                         the group (PATCH /groups/{}/bookings/{})",
                        part.id,
                        part.group,
                        part.group,
                        part.id
                    ),
                ));
            }
            let mut claim = old.claim();
            if claim
                .booking_type
                .as_deref()
                .is_some_and(|name| current.booking_type(name).is_none())
            {
                // Its type is gone: it moves as a booking of its own length.
                claim.booking_type = None;
            }
            claim.start = *start;
            claim.end = match (&claim.booking_type, end) {
                (Some(name), _) => current
                    .booking_type(name)
                    .map_or(*start, |rules| rules.span(*start).1),
                (None, Some(end)) => *end,
                (None, None) => start.saturating_add(old.end() - old.start()),
            };
            if let (Some(name), Some(end)) = (&claim.booking_type, end) {
                if *end != claim.end {
                    return Err(Error::new(
                        Kind::InvalidSpan,
                        std::format!(
                            "a booking of type {name:?} lasts as long as its type says: give \
                             only its new start"
                        ),
                    ));
                }
            }
            if claim.booking_type.is_none() {
                claim.check(*now)?;
            }
            typed_rules(current, dated, &claim, *now)?;
            dated
                .rebook(
                    zone,
                    &current.week(),
                    &claim,
                    old.id(),
                    old.created_unix_ms(),
                )
                .map(Some)
        }
        DatedWrite::Cancel(booking) => dated
            .cancel(*booking)
            .map(Some)
            .ok_or_else(|| no_booking(current, *booking)),
    }
}

#[cold]
fn no_booking(current: &Calendar, booking: BookingId) -> Error {
    Error::new(
        Kind::NotFound,
        std::format!("calendar {:?} has no booking {booking}", current.id()),
    )
}

/// For a claim made by a booking type: checks that the type exists, that the span is the
/// type's, and every rule of the type against `dated` (without the claim), as of `now`.
fn typed_rules(current: &Calendar, dated: &Dated, claim: &Claim, now: i64) -> Result<(), Error> {
    let Some(name) = claim.booking_type.as_deref() else {
        return Ok(());
    };
    let rules = current.booking_type(name).ok_or_else(|| {
        Error::new(
            Kind::NotFound,
            std::format!("calendar {:?} has no booking type {name:?}", current.id()),
        )
    })?;
    if rules.span(claim.start) != (claim.start, claim.end) {
        return Err(Error::new(
            Kind::InvalidSpan,
            std::format!(
                "a booking of type {name:?} lasts {} minutes",
                rules.duration
            ),
        ));
    }
    let owner = Owner {
        pattern: &current.week(),
        dated,
        zone: zone_or_utc(current.zone()),
    };
    // The type's rules first, so that a start in the past is refused by the notice, as the
    // slots answer leaves it out; then what else a claim must be (its label).
    slots::check(&owner, &Offer { name, rules, now }, claim.start)?;
    claim.check(now)
}

/// Checks that `by` may make a write that needs an admin key (a group's), given the stored
/// `admin_keys`.
///
/// # Errors
///
/// [`Error::is_unauthorized`] when `by` was revoked, [`Error::is_forbidden`] when it is not an
/// admin key.
pub fn admin_write(by: &Authority, admin_keys: &[KeyHash]) -> Result<(), Error> {
    by.check(None, admin_keys)
}

/// Whether `by` may make or remove a webhook endpoint: one made with a key of a calendar
/// (`owner`: the calendar as it stands under its lock, and the incarnation the endpoint
/// names) needs that calendar to still be that incarnation and `by` to still cover a write to
/// it; any other needs an admin key. As the store file's
/// [`Store::create_webhook`](super::Store::create_webhook) checks.
///
/// # Errors
///
/// [`Error::is_not_found`] when the owner is another incarnation; [`Error::is_unauthorized`]
/// / [`Error::is_forbidden`] when `by` no longer covers the write.
pub fn webhook_write(
    by: &Authority,
    owner: Option<(&Calendar, u64)>,
    admin_keys: &[KeyHash],
) -> Result<(), Error> {
    match owner {
        Some((calendar, incarnation)) => {
            if calendar.incarnation() != incarnation {
                return Err(super::calendar::not_found(calendar.id()));
            }
            by.check(Some(calendar), admin_keys)
        }
        None => by.check(None, admin_keys),
    }
}

/// The admin keys after adding `key` to `current`, if `by` may.
///
/// # Errors
///
/// As [`Store::add_admin_key`](super::Store::add_admin_key), but for I/O.
pub fn admin_key_added(
    current: &[KeyHash],
    key: KeyHash,
    by: &Authority,
) -> Result<Vec<KeyHash>, Error> {
    by.check(None, current)?;
    let mut keys = current.to_vec();
    add_key(&mut keys, key, "the admin keys")?;
    Ok(keys)
}

/// The admin keys after removing `key_id` from `current`, if `by` may; with `keep_one`, never
/// none.
///
/// # Errors
///
/// As [`Store::revoke_admin_key`](super::Store::revoke_admin_key), but for I/O.
pub fn admin_key_revoked(
    current: &[KeyHash],
    key_id: &str,
    by: &Authority,
    keep_one: bool,
) -> Result<Vec<KeyHash>, Error> {
    by.check(None, current)?;
    let mut keys = current.to_vec();
    remove_key(&mut keys, key_id, "the admin keys")?;
    if keep_one && keys.is_empty() {
        return Err(Error::new(
            Kind::LastAdminKey,
            std::format!(
                "admin key {key_id:?} is the last admin key: add another before removing \
                 it, or nobody could administer the server"
            ),
        ));
    }
    Ok(keys)
}

/// The group `id` of `members`, if they make one and `by` may write it.
///
/// # Errors
///
/// As [`Store::put_group`](super::Store::put_group), but for I/O.
pub fn group(
    id: &str,
    members: Vec<String>,
    by: &Authority,
    admin_keys: &[KeyHash],
    current: Option<&Group>,
) -> Result<Group, Error> {
    check_id(id)?;
    if members.is_empty() || members.len() > journal_format::MAX_GROUP {
        return Err(Error::new(
            Kind::Parse,
            std::format!(
                "a group has 1 to {} members; this one has {}",
                journal_format::MAX_GROUP,
                members.len()
            ),
        ));
    }
    let mut seen = std::collections::HashSet::with_capacity(members.len());
    for member in &members {
        check_id(member)?;
        if !seen.insert(member.as_str()) {
            return Err(Error::new(
                Kind::Parse,
                std::format!("calendar {member:?} is named twice; name each member once"),
            ));
        }
    }
    by.check(None, admin_keys)?;
    let types = current.map(|g| {
        g.booking_types()
            .map(|(name, t)| (String::from(name), t.clone()))
            .collect()
    });
    Ok(Group::with_types(
        String::from(id),
        members,
        types.unwrap_or_default(),
    ))
}

/// The group `current` with its booking type `name` set to `ty` (or removed, `None`), if
/// `by` may.
///
/// # Errors
///
/// As [`Store::put_group_type`](super::Store::put_group_type), but for I/O.
pub fn group_type(
    current: &Group,
    name: &str,
    ty: Option<GroupType>,
    by: &Authority,
    admin_keys: &[KeyHash],
) -> Result<Group, Error> {
    slots::check_name(name)?;
    by.check(None, admin_keys)?;
    match &ty {
        Some(t) => {
            t.rules.check()?;
            if check_zone_name(&t.zone).is_err() || crate::tz::Zone::new(&t.zone).is_err() {
                return Err(Error::invalid_field(
                    Kind::InvalidBookingType,
                    "timezone",
                    std::format!(
                        "`timezone` must name a zone of the time-zone database, not {:?}",
                        crate::error::Truncated(&t.zone)
                    ),
                ));
            }
            if current.booking_type(name).is_none()
                && current.booking_types().len() >= slots::MAX_TYPES
            {
                return Err(Error::new(
                    Kind::Capacity,
                    std::format!(
                        "group {:?} already has {} booking types, the most a group has; \
                         remove one first",
                        current.id(),
                        slots::MAX_TYPES
                    ),
                ));
            }
        }
        None if current.booking_type(name).is_none() => {
            return Err(Error::new(
                Kind::NotFound,
                std::format!("group {:?} has no booking type {name:?}", current.id()),
            ));
        }
        None => {}
    }
    Ok(current.with_type(name, ty))
}

/// Checks an idempotency key and the response to keep for it
/// ([`Store::remember`](super::Store::remember)).
///
/// # Errors
///
/// As [`Store::remember`](super::Store::remember), but for I/O.
pub fn remembered(key: &super::IdempotencyKey, answer: &Answer) -> Result<(), Error> {
    key.check()?;
    match answer {
        Answer::Response { status, body, .. }
            if body.len() <= journal_format::MAX_ANSWER && (100..=599).contains(status) =>
        {
            Ok(())
        }
        _ => Err(Error::new(
            Kind::Parse,
            "a remembered answer is a response, with a status from 100 to 599 and at most 64 \
             KiB of body",
        )),
    }
}
