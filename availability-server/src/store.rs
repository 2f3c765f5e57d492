//! The calendars, and where their writes go: the store file in the data directory (the
//! default), or a PostgreSQL database that several instances share.
//!
//! Reads are the same for both: routes use the core's [`Store`] directly (the file's, or the
//! database's mirror in memory), one lock-free lookup that shares the calendar's `Arc`. Writes
//! go through [`Storage`], the seam: the same operations, decided by the same rules of the
//! core, made durable by a flush of the file or a database transaction. They block until then,
//! so routes run them on tokio's blocking pool; a booking is awaited instead
//! ([`Storage::book`]).

use std::path::Path;
use std::sync::{Arc, OnceLock, Weak};

use availability_core::dated::{Booking, BookingId, Claim, DayOverride};
use availability_core::store::decide::DatedWrite;
pub use availability_core::store::group_book::{GroupBooking, GroupRequest};
pub use availability_core::store::{
    Answer, Attempt, Authority, Calendar, Change, EventId, Expected, Group, GroupType, Head,
    IdempotencyKey, KeyHash, KeyScope, NewCalendar, PastPattern, Pending, Remembered, Store,
    Webhook, DEFAULT_CALENDAR, MAX_BATCH,
};
use availability_core::Error;
pub use availability_postgres::{Booked, Database, OutboxCounts};
use chrono::NaiveDate;

use crate::app::App;

/// The file of the store inside the data directory.
pub const STORE_FILE: &str = "availability.store";

/// Opens (or creates) the store in `data_dir`.
///
/// # Errors
///
/// The store's own message: which file, which record and what failed.
pub fn open(data_dir: &Path) -> Result<Arc<Store>, String> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("creating the data directory {}: {e}", data_dir.display()))?;
    Store::open(data_dir.join(STORE_FILE))
        .map(Arc::new)
        .map_err(|e| e.to_string())
}

/// Where writes go.
#[derive(Debug, Clone)]
pub enum Storage {
    /// The store file.
    File(Arc<Store>),
    /// A PostgreSQL database; the app it tells of other instances' changes.
    Postgres(Arc<Database>, Arc<OnceLock<Weak<App>>>),
}

impl Storage {
    /// The calendars as readers see them.
    pub fn store(&self) -> &Arc<Store> {
        match self {
            Storage::File(store) => store,
            Storage::Postgres(db, _) => db.store(),
        }
    }

    /// Why writes cannot be taken now, if they cannot: a failed flush of the file, or the
    /// database away.
    pub fn unready(&self) -> Option<String> {
        match self {
            Storage::File(store) => store.write_failure(),
            Storage::Postgres(db, _) => db.unready(),
        }
    }

    /// Runs a database write to its end on this (blocking) thread.
    fn wait<T>(future: impl std::future::Future<Output = Result<T, Error>>) -> Result<T, Error> {
        tokio::runtime::Handle::current().block_on(future)
    }

    /// Creates a calendar ([`Store::create`]).
    ///
    /// # Errors
    ///
    /// As [`Store::create`]; [`Error::is_unavailable`] when the database is away.
    pub fn create(
        &self,
        id: &str,
        zone: &str,
        keys: Vec<KeyHash>,
        by: &Authority,
    ) -> Result<Arc<Calendar>, Error> {
        match self {
            Storage::File(store) => store.create(id, zone, keys, by),
            Storage::Postgres(db, _) => Self::wait(db.create(id, zone, keys, by)),
        }
    }

    /// Creates calendars in one commit ([`Store::create_batch`]).
    ///
    /// # Errors
    ///
    /// As [`Store::create_batch`]; [`Error::is_unavailable`] when the database is away.
    pub fn create_batch(
        &self,
        batch: &[NewCalendar],
        by: &Authority,
    ) -> Result<Vec<Arc<Calendar>>, Error> {
        match self {
            Storage::File(store) => store.create_batch(batch, by),
            Storage::Postgres(db, _) => Self::wait(db.create_batch(batch, by)),
        }
    }

    /// Commits a change ([`Store::commit`]).
    ///
    /// # Errors
    ///
    /// As [`Store::commit`]; [`Error::is_unavailable`] when the database is away.
    pub fn commit(
        &self,
        id: &str,
        expected: impl Into<Expected>,
        change: &Change,
    ) -> Result<Arc<Calendar>, Error> {
        match self {
            Storage::File(store) => store.commit(id, expected, change),
            Storage::Postgres(db, _) => Self::wait(db.commit(id, &expected.into(), change)),
        }
    }

