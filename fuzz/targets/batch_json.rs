//! The JSON batch decoder on arbitrary bytes: an error or a batch, never a panic; a decoded
//! batch re-encodes to JSON that decodes to the same batch, and applying it is all or nothing.
//! Every batch the decoder accepts is read again by a plain model (a `serde_json::Value` walk
//! with the documented rules, applied slot by slot to an array of statuses), which must give
//! the same week, or refuse the same entry.

use availability_core::{Batch, Slot, Status, Week};

/// Checks one input; panics on a finding.
pub(crate) fn run(data: &[u8]) {
    let Ok(batch) = serde_json::from_slice::<Batch>(data) else {
        return;
    };
    assert!(batch.len() <= Batch::MAX_ENTRIES);
    let json = serde_json::to_vec(&batch).expect("a batch serializes");
    assert_eq!(
        serde_json::from_slice::<Batch>(&json).expect("round trip"),
        batch
    );
    let before = Week::MAYBE;
    let applied = batch.apply(&before);
    match &applied {
        Ok(after) => assert_eq!(batch.apply(after).expect("idempotent"), *after),
        Err(err) => assert!(err.entry_index().is_some_and(|i| i < batch.len())),
    }
    match (model(data), applied) {
        (Ok(statuses), Ok(after)) => {
            for (i, status) in statuses.iter().enumerate() {
                let slot = Slot::from_index(i).expect("a slot");
                assert_eq!(after.status(slot), *status, "slot {i}");
            }
        }
        (Err(Refused::Entry(i)), Err(err)) => assert_eq!(err.entry_index(), Some(i), "{err}"),
        (Err(Refused::Unreadable(what)), decoder) => {
            panic!("the decoder read a batch ({decoder:?}) whose {what} the model cannot read")
        }
        (model, decoder) => panic!("the model says {model:?}, the decoder {decoder:?}"),
    }
}

#[derive(Debug)]
enum Refused {
    /// The model cannot read the document, which the decoder accepted.
    Unreadable(&'static str),
    /// Entry `i` is invalid (a slot at 24:00, a range that does not go forward).
    Entry(usize),
}

/// The week of statuses after the batch, applied to all-maybe, by the documented rules.
fn model(data: &[u8]) -> Result<Vec<Status>, Refused> {
    use Refused::Unreadable;
    let value: serde_json::Value = serde_json::from_slice(data).map_err(|_| Unreadable("json"))?;
    let updates = value
        .get("updates")
        .and_then(|u| u.as_array())
        .ok_or(Unreadable("updates"))?;
    let mut week = vec![Status::Maybe; 336];
    let mut writes = Vec::new();
    for (i, entry) in updates.iter().enumerate() {
        let day = day(entry.get("day").ok_or(Unreadable("day"))?).ok_or(Unreadable("day"))?;
        let status = entry
            .get("status")
            .and_then(|s| s.as_str())
            .and_then(status)
            .ok_or(Unreadable("status"))?;
        let half_hours = |key: &str| entry.get(key).and_then(|t| t.as_str()).map(time);
        let (from, to) = match (half_hours("time"), half_hours("from"), half_hours("to")) {
            (Some(t), None, None) => {
                let t = t.ok_or(Unreadable("time"))?;
                (t, t + 1)
            }
            (None, Some(from), Some(to)) => {
                (from.ok_or(Unreadable("from"))?, to.ok_or(Unreadable("to"))?)
            }
            _ => return Err(Unreadable("time or from and to")),
        };
        if to > 48 || from >= to {
            return Err(Refused::Entry(i));
        }
        writes.push((day * 48 + from, day * 48 + to, status));
    }
    for (from, to, status) in writes {
        week[from..to].fill(status);
    }
    Ok(week)
}

const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A day: 0 to 6, as a number or a one-digit string, or a name or its first three letters,
/// in any case.
fn day(value: &serde_json::Value) -> Option<usize> {
    if let Some(n) = value.as_u64() {
        return (n < 7).then_some(n as usize);
    }
    let text = value.as_str()?.to_ascii_lowercase();
    if let [digit @ b'0'..=b'6'] = text.as_bytes() {
        return Some(usize::from(digit - b'0'));
    }
    DAYS.iter()
        .position(|name| *name == text || (text.len() == 3 && name.starts_with(&text)))
}

fn status(text: &str) -> Option<Status> {
    match text.to_ascii_lowercase().as_str() {
        "available" => Some(Status::Available),
        "maybe" => Some(Status::Maybe),
        "unavailable" => Some(Status::Unavailable),
        _ => None,
    }
}

/// `HH:MM` as half hours after midnight: two digits each, minutes 00 or 30, 24:00 the end of
/// the day.
fn time(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    if b.len() != 5 || b[2] != b':' || ![b[0], b[1], b[3], b[4]].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let hour = usize::from(b[0] - b'0') * 10 + usize::from(b[1] - b'0');
    let minute = usize::from(b[3] - b'0') * 10 + usize::from(b[4] - b'0');
    match (hour, minute) {
        (0..=23, 0 | 30) => Some(hour * 2 + minute / 30),
        (24, 0) => Some(48),
        _ => None,
    }
}
