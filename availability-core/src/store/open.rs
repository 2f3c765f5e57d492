//! Opening a store: creating a new file, making what is read durable, and recovery (choosing
//! each record's copy and checking the whole file; docs/format.md, section 6).

use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use std::path::Path;

use arc_swap::ArcSwap;

use super::backend::Backend;
use super::calendar::{default_calendar, Calendar};
use super::file::corrupt;
use super::format::{
    check_header, choose, copy_offset, encode_copy, encode_header, file_len, free_slot_pages,
    record_name, CalendarRecord, MetaRecord, PayloadKind, META_RECORD, PAGE,
};
use super::writer::{Copies, Writer, WriterState};
use super::{ById, Directory, Published, Store};
use crate::error::Error;

/// Calendar slots in a new file. The file doubles when they are all taken.
pub(super) const INITIAL_SLOTS: u32 = 8;

/// The bytes of a new store file: header, meta record, `default` in slot 0, free slots.
pub(super) fn new_file_image() -> Vec<u8> {
    let mut image = Vec::with_capacity(file_len(INITIAL_SLOTS));
    image.extend_from_slice(&encode_header());
    let meta = MetaRecord {
        slots: INITIAL_SLOTS,
        admin_keys: Vec::new(),
    };
    let mut copy = [0u8; PAGE];
    encode_copy(&mut copy, META_RECORD, 1, PayloadKind::Meta, &meta.encode());
    image.extend_from_slice(&copy);
    image.extend_from_slice(&[0u8; PAGE]);
    encode_copy(
        &mut copy,
        1,
        1,
        PayloadKind::Calendar,
        &default_calendar().encode(),
    );
    image.extend_from_slice(&copy);
    image.extend_from_slice(&[0u8; PAGE]);
    image.extend_from_slice(&free_slot_pages(1, INITIAL_SLOTS));
    image
}

/// Opens a store over a locked file: makes the file durable, then reads and checks it.
///
/// The flush comes first because what this process reads may be only in the page cache: a
/// previous process may have written a copy and been killed before its msync. Taking that
/// copy as current and then overwriting the other one, the only durable copy, would let a
/// power failure lose an acknowledged state. After the flush, everything read is durable.
pub(super) fn open_backend(file: Backend) -> Result<Store, Error> {
    file.sync_all()?;
    let (state, by_id) = file.read(|bytes| load(file.path(), bytes))??;
    let admin_keys = state.meta.admin_keys.clone();
    Ok(Store {
        directory: ArcSwap::from_pointee(Directory { by_id }),
        admin_keys: ArcSwap::from_pointee(admin_keys),
        writer: Writer::new(file, state),
    })
}

enum SlotValue {
    Free,
    Calendar(CalendarRecord),
}

/// Reads and checks a whole mapped file: the writer's bookkeeping and the calendars.
fn load(path: &Path, bytes: &[u8]) -> Result<(WriterState, ById), Error> {
    check_header(bytes).map_err(|what| corrupt(path, &what))?;
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
        MetaRecord::decode(payload)
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
    let mut free = BTreeSet::new();
    let mut by_id = ById::default();
    for slot in 0..slot_count {
        let record = slot + 1;
        let chosen = choose(pair(record), record, |kind, payload| match kind {
            PayloadKind::Free if payload.is_empty() => Ok(SlotValue::Free),
            PayloadKind::Free => Err(String::from("a free slot with a payload")),
            PayloadKind::Calendar => CalendarRecord::decode(payload).map(SlotValue::Calendar),
            PayloadKind::Meta => Err(String::from("a meta payload in a calendar slot")),
        })
        .map_err(|what| corrupt(path, &std::format!("{}: {what}", record_name(record))))?;
        slots.push(Copies {
            newest: chosen.copy,
            seq: chosen.seq,
        });
        match chosen.value {
            SlotValue::Free => {
                free.insert(slot);
            }
            SlotValue::Calendar(calendar) => {
                let id: Arc<str> = Arc::from(calendar.id.as_str());
                if let Some(other) = by_id.get(&id) {
                    return Err(corrupt(
                        path,
                        &std::format!(
                            "{}: calendar {id:?} is also in calendar slot {}",
                            record_name(record),
                            other.slot
                        ),
                    ));
                }
                let published = Published {
                    slot,
                    current: ArcSwap::from_pointee(Calendar { record: calendar }),
                };
                by_id.insert(id, Arc::new(published));
            }
        }
    }
    let meta_copies = Copies {
        newest: meta.copy,
        seq: meta.seq,
    };
    Ok((
        WriterState::new(meta.value, meta_copies, slots, free),
        by_id,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_image_has_the_length_of_its_slots() {
        let image = new_file_image();
        assert_eq!(image.len(), file_len(INITIAL_SLOTS));
    }
}
