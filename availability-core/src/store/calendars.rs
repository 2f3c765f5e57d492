//! Creating, changing and deleting calendars, and reading owner zones again after the
//! time-zone data changed.

use alloc::sync::Arc;
use alloc::vec::Vec;

use arc_swap::ArcSwap;

use alloc::string::String;

use super::calendar::{new_calendar, not_found, shared_dated, Calendar, Change};
use super::checked::now_ms;
use super::checked::KeyHash;
use super::checked::{check_id, check_zone_name};
use super::decide;
use super::expect::{Authority, Expected};
use super::format::CalendarRecord;
use super::history::{history_of, PastPattern};
use super::journal_format::Record;
use super::open::zone_or_utc;
use super::{Published, Store};
use crate::dated::Dated;
use crate::error::{Error, Kind};

/// A calendar for [`Store::create_batch`] to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCalendar {
    /// Its id: `[a-z0-9][a-z0-9-]{0,62}`.
    pub id: String,
    /// The owner's zone name.
    pub zone: String,
    /// Whether anyone may book it (otherwise a key is needed).
    pub booking_public: bool,
}

/// The ids of `batch`, which must hold 1 to [`MAX_BATCH`](super::MAX_BATCH) calendars of
/// distinct ids.
///
/// # Errors
///
/// [`Error::is_capacity`] for an empty or too large batch, [`Error::is_already_exists`]
/// for an id given twice.
pub fn batch_ids(batch: &[NewCalendar]) -> Result<Vec<String>, Error> {
    if batch.is_empty() || batch.len() > super::MAX_BATCH {
        return Err(Error::new(
            Kind::Capacity,
            std::format!(
                "a batch of {} calendars: a batch creates 1 to {}",
                batch.len(),
                super::MAX_BATCH
            ),
        ));
    }
    let mut ids: Vec<String> = batch.iter().map(|new| new.id.clone()).collect();
    ids.sort_unstable();
    if let Some(pair) = ids.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(Error::new(
            Kind::AlreadyExists,
            std::format!("calendar {:?} is in the batch twice", pair[0]),
        ));
    }
    Ok(ids)
}

/// The calendars of a batch (see [`Store::create_batch`]),
/// the `i`-th of incarnation `incarnation(i)`, if `by` may create them and each id and zone
/// is well formed.
///
/// # Errors
///
/// As [`decide::creation`](super::decide::creation), for the first calendar that fails.
pub fn batch_creation(
    batch: &[NewCalendar],
    incarnation: impl Fn(usize) -> u64,
    by: &Authority,
    admin_keys: &[KeyHash],
) -> Result<Vec<Calendar>, Error> {
    by.check(None, admin_keys)?;
    batch
        .iter()
        .enumerate()
        .map(|(i, new)| {
            check_id(&new.id)?;
            check_zone_name(&new.zone)?;
            let mut record = new_calendar(&new.id, &new.zone, Vec::new(), incarnation(i));
            record.booking_public = new.booking_public;
            Ok(Calendar {
                version: record.version,
                record: Arc::new(record),
                dated: shared_dated(Dated::new()),
            })
        })
        .collect()
}

impl Store {
    /// Creates calendar `id` with owner zone `zone`, every slot unavailable, version 1, and
    /// these keys, in one commit: a crash leaves either no calendar or the calendar with its
    /// keys. `by` authorized it, and is checked again under the writer lock (an admin key
    /// revoked meanwhile creates nothing; [`Authority::Unchecked`] checks nothing). Returns
    /// once it is on disk.
    ///
    /// # Errors
    ///
    /// [`Error::is_parse`] for an id that is not `[a-z0-9][a-z0-9-]{0,62}` or a zone name
    /// that is not 1 to 64 characters of an IANA name's alphabet (the name is not looked up),
    /// [`Error::is_already_exists`] when the id is taken or two keys share an id,
    /// [`Error::is_capacity`] for more keys than a record holds or when the file has reached
    /// its largest size, [`Error::is_unauthorized`] when `by` was revoked,
    /// [`Error::is_forbidden`] when it is not an admin key, [`Error::is_io`] when the write
    /// failed.
    pub fn create(
        &self,
        id: &str,
        zone: &str,
        keys: Vec<KeyHash>,
        by: &Authority,
    ) -> Result<Arc<Calendar>, Error> {
        // Waits for a create or delete of the same id in flight, so that the check below
        // sees its outcome.
        let (writer, ()) = self.writer.settled(|| Ok((String::from(id), ())))?;
        let made = decide::creation(id, zone, keys, 0, by, &writer.meta.admin_keys)?;
        if self.contains(id) {
            return Err(Error::new(
                Kind::AlreadyExists,
                std::format!("calendar {id:?} already exists"),
            ));
        }
        let record = self.writer.exclusive(
            writer,
            id,
            || {
                // The incarnation is the sequence number of the record that creates it.
                self.journal.append_made(&mut |seq| {
                    let mut record = CalendarRecord::clone(&made.record);
                    record.incarnation = seq;
                    Ok(Record::Calendar(Arc::new(record)))
                })
            },
            |_, record| {
                if let Record::Calendar(record) = record {
                    self.publish_new(Arc::clone(record));
                }
            },
        )?;
        match record {
            Record::Calendar(record) => Ok(Arc::new(Calendar {
                version: record.version,
                record,
                dated: shared_dated(Dated::new()),
            })),
            _ => Err(Error::new(Kind::Io, "a create wrote another record")),
        }
    }

