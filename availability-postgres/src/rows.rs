//! Rows and the core's values: a calendar from its row, its keys, booking types, overrides and
//! bookings, and back. Every value read is checked as the store file's are on the way back
//! (the database is as hostile as a disk): a row the store could not hold is an error naming
//! it, never a panic.

use std::collections::BTreeMap;
use std::sync::Arc;

use availability_core::dated::{Booking, BookingId, Claim, Dated, DayOverride, GroupRef};
use availability_core::slots::{check_name, BookingType};
use availability_core::store::decide::Parts;
use availability_core::store::{
    check_id, Answer, Calendar, GroupType, KeyHash, KeyScope, PastPattern, Remembered,
};
use availability_core::tz::Zone;
use availability_core::{BackendError, Error, Week};
use chrono::NaiveDate;
use tokio_postgres::Row;

/// The columns of a calendar's own row, in the order [`parts`] reads them.
pub(crate) const CALENDAR: &str = "id, incarnation, version, zone, week, booking_public, \
                                   changed_at_ms, next_booking";
/// The columns of a key row, after the calendar id.
pub(crate) const KEY: &str = "key_id, hash, scope, label, created_ms";
/// The columns of an override row, after the calendar id.
pub(crate) const OVERRIDE: &str = "day, open, firm";
/// The columns of a booking row, after the calendar id: its span as whole seconds.
pub(crate) const BOOKING: &str = "id, extract(epoch from lower(span))::bigint, \
                                  extract(epoch from upper(span))::bigint, label, key_id, \
                                  created_ms, booking_type, group_id, group_booking";
/// The columns of a booking type's row, after the calendar id.
pub(crate) const TYPE: &str = "name, duration, \"interval\", buffer_before, buffer_after, \
                               notice, horizon, per_day, label";
/// The columns of a group booking type's row, after the group id: a type's, and its zone.
pub(crate) const GROUP_TYPE: &str = "name, duration, \"interval\", buffer_before, \
                                     buffer_after, notice, horizon, per_day, label, zone";

/// A row the store could not hold.
pub(crate) fn bad(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::of_backend(
        BackendError::Corrupt,
        format!("the database holds {what} the store cannot: {detail}"),
    )
}

pub(crate) fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    at: usize,
    what: &str,
) -> Result<T, Error> {
    row.try_get(at).map_err(|e| bad(what, e))
}

pub(crate) fn unsigned(value: i64, what: &str) -> Result<u64, Error> {
    u64::try_from(value).map_err(|_| bad(what, format!("a negative number {value}")))
}

/// A week from its column (84 bytes, as the store file's record holds it).
fn week_of(bytes: &[u8]) -> Result<Week, Error> {
    let bytes: &[u8; Week::BYTES] = bytes
        .try_into()
        .map_err(|_| bad("a week", format!("{} bytes", bytes.len())))?;
    Week::from_bytes(bytes).map_err(|e| bad("a week", e))
}

/// A version of a pattern history from its row: `version, at_ms, key_id, week, changed`.
pub(crate) fn past_pattern(row: &Row) -> Result<PastPattern, Error> {
    let version = unsigned(get(row, 0, "a pattern version")?, "a pattern version")?;
    let changed: &[u8] = get(row, 4, "changed slots")?;
    // Six little-endian words.
    if changed.len() != 48 {
        return Err(bad("changed slots", format!("{} bytes", changed.len())));
    }
    let words = std::array::from_fn(|j| {
        let mut word = [0_u8; 8];
        word.copy_from_slice(&changed[j * 8..j * 8 + 8]);
        u64::from_le_bytes(word)
    });
    PastPattern::new(
        version,
        get(row, 1, "a pattern's time")?,
        get(row, 2, "a pattern's key id")?,
        week_of(get(row, 3, "a week")?)?,
        words,
    )
    .map_err(|e| bad("a pattern version", e))
}

/// A calendar's own fields from its row ([`CALENDAR`]), and the next booking id it holds.
pub(crate) fn parts(row: &Row) -> Result<(Parts, u64), Error> {
    let id: String = get(row, 0, "a calendar id")?;
    let week = week_of(get(row, 4, "a week")?)?;
    let parts = Parts {
        incarnation: unsigned(get(row, 1, "an incarnation")?, "an incarnation")?,
        version: unsigned(get(row, 2, "a version")?, "a version")?,
        zone: get(row, 3, "a zone")?,
        week,
        booking_public: get(row, 5, "a booking flag")?,
        changed_at_ms: get(row, 6, "a change time")?,
        keys: Vec::new(),
        booking_types: Vec::new(),
        id,
    };
    let next = unsigned(get(row, 7, "a booking id")?, "a booking id")?;
    Ok((parts, next))
}

