//! The pattern history's records: the key that wrote a pattern (kind 21, before the
//! calendar's record) and a version as compaction writes it (kind 22).

use alloc::string::{String, ToString};
use alloc::sync::Arc;

use super::super::checked::check_key_id;
use super::super::format::Cursor;
use super::super::history::PastPattern;
use super::Record;
use crate::plane::WORDS;
use crate::week::Week;

/// The bytes of the changed slots: 42, as a week's plane.
const CHANGED: usize = Week::BYTES / 2;

/// A key id behind its length byte, 0 for none.
pub(super) fn key_id(c: &mut Cursor<'_>) -> Result<Option<String>, String> {
    let len = c.byte()? as usize;
    if len == 0 {
        return Ok(None);
    }
    let key = c.text(len, "key id")?;
    check_key_id(&key).map_err(|e| e.to_string())?;
    Ok(Some(key))
}

/// Kind 22: the calendar (id and incarnation), the version (u64), when (i64 ms), the key id
/// (length byte, 0 for none), the week (84 bytes, as a calendar's record holds it) and the
/// slots it changed (42 bytes, as one plane of it).
pub(super) fn encode(
    out: &mut alloc::vec::Vec<u8>,
    id: &str,
    incarnation: u64,
    past: &PastPattern,
) {
    out.push(id.len() as u8);
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(&incarnation.to_le_bytes());
    out.extend_from_slice(&past.version().to_le_bytes());
    out.extend_from_slice(&past.at_ms().to_le_bytes());
    let key = past.key_id().unwrap_or_default();
    out.push(key.len() as u8);
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(&past.week().to_bytes());
    let words = past.changed_words();
    let mut bytes = [0_u8; WORDS * 8];
    for (j, word) in words.iter().enumerate() {
        bytes[j * 8..j * 8 + 8].copy_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(&bytes[..CHANGED]);
}

/// The length of kind 22's payload.
pub(crate) fn len(id: &str, past: &PastPattern) -> usize {
    1 + id.len() + 24 + 1 + past.key_id().map_or(0, str::len) + Week::BYTES + CHANGED
}

pub(super) fn decode(c: &mut Cursor<'_>) -> Result<Record, String> {
    let id = c.id("calendar id")?;
    let incarnation = c.u64()?;
    let version = c.u64()?;
    let at_ms = c.i64()?;
    let key = key_id(c)?;
    let week: &[u8; Week::BYTES] = c
        .take(Week::BYTES)?
        .try_into()
        .map_err(|_| String::from("the payload ends early"))?;
    let week = Week::from_bytes(week).map_err(|e| e.to_string())?;
    let mut bytes = [0_u8; WORDS * 8];
    bytes[..CHANGED].copy_from_slice(c.take(CHANGED)?);
    let words = core::array::from_fn(|j| {
        u64::from_le_bytes(bytes[j * 8..j * 8 + 8].try_into().unwrap_or_default())
    });
    let past = PastPattern::new(version, at_ms, key.as_deref(), week, words)
        .map_err(|e| alloc::format!("calendar {id:?}'s history: {e}"))?;
    if incarnation == 0 {
        return Err(alloc::format!("calendar {id:?}'s history: incarnation 0"));
    }
    Ok(Record::Past {
        id,
        incarnation,
        past: Arc::new(past),
    })
}
