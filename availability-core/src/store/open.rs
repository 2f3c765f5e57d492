//! Opening a store: migrating a file of an older format, reading the log, and building the
//! state readers see (docs/format.md, sections 7 and 9).

use alloc::boxed::Box;
use alloc::collections::btree_map::Entry;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use arc_swap::ArcSwap;

use super::backend::Backend;
use super::calendar::{shared_dated, Calendar};
use super::checked::{now_ms, KeyHash};
use super::directory::Directory;
use super::file::corrupt;
use super::format::{sniff_version, CalendarRecord, FORMAT_VERSION, OLDER_LOGS};
use super::id_key::IdKey;
use super::journal::Journal;
use super::journal_format::Record;
use super::migrate;
use super::writer::Writer;
use super::{Group, Options, Published, Store};
use crate::dated::{date_of_day, BookingId, Claim, Dated, DayOverride};
use crate::error::Error;
use crate::tz::Zone;

/// Opens a store over a locked store file: makes it durable, migrates it first if it is of
/// an older format (with `old_journal`, the journal beside a version 2 file), then reads the
/// log, record by record, into the state readers see.
///
/// The flush comes first because what this process reads may be only in the page cache: a
/// previous process may have appended a record and been killed before its flush. Building on
/// that record (and acknowledging writes after it) would let a power failure lose it from
/// under them. After the flush, everything read is durable.
pub(super) fn open_backend(
    file: Backend,
    old_journal: Option<Backend>,
    options: Options,
) -> Result<Store, Error> {
    file.sync_all()?;
    let now = now_ms();
    // What retention drops is dropped now as well as at every later write, so a store shows
    // the same dated data before and after a reopen.
    let cutoff = now.div_euclid(1000) - options.retention_seconds;
    let version = file
        .read(sniff_version)?
        .map_err(|what| corrupt(file.path(), &what))?;
    let file = if version == FORMAT_VERSION || OLDER_LOGS.contains(&version) {
        file
    } else {
        let image = migrate::image(&file, old_journal, cutoff, now)?;
        file.replace(&image)?
    };
    let mut replayed = Replayed::default();
    let journal = Journal::open(file, &mut |record| replayed.apply(record))?;
    let Replayed {
        calendars,
        groups,
        admin_keys,
    } = replayed;
    let published = calendars.into_iter().map(|(id, replaying)| {
        let id = id.into_id();
        let Replaying {
            record,
            version,
            dated,
        } = replaying;
        let dated = match dated {
            Some(mut dated) => {
                dated.compact_before(zone_at_open(&record.zone), cutoff);
                shared_dated(*dated)
            }
            None => shared_dated(Dated::new()),
        };
        let published = Published {
            current: ArcSwap::from_pointee(Calendar {
                record,
                version,
                dated,
            }),
        };
        (id, Arc::new(published))
    });
    let directory = Directory::build(published);
    release_freed_memory();
    let store = Store {
        directory,
        admin_keys: ArcSwap::from_pointee(admin_keys.clone()),
        writer: Writer::new(admin_keys),
        journal,
        groups: ArcSwap::from_pointee(groups),
        group_writes: std::sync::Mutex::new(()),
        webhook_writes: std::sync::Mutex::new(()),
        retention_seconds: options.retention_seconds.max(0),
        removed: std::sync::Mutex::default(),
    };
    if OLDER_LOGS.contains(&version) {
        // Its records are this version's; a compaction writes them under this version's
        // header before any record of this version's alone is appended.
        store.compact_journal_if_due(true)?;
    }
    Ok(store)
}

/// A calendar as the records read so far describe it.
struct Replaying {
    /// Its last record, shared with the log's index of what is live.
    record: Arc<CalendarRecord>,
    /// Its version: the largest any of its records made, dated records included.
    version: u64,
    /// Its dated data, once it has some: most calendars have none, and an empty one inline
    /// would cost a million calendars 200 MB while the log is read.
    dated: Option<Box<Dated>>,
}

/// The state the log's records describe, built record by record as they are read.
#[derive(Default)]
struct Replayed {
    /// By id, in id order.
    calendars: BTreeMap<IdKey, Replaying>,
    groups: imbl::OrdMap<String, Arc<Group>>,
    admin_keys: Vec<KeyHash>,
}

