//! The bytes of the log: its header, the framing of its records, and each record's payload
//! (a booking's in `book`, a remembered answer's in `remembered`). Pure: bytes in,
//! values or errors out (docs/format.md, section 8, is the specification).
//!
//! Every decoder treats its input as hostile: lengths are checked before slicing, reserved
//! bytes must be zero, and text must satisfy the rules the API enforces on the way in.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::checked::KeyHash;
use super::format::{
    decode_keys, encode_keys, keys_len, u32_at, u64_at, CalendarRecord, Cursor, FORMAT_VERSION,
};
use crate::dated::GroupRef;

/// The size of the header page; records start after it.
pub(crate) const HEADER: usize = 4096;
/// The first eight bytes of a journal of format version 2 (the dated data beside a store
/// file of fixed records): like the store file's, with `D` for dated. Read only to migrate.
pub(crate) const JOURNAL_MAGIC: [u8; 8] = [0x89, b'A', b'V', b'D', b'\r', b'\n', 0x1a, b'\n'];
/// That journal's format version.
pub(crate) const JOURNAL_VERSION: u32 = 1;
/// Bytes of a record's frame before its payload.
pub(crate) const FRAME: usize = 32;
/// The largest payload of one record.
pub(crate) const MAX_PAYLOAD: usize = 1 << 18;
/// Records start on multiples of this.
pub(crate) const ALIGN: usize = 8;
/// The longest idempotency key and principal.
pub(crate) const MAX_IDEMPOTENCY_KEY: usize = 255;
/// The largest stored answer body.
pub(crate) const MAX_ANSWER: usize = 1 << 16;
/// The longest booking label (as the dated layer's rule).
pub(crate) const MAX_LABEL: usize = crate::dated::MAX_LABEL;

/// A record's frame and payload, ready to write: the CRC, length, sequence number, how far
/// the journal was durable when it was written (`durable`: every record before that
/// sequence number), and kind, then the payload, padded with zeros to a multiple of 8 bytes.
pub(crate) fn frame(seq: u64, durable: u64, record: &Record) -> Vec<u8> {
    let payload = record.encode();
    let len = payload.len();
    let mut out = alloc::vec![0u8; (FRAME + len).next_multiple_of(ALIGN)];
    out[4..8].copy_from_slice(&(len as u32).to_le_bytes());
    out[8..16].copy_from_slice(&seq.to_le_bytes());
    out[16..24].copy_from_slice(&durable.to_le_bytes());
    out[24] = record.kind();
    out[FRAME..FRAME + len].copy_from_slice(&payload);
    let crc = crc32fast::hash(&out[4..FRAME + len]);
    out[..4].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Why a scan stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// Zeros where the next frame would start: the journal's end.
    Clean,
    /// Bytes that are not a valid next record: a torn or damaged append, or damage.
    Invalid(String),
}

#[cfg(test)]
/// The records of a journal body (the bytes after the header), in order, from the first
/// sequence number `first_seq` on; stops at the first frame that is not the next valid
/// record. Returns the records, the offset (within `body`) after the last, and why it stopped.
pub(crate) fn scan(body: &[u8], first_seq: u64) -> (Vec<Record>, usize, End) {
    let mut records = Vec::new();
    let mut at = 0usize;
    let mut seq = first_seq;
    loop {
        match next(body.get(at..).unwrap_or_default(), seq) {
            Ok(Some((record, size))) => {
                records.push(record);
                at += size;
                seq += 1;
            }
            Ok(None) => return (records, at, End::Clean),
            Err(why) => return (records, at, End::Invalid(format!("record {seq}: {why}"))),
        }
    }
}

/// The frame at the start of `bytes` if it is a valid frame of any sequence number after
/// `after`: its sequence number and its durable mark. For recovery, which must tell a torn
/// tail (records no one was told are durable) from damage to records that were.
pub(crate) fn later_frame(bytes: &[u8], after: u64) -> Option<(u64, u64)> {
    let seq = u64_at(bytes, 8)?;
    if seq <= after {
        return None;
    }
    let durable = u64_at(bytes, 16)?;
    match next(bytes, seq) {
        Ok(Some(_)) => Some((seq, durable)),
        _ => None,
    }
}