    /// The versions of calendar `id`'s weekly pattern, newest first ([`Store::history`]).
    ///
    /// # Errors
    ///
    /// As [`Store::history`]; [`Error::is_unavailable`] when the database is away.
    pub fn history(&self, id: &str) -> Result<Vec<PastPattern>, Error> {
        match self {
            Storage::File(store) => store.history(id),
            Storage::Postgres(db, _) => Self::wait(db.history(id)),
        }
    }

    /// Deletes a calendar ([`Store::delete`]).
    ///
    /// # Errors
    ///
    /// As [`Store::delete`]; [`Error::is_unavailable`] when the database is away.
    pub fn delete(&self, id: &str, expected: impl Into<Expected>) -> Result<(), Error> {
        match self {
            Storage::File(store) => store.delete(id, expected),
            Storage::Postgres(db, _) => Self::wait(db.delete(id, &expected.into())),
        }
    }

    /// A dated write through the database, which answers with the calendar after it.
    fn dated(
        db: &Database,
        id: &str,
        expected: Expected,
        write: &DatedWrite<'_>,
    ) -> Result<(Arc<Calendar>, Option<Arc<Booking>>), Error> {
        match Self::wait(db.dated(id, &expected, write, None))? {
            Booked::Made(calendar, booking) => Ok((calendar, booking)),
            Booked::Repeat(_) => Err(Error::of_backend(
                availability_core::BackendError::Io,
                "a write without an idempotency key was answered as a repeat",
            )),
        }
    }

    /// Sets an override ([`Store::set_override`]).
    ///
    /// # Errors
    ///
    /// As [`Store::set_override`]; [`Error::is_unavailable`] when the database is away.
    pub fn set_override(
        &self,
        id: &str,
        expected: impl Into<Expected>,
        date: NaiveDate,
        day: DayOverride,
    ) -> Result<Arc<Calendar>, Error> {
        match self {
            Storage::File(store) => store.set_override(id, expected, date, day),
            Storage::Postgres(db, _) => {
                Self::dated(db, id, expected.into(), &DatedWrite::SetOverride(date, day))
                    .map(|(calendar, _)| calendar)
            }
        }
    }

    /// Removes an override ([`Store::clear_override`]).
    ///
    /// # Errors
    ///
    /// As [`Store::clear_override`]; [`Error::is_unavailable`] when the database is away.
    pub fn clear_override(
        &self,
        id: &str,
        expected: impl Into<Expected>,
        date: NaiveDate,
    ) -> Result<Arc<Calendar>, Error> {
        match self {
            Storage::File(store) => store.clear_override(id, expected, date),
            Storage::Postgres(db, _) => {
                Self::dated(db, id, expected.into(), &DatedWrite::ClearOverride(date))
                    .map(|(calendar, _)| calendar)
            }
        }
    }

    /// Books a span ([`Store::book`]); through the database, an idempotency key whose booking
    /// another instance made already gets that booking's answer.
    ///
    /// # Errors
    ///
    /// As [`Store::book`]; [`Error::is_unavailable`] when the database is away.
    ///
    /// A future: through the database it runs on the runtime, where the database's answers
    /// arrive, so that a booking does not hand each one to another thread. On the store file
    /// it does all its work, blocking (the flush), when first polled: it belongs on the
    /// blocking pool, where [`App::commit_awaited_or`] runs it.
    pub async fn book(
        &self,
        id: String,
        expected: Expected,
        claim: Claim,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<Booked, Error> {
        match self {
            Storage::File(store) => store
                .book(&id, expected, &claim, idempotency.as_ref())
                .map(|(calendar, booking)| Booked::Made(calendar, Some(booking))),
            Storage::Postgres(db, _) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                let write = DatedWrite::Book { claim: &claim, now };
                db.dated(&id, &expected, &write, idempotency.as_ref()).await
            }
        }
    }

    /// Cancels a booking ([`Store::cancel`]).
    ///
    /// # Errors
    ///
    /// As [`Store::cancel`]; [`Error::is_unavailable`] when the database is away.
    pub fn cancel(
        &self,
        id: &str,
        expected: impl Into<Expected>,
        booking: BookingId,
    ) -> Result<(Arc<Calendar>, Arc<Booking>), Error> {
        match self {
            Storage::File(store) => store.cancel(id, expected, booking),
            Storage::Postgres(db, _) => {
                match Self::dated(db, id, expected.into(), &DatedWrite::Cancel(booking))? {
                    (calendar, Some(cancelled)) => Ok((calendar, cancelled)),
                    (_, None) => Err(Error::of_backend(
                        availability_core::BackendError::Io,
                        "a cancellation cancelled nothing",
                    )),
                }
            }
        }
    }

