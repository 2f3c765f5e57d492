//! A calendar's value and the rules for changing it: its pattern, owner zone, keys and
//! versions. The strings it holds are checked by `checked`.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use std::format;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloc::sync::Arc;

use super::checked::{check_key_id, check_zone_name, now_ms, KeyHash, MAX_KEYS};
use super::format::{shared_zone, CalendarRecord};
use crate::batch::Batch;
use crate::dated::Dated;
use crate::error::{Error, Kind};
use crate::slots::{check_name, BookingType, MAX_TYPES};
use crate::week::Week;

/// The calendar every store has from its first open.
pub const DEFAULT_CALENDAR: &str = "default";
/// The owner zone of the `default` calendar.
pub const DEFAULT_ZONE: &str = "UTC";

/// A calendar's state at one version: immutable, shared by `Arc`.
///
/// Its pattern, zone and keys live in the store file; its dated data (overrides and
/// bookings) in the journal beside it. The version counts the changes to both.
#[derive(Clone, PartialEq, Eq)]
pub struct Calendar {
    /// The last calendar record written (shared with the log's index of what is live): a
    /// dated write changes the version, not the record.
    pub(super) record: Arc<CalendarRecord>,
    /// The version, at least the record's: dated writes count too.
    pub(super) version: u64,
    /// The overrides and bookings.
    pub(super) dated: Arc<Dated>,
}

impl Calendar {
    /// The calendar's id, `[a-z0-9][a-z0-9-]{0,62}`.
    pub fn id(&self) -> &str {
        &self.record.id
    }

    /// The id, as the store keeps it: an index of calendars shares it instead of a copy.
    pub fn shared_id(&self) -> Arc<str> {
        Arc::clone(&self.record.id)
    }

    /// The owner's time zone (an IANA name); the week is wall-clock time there.
    pub fn zone(&self) -> &str {
        &self.record.zone
    }

    /// The week, in the owner's wall-clock time.
    pub fn week(&self) -> Week {
        self.record.week
    }

    /// The version: 1 when created, one more for every committed change (to the pattern,
    /// the zone, the keys, an override or a booking).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Which creation of a calendar with this id this is: unique for the store's life, so
    /// that a calendar deleted and created again is told apart from the old one (an
    /// entity tag made of the incarnation and the version never repeats).
    pub fn incarnation(&self) -> u64 {
        self.record.incarnation
    }

    /// The incarnation and the version together: they never repeat for an id, also across
    /// deletion and re-creation, so they make an entity tag.
    pub fn state(&self) -> (u64, u64) {
        (self.record.incarnation, self.version)
    }

    /// Whether anyone may book the calendar (`"booking": "public"`); otherwise a key is
    /// needed.
    pub fn booking_public(&self) -> bool {
        self.record.booking_public
    }

    /// The calendar's overrides and bookings.
    pub fn dated(&self) -> &Dated {
        &self.dated
    }

    /// When the last change was committed, in milliseconds since the Unix epoch.
    pub fn changed_at_unix_ms(&self) -> i64 {
        self.record.changed_at_ms
    }

    /// When the last change was committed.
    pub fn changed_at(&self) -> SystemTime {
        let ms = self.record.changed_at_ms;
        let offset = Duration::from_millis(ms.unsigned_abs());
        let time = if ms >= 0 {
            UNIX_EPOCH.checked_add(offset)
        } else {
            UNIX_EPOCH.checked_sub(offset)
        };
        time.unwrap_or(UNIX_EPOCH)
    }

    /// The booking types, by name.
    pub fn booking_types(&self) -> impl ExactSizeIterator<Item = (&str, &BookingType)> + '_ {
        self.record.types.iter().map(|(name, t)| (&**name, t))
    }

    /// The booking type named `name`.
    pub fn booking_type(&self, name: &str) -> Option<&BookingType> {
        let types = &self.record.types;
        let at = types.binary_search_by(|(n, _)| (**n).cmp(name)).ok()?;
        Some(&types[at].1)
    }

    /// The hashes of the calendar's keys.
    pub fn keys(&self) -> &[KeyHash] {
        &self.record.keys
    }

    /// The hash of the key with id `key_id`.
    pub fn key(&self, key_id: &str) -> Option<&KeyHash> {
        self.record.keys.iter().find(|k| k.id() == key_id)
    }
}