/// Decodes the frame at the start of `bytes`, which must carry sequence number `seq`.
/// `None` at the end (fewer than a frame's bytes, or a frame of zeros).
pub(crate) fn next(bytes: &[u8], seq: u64) -> Result<Option<(Record, usize)>, String> {
    let Some(head) = bytes.get(..FRAME) else {
        return if bytes.iter().all(|&b| b == 0) {
            Ok(None)
        } else {
            Err(String::from("a partial frame at the end"))
        };
    };
    if head.iter().all(|&b| b == 0) {
        return Ok(None);
    }
    let len = u32_at(head, 4).unwrap_or_default() as usize;
    if len > MAX_PAYLOAD {
        return Err(format!("payload length {len} exceeds {MAX_PAYLOAD}"));
    }
    let size = (FRAME + len).next_multiple_of(ALIGN);
    let Some(whole) = bytes.get(..size) else {
        return Err(String::from("the frame runs past the end of the file"));
    };
    let stored = u32_at(whole, 0).unwrap_or_default();
    let actual = crc32fast::hash(whole.get(4..FRAME + len).unwrap_or_default());
    if stored != actual {
        return Err(format!(
            "CRC-32 mismatch (stored {stored:#010x}, computed {actual:#010x}): a torn or \
             damaged write"
        ));
    }
    let found = u64_at(whole, 8).unwrap_or_default();
    if found != seq {
        return Err(format!("sequence number {found}, expected {seq}"));
    }
    let durable = u64_at(whole, 16).unwrap_or_default();
    if durable > seq {
        return Err(format!(
            "a durable mark {durable} past its own sequence number"
        ));
    }
    if whole
        .get(25..FRAME)
        .is_some_and(|r| r.iter().any(|&b| b != 0))
        || whole
            .get(FRAME + len..)
            .is_some_and(|r| r.iter().any(|&b| b != 0))
    {
        return Err(String::from("reserved or padding bytes are not zero"));
    }
    let kind = whole.get(24).copied().unwrap_or_default();
    let payload = whole.get(FRAME..FRAME + len).unwrap_or_default();
    Ok(Some((Record::decode(kind, payload)?, size)))
}

/// Which calendar a record belongs to: its id, the incarnation (a calendar deleted and
/// created again is another), and the calendar's version after the record.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Owner {
    pub(crate) id: String,
    pub(crate) incarnation: u64,
    pub(crate) version: u64,
}

/// One journal record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Record {
    /// A calendar's version and next booking id (compaction writes one per calendar).
    State { owner: Owner, next_booking: u64 },
    /// Owner day `day` (days since 1970-01-01) gets these slots.
    Override {
        owner: Owner,
        day: i64,
        open: u64,
        firm: u64,
    },
    /// Owner day `day` returns to the pattern.
    ClearOverride { owner: Owner, day: i64 },
    /// A booking, with the answer remembered for its idempotency key, if any.
    Book {
        owner: Owner,
        id: u64,
        start: i64,
        end: i64,
        created_ms: i64,
        key_id: Option<String>,
        label: Option<String>,
        booking_type: Option<String>,
        group: Option<GroupRef>,
        remembered: Option<Remembered>,
    },
    /// A booking cancelled.
    Cancel { owner: Owner, id: u64 },
    /// An answer remembered for an idempotency key, on its own.
    Remember(Remembered),
    /// A named group of calendars with its booking types, replacing any earlier group of
    /// that id.
    Group(Arc<Group>),
    /// A write to every part of a group booking, which applies whole or not at all.
    GroupWrite(GroupWrite),
    /// A named group removed.
    DeleteGroup { id: String },
    /// A calendar's whole record: creates the calendar, or replaces the record of the
    /// calendar of that id and incarnation.
    Calendar(Arc<CalendarRecord>),
    /// Calendars created together ([`MAX_BATCH`] at most), each as its own
    /// [`Record::Calendar`] would: all of them or, when the record is not there, none.
    Calendars(Vec<Arc<CalendarRecord>>),
    /// A calendar's record after a change of its weekly pattern, with the key that wrote
    /// it: read as [`Record::Calendar`], and the calendar's history gains the version.
    Pattern {
        by: Option<Arc<str>>,
        record: Arc<CalendarRecord>,
    },
    /// A version of a calendar's pattern history, as compaction writes it.
    Past {
        id: String,
        incarnation: u64,
        past: Arc<PastPattern>,
    },
    /// A calendar deleted, with its dated data.
    DeleteCalendar { id: String, incarnation: u64 },
    /// The admin keys, replacing the earlier ones.
    AdminKeys(Vec<KeyHash>),
    /// A webhook endpoint, made or replaced whole.
    Webhook(Arc<Webhook>),
    /// A webhook endpoint removed.
    DeleteWebhook { id: String },
    /// Attempts to deliver events to endpoint `hook`.
    Attempts {
        hook: String,
        attempts: Vec<Attempt>,
    },
    /// An event still waiting for endpoints, as compaction writes it.
    Pending(Arc<Pending>),
}