    /// Moves a booking ([`Store::reschedule`]).
    ///
    /// # Errors
    ///
    /// As [`Store::reschedule`]; [`Error::is_unavailable`] when the database is away.
    pub fn reschedule(
        &self,
        id: &str,
        expected: impl Into<Expected>,
        booking: BookingId,
        start: i64,
        end: Option<i64>,
    ) -> Result<(Arc<Calendar>, Arc<Booking>), Error> {
        match self {
            Storage::File(store) => store.reschedule(id, expected, booking, start, end),
            Storage::Postgres(db, _) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                let write = DatedWrite::Move {
                    booking,
                    start,
                    end,
                    now,
                };
                match Self::dated(db, id, expected.into(), &write)? {
                    (calendar, Some(moved)) => Ok((calendar, moved)),
                    (_, None) => Err(Error::of_backend(
                        availability_core::BackendError::Io,
                        "a move moved nothing",
                    )),
                }
            }
        }
    }

    /// Creates or replaces a group ([`Store::put_group`]).
    ///
    /// # Errors
    ///
    /// As [`Store::put_group`]; [`Error::is_unavailable`] when the database is away.
    pub fn put_group(
        &self,
        id: &str,
        members: Vec<String>,
        by: &Authority,
    ) -> Result<(Arc<Group>, bool), Error> {
        match self {
            Storage::File(store) => store.put_group(id, members, by),
            Storage::Postgres(db, _) => Self::wait(db.put_group(id, members, by)),
        }
    }

    /// Removes a group ([`Store::delete_group`]).
    ///
    /// # Errors
    ///
    /// As [`Store::delete_group`]; [`Error::is_unavailable`] when the database is away.
    pub fn delete_group(&self, id: &str, by: &Authority) -> Result<(), Error> {
        match self {
            Storage::File(store) => store.delete_group(id, by),
            Storage::Postgres(db, _) => Self::wait(db.delete_group(id, by)),
        }
    }

    /// Sets or removes a group's booking type ([`Store::put_group_type`]).
    ///
    /// # Errors
    ///
    /// As [`Store::put_group_type`]; [`Error::is_unavailable`] when the database is away.
    pub fn put_group_type(
        &self,
        id: &str,
        name: &str,
        ty: Option<GroupType>,
        by: &Authority,
    ) -> Result<Arc<Group>, Error> {
        match self {
            Storage::File(store) => store.put_group_type(id, name, ty, by),
            Storage::Postgres(db, _) => Self::wait(db.put_group_type(id, name, ty, by)),
        }
    }

    /// Books a group ([`Store::group_book`]).
    ///
    /// # Errors
    ///
    /// As [`Store::group_book`]; [`Error::is_unavailable`] when the database is away.
    pub fn group_book(
        &self,
        id: &str,
        request: &GroupRequest<'_>,
        by: &Authority,
    ) -> Result<GroupBooking, Error> {
        match self {
            Storage::File(store) => store.group_book(id, request, by),
            Storage::Postgres(db, _) => Self::wait(db.group_book(id, request, by)),
        }
    }

    /// Cancels a group booking ([`Store::group_cancel`]).
    ///
    /// # Errors
    ///
    /// As [`Store::group_cancel`]; [`Error::is_unavailable`] when the database is away.
    pub fn group_cancel(
        &self,
        id: &str,
        booking: u64,
        by: &Authority,
    ) -> Result<GroupBooking, Error> {
        match self {
            Storage::File(store) => store.group_cancel(id, booking, by),
            Storage::Postgres(db, _) => Self::wait(db.group_cancel(id, booking, by)),
        }
    }

    /// Moves a group booking ([`Store::group_reschedule`]).
    ///
    /// # Errors
    ///
    /// As [`Store::group_reschedule`]; [`Error::is_unavailable`] when the database is away.
    pub fn group_reschedule(
        &self,
        id: &str,
        booking: u64,
        start: i64,
        by: &Authority,
    ) -> Result<GroupBooking, Error> {
        match self {
            Storage::File(store) => store.group_reschedule(id, booking, start, by),
            Storage::Postgres(db, _) => Self::wait(db.group_reschedule(id, booking, start, by)),
        }
    }

    /// Adds an admin key ([`Store::add_admin_key`]).
    ///
    /// # Errors
    ///
    /// As [`Store::add_admin_key`]; [`Error::is_unavailable`] when the database is away.
    pub fn add_admin_key(&self, key: KeyHash, by: &Authority) -> Result<(), Error> {
        match self {
            Storage::File(store) => store.add_admin_key(key, by),
            Storage::Postgres(db, _) => Self::wait(db.add_admin_key(key, by)),
        }
    }

    /// Revokes an admin key ([`Store::revoke_admin_key`]).
    ///
    /// # Errors
    ///
    /// As [`Store::revoke_admin_key`]; [`Error::is_unavailable`] when the database is away.
    pub fn revoke_admin_key(
        &self,
        key_id: &str,
        by: &Authority,
        keep_one: bool,
    ) -> Result<(), Error> {
        match self {
            Storage::File(store) => store.revoke_admin_key(key_id, by, keep_one),
            Storage::Postgres(db, _) => Self::wait(db.revoke_admin_key(key_id, by, keep_one)),
        }
    }

    /// Keeps an answer for an idempotency key ([`Store::remember`]).
    ///
    /// # Errors
    ///
    /// As [`Store::remember`]; [`Error::is_unavailable`] when the database is away.
    pub fn remember(&self, key: &IdempotencyKey, answer: Answer) -> Result<(), Error> {
        match self {
            Storage::File(store) => store.remember(key, answer),
            Storage::Postgres(db, _) => Self::wait(db.remember(key, answer)),
        }
    }

    /// The webhook endpoints, in id order, each with how many events wait for it.
    ///
    /// # Errors
    ///
    /// On a database, [`Error::is_unavailable`] when it is away.
    pub async fn webhooks(&self) -> Result<Vec<(Arc<Webhook>, usize)>, Error> {
        match self {
            Storage::File(store) => {
                let waiting = waiting_per_hook(store);
                Ok(store
                    .webhooks()
                    .into_iter()
                    .map(|h| {
                        let n = waiting.get(h.id()).copied().unwrap_or(0);
                        (h, n)
                    })
                    .collect())
            }
            Storage::Postgres(db, _) => db.webhooks().await,
        }
    }

    /// The webhook endpoints, in id order, without how many events wait for each (which a
    /// database counts in its outbox): what the sender reads at each scan.
    ///
    /// # Errors
    ///
    /// As [`Storage::webhooks`].
    pub async fn endpoints(&self) -> Result<Vec<Arc<Webhook>>, Error> {
        match self {
            Storage::File(store) => Ok(store.webhooks()),
            Storage::Postgres(db, _) => db.endpoints().await,
        }
    }

    /// The webhook endpoint `id`.
    ///
    /// # Errors
    ///
    /// As [`Storage::webhooks`].
    pub async fn webhook(&self, id: &str) -> Result<Option<Arc<Webhook>>, Error> {
        match self {
            Storage::File(store) => Ok(store.webhook(id)),
            Storage::Postgres(db, _) => db.webhook(id).await,
        }
    }

    /// Endpoint `id`'s last attempts, oldest first, and how many events wait for it.
    ///
    /// # Errors
    ///
    /// As [`Storage::webhooks`].
    pub async fn deliveries(&self, id: &str) -> Result<(Vec<Attempt>, usize), Error> {
        match self {
            Storage::File(store) => {
                let waiting = store
                    .waiting_heads()
                    .iter()
                    .filter(|h| h.hook == id)
                    .map(|h| h.waiting)
                    .sum();
                Ok((store.attempts(id), waiting))
            }
            Storage::Postgres(db, _) => db.deliveries(id).await,
        }
    }

    /// The events a sender may deliver next: per endpoint and calendar the oldest waiting.
    /// From the store file, all of them, due or not (the sender waits for the due ones); from
    /// a database, at most `limit` that are due now (`now_ms`), held for this server until
    /// it records their attempts or [`Storage::release`]s them, so that exactly one server
    /// delivers each.
    ///
    /// # Errors
    ///
    /// As [`Storage::webhooks`].
    pub async fn next_events(&self, now_ms: i64, limit: usize) -> Result<Vec<Head>, Error> {
        match self {
            Storage::File(store) => {
                let mut heads = store.waiting_heads();
                heads.sort_by_key(|h| (h.pending.event.at_ms, h.pending.event.id));
                Ok(heads)
            }
            Storage::Postgres(db, _) => db.take_due(now_ms, limit).await,
        }
    }

    /// Lets go of events [`Storage::next_events`] held for this server and that it did not
    /// try (nothing to do on the store file).
    ///
    /// # Errors
    ///
    /// As [`Storage::webhooks`].
    pub async fn release(&self, taken: &[(String, EventId)]) -> Result<(), Error> {
        match self {
            Storage::File(_) => Ok(()),
            Storage::Postgres(db, _) => db.release(taken).await,
        }
    }

    /// How many events wait for each endpoint that has any.
    ///
    /// # Errors
    ///
    /// As [`Storage::webhooks`].
    pub async fn backlogs(&self) -> Result<Vec<(String, usize)>, Error> {
        match self {
            Storage::File(store) => Ok(waiting_per_hook(store).into_iter().collect()),
            Storage::Postgres(db, _) => db.backlogs().await,
        }
    }

    /// What waits for enabled endpoints: deliveries, those retried, and when the oldest
    /// event happened (milliseconds since the epoch).
    ///
    /// # Errors
    ///
    /// As [`Storage::webhooks`].
    pub async fn outbox_counts(&self) -> Result<OutboxCounts, Error> {
        match self {
            Storage::File(store) => {
                let pending = store.pending_events();
                let mut counts = OutboxCounts {
                    oldest_ms: pending.iter().map(|p| p.event.at_ms).min(),
                    ..OutboxCounts::default()
                };
                for waiting in &pending {
                    counts.waiting += waiting.deliveries.len() as u64;
                    counts.retrying +=
                        waiting.deliveries.iter().filter(|d| d.attempts > 0).count() as u64;
                }
                Ok(counts)
            }
            Storage::Postgres(db, _) => db.outbox_counts().await,
        }
    }

    /// Makes a webhook endpoint ([`Store::create_webhook`]) whose secret is sealed with the
    /// key of check value `key_check` (which a database holds every endpoint to).
    ///
    /// # Errors
    ///
    /// As [`Store::create_webhook`]; [`Error::is_unavailable`] when the database is away,
    /// [`Error::is_io`] when its endpoints are sealed with another key.
    pub fn create_webhook(
        &self,
        hook: Webhook,
        by: &Authority,
        key_check: &[u8],
    ) -> Result<Arc<Webhook>, Error> {
        match self {
            Storage::File(store) => store.create_webhook(hook, by),
            Storage::Postgres(db, _) => Self::wait(db.create_webhook(hook, by, key_check)),
        }
    }

    /// Removes a webhook endpoint ([`Store::delete_webhook`]).
    ///
    /// # Errors
    ///
    /// As [`Store::delete_webhook`]; [`Error::is_unavailable`] when the database is away.
    pub fn delete_webhook(&self, id: &str, by: &Authority) -> Result<(), Error> {
        match self {
            Storage::File(store) => store.delete_webhook(id, by),
            Storage::Postgres(db, _) => Self::wait(db.delete_webhook(id, by)),
        }
    }

    /// Disables a webhook endpoint ([`Store::disable_webhook`]).
    ///
    /// # Errors
    ///
    /// As [`Store::disable_webhook`]; [`Error::is_unavailable`] when the database is away.
    pub fn disable_webhook(&self, id: &str, reason: &str, at_ms: i64) -> Result<(), Error> {
        match self {
            Storage::File(store) => store.disable_webhook(id, reason, at_ms),
            Storage::Postgres(db, _) => Self::wait(db.disable_webhook(id, reason, at_ms)),
        }
    }

    /// Records attempts to deliver to an endpoint ([`Store::record_attempts`]), each with
    /// when its event's next attempt is due (a database keeps it; the store file's sender
    /// works it out again).
    ///
    /// # Errors
    ///
    /// As [`Store::record_attempts`]; [`Error::is_unavailable`] when the database is away.
    pub fn record_attempts(&self, id: &str, attempts: Vec<(Attempt, i64)>) -> Result<(), Error> {
        match self {
            Storage::File(store) => {
                store.record_attempts(id, attempts.into_iter().map(|(a, _)| a).collect())
            }
            Storage::Postgres(db, _) => Self::wait(db.record_attempts(id, &attempts)),
        }
    }
}

/// How many events wait for each endpoint of the store file that has any.
fn waiting_per_hook(store: &Store) -> std::collections::HashMap<String, usize> {
    let mut waiting = std::collections::HashMap::<String, usize>::new();
    for head in store.waiting_heads() {
        *waiting.entry(head.hook).or_default() += head.waiting;
    }
    waiting
}
