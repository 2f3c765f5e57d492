//! Answers remembered for idempotency keys, and their bytes: a key's part (key, principal,
//! fingerprint, expiry) and then the answer, a response's status and body or the booking a
//! [`Store::book`](crate::store::Store::book) made (docs/format.md, section 5).

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::super::format::Cursor;
use super::MAX_ANSWER;
use crate::dated::{Booking, BookingId, Claim};
use crate::plane::{Plane, WORDS};

/// The answer to a request that carried an idempotency key, kept so that a repeat of the
/// request gets it again instead of a second effect (HTTP `Idempotency-Key`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remembered {
    /// The idempotency key, 1 to 255 bytes of printable ASCII.
    pub key: String,
    /// Who sent it (a key id, or a client address), at most 255 bytes.
    pub principal: String,
    /// A digest of the request (method, path, body), to tell a repeat from a reuse.
    pub fingerprint: [u8; 32],
    /// When it may be forgotten, in milliseconds since the Unix epoch.
    pub expires_ms: i64,
    /// What the request was answered.
    pub answer: Answer,
}

/// What a request with an idempotency key was answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A response as its server made it: the HTTP status and a body of at most 64 KiB, and
    /// the state (incarnation, version) of the calendar it answered about, if any, for its
    /// `ETag`.
    Response {
        /// The HTTP status, 100 to 599.
        status: u16,
        /// The body.
        body: Vec<u8>,
        /// The calendar's incarnation and version the response showed (`None` when it showed
        /// no calendar's, or was kept by version 3 of the format, which did not keep it).
        state: Option<(u64, u64)>,
    },
    /// The booking [`Store::book`](crate::store::Store::book) made, kept with the booking
    /// in the same record: a server renders its answer from this, the first time and on
    /// every repeat.
    Booked {
        /// The calendar's id.
        calendar: String,
        /// The calendar's incarnation (a calendar deleted and created again is another).
        incarnation: u64,
        /// The calendar's version after the booking.
        version: u64,
        /// The booking as it was made, with the owner slots it held then.
        booking: Arc<Booking>,
    },
}

/// The most owner weeks a booking's slots fall in: a span is at most seven days.
const MAX_WEEKS: usize = 3;

/// Flags of the answer part of a booking record (kind 4): none, a response as version 3
/// wrote it, a booking's answer, a response with its calendar's state.
pub(super) const NONE: u8 = 0;
pub(super) const RESPONSE_3: u8 = 1;
pub(super) const BOOKED: u8 = 2;
pub(super) const RESPONSE: u8 = 3;

