//! Reading a store of format version 1 or 2 (fixed records, two page copies each, and for
//! version 2 the journal of dated data beside it) to migrate it to the log (docs/format.md,
//! section 9): the state both files describe, written as a new log.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use std::path::Path;

use super::backend::Backend;
use super::calendar::incarnation;
use super::file::corrupt;
use super::format::{
    check_header, choose, copy_offset, file_len, record_name, CalendarRecord, Chosen, MetaRecord,
    PayloadKind, META_RECORD, MIGRATES_FROM, PAGE,
};
use super::journal::{self, Journal};
use super::journal_format::Record;
use super::journal_live::Live;
use crate::error::Error;

/// The log holding what the store `file` of version 1 or 2 and its `journal` (version 2
/// only) hold, less what retention drops (`cutoff`, `now_ms`, as compaction does).
///
/// # Errors
///
/// [`Error::is_corrupt`] when either file fails the checks of its version (the build
/// before version 3 would have refused it the same way), or when a version 2 store has no
/// journal; [`Error::is_io`] when reading fails.
pub(super) fn image(
    file: &Backend,
    journal: Option<Backend>,
    cutoff: i64,
    now_ms: i64,
) -> Result<Vec<u8>, Error> {
    let loaded = file.read(|bytes| load(file.path(), bytes))??;
    let mut live = Live::default();
    live.apply(&Record::AdminKeys(loaded.meta.value.admin_keys.clone()));
    let mut last_incarnation = 0;
    for chosen in loaded.slots {
        if let SlotValue::Calendar(calendar) = chosen.value {
            last_incarnation = last_incarnation.max(calendar.incarnation);
            live.apply(&Record::Calendar(Arc::new(calendar)));
        }
    }
    match (loaded.format, journal) {
        (MIGRATES_FROM, _) => {}
        (_, Some(journal)) => Journal::read_v2(journal, &mut |record| {
            live.apply(record);
            Ok(())
        })?,
        (_, None) => {
            return Err(corrupt(
                file.path(),
                "the journal of the store file beside it is missing: it holds the calendars' \
                 overrides and bookings; restore it with the store file",
            ))
        }
    }
    // Calendars created from now on take sequence numbers as incarnations: past every one
    // the old file gave.
    Ok(journal::image_of(
        &live,
        last_incarnation + 1,
        cutoff,
        now_ms,
    ))
}

enum SlotValue {
    Free,
    Calendar(CalendarRecord),
}

/// A store file as read: its format version and each record's chosen copy.
struct Loaded {
    format: u32,
    meta: Chosen<MetaRecord>,
    slots: Vec<Chosen<SlotValue>>,
}

/// Reads and checks a whole mapped file.
fn load(path: &Path, bytes: &[u8]) -> Result<Loaded, Error> {
    let format = check_header(bytes).map_err(|what| corrupt(path, &what))?;
    if bytes.len() < file_len(0) {
        return Err(corrupt(
            path,
            &std::format!(
                "the file is {} bytes, too short for its header and meta record ({} bytes)",
                bytes.len(),
                file_len(0)
            ),
        ));
    }
    let page = |offset: usize| bytes.get(offset..offset + PAGE).unwrap_or_default();
    let pair = |record: u32| [page(copy_offset(record, 0)), page(copy_offset(record, 1))];
    let meta = choose(pair(META_RECORD), META_RECORD, |kind, payload| {
        if kind != PayloadKind::Meta {
            return Err(std::format!(
                "payload kind {kind:?} where the meta record belongs"
            ));
        }
        MetaRecord::decode(payload, format)
    })
    .map_err(|what| corrupt(path, &std::format!("{}: {what}", record_name(META_RECORD))))?;
    let slot_count = meta.value.slots;
    let needed = file_len(slot_count);
    if bytes.len() < needed {
        return Err(corrupt(
            path,
            &std::format!(
                "the file is {} bytes, but its meta record counts {slot_count} calendar \
                 slots, which need {needed} bytes: the file was truncated",
                bytes.len()
            ),
        ));
    }

    let mut slots = Vec::with_capacity(slot_count as usize);
    let mut ids: BTreeMap<String, u32> = BTreeMap::new();
    for slot in 0..slot_count {
        let record = slot + 1;
        let mut chosen = choose(pair(record), record, |kind, payload| match kind {
            PayloadKind::Free if payload.is_empty() => Ok(SlotValue::Free),
            PayloadKind::Free => Err(String::from("a free slot with a payload")),
            PayloadKind::Calendar => {
                CalendarRecord::decode(payload, format).map(SlotValue::Calendar)
            }
            PayloadKind::Meta => Err(String::from("a meta payload in a calendar slot")),
        })
        .map_err(|what| corrupt(path, &std::format!("{}: {what}", record_name(record))))?;
        if let SlotValue::Calendar(calendar) = &mut chosen.value {
            if let Some(other) = ids.insert(String::from(&*calendar.id), slot) {
                return Err(corrupt(
                    path,
                    &std::format!(
                        "{}: calendar {:?} is also in calendar slot {other}",
                        record_name(record),
                        calendar.id
                    ),
                ));
            }
            if format == MIGRATES_FROM {
                // Version 1 kept no incarnation; this slot's sequence number makes one that
                // no later creation in the slot can repeat.
                calendar.incarnation = incarnation(slot, chosen.seq);
            }
        }
        slots.push(chosen);
    }
    Ok(Loaded {
        format,
        meta,
        slots,
    })
}