    /// Creates every calendar of `batch` (at most [`MAX_BATCH`](super::MAX_BATCH), ids
    /// distinct) in one commit, without keys: a crash leaves all of them or none, and
    /// readers see them all at once or none. Each is as [`Store::create`] makes it (every
    /// slot unavailable, version 1), open to bookings from anyone when its `booking_public`
    /// says so. `by` is checked as for [`Store::create`]. Returns them in the batch's order
    /// once they are on disk.
    ///
    /// # Errors
    ///
    /// As [`Store::create`], for the first calendar that fails; [`Error::is_capacity`] for an
    /// empty batch or one over the limit, [`Error::is_already_exists`] when an id is taken or
    /// given twice. Nothing is created on any error.
    pub fn create_batch(
        &self,
        batch: &[NewCalendar],
        by: &Authority,
    ) -> Result<Vec<Arc<Calendar>>, Error> {
        let ids = batch_ids(batch)?;
        // Waits for writes in flight to any of the ids, so that the checks below see them.
        let (writer, ids, ()) = self.writer.settled_all(|| Ok((ids.clone(), ())))?;
        let made = batch_creation(batch, |_| 0, by, &writer.meta.admin_keys)?;
        if let Some(taken) = batch.iter().find(|new| self.contains(&new.id)) {
            return Err(Error::new(
                Kind::AlreadyExists,
                std::format!("calendar {:?} already exists", taken.id),
            ));
        }
        let record = self.writer.exclusive_all(
            writer,
            &ids,
            || {
                // The incarnation is the sequence number of the record that creates them.
                self.journal.append_made(&mut |seq| {
                    Ok(Record::Calendars(
                        made.iter()
                            .map(|calendar| {
                                let mut record = CalendarRecord::clone(&calendar.record);
                                record.incarnation = seq;
                                Arc::new(record)
                            })
                            .collect(),
                    ))
                })
            },
            |_, record| {
                if let Record::Calendars(records) = record {
                    for record in records {
                        self.publish_new(Arc::clone(record));
                    }
                }
            },
        )?;
        match record {
            Record::Calendars(records) => Ok(records
                .into_iter()
                .map(|record| {
                    Arc::new(Calendar {
                        version: record.version,
                        record,
                        dated: shared_dated(Dated::new()),
                    })
                })
                .collect()),
            _ => Err(Error::new(Kind::Io, "a batch create wrote another record")),
        }
    }

    /// Shows a new calendar to readers (under the writer lock).
    fn publish_new(&self, record: Arc<CalendarRecord>) {
        let id = Arc::clone(&record.id);
        let published = Arc::new(Published {
            current: ArcSwap::new(Arc::new(Calendar {
                version: record.version,
                record,
                dated: shared_dated(Dated::new()),
            })),
        });
        self.directory.insert(id, published);
    }

    /// Deletes calendar `id` and its keys. Returns once that is on disk.
    ///
    /// With `expected` ([`Expected`]: a version, an incarnation, the key that authorized
    /// it), the calendar is deleted only if each still holds.
    ///
    /// # Errors
    ///
    /// [`Error::is_not_found`] when there is no such calendar (or not the incarnation
    /// expected), [`Error::is_version_mismatch`] when it is not at the expected version,
    /// [`Error::is_unauthorized`] / [`Error::is_forbidden`] when the expected authority no
    /// longer covers it, [`Error::is_io`] when the write failed. Nothing changes on any error.
    pub fn delete(&self, id: &str, expected: impl Into<Expected>) -> Result<(), Error> {
        let expected = expected.into();
        let (writer, published) = self.settled(id)?;
        let current = published.current.load_full();
        expected.check(id, &current, &writer.meta.admin_keys)?;
        let record = Record::DeleteCalendar {
            id: String::from(id),
            incarnation: current.incarnation(),
        };
        self.writer.exclusive(
            writer,
            id,
            || self.journal.append(&record),
            |_, ()| {
                self.directory.remove(id);
            },
        )?;
        let _ = self.compact_journal_if_due(false);
        Ok(())
    }