/// The most members a named group has.
pub(crate) const MAX_GROUP: usize = 1000;

impl Record {
    fn kind(&self) -> u8 {
        match self {
            Record::State { .. } => 1,
            Record::Override { .. } => 2,
            Record::ClearOverride { .. } => 3,
            Record::Book { .. } => 4,
            Record::Cancel { .. } => 5,
            Record::Remember(Remembered {
                answer: Answer::Response { .. },
                ..
            }) => 13,
            Record::Remember(Remembered {
                answer: Answer::Booked { .. },
                ..
            }) => 12,
            Record::Group(g) if g.booking_types().len() == 0 => 7,
            Record::Group(_) => 15,
            Record::GroupWrite(_) => 14,
            Record::DeleteGroup { .. } => 8,
            Record::Calendar(_) => 9,
            Record::Calendars(_) => 16,
            Record::Pattern { .. } => 21,
            Record::Past { .. } => 22,
            Record::DeleteCalendar { .. } => 10,
            Record::AdminKeys(_) => 11,
            Record::Webhook(_) => 17,
            Record::DeleteWebhook { .. } => 18,
            Record::Attempts { .. } => 19,
            Record::Pending(_) => 20,
        }
    }

    /// The calendar the record belongs to, if it belongs to one.
    pub(crate) fn owner(&self) -> Option<&Owner> {
        match self {
            Record::State { owner, .. }
            | Record::Override { owner, .. }
            | Record::ClearOverride { owner, .. }
            | Record::Book { owner, .. }
            | Record::Cancel { owner, .. } => Some(owner),
            Record::Remember(_)
            | Record::Group(_)
            | Record::GroupWrite(_)
            | Record::DeleteGroup { .. }
            | Record::Calendar(_)
            | Record::Calendars(_)
            | Record::Pattern { .. }
            | Record::Past { .. }
            | Record::DeleteCalendar { .. }
            | Record::AdminKeys(_)
            | Record::Webhook(_)
            | Record::DeleteWebhook { .. }
            | Record::Attempts { .. }
            | Record::Pending(_) => None,
        }
    }