/// The key's part and a response with the state of the calendar it showed: the payload of a
/// kind-13 record, and the part after flag 3 in a booking record.
pub(super) fn encode_response(
    out: &mut Vec<u8>,
    r: &Remembered,
    status: u16,
    body: &[u8],
    state: Option<(u64, u64)>,
) {
    encode_key(out, r);
    out.extend_from_slice(&status.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    match state {
        None => out.push(0),
        Some((incarnation, version)) => {
            out.push(1);
            out.extend_from_slice(&incarnation.to_le_bytes());
            out.extend_from_slice(&version.to_le_bytes());
        }
    }
}

/// The key's part and the booking's owner slots: the part after flag 2 in a booking record
/// (the rest of the booking is the record's own).
pub(super) fn encode_booked(out: &mut Vec<u8>, r: &Remembered, booking: &Booking) {
    encode_key(out, r);
    let planes = booking.planes();
    out.push(planes.len() as u8);
    for (week, plane) in planes {
        out.extend_from_slice(&week.to_le_bytes());
        for word in plane.0 {
            out.extend_from_slice(&word.to_le_bytes());
        }
    }
}

fn encode_key(out: &mut Vec<u8>, r: &Remembered) {
    out.push(r.key.len() as u8);
    out.extend_from_slice(r.key.as_bytes());
    out.push(r.principal.len() as u8);
    out.extend_from_slice(r.principal.as_bytes());
    out.extend_from_slice(&r.fingerprint);
    out.extend_from_slice(&r.expires_ms.to_le_bytes());
}

/// The length of what [`encode_response`] or [`encode_booked`] writes for `r`.
pub(crate) fn len(r: &Remembered) -> usize {
    let key = 1 + r.key.len() + 1 + r.principal.len() + r.fingerprint.len() + 8;
    match &r.answer {
        Answer::Response { body, state, .. } => {
            key + 2 + 4 + body.len() + 1 + if state.is_some() { 16 } else { 0 }
        }
        Answer::Booked { booking, .. } => key + 1 + booking.planes().len() * (8 + 8 * WORDS),
    }
}

/// How a response is laid out: as version 3 wrote it (kind 6, flag 1), or with the state of
/// the calendar it showed after it (kind 13, flag 3), as [`encode_response`] writes it.
#[derive(Clone, Copy)]
pub(super) enum Form {
    Version3,
    WithState,
}

/// The key's part and a response, in form `with_state`.
pub(super) fn decode_response(c: &mut Cursor<'_>, with_state: Form) -> Result<Remembered, String> {
    let mut remembered = decode_key(c)?;
    let status = c.u16()?;
    if !(100..=599).contains(&status) {
        return Err(format!("a remembered status {status}"));
    }
    let len = c.u32()? as usize;
    if len > MAX_ANSWER {
        return Err(format!(
            "a remembered answer of {len} bytes (at most {MAX_ANSWER})"
        ));
    }
    let body = c.take(len)?.to_vec();
    // Version 3 ended the response here.
    let state = match with_state {
        Form::Version3 => None,
        Form::WithState => match c.byte()? {
            0 => None,
            1 => Some((c.u64()?, c.u64()?)),
            other => return Err(format!("a remembered state flag {other}")),
        },
    };
    remembered.answer = Answer::Response {
        status,
        body,
        state,
    };
    Ok(remembered)
}

/// The booking a record describes, and who it was made for.
pub(super) struct Made<'a> {
    pub(super) calendar: &'a str,
    pub(super) incarnation: u64,
    pub(super) version: u64,
    pub(super) id: u64,
    pub(super) claim: Claim,
    pub(super) created_ms: i64,
}

/// The key's part and the owner slots, as [`encode_booked`] writes them, completed by the
/// booking record they are in.
pub(super) fn decode_booked(c: &mut Cursor<'_>, made: Made<'_>) -> Result<Remembered, String> {
    let mut remembered = decode_key(c)?;
    let weeks = usize::from(c.byte()?);
    if weeks == 0 || weeks > MAX_WEEKS {
        return Err(format!(
            "a remembered booking in {weeks} weeks (1 to {MAX_WEEKS})"
        ));
    }
    let mut slots = Vec::with_capacity(weeks);
    for _ in 0..weeks {
        let week = c.i64()?;
        let mut words = [0u64; WORDS];
        for word in &mut words {
            *word = c.u64()?;
        }
        let plane = Plane::from_words(words)
            .filter(|plane| *plane != Plane::EMPTY)
            .ok_or_else(|| {
                String::from("a remembered booking's slots are empty or out of range")
            })?;
        slots.push((week, plane));
    }
    if slots.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(String::from(
            "a remembered booking's weeks are not in order",
        ));
    }
    remembered.answer = Answer::Booked {
        calendar: String::from(made.calendar),
        incarnation: made.incarnation,
        version: made.version,
        booking: Arc::new(Booking::made(
            BookingId(made.id),
            &made.claim,
            made.created_ms,
            Box::from(slots),
        )),
    };
    Ok(remembered)
}

fn decode_key(c: &mut Cursor<'_>) -> Result<Remembered, String> {
    let key_len = c.byte()? as usize;
    let key = c.text(key_len, "idempotency key")?;
    let principal_len = c.byte()? as usize;
    let principal = c.text(principal_len, "principal")?;
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(String::from(
            "an idempotency key that is empty or not printable ASCII",
        ));
    }
    let fingerprint: [u8; 32] = c.take(32)?.try_into().map_err(|_| "short")?;
    let expires_ms = c.i64()?;
    Ok(Remembered {
        key,
        principal,
        fingerprint,
        expires_ms,
        answer: Answer::Response {
            status: 0,
            body: Vec::new(),
            state: None,
        },
    })
}