/// A key from its row ([`KEY`], from column `at`).
pub(crate) fn key(row: &Row, at: usize) -> Result<KeyHash, Error> {
    let id: String = get(row, at, "a key id")?;
    let hash: String = get(row, at + 1, "a key hash")?;
    let scope: &str = get(row, at + 2, "a key scope")?;
    let label: Option<String> = get(row, at + 3, "a key label")?;
    let created: i64 = get(row, at + 4, "a key's time")?;
    let mut key = KeyHash::new(id, hash).map_err(|e| bad("a key", e))?;
    key = key.with_scope(match scope {
        "write" => KeyScope::Write,
        "book" => KeyScope::Book,
        other => return Err(bad("a key scope", format!("{other:?}"))),
    });
    if let Some(label) = label {
        key = key.with_label(label).map_err(|e| bad("a key label", e))?;
    }
    Ok(key.created_at(created))
}

/// A booking's claim, id and creation time from its row ([`BOOKING`], from column `at`).
pub(crate) fn booking(row: &Row, at: usize) -> Result<(Claim, BookingId, i64), Error> {
    let id = unsigned(get(row, at, "a booking id")?, "a booking id")?;
    let claim = Claim {
        start: get(row, at + 1, "a booking's start")?,
        end: get(row, at + 2, "a booking's end")?,
        label: get(row, at + 3, "a booking label")?,
        key_id: get(row, at + 4, "a booking's key")?,
        booking_type: get(row, at + 6, "a booking's type")?,
        group: group_ref(
            get(row, at + 7, "a booking's group")?,
            get(row, at + 8, "a booking's group booking")?,
        )?,
    };
    if claim.end <= claim.start {
        return Err(bad("a booking", format!("{id} ends before it starts")));
    }
    if let Some(name) = &claim.booking_type {
        check_name(name).map_err(|e| bad("a booking's type", e))?;
    }
    if claim.group.is_some() && claim.booking_type.is_none() {
        return Err(bad(
            "a booking",
            format!("{id} is part of a group booking but names no type"),
        ));
    }
    Ok((claim, BookingId(id), get(row, at + 5, "a booking's time")?))
}

/// The group booking a booking is a part of, from its two columns: both or neither.
fn group_ref(group: Option<String>, id: Option<i64>) -> Result<Option<GroupRef>, Error> {
    match (group, id) {
        (None, None) => Ok(None),
        (Some(group), Some(id)) => {
            check_id(&group).map_err(|e| bad("a booking's group", e))?;
            Ok(Some(GroupRef {
                group,
                id: unsigned(id, "a group booking id")?,
            }))
        }
        _ => Err(bad("a booking's group", "one of its two columns only")),
    }
}

/// A booking type's name and rules from its row ([`TYPE`], from column `at`); checked when
/// its calendar is put together.
pub(crate) fn booking_type(row: &Row, at: usize) -> Result<(String, BookingType), Error> {
    let minutes = |i: usize, what: &str| -> Result<u32, Error> {
        let value: i32 = get(row, at + i, what)?;
        u32::try_from(value).map_err(|_| bad(what, format!("a negative number {value}")))
    };
    let per_day: Option<i32> = get(row, at + 7, "a type's daily limit")?;
    let rules = BookingType {
        duration: minutes(1, "a type's duration")?,
        interval: minutes(2, "a type's interval")?,
        buffer_before: minutes(3, "a type's buffer")?,
        buffer_after: minutes(4, "a type's buffer")?,
        notice: minutes(5, "a type's notice")?,
        horizon: minutes(6, "a type's horizon")?,
        per_day: per_day
            .map(|n| {
                u32::try_from(n)
                    .map_err(|_| bad("a type's daily limit", format!("a negative number {n}")))
            })
            .transpose()?,
        label: get(row, at + 8, "a type's label")?,
    };
    Ok((get(row, at, "a booking type's name")?, rules))
}

/// A group booking type's name, rules and zone from its row ([`GROUP_TYPE`], from column
/// `at`); checked when its group is put together.
pub(crate) fn group_type(row: &Row, at: usize) -> Result<(String, GroupType), Error> {
    let (name, rules) = booking_type(row, at)?;
    let zone = get(row, at + 9, "a group type's zone")?;
    Ok((name, GroupType { rules, zone }))
}