    /// The length of [`Record::encode`]'s payload, without encoding it.
    pub(crate) fn encoded_len(&self) -> usize {
        match self {
            Record::State { owner, .. } => len::state(&owner.id),
            Record::Override { owner, .. } => len::day_override(&owner.id),
            Record::ClearOverride { owner, .. } => len::owner(&owner.id) + 8,
            Record::Book {
                owner,
                key_id,
                label,
                booking_type,
                group,
                remembered,
                ..
            } => len::book(
                &owner.id,
                key_id.as_deref(),
                label.as_deref(),
                booking_type.as_deref(),
                group.as_ref(),
                remembered.as_ref(),
            ),
            Record::Cancel { owner, .. } => len::owner(&owner.id) + 8,
            Record::Remember(r) => len::remember(r),
            Record::Group(group) => group::group_len(group),
            Record::GroupWrite(write) => write.encoded_len(),
            Record::DeleteGroup { id } => 1 + id.len(),
            Record::Calendar(record) => record.encoded_len(),
            Record::Calendars(records) => {
                2 + records.iter().map(|r| 4 + r.encoded_len()).sum::<usize>()
            }
            Record::Pattern { by, record } => {
                1 + by.as_deref().map_or(0, str::len) + record.encoded_len()
            }
            Record::Past { id, past, .. } => history::len(id, past),
            Record::DeleteCalendar { id, .. } => 1 + id.len() + 8,
            Record::AdminKeys(keys) => 1 + keys_len(keys),
            Record::Webhook(_)
            | Record::DeleteWebhook { .. }
            | Record::Attempts { .. }
            | Record::Pending(_) => webhook::len(self),
        }
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        if let Some(owner) = self.owner() {
            out.push(owner.id.len() as u8);
            out.extend_from_slice(owner.id.as_bytes());
            out.extend_from_slice(&owner.incarnation.to_le_bytes());
            out.extend_from_slice(&owner.version.to_le_bytes());
        }
        match self {
            Record::State { next_booking, .. } => {
                out.extend_from_slice(&next_booking.to_le_bytes())
            }
            Record::Override {
                day, open, firm, ..
            } => {
                out.extend_from_slice(&day.to_le_bytes());
                out.extend_from_slice(&open.to_le_bytes());
                out.extend_from_slice(&firm.to_le_bytes());
            }
            Record::ClearOverride { day, .. } => out.extend_from_slice(&day.to_le_bytes()),
            Record::Book {
                id,
                start,
                end,
                created_ms,
                key_id,
                label,
                booking_type,
                group,
                remembered,
                ..
            } => {
                for value in [*id as i64, *start, *end, *created_ms] {
                    out.extend_from_slice(&value.to_le_bytes());
                }
                let key_id = key_id.as_deref().unwrap_or_default();
                out.push(key_id.len() as u8);
                out.extend_from_slice(key_id.as_bytes());
                book::encode_label_and_type(
                    &mut out,
                    label.as_deref(),
                    booking_type.as_deref(),
                    group.as_ref(),
                );
                book::encode_answer(&mut out, remembered.as_ref());
            }
            Record::Cancel { id, .. } => out.extend_from_slice(&id.to_le_bytes()),
            Record::Remember(r) => match &r.answer {
                Answer::Response {
                    status,
                    body,
                    state,
                } => {
                    remembered::encode_response(&mut out, r, *status, body, *state);
                }
                // A booking's answer on its own is the booking record it came with.
                Answer::Booked { .. } => return book::alone(r).encode(),
            },
            Record::Group(g) => group::encode_group(&mut out, g),
            Record::GroupWrite(write) => write.encode(&mut out),
            Record::DeleteGroup { id } => {
                out.push(id.len() as u8);
                out.extend_from_slice(id.as_bytes());
            }
            Record::Calendar(record) => record.encode_into(&mut out),
            // The count (u16), then each calendar's record behind its length (u32).
            Record::Calendars(records) => {
                out.extend_from_slice(&(records.len() as u16).to_le_bytes());
                for record in records {
                    out.extend_from_slice(&(record.encoded_len() as u32).to_le_bytes());
                    record.encode_into(&mut out);
                }
            }
            Record::Pattern { by, record } => {
                let by = by.as_deref().unwrap_or_default();
                out.push(by.len() as u8);
                out.extend_from_slice(by.as_bytes());
                record.encode_into(&mut out);
            }
            Record::Past {
                id,
                incarnation,
                past,
            } => history::encode(&mut out, id, *incarnation, past),
            Record::DeleteCalendar { id, incarnation } => {
                out.push(id.len() as u8);
                out.extend_from_slice(id.as_bytes());
                out.extend_from_slice(&incarnation.to_le_bytes());
            }
            Record::AdminKeys(keys) => {
                out.push(keys.len() as u8);
                encode_keys(&mut out, keys);
            }
            Record::Webhook(_)
            | Record::DeleteWebhook { .. }
            | Record::Attempts { .. }
            | Record::Pending(_) => webhook::encode(&mut out, self),
        }
        out
    }

