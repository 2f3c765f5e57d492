//! Opening a store: creating a new file, making what is read durable, and recovery (choosing
//! each record's copy and checking the whole file; docs/format.md, section 6).

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use std::path::Path;

use arc_swap::ArcSwap;

use super::backend::Backend;
use super::calendar::{default_calendar, incarnation, Calendar};
use super::file::corrupt;
use super::format::{
    check_header, choose, copy_offset, encode_copy, encode_header, file_len, free_slot_pages,
    record_name, CalendarRecord, Chosen, MetaRecord, PayloadKind, META_RECORD, MIGRATES_FROM, PAGE,
};
use super::journal::Journal;
use super::journal_format::Record;
use super::writer::{Copies, Writer, WriterState};
use super::{Directory, Group, Options, Published, Store};
use crate::dated::{date_of_day, BookingId, Claim, Dated, DayOverride};
use crate::error::Error;
use crate::tz::Zone;

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

/// Opens a store over a locked store file and its journal: makes both durable, reads and
/// checks them (migrating a format version 1 file first), and replays the journal's dated
/// records onto the calendars they belong to.
///
/// The flush comes first because what this process reads may be only in the page cache: a
/// previous process may have written a copy and been killed before its msync. Taking that
/// copy as current and then overwriting the other one, the only durable copy, would let a
/// power failure lose an acknowledged state. After the flush, everything read is durable.
pub(super) fn open_backend(
    file: Backend,
    journal: Backend,
    options: Options,
) -> Result<Store, Error> {
    file.sync_all()?;
    let mut file = file;
    let mut loaded = file.read(|bytes| load(file.path(), bytes))??;
    if loaded.format == MIGRATES_FROM {
        // Version 1: write the whole file anew in version 2, atomically, while holding the
        // old file's lock, and read that back.
        let image = migrated_image(&loaded);
        file = file.replace(&image)?;
        loaded = file.read(|bytes| load(file.path(), bytes))??;
    }
    let journal_path = journal.path().to_path_buf();
    let (journal, records) = Journal::open(journal)?;
    let mut groups = imbl::OrdMap::new();
    for record in &records {
        match record {
            Record::Group { id, members } => {
                groups.insert(
                    id.clone(),
                    Arc::new(Group::new(id.clone(), members.clone())),
                );
            }
            Record::DeleteGroup { id } => {
                groups.remove(id);
            }
            _ => {}
        }
    }
    // What retention drops is dropped now as well as at every later write, so a store shows
    // the same dated data before and after a reopen.
    let cutoff = super::checked::now_ms().div_euclid(1000) - options.retention_seconds;
    let (state, directory) = loaded
        .into_state(records, cutoff)
        .map_err(|what| corrupt(&journal_path, &what))?;
    let admin_keys = state.meta.admin_keys.clone();
    Ok(Store {
        directory: ArcSwap::from_pointee(directory),
        admin_keys: ArcSwap::from_pointee(admin_keys),
        writer: Writer::new(file, state),
        journal,
        groups: ArcSwap::from_pointee(groups),
        group_writes: std::sync::Mutex::new(()),
        retention_seconds: options.retention_seconds.max(0),
    })
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
            if let Some(other) = ids.insert(calendar.id.clone(), slot) {
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

/// A version 2 image of a file read as version 1: every record in copy A with its sequence
/// number, copy B zeros.
fn migrated_image(loaded: &Loaded) -> Vec<u8> {
    let mut image = Vec::with_capacity(file_len(loaded.meta.value.slots));
    image.extend_from_slice(&encode_header());
    let mut copy = [0u8; PAGE];
    encode_copy(
        &mut copy,
        META_RECORD,
        loaded.meta.seq,
        PayloadKind::Meta,
        &loaded.meta.value.encode(),
    );
    image.extend_from_slice(&copy);
    image.extend_from_slice(&[0u8; PAGE]);
    for (slot, chosen) in loaded.slots.iter().enumerate() {
        let (kind, payload) = match &chosen.value {
            SlotValue::Free => (PayloadKind::Free, Vec::new()),
            SlotValue::Calendar(calendar) => (PayloadKind::Calendar, calendar.encode()),
        };
        encode_copy(&mut copy, slot as u32 + 1, chosen.seq, kind, &payload);
        image.extend_from_slice(&copy);
        image.extend_from_slice(&[0u8; PAGE]);
    }
    image
}

impl Loaded {
    /// The writer's bookkeeping and the published calendars, with the journal's `records`
    /// replayed onto the calendars they belong to (records of deleted calendars, and of
    /// earlier calendars with the same id, are skipped).
    ///
    /// Two bookings of one calendar whose spans overlap in real time are refused: claims never
    /// make them, so the journal is damaged.
    fn into_state(
        self,
        records: Vec<Record>,
        cutoff: i64,
    ) -> Result<(WriterState, Directory), String> {
        let mut calendars: BTreeMap<String, (u32, CalendarRecord, Dated)> = BTreeMap::new();
        let mut copies = Vec::with_capacity(self.slots.len());
        let mut free = BTreeSet::new();
        for (slot, chosen) in self.slots.into_iter().enumerate() {
            let slot = slot as u32;
            copies.push(Copies {
                newest: chosen.copy,
                seq: chosen.seq,
            });
            match chosen.value {
                SlotValue::Free => {
                    free.insert(slot);
                }
                SlotValue::Calendar(calendar) => {
                    calendars.insert(calendar.id.clone(), (slot, calendar, Dated::new()));
                }
            }
        }
        for record in &records {
            let Some(owner) = record.owner() else {
                continue;
            };
            let Some((_, calendar, dated)) = calendars.get_mut(&owner.id) else {
                continue;
            };
            if calendar.incarnation != owner.incarnation {
                continue;
            }
            calendar.version = calendar.version.max(owner.version);
            replay(dated, &calendar.zone, record)
                .map_err(|what| std::format!("calendar {:?}: {what}", owner.id))?;
        }
        let mut directory = Directory::default();
        for (id, (slot, record, mut dated)) in calendars {
            if !dated.is_empty() {
                dated.compact_before(zone_at_open(&record.zone), cutoff);
            }
            let published = Published {
                slot,
                current: ArcSwap::from_pointee(Calendar {
                    record,
                    dated: Arc::new(dated),
                }),
            };
            directory.insert(Arc::from(id.as_str()), Arc::new(published));
        }
        let meta_copies = Copies {
            newest: self.meta.copy,
            seq: self.meta.seq,
        };
        Ok((
            WriterState::new(self.meta.value, meta_copies, copies, free),
            directory,
        ))
    }
}

/// Applies one journal record to a calendar's dated data, as it was made; refuses a booking
/// that overlaps a live one in real time.
fn replay(dated: &mut Dated, zone: &str, record: &Record) -> Result<(), String> {
    let zone = zone_at_open(zone);
    match record {
        Record::State { next_booking, .. } => dated.reserve_booking_ids(*next_booking),
        Record::Override {
            day, open, firm, ..
        } => {
            if let (Some(date), Ok(day)) = (date_of_day(*day), DayOverride::from_bits(*open, *firm))
            {
                // A date outside the supported years cannot be written; nothing to restore.
                let _ = dated.set_override(date, day);
            }
        }
        Record::ClearOverride { day, .. } => {
            if let Some(date) = date_of_day(*day) {
                dated.remove_override(date);
            }
        }
        Record::Book {
            id,
            start,
            end,
            created_ms,
            key_id,
            label,
            ..
        } => {
            let claim = Claim {
                start: *start,
                end: *end,
                label: label.clone(),
                key_id: key_id.clone(),
            };
            dated.cancel(BookingId(*id));
            if let Some(other) = dated.overlapping(zone, *start, *end) {
                return Err(std::format!(
                    "bookings {other} and {id} overlap in time, which no claim makes: the \
                     journal is damaged"
                ));
            }
            dated.restore_booking(zone, &claim, BookingId(*id), *created_ms);
        }
        Record::Cancel { id, .. } => {
            dated.cancel(BookingId(*id));
        }
        Record::Remember(_) | Record::Group { .. } | Record::DeleteGroup { .. } => {}
    }
    Ok(())
}

/// The zone named `name`, or UTC when the time-zone data in use has no such zone (the
/// calendar's bookings then claim slots by UTC wall time until the data knows it).
pub(super) fn zone_or_utc(name: &str) -> Zone {
    Zone::new(name).unwrap_or(Zone::UTC)
}

/// As [`zone_or_utc`], while opening: without settling which database is in use, so that a
/// program can open the store, learn which zones its calendars use, and then install the
/// time-zone data that has them ([`Store::refresh_time_zones`] then derives the bookings'
/// slots again).
fn zone_at_open(name: &str) -> Zone {
    crate::tz::Tzdb::current_or_bundled()
        .zone(name)
        .unwrap_or(Zone::UTC)
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
