//! The booking record (kind 4), whose payload also carries a booking's remembered answer on
//! its own (kind 12).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::super::checked::{check_id, check_key_id};
use super::super::format::Cursor;
use super::remembered::{self, Form, Made, BOOKED, NONE, RESPONSE, RESPONSE_3};
use super::{owner, Answer, Owner, Record, Remembered, MAX_LABEL};
use crate::dated::{Claim, GroupRef};

/// The answer part of a booking record: its flag, then the answer.
pub(super) fn encode_answer(out: &mut Vec<u8>, remembered: Option<&Remembered>) {
    match remembered {
        None => out.push(NONE),
        Some(r) => match &r.answer {
            Answer::Response {
                status,
                body,
                state,
            } => {
                out.push(RESPONSE);
                remembered::encode_response(out, r, *status, body, *state);
            }
            Answer::Booked { booking, .. } => {
                out.push(BOOKED);
                remembered::encode_booked(out, r, booking);
            }
        },
    }
}

/// The label flag (bit 0: a label follows, bit 1: a booking type follows it, bit 2: a group
/// booking follows that), the label (length u16, UTF-8), the booking type (length byte,
/// name) and the group booking (the group's id behind its length byte, then its id, u64).
pub(super) fn encode_label_and_type(
    out: &mut Vec<u8>,
    label: Option<&str>,
    booking_type: Option<&str>,
    group: Option<&GroupRef>,
) {
    out.push(
        u8::from(label.is_some())
            | u8::from(booking_type.is_some()) << 1
            | u8::from(group.is_some()) << 2,
    );
    if let Some(label) = label {
        out.extend_from_slice(&(label.len() as u16).to_le_bytes());
        out.extend_from_slice(label.as_bytes());
    }
    if let Some(name) = booking_type {
        out.push(name.len() as u8);
        out.extend_from_slice(name.as_bytes());
    }
    if let Some(group) = group {
        out.push(group.group.len() as u8);
        out.extend_from_slice(group.group.as_bytes());
        out.extend_from_slice(&group.id.to_le_bytes());
    }
}

/// A booking record's payload after its kind (4; kind 12 is laid out the same way).
pub(super) fn decode(c: &mut Cursor<'_>) -> Result<Record, String> {
    let owner = owner(c)?;
    let id = c.u64()?;
    let (start, end, created_ms) = (c.i64()?, c.i64()?, c.i64()?);
    if id == 0 || end <= start || end.saturating_sub(start) > crate::dated::MAX_SPAN_SECONDS {
        return Err(format!("booking {id}: not a valid span or id"));
    }
    let key_len = c.byte()? as usize;
    let key_id = if key_len == 0 {
        None
    } else {
        let key = c.text(key_len, "key id")?;
        check_key_id(&key).map_err(|e| e.to_string())?;
        Some(key)
    };
    let flags = c.byte()?;
    if flags & !0b111 != 0 {
        return Err(format!("label flag {flags}"));
    }
    let label = if flags & 1 != 0 {
        let len = usize::from(c.u16()?);
        if len > MAX_LABEL {
            return Err(format!("a label of {len} bytes (at most {MAX_LABEL})"));
        }
        Some(c.text(len, "label")?)
    } else {
        None
    };
    let booking_type = if flags & 2 != 0 {
        let len = usize::from(c.byte()?);
        let name = c.text(len, "booking type")?;
        check_id(&name).map_err(|e| e.to_string())?;
        Some(name)
    } else {
        None
    };
    let group = if flags & 4 != 0 {
        let group = c.id("group id")?;
        let id = c.u64()?;
        if id == 0 {
            return Err(String::from("group booking id 0"));
        }
        Some(GroupRef { group, id })
    } else {
        None
    };
    let remembered = match c.byte()? {
        NONE => None,
        RESPONSE_3 => Some(remembered::decode_response(c, Form::Version3)?),
        RESPONSE => Some(remembered::decode_response(c, Form::WithState)?),
        BOOKED => Some(remembered::decode_booked(
            c,
            Made {
                calendar: &owner.id,
                incarnation: owner.incarnation,
                version: owner.version,
                id,
                claim: Claim {
                    start,
                    end,
                    label: label.clone(),
                    key_id: key_id.clone(),
                    booking_type: booking_type.clone(),
                    group: group.clone(),
                },
                created_ms,
            },
        )?),
        other => return Err(format!("idempotency flag {other}")),
    };
    Ok(Record::Book {
        owner,
        id,
        start,
        end,
        created_ms,
        key_id,
        label,
        booking_type,
        group,
        remembered,
    })
}

/// A booking's remembered answer as a record of its own (kind 12): the booking record it
/// was made with.
pub(super) fn alone(r: &Remembered) -> Record {
    let Answer::Booked {
        calendar,
        incarnation,
        version,
        booking,
    } = &r.answer
    else {
        return Record::Remember(r.clone());
    };
    let owner = Owner {
        id: calendar.clone(),
        incarnation: *incarnation,
        version: *version,
    };
    Record::book(owner, booking, Some(r.clone()))
}

impl Record {
    /// The record of `booking`, made on `owner`'s calendar, with the answer remembered for it.
    pub(crate) fn book(
        owner: Owner,
        booking: &crate::dated::Booking,
        remembered: Option<Remembered>,
    ) -> Record {
        Record::Book {
            owner,
            id: booking.id().0,
            start: booking.start(),
            end: booking.end(),
            created_ms: booking.created_unix_ms(),
            key_id: booking.key_id().map(String::from),
            label: booking.label().map(String::from),
            booking_type: booking.booking_type().map(String::from),
            group: booking.group().cloned(),
            remembered,
        }
    }
}
