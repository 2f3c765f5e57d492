//! A calendar's booking types in its record (format version 5): after the keys, when any
//! bytes remain, the number of types (1 byte, 1 to 32), then each type.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::Cursor;
use crate::slots::{check_name, BookingType, MAX_NAME, MAX_TYPES};

/// The fixed bytes of one type: name length, duration, interval, buffers (u16 each),
/// notice (u32), horizon and per day (u16 each, per day 0 for none), label length.
const TYPE_FIXED: usize = 1 + 2 * 4 + 4 + 2 * 2 + 1;
/// The most bytes one type takes.
pub(crate) const TYPE_MAX_BYTES: usize = TYPE_FIXED + MAX_NAME + crate::dated::MAX_LABEL;

/// A calendar's booking types, by name.
pub(crate) type Types = Box<[(Box<str>, BookingType)]>;

/// The bytes [`encode`] writes for `types`.
pub(crate) fn len(types: &[(Box<str>, BookingType)]) -> usize {
    if types.is_empty() {
        return 0;
    }
    1 + types
        .iter()
        .map(|(name, t)| TYPE_FIXED + name.len() + t.label.as_deref().map_or(0, str::len))
        .sum::<usize>()
}

/// Appends `types` (nothing when there are none).
pub(crate) fn encode(out: &mut Vec<u8>, types: &[(Box<str>, BookingType)]) {
    if types.is_empty() {
        return;
    }
    out.push(types.len() as u8);
    for (name, t) in types {
        out.push(name.len() as u8);
        out.extend_from_slice(name.as_bytes());
        for value in [t.duration, t.interval, t.buffer_before, t.buffer_after] {
            out.extend_from_slice(&(value as u16).to_le_bytes());
        }
        out.extend_from_slice(&t.notice.to_le_bytes());
        out.extend_from_slice(&(t.horizon as u16).to_le_bytes());
        out.extend_from_slice(&(t.per_day.unwrap_or(0) as u16).to_le_bytes());
        let label = t.label.as_deref().unwrap_or_default();
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
}

/// Reads the types that follow a calendar's keys: none when the payload ends there.
pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<Types, String> {
    if c.is_empty() {
        return Ok(Box::default());
    }
    let count = usize::from(c.byte()?);
    if count == 0 || count > MAX_TYPES {
        return Err(format!("{count} booking types (1 to {MAX_TYPES})"));
    }
    let mut types: Vec<(Box<str>, BookingType)> = Vec::with_capacity(count);
    for _ in 0..count {
        let len = usize::from(c.byte()?);
        let name = c.text(len, "booking type name")?;
        check_name(&name).map_err(|e| e.to_string())?;
        let duration = u32::from(c.u16()?);
        let interval = u32::from(c.u16()?);
        let buffer_before = u32::from(c.u16()?);
        let buffer_after = u32::from(c.u16()?);
        let notice = c.u32()?;
        let horizon = u32::from(c.u16()?);
        let per_day = u32::from(c.u16()?);
        let label_len = usize::from(c.byte()?);
        let label = (label_len > 0)
            .then(|| c.text(label_len, "booking type label"))
            .transpose()?;
        let t = BookingType {
            duration,
            interval,
            buffer_before,
            buffer_after,
            notice,
            horizon,
            per_day: (per_day > 0).then_some(per_day),
            label,
        };
        t.check()
            .map_err(|e| format!("booking type {name:?}: {e}"))?;
        if types.last().is_some_and(|(last, _)| **last >= *name) {
            return Err(format!("booking type {name:?} out of order or repeated"));
        }
        types.push((Box::from(name), t));
    }
    Ok(types.into_boxed_slice())
}
