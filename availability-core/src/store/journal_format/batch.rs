//! The record of calendars created together (kind 16): their number, then each one's whole
//! record behind its length.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::super::checked::{MAX_ID, MAX_ZONE};
use super::super::format::{CalendarRecord, Cursor, CALENDAR_FIXED, FORMAT_VERSION};
use super::MAX_PAYLOAD;

/// The most calendars one record creates.
pub const MAX_BATCH: usize = 1000;

// A batch of keyless calendars with the longest ids and zones fits one record.
const _: () = assert!(2 + MAX_BATCH * (4 + CALENDAR_FIXED + MAX_ID + MAX_ZONE) <= MAX_PAYLOAD);

/// A [`Record::Calendars`](super::Record::Calendars) payload: one or more calendars of distinct ids, each new (a
/// nonzero incarnation, version 1), at most [`MAX_BATCH`].
pub(super) fn decode(c: &mut Cursor<'_>) -> Result<Vec<Arc<CalendarRecord>>, String> {
    let count = usize::from(c.u16()?);
    if count == 0 || count > MAX_BATCH {
        return Err(format!("a batch of {count} calendars (1 to {MAX_BATCH})"));
    }
    let mut records: Vec<Arc<CalendarRecord>> = Vec::with_capacity(count);
    for _ in 0..count {
        let len = c.u32()? as usize;
        let record = CalendarRecord::decode(c.take(len)?, FORMAT_VERSION)?;
        if record.incarnation == 0 || record.version != 1 {
            return Err(format!(
                "calendar {:?} of a batch: incarnation {}, version {}",
                record.id, record.incarnation, record.version
            ));
        }
        records.push(Arc::new(record));
    }
    let mut ids: Vec<&str> = records.iter().map(|r| &*r.id).collect();
    ids.sort_unstable();
    if let Some(pair) = ids.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(format!("calendar {:?} twice in one batch", pair[0]));
    }
    Ok(records)
}