impl Replayed {
    /// Applies `record` to the state before it; refuses a record that does not apply to it
    /// (a calendar that exists as another incarnation, a record of no calendar, bookings
    /// that overlap): no write makes one, so the log is damaged.
    fn apply(&mut self, record: &Record) -> Result<(), String> {
        match record {
            // One descent of the map per record, a new calendar's included.
            Record::Calendar(next) | Record::Pattern { record: next, .. } => {
                match self.calendars.entry(IdKey::of(&next.id)) {
                    Entry::Vacant(vacant) => {
                        vacant.insert(Replaying {
                            record: Arc::clone(next),
                            version: next.version,
                            dated: None,
                        });
                    }
                    Entry::Occupied(mut occupied) => {
                        let Replaying {
                            record: current,
                            version,
                            dated,
                        } = occupied.get_mut();
                        if current.incarnation != next.incarnation {
                            return Err(std::format!(
                                "calendar {:?} of incarnation {} while incarnation {} exists",
                                next.id,
                                next.incarnation,
                                current.incarnation
                            ));
                        }
                        if let Some(dated) = dated.as_mut().filter(|_| current.zone != next.zone) {
                            // Bookings keep their real spans: in the new zone they claim other
                            // owner slots, as the change itself derived them.
                            **dated = dated
                                .rezone(zone_at_open(&next.zone))
                                .map_err(|e| std::format!("calendar {:?}: {e}", next.id))?;
                        }
                        *version = (*version).max(next.version);
                        *current = Arc::clone(next);
                    }
                }
            }
            Record::DeleteCalendar { id, incarnation } => {
                match self.calendars.get(&IdKey::new(Arc::from(id.as_str()))) {
                    Some(Replaying {
                        record: current, ..
                    }) if current.incarnation == *incarnation => {}
                    _ => {
                        return Err(std::format!(
                            "the deletion of calendar {id:?} of incarnation {incarnation}, \
                             which does not exist"
                        ))
                    }
                }
                self.calendars.remove(&IdKey::new(Arc::from(id.as_str())));
            }
            Record::AdminKeys(keys) => self.admin_keys.clone_from(keys),
            Record::Group(group) => {
                self.groups
                    .insert(String::from(group.id()), Arc::clone(group));
            }
            Record::GroupWrite(write) => {
                for part in write.records() {
                    self.apply(&part)?;
                }
            }
            Record::Calendars(records) => {
                for record in records {
                    if self.calendars.contains_key(&IdKey::of(&record.id)) {
                        return Err(std::format!(
                            "a batch creates calendar {:?}, which exists",
                            record.id
                        ));
                    }
                    self.apply(&Record::Calendar(Arc::clone(record)))?;
                }
            }
            Record::DeleteGroup { id } => {
                self.groups.remove(id);
            }
            Record::Past {
                id, incarnation, ..
            } => match self.calendars.get(&IdKey::new(Arc::from(id.as_str()))) {
                Some(Replaying { record, .. }) if record.incarnation == *incarnation => {}
                _ => {
                    return Err(std::format!(
                        "the pattern history of calendar {id:?} of incarnation {incarnation}, \
                         which does not exist"
                    ))
                }
            },
            Record::Remember(_)
            | Record::Webhook(_)
            | Record::DeleteWebhook { .. }
            | Record::Attempts { .. }
            | Record::Pending(_) => {}
            _ => {
                let Some(owner) = record.owner() else {
                    return Ok(());
                };
                let Some(Replaying {
                    record: current,
                    version,
                    dated,
                }) = self
                    .calendars
                    .get_mut(&IdKey::new(Arc::from(owner.id.as_str())))
                else {
                    return Err(std::format!(
                        "a record of calendar {:?}, which does not exist",
                        owner.id
                    ));
                };
                if current.incarnation != owner.incarnation {
                    return Err(std::format!(
                        "a record of calendar {:?} of incarnation {}, while incarnation {} \
                         exists",
                        owner.id,
                        owner.incarnation,
                        current.incarnation
                    ));
                }
                *version = (*version).max(owner.version);
                replay(
                    dated.get_or_insert_with(|| Box::new(Dated::new())),
                    &current.zone,
                    record,
                )
                .map_err(|what| std::format!("calendar {:?}: {what}", owner.id))?;
            }
        }
        Ok(())
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
            booking_type,
            group,
            ..
        } => {
            let claim = Claim {
                start: *start,
                end: *end,
                label: label.clone(),
                key_id: key_id.clone(),
                booking_type: booking_type.clone(),
                group: group.clone(),
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
        Record::Remember(_)
        | Record::Group(_)
        | Record::GroupWrite(_)
        | Record::DeleteGroup { .. }
        | Record::Calendar(_)
        | Record::Calendars(_)
        | Record::Pattern { .. }
        | Record::Past { .. }
        | Record::DeleteCalendar { .. }
        | Record::AdminKeys(_)
        | Record::Webhook(_)
        | Record::DeleteWebhook { .. }
        | Record::Attempts { .. }
        | Record::Pending(_) => {}
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

/// Gives the allocator's free memory back to the system. Reading a log allocates and frees a
/// record for every record read, and the allocator keeps what was freed for later: after
/// the open of a large store that was about a third of the process.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_freed_memory() {
    // SAFETY: malloc_trim only returns free heap memory to the system; it has no
    // preconditions.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_freed_memory() {}
