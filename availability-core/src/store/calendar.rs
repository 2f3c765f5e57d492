//! A calendar's value and the rules for changing it: ids, owner zones and keys.
//!
//! Every string that reaches a record is checked here, on the way in (the API) and on the way
//! back (decoding a file), so a file can never hold what the API would refuse.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use std::format;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloc::sync::Arc;

use super::format::{
    CalendarRecord, MAX_ID, MAX_KEYS, MAX_KEY_HASH, MAX_KEY_ID, MAX_KEY_LABEL, MAX_ZONE,
};
use crate::batch::Batch;
use crate::dated::Dated;
use crate::error::{Error, Kind};
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
    pub(super) record: CalendarRecord,
    /// The overrides and bookings.
    pub(super) dated: Arc<Dated>,
}

impl Calendar {
    /// The calendar's id, `[a-z0-9][a-z0-9-]{0,62}`.
    pub fn id(&self) -> &str {
        &self.record.id
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
        self.record.version
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
        (self.record.incarnation, self.record.version)
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
            .field("version", &self.record.version)
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
    /// Sets the owner's time zone; the stored wall-clock week stays as written.
    SetZone(String),
    /// Adds a key hash; its id must be new to the calendar.
    AddKey(KeyHash),
    /// Removes the key with this id.
    RemoveKey(String),
    /// Whether anyone may book (`true`) or only key holders (`false`).
    SetBookingPublic(bool),
}

/// What a calendar key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum KeyScope {
    /// Everything on its calendar: the week, the zone, keys, overrides, bookings.
    #[default]
    Write = 1,
    /// Create bookings and cancel its own; nothing else.
    Book = 2,
}

impl KeyScope {
    pub(crate) fn from_byte(byte: u8) -> Option<KeyScope> {
        match byte {
            1 => Some(KeyScope::Write),
            2 => Some(KeyScope::Book),
            _ => None,
        }
    }

    /// `write` or `book`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::Write => "write",
            KeyScope::Book => "book",
        }
    }
}

/// A key's id and its (bcrypt) hash, with what it may do, a label and when it was made. The
/// store never sees the key itself.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyHash {
    id: String,
    hash: String,
    scope: KeyScope,
    label: Option<String>,
    created_ms: i64,
}

impl KeyHash {
    /// A key id and hash.
    ///
    /// # Errors
    ///
    /// [`Error::is_parse`] when the id is not 1 to 32 characters of `[A-Za-z0-9_-]`, or the
    /// hash is not 1 to 100 printable ASCII characters (a bcrypt hash is 60).
    pub fn new(id: impl Into<String>, hash: impl Into<String>) -> Result<KeyHash, Error> {
        let (id, hash) = (id.into(), hash.into());
        check_key_id(&id)?;
        if hash.is_empty()
            || hash.len() > MAX_KEY_HASH
            || !hash.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(Error::new(
                Kind::Parse,
                format!(
                    "invalid key hash for key {id:?}: it must be 1 to {MAX_KEY_HASH} printable \
                     ASCII characters (a bcrypt hash such as \"$2b$12$...\")"
                ),
            ));
        }
        Ok(KeyHash {
            id,
            hash,
            scope: KeyScope::Write,
            label: None,
            created_ms: now_ms(),
        })
    }

    /// The same key with scope `scope` (a new key's is [`KeyScope::Write`]).
    #[must_use]
    pub fn with_scope(mut self, scope: KeyScope) -> KeyHash {
        self.scope = scope;
        self
    }

    /// The same key with a label for the people who manage keys.
    ///
    /// # Errors
    ///
    /// [`Error::is_parse`] for a label that is empty, longer than 64 bytes or holds control
    /// characters.
    pub fn with_label(mut self, label: impl Into<String>) -> Result<KeyHash, Error> {
        let label = label.into();
        if label.is_empty() || label.len() > MAX_KEY_LABEL || label.chars().any(char::is_control) {
            return Err(Error::new(
                Kind::Parse,
                format!(
                    "invalid key label: it must be 1 to {MAX_KEY_LABEL} bytes of text without \
                     control characters"
                ),
            ));
        }
        self.label = Some(label);
        Ok(self)
    }

    /// The same key, made at `created_ms` (milliseconds since the Unix epoch; 0 when unknown).
    #[must_use]
    pub fn created_at(mut self, created_ms: i64) -> KeyHash {
        self.created_ms = created_ms;
        self
    }

    /// What the key may do.
    pub fn scope(&self) -> KeyScope {
        self.scope
    }

    /// The key's label, if it has one.
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// When the key was made, in milliseconds since the Unix epoch (0 for keys from a store
    /// file of format version 1, which did not record it).
    pub fn created_unix_ms(&self) -> i64 {
        self.created_ms
    }

    /// The key's id (the part of the key that says which hash to check).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key's hash.
    pub fn hash(&self) -> &str {
        &self.hash
    }
}