impl fmt::Debug for Calendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Key hashes stay out of logs.
        f.debug_struct("Calendar")
            .field("id", &self.record.id)
            .field("zone", &self.record.zone)
            .field("version", &self.version)
            .field("changed_at_unix_ms", &self.record.changed_at_ms)
            .field("keys", &self.record.keys.len())
            .field("week", &self.record.week)
            .field("dated", &self.dated)
            .finish()
    }
}

/// One change to a calendar, committed by [`Store::commit`](super::Store::commit).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// Applies a batch of edits to the current week (HTTP `PATCH`).
    Apply(Batch),
    /// Replaces the week: the batch's slots get their statuses, every other slot is
    /// unavailable (HTTP `PUT`).
    Replace(Batch),
    /// Replaces the week with this one (a version of its history made current again).
    SetWeek(Week),
    /// Sets the owner's time zone; the stored wall-clock week stays as written.
    SetZone(String),
    /// Adds a key hash; its id must be new to the calendar.
    AddKey(KeyHash),
    /// Removes the key with this id.
    RemoveKey(String),
    /// Whether anyone may book (`true`) or only key holders (`false`).
    SetBookingPublic(bool),
    /// Adds the booking type of this name, or replaces it (bookings made by it stay).
    SetBookingType(String, BookingType),
    /// Removes the booking type of this name (bookings made by it stay).
    RemoveBookingType(String),
}

/// The `default` calendar of a new file: its first record, sequence number 1, which is its
/// incarnation.
pub(super) fn default_calendar() -> CalendarRecord {
    new_calendar(DEFAULT_CALENDAR, DEFAULT_ZONE, Vec::new(), 1)
}

/// The incarnation of a calendar of a format version 1 file, in slot `slot` with the
/// sequence number `seq` (as version 2 gave it, and as migration keeps it).
pub(super) fn incarnation(slot: u32, seq: u64) -> u64 {
    (u64::from(slot) << 40) | (seq & ((1 << 40) - 1))
}

/// A new calendar: every slot unavailable, version 1. The caller has checked its parts.
pub(super) fn new_calendar(
    id: &str,
    zone: &str,
    keys: Vec<KeyHash>,
    incarnation: u64,
) -> CalendarRecord {
    CalendarRecord {
        id: Arc::from(id),
        zone: shared_zone(zone),
        week: Week::UNAVAILABLE,
        version: 1,
        changed_at_ms: now_ms(),
        keys,
        incarnation,
        booking_public: false,
        types: Box::default(),
    }
}

/// The next state of a calendar after `change`: one version more, the time of the change
/// never earlier than the last one (even if the clock runs backwards). On error nothing was
/// changed.
pub(super) fn next_state(current: &Calendar, change: &Change) -> Result<CalendarRecord, Error> {
    let mut record = CalendarRecord::clone(&current.record);
    apply(&mut record, change)?;
    record.version = next_version(current)?;
    record.changed_at_ms = now_ms().max(current.record.changed_at_ms);
    Ok(record)
}

/// The version after `current`'s.
pub(super) fn next_version(current: &Calendar) -> Result<u64, Error> {
    current.version.checked_add(1).ok_or_else(|| {
        Error::new(
            Kind::Capacity,
            format!(
                "calendar {:?} has reached the last version number",
                current.record.id
            ),
        )
    })
}