/// An override's date and slots from its row ([`OVERRIDE`], from column `at`).
pub(crate) fn day_override(row: &Row, at: usize) -> Result<(NaiveDate, DayOverride), Error> {
    let date: NaiveDate = get(row, at, "an override date")?;
    let open: i64 = get(row, at + 1, "an override")?;
    let firm: i64 = get(row, at + 2, "an override")?;
    let day =
        DayOverride::from_bits(open as u64, firm as u64).map_err(|e| bad("an override", e))?;
    Ok((date, day))
}

/// A calendar being put together from its rows.
#[derive(Debug)]
pub(crate) struct Building {
    pub(crate) parts: Parts,
    next_booking: u64,
    overrides: Vec<(NaiveDate, DayOverride)>,
    bookings: Vec<(Claim, BookingId, i64)>,
}

impl Building {
    pub(crate) fn new((parts, next_booking): (Parts, u64)) -> Building {
        Building {
            parts,
            next_booking,
            overrides: Vec::new(),
            bookings: Vec::new(),
        }
    }

    pub(crate) fn add_booking_type(&mut self, named: (String, BookingType)) {
        self.parts.booking_types.push(named);
    }

    pub(crate) fn add_override(&mut self, day: (NaiveDate, DayOverride)) {
        self.overrides.push(day);
    }

    pub(crate) fn add_booking(&mut self, booking: (Claim, BookingId, i64)) {
        self.bookings.push(booking);
    }

    /// The calendar, its bookings' slots derived in its zone with the time-zone data in use.
    pub(crate) fn finish(self) -> Result<Calendar, Error> {
        let zone = Zone::new(&self.parts.zone).unwrap_or(Zone::UTC);
        let mut dated = Dated::new();
        for (date, day) in self.overrides {
            dated
                .set_override(date, day)
                .map_err(|e| bad("an override", e))?;
        }
        for (claim, id, created_ms) in &self.bookings {
            dated.restore_booking(zone, claim, *id, *created_ms);
        }
        dated.reserve_booking_ids(self.next_booking);
        let id = self.parts.id.clone();
        Calendar::from_parts(self.parts, dated).map_err(|e| bad(&format!("calendar {id:?}"), e))
    }
}

/// Builds each calendar of `rows` (a map filled from the four tables).
pub(crate) fn finish_all(
    building: BTreeMap<String, Building>,
) -> impl Iterator<Item = Result<Calendar, Error>> {
    building.into_values().map(Building::finish)
}

/// The columns of a remembered answer's row, in the order [`remembered`] reads them.
pub(crate) const REMEMBERED: &str = "principal, key, fingerprint, expires_ms, status, body, \
    state_incarnation, state_version, calendar, zone, incarnation, version, booking, \
    extract(epoch from lower(span))::bigint, extract(epoch from upper(span))::bigint, label, \
    key_id, created_ms, booking_type, group_id, group_booking";

/// A remembered answer from its row ([`REMEMBERED`]).
pub(crate) fn remembered(row: &Row) -> Result<Remembered, Error> {
    let fingerprint: &[u8] = get(row, 2, "a fingerprint")?;
    let fingerprint: [u8; 32] = fingerprint
        .try_into()
        .map_err(|_| bad("a fingerprint", format!("{} bytes", fingerprint.len())))?;
    let status: Option<i16> = get(row, 4, "a remembered status")?;
    let answer = match status {
        Some(status) => Answer::Response {
            status: u16::try_from(status).map_err(|_| bad("a status", status))?,
            body: get::<Option<Vec<u8>>>(row, 5, "a remembered body")?.unwrap_or_default(),
            state: match (
                get::<Option<i64>>(row, 6, "a remembered state")?,
                get::<Option<i64>>(row, 7, "a remembered state")?,
            ) {
                (Some(i), Some(v)) => Some((unsigned(i, "a state")?, unsigned(v, "a state")?)),
                _ => None,
            },
        },
        None => {
            let zone: String = get(row, 9, "a remembered zone")?;
            let (claim, id, created_ms) = booking(row, 12)?;
            let mut scratch = Dated::new();
            let booking: Arc<Booking> = scratch.restore_booking(
                Zone::new(&zone).unwrap_or(Zone::UTC),
                &claim,
                id,
                created_ms,
            );
            Answer::Booked {
                calendar: get(row, 8, "a remembered calendar")?,
                incarnation: unsigned(get(row, 10, "an incarnation")?, "an incarnation")?,
                version: unsigned(get(row, 11, "a version")?, "a version")?,
                booking,
            }
        }
    };
    Ok(Remembered {
        principal: get(row, 0, "a principal")?,
        key: get(row, 1, "an idempotency key")?,
        fingerprint,
        expires_ms: get(row, 3, "an expiry")?,
        answer,
    })
}