/// Checks a key id: 1 to 32 characters of `[A-Za-z0-9_-]`.
pub(crate) fn check_key_id(id: &str) -> Result<(), Error> {
    if id.is_empty()
        || id.len() > MAX_KEY_ID
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::new(
            Kind::Parse,
            format!(
                "invalid key id {id:?}: it must be 1 to {MAX_KEY_ID} characters of \
                 A-Z, a-z, 0-9, '-' and '_'"
            ),
        ));
    }
    Ok(())
}

/// Checks a calendar id: 1 to 63 characters of `[a-z0-9-]`, starting with a letter or digit
/// (`[a-z0-9][a-z0-9-]{0,62}`), the ids the store accepts and the file holds.
///
/// # Errors
///
/// [`Error::is_parse`] for any other string; the message says what an id looks like.
///
/// ```
/// use availability_core::store::check_id;
///
/// assert!(check_id("room-4").is_ok());
/// assert!(check_id("Room 4").unwrap_err().is_parse());
/// ```
pub fn check_id(id: &str) -> Result<(), Error> {
    let bytes = id.as_bytes();
    let first_ok = bytes
        .first()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let rest_ok = bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
    if !first_ok || !rest_ok || bytes.len() > MAX_ID {
        return Err(Error::new(
            Kind::Parse,
            format!(
                "invalid calendar id {:?}: it must be 1 to {MAX_ID} characters of a-z, 0-9 \
                 and '-', starting with a letter or digit",
                crate::grid::Truncated(id)
            ),
        ));
    }
    Ok(())
}

/// Checks the shape of an owner zone name: 1 to 64 characters of `[A-Za-z0-9/_+-]`, the
/// alphabet of IANA names. The store does not consult the time-zone database (that is the
/// caller's business): `Mars/Olympus` passes this check.
///
/// # Errors
///
/// [`Error::is_parse`] for any other string; the message says what a zone name looks like.
pub fn check_zone_name(zone: &str) -> Result<(), Error> {
    if zone.is_empty()
        || zone.len() > MAX_ZONE
        || !zone
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
    {
        return Err(Error::new(
            Kind::Parse,
            format!(
                "invalid time-zone name {zone:?}: it must be 1 to {MAX_ZONE} characters of \
                 A-Z, a-z, 0-9, '/', '_', '-' and '+' (an IANA name such as Europe/Paris)"
            ),
        ));
    }
    Ok(())
}

pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The `default` calendar of a new file: in slot 0, written with sequence number 1.
pub(super) fn default_calendar() -> CalendarRecord {
    new_calendar(
        DEFAULT_CALENDAR,
        DEFAULT_ZONE,
        Vec::new(),
        incarnation(0, 1),
    )
}

/// The incarnation of a calendar created in slot `slot` by the copy with sequence number
/// `seq`. A slot's sequence numbers only grow, so no two creations share one.
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
        id: String::from(id),
        zone: String::from(zone),
        week: Week::UNAVAILABLE,
        version: 1,
        changed_at_ms: now_ms(),
        keys,
        incarnation,
        booking_public: false,
    }
}

/// The next state of a calendar after `change`: one version more, the time of the change
/// never earlier than the last one (even if the clock runs backwards). On error nothing was
/// changed.
pub(super) fn next_state(
    current: &CalendarRecord,
    change: &Change,
) -> Result<CalendarRecord, Error> {
    let mut record = current.clone();
    apply(&mut record, change)?;
    record.version = next_version(current)?;
    record.changed_at_ms = now_ms().max(current.changed_at_ms);
    Ok(record)
}

/// The version after `current`'s.
pub(super) fn next_version(current: &CalendarRecord) -> Result<u64, Error> {
    current.version.checked_add(1).ok_or_else(|| {
        Error::new(
            Kind::Capacity,
            format!(
                "calendar {:?} has reached the last version number",
                current.id
            ),
        )
    })
}

/// Applies `change` to a copy of a calendar; on error the copy is discarded by the caller.
fn apply(record: &mut CalendarRecord, change: &Change) -> Result<(), Error> {
    match change {
        Change::Apply(batch) => record.week = batch.apply(&record.week)?,
        Change::Replace(batch) => record.week = batch.apply_replacing()?,
        Change::SetZone(zone) => {
            check_zone_name(zone)?;
            record.zone.clone_from(zone);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_zones_and_keys_are_checked() {
        for good in ["default", "a", "0-room", &"a".repeat(63)] {
            assert!(check_id(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "A", "a_b", "a b", &"a".repeat(64), "é"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
        for good in [
            "UTC",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
            "America/Port-au-Prince",
        ] {
            assert!(check_zone_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Europe/Par is", &"Z".repeat(65), "Europe\n"] {
            assert!(check_zone_name(bad).is_err(), "{bad}");
        }
        assert!(KeyHash::new("", "h").is_err());
        assert!(KeyHash::new("k", "").is_err());
        assert!(KeyHash::new("k", "has space").is_err());
    }
}