    pub(crate) fn decode(kind: u8, payload: &[u8]) -> Result<Record, String> {
        let mut c = Cursor::new(payload);
        let record = match kind {
            1 => Record::State {
                owner: owner(&mut c)?,
                next_booking: c.u64()?,
            },
            2 => {
                let owner = owner(&mut c)?;
                let day = c.i64()?;
                let (open, firm) = (c.u64()?, c.u64()?);
                crate::dated::DayOverride::from_bits(open, firm).map_err(|e| e.to_string())?;
                Record::Override {
                    owner,
                    day,
                    open,
                    firm,
                }
            }
            3 => Record::ClearOverride {
                owner: owner(&mut c)?,
                day: c.i64()?,
            },
            4 => book::decode(&mut c)?,
            5 => Record::Cancel {
                owner: owner(&mut c)?,
                id: c.u64()?,
            },
            6 => Record::Remember(remembered::decode_response(&mut c, Form::Version3)?),
            13 => Record::Remember(remembered::decode_response(&mut c, Form::WithState)?),
            12 => match book::decode(&mut c)? {
                Record::Book {
                    remembered:
                        Some(
                            r @ Remembered {
                                answer: Answer::Booked { .. },
                                ..
                            },
                        ),
                    ..
                } => Record::Remember(r),
                _ => return Err(String::from("a remembered booking without its answer")),
            },
            7 => group::decode_group(&mut c, false)?,
            15 => group::decode_group(&mut c, true)?,
            14 => Record::GroupWrite(GroupWrite::decode(&mut c)?),
            8 => Record::DeleteGroup {
                id: c.id("group id")?,
            },
            9 => {
                let record = CalendarRecord::decode(payload, FORMAT_VERSION)?;
                if record.incarnation == 0 {
                    return Err(format!("calendar {:?}: incarnation 0", record.id));
                }
                return Ok(Record::Calendar(Arc::new(record)));
            }
            16 => Record::Calendars(batch::decode(&mut c)?),
            21 => {
                let by = history::key_id(&mut c)?;
                let record = CalendarRecord::decode(c.take(c.len())?, FORMAT_VERSION)?;
                if record.incarnation == 0 {
                    return Err(format!("calendar {:?}: incarnation 0", record.id));
                }
                Record::Pattern {
                    by: by.map(Arc::from),
                    record: Arc::new(record),
                }
            }
            22 => history::decode(&mut c)?,
            10 => Record::DeleteCalendar {
                id: c.id("calendar id")?,
                incarnation: c.u64()?,
            },
            11 => {
                let count = c.byte()? as usize;
                Record::AdminKeys(decode_keys(&mut c, count, FORMAT_VERSION)?)
            }
            17..=20 => webhook::decode(kind, &mut c)?,
            other => return Err(format!("unknown record kind {other}")),
        };
        c.finish()?;
        Ok(record)
    }
}

mod batch;
mod book;
mod group;
mod header;
mod history;
pub(crate) mod len;
mod remembered;
mod webhook;

pub use self::batch::MAX_BATCH;
pub(crate) use self::group::{GroupSpan, GroupWrite};
pub(crate) use self::header::Header;
use self::remembered::Form;
pub use self::remembered::{Answer, Remembered};
use super::groups::Group;
use super::history::PastPattern;
use super::webhook::{Attempt, Pending, Webhook};

/// The calendar a record belongs to, as its payload begins.
fn owner(c: &mut Cursor<'_>) -> Result<Owner, String> {
    let id = c.id("calendar id")?;
    let incarnation = c.u64()?;
    let version = c.u64()?;
    if version == 0 {
        return Err(String::from("calendar version 0"));
    }
    Ok(Owner {
        id,
        incarnation,
        version,
    })
}

#[cfg(test)]
mod tests;