    /// Commits one change to calendar `id`, bumping its version by one, and returns the new
    /// state once it is on disk (and published to readers).
    ///
    /// With `expected` ([`Expected`]; `Some(version)` for HTTP `If-Match`), the change is
    /// made only if the calendar is at that version and incarnation, and the key that
    /// authorized it still does.
    ///
    /// # Errors
    ///
    /// Nothing changes on any error:
    /// - [`Error::is_not_found`]: no calendar `id` (or, for [`Change::RemoveKey`], no such key).
    /// - [`Error::is_version_mismatch`]: the calendar is not at `expected_version`.
    /// - the batch's own error for an invalid [`Change::Apply`] or [`Change::Replace`]
    ///   ([`Error::entry_index`] names the first bad entry).
    /// - [`Error::is_parse`]: an invalid zone name for [`Change::SetZone`].
    /// - [`Error::is_already_exists`] / [`Error::is_capacity`]: [`Change::AddKey`] with a key
    ///   id the calendar has, or a calendar that has 16 keys already.
    /// - [`Error::is_unauthorized`] / [`Error::is_forbidden`]: the key that authorized the
    ///   change ([`Expected::by`]) was revoked or no longer covers it.
    /// - [`Error::is_io`]: the write or the flush failed.
    ///
    /// A calendar that is not the incarnation expected is not found.
    pub fn commit(
        &self,
        id: &str,
        expected: impl Into<Expected>,
        change: &Change,
    ) -> Result<Arc<Calendar>, Error> {
        let expected = expected.into();
        let (writer, published) = self.settled(id)?;
        let current = published.current.load_full();
        let calendar = Arc::new(decide::change(
            &current,
            &expected,
            &writer.meta.admin_keys,
            change,
        )?);
        let record = Arc::clone(&calendar.record);
        // A change of the pattern says which key made it, for the history.
        let record = if record.week == current.record.week {
            Record::Calendar(record)
        } else {
            Record::Pattern {
                by: expected.by.key_id().map(Arc::from),
                record,
            }
        };
        // Group commit: the writer is let go while the record is flushed, so that commits
        // to other calendars share the flush.
        self.writer.exclusive(
            writer,
            id,
            || self.journal.append(&record),
            |_, ()| published.current.store(Arc::clone(&calendar)),
        )?;
        let _ = self.compact_journal_if_due(false);
        Ok(calendar)
    }

    /// The versions of calendar `id`'s weekly pattern, newest first: every version committed
    /// within the retention period (at most [`MAX_HISTORY`](super::MAX_HISTORY)), and the one in force however old
    /// it is. A calendar whose pattern has not changed since the history began has one: its
    /// record's week, as of the record's version, by no key known.
    ///
    /// # Errors
    ///
    /// [`Error::is_not_found`] when there is no calendar `id`.
    pub fn history(&self, id: &str) -> Result<Vec<PastPattern>, Error> {
        let calendar = self.get(id).ok_or_else(|| not_found(id))?;
        let kept = self.journal.history(id, calendar.incarnation());
        let cutoff_ms = (now_ms().div_euclid(1000) - self.retention_seconds).saturating_mul(1000);
        Ok(history_of(&calendar, kept.as_deref(), cutoff_ms))
    }

    /// Derives every booking's owner slots again from its span and its calendar's zone, with
    /// the time-zone data in use now. A program that installs a newer release
    /// ([`Tzdb::install`](crate::tz::Tzdb::install)) after opening the store (to learn which
    /// zones its calendars use first) calls this once the release is installed. Versions do
    /// not change: the bookings are the same spans of real time.
    ///
    /// # Errors
    ///
    /// [`Error::is_io`] when the store refuses writes (after a failed flush).
    pub fn refresh_time_zones(&self) -> Result<(), Error> {
        let mut dated = Vec::new();
        self.for_each(|calendar| {
            if !calendar.dated().is_empty() {
                dated.push(calendar.shared_id());
            }
        });
        for id in dated {
            let (writer, published) = match self.settled(&id) {
                Ok(settled) => settled,
                // Deleted since: nothing to derive.
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            let current = published.current.load_full();
            let dated = current.dated.rederive(zone_or_utc(current.zone()));
            let next = Arc::new(Calendar {
                record: Arc::clone(&current.record),
                version: current.version,
                dated: Arc::new(dated),
            });
            self.writer.exclusive(
                writer,
                &id,
                || Ok(()),
                |_, ()| published.current.store(Arc::clone(&next)),
            )?;
        }
        Ok(())
    }
}
