//! Payload lengths from a record's parts, as [`Record::encode`](super::Record::encode) lays them out: compaction's
//! due-check sums them over the whole live set while every commit waits, so it builds no
//! record and encodes nothing.

use alloc::string::String;

use super::{Answer, Remembered};
use crate::dated::GroupRef;

/// The owner's part: the id's length, the id, the incarnation and the version.
pub(crate) fn owner(id: &str) -> usize {
    1 + id.len() + 16
}

/// [`super::Record::State`].
pub(crate) fn state(id: &str) -> usize {
    owner(id) + 8
}

/// [`super::Record::Override`]: the day and the two planes.
pub(crate) fn day_override(id: &str) -> usize {
    owner(id) + 24
}

/// [`super::Record::Book`]: four numbers, the key id, the label and the answer, each
/// behind its length or flag.
pub(crate) fn book(
    id: &str,
    key_id: Option<&str>,
    label: Option<&str>,
    booking_type: Option<&str>,
    group: Option<&GroupRef>,
    remembered: Option<&Remembered>,
) -> usize {
    owner(id)
        + 32
        + 1
        + key_id.map_or(0, str::len)
        + 1
        + label.map_or(0, |label| 2 + label.len())
        + booking_type.map_or(0, |name| 1 + name.len())
        + group.map_or(0, |g| 1 + g.group.len() + 8)
        + 1
        + remembered.map_or(0, self::remembered)
}

/// An answer remembered for an idempotency key, on its own: a response (kind 6), or a
/// booking's answer with its booking record (kind 12).
pub(crate) fn remember(r: &Remembered) -> usize {
    match &r.answer {
        Answer::Response { .. } => remembered(r),
        Answer::Booked {
            calendar, booking, ..
        } => book(
            calendar,
            booking.key_id(),
            booking.label(),
            booking.booking_type(),
            booking.group(),
            Some(r),
        ),
    }
}

/// The answer part of a booking record, after its flag, or a kind-6 payload.
fn remembered(r: &Remembered) -> usize {
    super::remembered::len(r)
}

/// [`super::Record::Group`].
pub(crate) fn group(id: &str, members: &[String]) -> usize {
    1 + id.len() + 2 + members.iter().map(|m| 1 + m.len()).sum::<usize>()
}

pub(crate) use super::history::len as past;