/// Applies `change` to a copy of a calendar; on error the copy is discarded by the caller.
fn apply(record: &mut CalendarRecord, change: &Change) -> Result<(), Error> {
    match change {
        Change::Apply(batch) => record.week = batch.apply(&record.week)?,
        Change::Replace(batch) => record.week = batch.apply_replacing()?,
        Change::SetWeek(week) => record.week = *week,
        Change::SetZone(zone) => {
            check_zone_name(zone)?;
            record.zone = shared_zone(zone);
        }
        Change::AddKey(key) => {
            let whose = format!("calendar {:?}", record.id);
            add_key(&mut record.keys, key.clone(), &whose)?;
        }
        Change::RemoveKey(key_id) => {
            let whose = format!("calendar {:?}", record.id);
            remove_key(&mut record.keys, key_id, &whose)?;
        }
        Change::SetBookingPublic(public) => record.booking_public = *public,
        Change::SetBookingType(name, rules) => {
            check_name(name)?;
            rules.check()?;
            let mut types: Vec<(Box<str>, BookingType)> = record.types.to_vec();
            match types.binary_search_by(|(n, _)| (**n).cmp(name.as_str())) {
                Ok(at) => types[at].1 = rules.clone(),
                Err(_) if types.len() >= MAX_TYPES => {
                    return Err(Error::new(
                        Kind::Capacity,
                        format!(
                            "calendar {:?} already has {MAX_TYPES} booking types, the most a \
                             calendar has; remove one first",
                            record.id
                        ),
                    ))
                }
                Err(at) => types.insert(at, (Box::from(name.as_str()), rules.clone())),
            }
            record.types = types.into_boxed_slice();
        }
        Change::RemoveBookingType(name) => {
            let before = record.types.len();
            let types: Vec<(Box<str>, BookingType)> = record
                .types
                .iter()
                .filter(|(n, _)| **n != **name)
                .cloned()
                .collect();
            if types.len() == before {
                return Err(Error::new(
                    Kind::NotFound,
                    format!("calendar {:?} has no booking type {name:?}", record.id),
                ));
            }
            record.types = types.into_boxed_slice();
        }
    }
    Ok(())
}

/// Adds `key` to `keys` (those of `whose`), refusing a duplicate id or a 17th key.
pub(super) fn add_key(keys: &mut Vec<KeyHash>, key: KeyHash, whose: &str) -> Result<(), Error> {
    if keys.iter().any(|k| k.id() == key.id()) {
        return Err(Error::new(
            Kind::AlreadyExists,
            format!("{whose} already have a key with id {:?}", key.id()),
        ));
    }
    if keys.len() >= MAX_KEYS {
        return Err(Error::new(
            Kind::Capacity,
            format!(
                "{whose} already have {MAX_KEYS} keys, the most a record holds; remove one first"
            ),
        ));
    }
    keys.push(key);
    Ok(())
}

/// Removes the key with id `key_id` from `keys` (those of `whose`).
pub(super) fn remove_key(keys: &mut Vec<KeyHash>, key_id: &str, whose: &str) -> Result<(), Error> {
    check_key_id(key_id)?;
    let before = keys.len();
    keys.retain(|k| k.id() != key_id);
    if keys.len() == before {
        return Err(Error::new(
            Kind::NotFound,
            format!("{whose} have no key with id {key_id:?}"),
        ));
    }
    Ok(())
}

#[cold]
pub(super) fn not_found(id: &str) -> Error {
    Error::new(Kind::NotFound, format!("no calendar {id:?}"))
}

#[cold]
pub(super) fn version_mismatch(id: &str, expected: u64, current: u64) -> Error {
    Error::new(
        Kind::VersionMismatch,
        format!(
            "calendar {id:?} is at version {current}, not {expected}: it changed since it was \
             read; read it again and retry"
        ),
    )
}

/// `dated` behind an `Arc`, shared by every calendar that has no dated data: most calendars of
/// a large store have none, and a copy each would cost more than their record.
pub(super) fn shared_dated(dated: Dated) -> Arc<Dated> {
    static EMPTY: std::sync::OnceLock<Arc<Dated>> = std::sync::OnceLock::new();
    let empty = EMPTY.get_or_init(|| Arc::new(Dated::new()));
    if dated == **empty {
        Arc::clone(empty)
    } else {
        Arc::new(dated)
    }
}