/// A number the database keeps as `bigint`.
pub(crate) fn signed(value: u64, what: &str) -> Result<i64, Error> {
    i64::try_from(value).map_err(|_| {
        Error::of_backend(
            BackendError::Io,
            format!("{what} {value} is past what the database keeps"),
        )
    })
}

/// A booking's columns.
#[derive(Debug, PartialEq)]
pub(crate) struct BookingRow {
    pub(crate) id: i64,
    /// Seconds, as `to_timestamp` takes them (exact: below 2^53).
    pub(crate) start: f64,
    pub(crate) end: f64,
    pub(crate) label: Option<String>,
    pub(crate) key_id: Option<String>,
    pub(crate) created_ms: i64,
    pub(crate) booking_type: Option<String>,
    /// The group booking it is a part of: the group's id and the group booking's.
    pub(crate) group_id: Option<String>,
    pub(crate) group_booking: Option<i64>,
}

impl BookingRow {
    pub(crate) fn of(booking: &Booking) -> Result<BookingRow, Error> {
        Ok(BookingRow {
            id: signed(booking.id().0, "a booking id")?,
            start: booking.start() as f64,
            end: booking.end() as f64,
            label: booking.label().map(str::to_owned),
            key_id: booking.key_id().map(str::to_owned),
            created_ms: booking.created_unix_ms(),
            booking_type: booking.booking_type().map(str::to_owned),
            group_id: booking.group().map(|g| g.group.clone()),
            group_booking: booking
                .group()
                .map(|g| signed(g.id, "a group booking id"))
                .transpose()?,
        })
    }
}

/// What a dated write changed, as rows.
#[derive(Debug, Default)]
pub(crate) struct DatedRows {
    pub(crate) set_overrides: Vec<(NaiveDate, i64, i64)>,
    pub(crate) cleared_overrides: Vec<NaiveDate>,
    pub(crate) made: Vec<BookingRow>,
    pub(crate) gone: Vec<i64>,
    /// Bookings kept under their id with other columns (a moved booking's new span): their
    /// rows are deleted and made again, the deletion first.
    pub(crate) moved: Vec<BookingRow>,
}

impl DatedRows {
    /// The rows that turn `before` (nothing, for a new calendar) into `after`.
    pub(crate) fn diff(before: Option<&Dated>, after: &Dated) -> DatedRows {
        let mut rows = DatedRows::default();
        let old: BTreeMap<NaiveDate, DayOverride> = before
            .map(|b| b.all_overrides().collect())
            .unwrap_or_default();
        let new: BTreeMap<NaiveDate, DayOverride> = after.all_overrides().collect();
        for (date, day) in &new {
            if old.get(date) != Some(day) {
                let (open, firm) = day.bits();
                rows.set_overrides.push((*date, open as i64, firm as i64));
            }
        }
        rows.cleared_overrides = old
            .keys()
            .filter(|d| !new.contains_key(d))
            .copied()
            .collect();
        let had: BTreeMap<u64, &Arc<Booking>> = before
            .map(|b| b.all_bookings().map(|k| (k.id().0, k)).collect())
            .unwrap_or_default();
        let has: BTreeMap<u64, &Arc<Booking>> =
            after.all_bookings().map(|k| (k.id().0, k)).collect();
        for (id, booking) in &has {
            match had.get(id) {
                None => rows.made.extend(BookingRow::of(booking).ok()),
                Some(old) if !Arc::ptr_eq(old, booking) => {
                    if let (Ok(old), Ok(new)) = (BookingRow::of(old), BookingRow::of(booking)) {
                        if old != new {
                            rows.moved.push(new);
                        }
                    }
                }
                Some(_) => {}
            }
        }
        rows.gone = had
            .keys()
            .filter(|id| !has.contains_key(id))
            .filter_map(|id| i64::try_from(*id).ok())
            .collect();
        rows
    }
}
