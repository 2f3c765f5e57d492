//! Webhooks on the database: the endpoints, the outbox and the attempts (schema version 5).
//!
//! An event is a row of `webhook_outbox` per endpoint that wants it, inserted by the statement
//! [`emit`] adds to the change's own transaction: it commits with the change or not at all.
//! Which event a write makes is read from the calendar before and after it, as the store
//! file's log reads it from a record (`docs/format.md`, section 5.3): a booking made, moved
//! or cancelled, an override set or cleared, the pattern or zone changed, the calendar
//! deleted. What a write prunes (bookings and overrides past retention) is no event.
//!
//! Every server runs a sender, and exactly one delivers each event: a sender takes the
//! events it will deliver with `FOR UPDATE SKIP LOCKED` and holds them for [`HOLD_MS`], long
//! past a delivery's timeouts; a server that dies holding some lets them go when the hold
//! ends, and another delivers them again (at least once). Per endpoint and calendar only the
//! oldest waiting event is taken, so a calendar's events arrive in the order of its changes.

use std::sync::Arc;

use availability_core::dated::{Booking, BookingId, GroupRef};
use availability_core::store::decide;
use availability_core::store::{
    clip, Attempt, Authority, Calendar, Delivery, Disabled, Event, EventBooking, EventId,
    EventKind, EventSet, Head, Outcome, Pending, Webhook, KEPT_ATTEMPTS, MAX_WEBHOOKS,
};
use availability_core::{BackendError, Error};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::fail::{db, from_db, Fail};
use crate::load;
use crate::persist::{args, exec, Step, Tx};
use crate::rows::{bad, get, signed, unsigned, BookingRow, DatedRows};
use crate::{timed_out, Database};

/// How long a sender holds the events it took: past a delivery's timeouts (connect 5 s,
/// whole request 15 s) and the writing of what it did.
pub const HOLD_MS: i64 = 30_000;

/// An endpoint's columns, in the order [`webhook`] reads them.
const HOOK: &str = "id, url, events, calendars, owner_calendar, owner_incarnation, secret, \
                    created_ms, failing_since_ms, disabled_at_ms, disabled_reason";

/// An outbox row's columns, in the order [`head`] reads them.
const EVENT: &str = "hook, calendar, incarnation, version, kind, at_ms, booking, start_s, \
                     end_s, label, booking_type, group_id, group_booking, previous_start_s, \
                     previous_end_s, day, attempts, last_ms";

/// An attempt's columns, in the order [`attempt`] reads them.
const ATTEMPT: &str = "incarnation, version, kind, number, at_ms, status, duration_ms, error, \
                       outcome";

/// The event a write from `before` to `after` makes, if any: at most one, as each write
/// is one change. Read from `dated`, the rows the write changes (what `persist` writes), and
/// the bookings as they were; bookings and overrides gone from before `cutoff` (seconds) were
/// pruned, not cancelled or cleared.
pub(crate) fn event_of(
    before: Option<&Calendar>,
    after: &Calendar,
    dated: &DatedRows,
    cutoff: i64,
    at_ms: i64,
) -> Option<Event> {
    let before = before?;
    let event = |kind| Event {
        id: EventId {
            incarnation: after.incarnation(),
            version: after.version(),
        },
        kind,
        calendar: after.id().to_owned(),
        at_ms,
        booking: None,
        day: None,
    };
    if before.week() != after.week() || before.zone() != after.zone() {
        return Some(event(EventKind::AvailabilityChanged));
    }
    let was = |id: i64| {
        let id = BookingId(u64::try_from(id).ok()?);
        before.dated().booking(id)
    };
    if let Some(made) = dated.made.first() {
        return Some(Event {
            booking: Some(row_booking(made, None)),
            ..event(EventKind::BookingCreated)
        });
    }
    for moved in &dated.moved {
        let previous = was(moved.id).map(|b| (b.start(), b.end()));
        if previous.is_some_and(|p| p != (moved.start as i64, moved.end as i64)) {
            return Some(Event {
                booking: Some(row_booking(moved, previous)),
                ..event(EventKind::BookingRescheduled)
            });
        }
    }
    if let Some(gone) = dated
        .gone
        .iter()
        .filter_map(|&id| was(id))
        .find(|b| b.end() > cutoff)
    {
        return Some(Event {
            booking: Some(event_booking(gone)),
            ..event(EventKind::BookingCancelled)
        });
    }
    let epoch = chrono::NaiveDate::default();
    let changed = dated
        .set_overrides
        .first()
        .map(|(date, _, _)| *date)
        .or_else(|| {
            dated
                .cleared_overrides
                .iter()
                .copied()
                .find(|date| (*date - epoch).num_days() * 86_400 + 86_400 > cutoff)
        })?;
    Some(Event {
        day: Some((changed - epoch).num_days()),
        ..event(EventKind::OverrideChanged)
    })
}

/// A booking made or moved, as its row has it.
fn row_booking(row: &BookingRow, previous: Option<(i64, i64)>) -> EventBooking {
    EventBooking {
        id: u64::try_from(row.id).unwrap_or_default(),
        start: row.start as i64,
        end: row.end as i64,
        label: row.label.clone(),
        booking_type: row.booking_type.clone(),
        group: match (&row.group_id, row.group_booking) {
            (Some(group), Some(id)) => Some(GroupRef {
                group: group.clone(),
                id: u64::try_from(id).unwrap_or_default(),
            }),
            _ => None,
        },
        previous,
    }
}

/// A booking as it was, for its cancellation.
fn event_booking(booking: &Booking) -> EventBooking {
    EventBooking {
        id: booking.id().0,
        start: booking.start(),
        end: booking.end(),
        label: booking.label().map(str::to_owned),
        booking_type: booking.booking_type().map(str::to_owned),
        group: booking.group().cloned(),
        previous: None,
    }
}

/// An event as the outbox's columns hold it.
pub(crate) struct EventRow {
    calendar: String,
    incarnation: i64,
    version: i64,
    kind: &'static str,
    at_ms: i64,
    booking: Option<i64>,
    start: Option<i64>,
    end: Option<i64>,
    label: Option<String>,
    booking_type: Option<String>,
    group_id: Option<String>,
    group_booking: Option<i64>,
    previous_start: Option<i64>,
    previous_end: Option<i64>,
    day: Option<i64>,
}

impl EventRow {
    pub(crate) fn of(event: &Event) -> Result<EventRow, Error> {
        let b = event.booking.as_ref();
        Ok(EventRow {
            calendar: event.calendar.clone(),
            incarnation: signed(event.id.incarnation, "an incarnation")?,
            version: signed(event.id.version, "a version")?,
            kind: event.kind.name(),
            at_ms: event.at_ms,
            booking: b.map(|b| signed(b.id, "a booking id")).transpose()?,
            start: b.map(|b| b.start),
            end: b.map(|b| b.end),
            label: b.and_then(|b| b.label.clone()),
            booking_type: b.and_then(|b| b.booking_type.clone()),
            group_id: b.and_then(|b| b.group.as_ref()).map(|g| g.group.clone()),
            group_booking: b
                .and_then(|b| b.group.as_ref())
                .map(|g| signed(g.id, "a group booking id"))
                .transpose()?,
            previous_start: b.and_then(|b| b.previous).map(|p| p.0),
            previous_end: b.and_then(|b| b.previous).map(|p| p.1),
            day: event.day,
        })
    }
}

/// The statement that queues `event` for every endpoint that wants it now (in the change's
/// transaction): enabled, sent its kind, naming its calendar or none, and made by no
/// calendar's key or by this incarnation's. It takes no lock on them: every change would
/// then write the same rows' locks. A change that read an endpoint as it was being removed
/// may queue events for it after the removal; no sender takes them (it reads the endpoints
/// beside them), and [`Database::backlogs`] removes them.
pub(crate) fn emit(event: &EventRow) -> Step<'_> {
    exec(
        "INSERT INTO webhook_outbox (hook, calendar, incarnation, version, kind, at_ms, \
         booking, start_s, end_s, label, booking_type, group_id, group_booking, \
         previous_start_s, previous_end_s, day) \
         SELECT id, $1::text, $2::bigint, $3::bigint, $4::text, $5::bigint, $6::bigint, \
         $7::bigint, $8::bigint, $9::text, $10::text, $11::text, $12::bigint, $13::bigint, \
         $14::bigint, $15::bigint FROM webhooks \
         WHERE disabled_at_ms IS NULL AND $4 = ANY (events) \
         AND (cardinality(calendars) = 0 OR $1 = ANY (calendars)) \
         AND (owner_calendar IS NULL OR (owner_calendar = $1 AND owner_incarnation = $2)) \
         ON CONFLICT DO NOTHING",
        args(&[
            &event.calendar,
            &event.incarnation,
            &event.version,
            &event.kind,
            &event.at_ms,
            &event.booking,
            &event.start,
            &event.end,
            &event.label,
            &event.booking_type,
            &event.group_id,
            &event.group_booking,
            &event.previous_start,
            &event.previous_end,
            &event.day,
        ]),
    )
}

/// Removes the endpoints made with a key of calendar `id` (incarnation `incarnation`), with
/// what waits for them and their attempts: they go with their calendar. Awaited before the
/// deletion's event is queued, which they must not get.
pub(crate) async fn calendar_deleted(tx: &Tx<'_>, id: &str, incarnation: i64) -> Result<(), Fail> {
    tx.execute(
        "WITH gone AS (DELETE FROM webhooks WHERE owner_calendar = $1 \
         AND owner_incarnation = $2 RETURNING id), \
         events AS (DELETE FROM webhook_outbox WHERE hook IN (SELECT id FROM gone)) \
         DELETE FROM webhook_attempts WHERE hook IN (SELECT id FROM gone)",
        &[&id, &incarnation],
    )
    .await
    .map_err(db("removing the calendar's webhooks"))?;
    Ok(())
}

fn kind(name: &str) -> Result<EventKind, Error> {
    EventKind::from_name(name).ok_or_else(|| bad("an event kind", format!("{name:?}")))
}

/// An endpoint from its row ([`HOOK`]).
fn webhook(row: &Row) -> Result<Webhook, Error> {
    let id: String = get(row, 0, "a webhook id")?;
    let names: Vec<String> = get(row, 2, "a webhook's events")?;
    let events = names
        .iter()
        .map(|n| kind(n))
        .collect::<Result<Vec<_>, _>>()?;
    let owner = match (
        get::<Option<String>>(row, 4, "a webhook's owner")?,
        get::<Option<i64>>(row, 5, "a webhook's owner")?,
    ) {
        (Some(calendar), Some(incarnation)) => {
            Some((calendar, unsigned(incarnation, "an incarnation")?))
        }
        _ => None,
    };
    let disabled = match (
        get::<Option<i64>>(row, 9, "a webhook's disabling")?,
        get::<Option<String>>(row, 10, "a webhook's disabling")?,
    ) {
        (Some(at_ms), Some(reason)) => Some(Disabled { at_ms, reason }),
        _ => None,
    };
    Webhook::new(
        &id,
        get(row, 1, "a webhook URL")?,
        EventSet::of(events),
        get(row, 3, "a webhook's calendars")?,
        owner,
        get(row, 6, "a webhook secret")?,
        get(row, 7, "a webhook's time")?,
    )
    .and_then(|hook| hook.with_state(get(row, 8, "a webhook's failing time")?, disabled))
    .map_err(|e| bad(&format!("webhook {id:?}"), e))
}

/// A waiting event from its outbox row ([`EVENT`]), as the sender takes it.
fn head(row: &Row) -> Result<Head, Error> {
    let hook: String = get(row, 0, "an event's webhook")?;
    let booking = match get::<Option<i64>>(row, 6, "an event's booking")? {
        Some(id) => Some(EventBooking {
            id: unsigned(id, "a booking id")?,
            start: get::<Option<i64>>(row, 7, "a booking's start")?.unwrap_or_default(),
            end: get::<Option<i64>>(row, 8, "a booking's end")?.unwrap_or_default(),
            label: get(row, 9, "a booking label")?,
            booking_type: get(row, 10, "a booking type")?,
            group: match (
                get::<Option<String>>(row, 11, "a group")?,
                get::<Option<i64>>(row, 12, "a group booking")?,
            ) {
                (Some(group), Some(id)) => Some(GroupRef {
                    group,
                    id: unsigned(id, "a group booking id")?,
                }),
                _ => None,
            },
            previous: match (
                get::<Option<i64>>(row, 13, "a previous start")?,
                get::<Option<i64>>(row, 14, "a previous end")?,
            ) {
                (Some(start), Some(end)) => Some((start, end)),
                _ => None,
            },
        }),
        None => None,
    };
    let event = Event {
        id: EventId {
            incarnation: unsigned(get(row, 2, "an incarnation")?, "an incarnation")?,
            version: unsigned(get(row, 3, "a version")?, "a version")?,
        },
        kind: kind(get(row, 4, "an event kind")?)?,
        calendar: get(row, 1, "an event's calendar")?,
        at_ms: get(row, 5, "an event's time")?,
        booking,
        day: get(row, 15, "an override's date")?,
    };
    let attempts: i32 = get(row, 16, "an attempt count")?;
    let delivery = Delivery {
        hook: hook.clone(),
        attempts: u32::try_from(attempts).map_err(|_| bad("an attempt count", attempts))?,
        last_ms: get(row, 17, "an attempt's time")?,
    };
    Ok(Head {
        hook,
        pending: Arc::new(Pending {
            event,
            deliveries: vec![delivery],
        }),
        waiting: 1,
    })
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Delivered => "delivered",
        Outcome::Retry => "retry",
        Outcome::GaveUp => "gave-up",
    }
}

/// An attempt from its row ([`ATTEMPT`]).
fn attempt(row: &Row) -> Result<Attempt, Error> {
    let status: i32 = get(row, 5, "an attempt's status")?;
    let duration: i64 = get(row, 6, "an attempt's duration")?;
    Ok(Attempt {
        event: EventId {
            incarnation: unsigned(get(row, 0, "an incarnation")?, "an incarnation")?,
            version: unsigned(get(row, 1, "a version")?, "a version")?,
        },
        kind: kind(get(row, 2, "an event kind")?)?,
        number: u32::try_from(get::<i32>(row, 3, "an attempt number")?)
            .map_err(|e| bad("an attempt number", e))?,
        at_ms: get(row, 4, "an attempt's time")?,
        status: u16::try_from(status).map_err(|e| bad("an attempt's status", e))?,
        duration_ms: u32::try_from(duration).map_err(|e| bad("an attempt's duration", e))?,
        error: get(row, 7, "an attempt's error")?,
        outcome: match get::<&str>(row, 8, "an attempt's outcome")? {
            "delivered" => Outcome::Delivered,
            "retry" => Outcome::Retry,
            "gave-up" => Outcome::GaveUp,
            other => return Err(bad("an attempt's outcome", format!("{other:?}"))),
        },
    })
}

fn no_webhook(id: &str) -> Fail {
    Fail::Stop(Error::of_backend(
        BackendError::NotFound,
        format!("no webhook {id:?}"),
    ))
}

/// The refusal of a server whose sealing key is not the database's.
fn other_key() -> Error {
    Error::of_backend(
        BackendError::Io,
        "this server's webhook_key_file is not the key the database's webhook secrets are \
         sealed with: every server on one database needs the same file",
    )
}

/// What the outbox holds, for `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutboxCounts {
    /// Deliveries waiting, to enabled endpoints.
    pub waiting: u64,
    /// Of those, the ones tried and failed at least once.
    pub retrying: u64,
    /// When the oldest waiting event happened, in milliseconds since the epoch.
    pub oldest_ms: Option<i64>,
}

impl Database {
    /// One statement outside a write's transaction (a read, or a sender's step that stands
    /// alone) on a connection of the sender's pool, within the write timeout. Not through
    /// [`Database::run`]: its future is one a route may hold across an await, which a
    /// closure over the transaction is not.
    async fn query(
        &self,
        what: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, Error> {
        let work = async {
            let client = self.sender.get().await.map_err(|e| {
                Error::of_backend(
                    BackendError::Unavailable,
                    format!("no connection to the database for {what}: {e}"),
                )
            })?;
            let statement = client
                .prepare_cached(sql)
                .await
                .map_err(|e| from_db(what, e))?;
            client
                .query(&statement, params)
                .await
                .map_err(|e| from_db(what, e))
        };
        tokio::time::timeout(self.settings.write_timeout, work)
            .await
            .unwrap_or_else(|_| Err(timed_out(what, &self.settings)))
    }
}

impl Database {
    /// Refuses a server whose sealing key (its check value `key_check`; `None` when it has
    /// none yet) is not the one the database's endpoints were sealed with, if any were.
    ///
    /// # Errors
    ///
    /// [`Error::is_io`] naming the key file when it is another key or missing;
    /// [`Error::is_unavailable`] when the database is away.
    pub async fn check_webhook_key(&self, key_check: Option<&[u8]>) -> Result<(), Error> {
        let found = self
            .query(
                "reading the webhook key's check",
                "SELECT key_check FROM webhook_key",
                &[],
            )
            .await?;
        let Some(row) = found.first() else {
            return Ok(());
        };
        let kept: Vec<u8> = get(row, 0, "a key check")?;
        match key_check {
            Some(check) if check == kept => Ok(()),
            _ => Err(other_key()),
        }
    }

    /// Every endpoint, in id order, with how many events wait for each.
    ///
    /// # Errors
    ///
    /// [`Error::is_unavailable`] when the database is away; [`Error::is_corrupt`] for a row
    /// the store could not hold.
    pub async fn webhooks(&self) -> Result<Vec<(Arc<Webhook>, usize)>, Error> {
        let found = self
            .query(
                "reading the webhooks",
                &format!(
                    "SELECT {HOOK}, (SELECT count(*) FROM webhook_outbox o \
                     WHERE o.hook = w.id) FROM webhooks w ORDER BY id"
                ),
                &[],
            )
            .await?;
        found
            .iter()
            .map(|row| {
                let waiting: i64 = get(row, 11, "a count")?;
                Ok((Arc::new(webhook(row)?), waiting.max(0) as usize))
            })
            .collect()
    }

    /// Every endpoint, in id order, without the counts of [`Database::webhooks`] (which read
    /// the outbox): what a sender reads at each scan.
    ///
    /// # Errors
    ///
    /// As [`Database::webhooks`].
    pub async fn endpoints(&self) -> Result<Vec<Arc<Webhook>>, Error> {
        let found = self
            .query(
                "reading the webhooks",
                &format!("SELECT {HOOK} FROM webhooks ORDER BY id"),
                &[],
            )
            .await?;
        found.iter().map(|row| webhook(row).map(Arc::new)).collect()
    }

    /// Endpoint `id`, if there is one.
    ///
    /// # Errors
    ///
    /// As [`Database::webhooks`].
    pub async fn webhook(&self, id: &str) -> Result<Option<Arc<Webhook>>, Error> {
        let found = self
            .query(
                "reading the webhook",
                &format!("SELECT {HOOK} FROM webhooks WHERE id = $1"),
                &[&id],
            )
            .await?;
        found
            .first()
            .map(|row| webhook(row).map(Arc::new))
            .transpose()
    }

    /// Endpoint `id`'s last attempts (at most 100), oldest first, and how many events wait
    /// for it.
    ///
    /// # Errors
    ///
    /// As [`Database::webhooks`].
    pub async fn deliveries(&self, id: &str) -> Result<(Vec<Attempt>, usize), Error> {
        let what = "reading the webhook's deliveries";
        let found = self
            .query(
                what,
                &format!(
                    "SELECT {ATTEMPT} FROM webhook_attempts WHERE hook = $1 \
                     ORDER BY seq DESC LIMIT {KEPT_ATTEMPTS}"
                ),
                &[&id],
            )
            .await?;
        let counted = self
            .query(
                what,
                "SELECT count(*) FROM webhook_outbox WHERE hook = $1",
                &[&id],
            )
            .await?;
        let waiting: i64 = match counted.first() {
            Some(row) => get(row, 0, "a count")?,
            None => 0,
        };
        let mut attempts = found.iter().map(attempt).collect::<Result<Vec<_>, _>>()?;
        attempts.reverse();
        Ok((attempts, waiting.max(0) as usize))
    }

    /// Makes endpoint `hook`, as [`Store::create_webhook`](availability_core::store::Store::create_webhook)
    /// does: `by` checked again in the transaction, under the owner calendar's lock.
    ///
    /// # Errors
    ///
    /// As the store's, and [`Error::is_unavailable`] when the database is away.
    pub async fn create_webhook(
        &self,
        hook: Webhook,
        by: &Authority,
        key_check: &[u8],
    ) -> Result<Arc<Webhook>, Error> {
        let what = "saving the webhook";
        self.run(what, async |tx| {
            // One endpoint made at a time: the count below stays true until the commit.
            tx.batch_execute("LOCK TABLE webhooks IN SHARE ROW EXCLUSIVE MODE")
                .await
                .map_err(db(what))?;
            // The first endpoint names the sealing key; every later one must be sealed with
            // the same.
            tx.execute(
                "INSERT INTO webhook_key (key_check) VALUES ($1) ON CONFLICT DO NOTHING",
                &[&key_check],
            )
            .await
            .map_err(db(what))?;
            let kept: Vec<u8> = tx
                .query_one("SELECT key_check FROM webhook_key", &[])
                .await
                .map_err(db(what))?
                .get(0);
            if kept != key_check {
                return Err(Fail::Stop(other_key()));
            }
            let admin = crate::persist::admin_for(tx, by).await?;
            match hook.owner() {
                Some((calendar, incarnation)) => {
                    let current = crate::persist::lock(tx, calendar).await?;
                    decide::webhook_write(by, Some((&current, incarnation)), &admin)?;
                }
                None => decide::webhook_write(by, None, &admin)?,
            }
            let row = tx
                .query_one(
                    "SELECT count(*), count(*) FILTER (WHERE id = $1) FROM webhooks",
                    &[&hook.id()],
                )
                .await
                .map_err(db(what))?;
            let (count, taken): (i64, i64) = (row.get(0), row.get(1));
            if taken > 0 {
                return Err(Fail::Stop(Error::of_backend(
                    BackendError::AlreadyExists,
                    format!("webhook {:?} exists", hook.id()),
                )));
            }
            if count >= MAX_WEBHOOKS as i64 {
                return Err(Fail::Stop(Error::of_backend(
                    BackendError::Capacity,
                    format!("a database holds at most {MAX_WEBHOOKS} webhooks; delete one first"),
                )));
            }
            let events: Vec<&str> = hook.events().kinds().map(EventKind::name).collect();
            let (owner, incarnation) = match hook.owner() {
                Some((calendar, incarnation)) => {
                    (Some(calendar), Some(signed(incarnation, "an incarnation")?))
                }
                None => (None, None),
            };
            tx.execute(
                "INSERT INTO webhooks (id, url, events, calendars, owner_calendar, \
                 owner_incarnation, secret, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &hook.id(),
                    &hook.url(),
                    &events,
                    &hook.calendars(),
                    &owner,
                    &incarnation,
                    &hook.secret(),
                    &hook.created_unix_ms(),
                ],
            )
            .await
            .map_err(db(what))?;
            Ok(())
        })
        .await?;
        Ok(Arc::new(hook))
    }

    /// Removes endpoint `id`, with what waits for it and its attempts. `by` must still be an
    /// admin key, or cover a write to the endpoint's owner.
    ///
    /// # Errors
    ///
    /// [`Error::is_not_found`] when there is no such endpoint; otherwise as
    /// [`Database::create_webhook`].
    pub async fn delete_webhook(&self, id: &str, by: &Authority) -> Result<(), Error> {
        let what = "removing the webhook";
        self.run(what, async |tx| {
            let row = tx
                .query_opt(
                    &format!("SELECT {HOOK} FROM webhooks WHERE id = $1 FOR UPDATE"),
                    &[&id],
                )
                .await
                .map_err(db(what))?
                .ok_or_else(|| no_webhook(id))?;
            let hook = webhook(&row)?;
            let admin = crate::persist::admin_for(tx, by).await?;
            let owner = match hook.owner() {
                Some((calendar, _)) => load::calendars(
                    &load::Cached(tx),
                    Some(&[calendar]),
                    true,
                    load::Dated::All(None),
                )
                .await?
                .pop(),
                None => None,
            };
            match &owner {
                Some(calendar) => {
                    decide::webhook_write(by, Some((calendar, calendar.incarnation())), &admin)?
                }
                None => decide::webhook_write(by, None, &admin)?,
            }
            tx.execute(
                "WITH events AS (DELETE FROM webhook_outbox WHERE hook = $1), \
                 attempts AS (DELETE FROM webhook_attempts WHERE hook = $1) \
                 DELETE FROM webhooks WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(db(what))?;
            Ok(())
        })
        .await
    }

    /// Stops sending to endpoint `id` for `reason`: the events waiting for it are given up,
    /// and it says why. An endpoint disabled already stays as it was.
    ///
    /// # Errors
    ///
    /// [`Error::is_not_found`] when there is no such endpoint; [`Error::is_unavailable`] when
    /// the database is away.
    pub async fn disable_webhook(&self, id: &str, reason: &str, at_ms: i64) -> Result<(), Error> {
        let what = "disabling the webhook";
        let reason = clip(reason);
        self.run(what, async |tx| {
            let found = tx
                .execute(
                    "UPDATE webhooks SET disabled_at_ms = COALESCE(disabled_at_ms, $2), \
                     disabled_reason = COALESCE(disabled_reason, $3) WHERE id = $1",
                    &[&id, &at_ms, &reason],
                )
                .await
                .map_err(db(what))?;
            if found == 0 {
                return Err(no_webhook(id));
            }
            tx.execute("DELETE FROM webhook_outbox WHERE hook = $1", &[&id])
                .await
                .map_err(db(what))?;
            Ok(())
        })
        .await
    }

    /// Takes up to `limit` events to deliver now (`now_ms`): per endpoint and calendar the
    /// oldest waiting, if it is due and no server holds it, for an enabled endpoint. This
    /// server holds them until `now_ms + HOLD_MS`, or until it records what their attempts
    /// did or lets them go.
    ///
    /// # Errors
    ///
    /// As [`Database::webhooks`].
    pub async fn take_due(&self, now_ms: i64, limit: usize) -> Result<Vec<Head>, Error> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let until = now_ms.saturating_add(HOLD_MS);
        let what = "taking webhook events to deliver";
        let found = self
            .query(
                what,
                &format!(
                    "UPDATE webhook_outbox SET held_until_ms = $2 WHERE seq IN ( \
                     SELECT o.seq FROM webhook_outbox o \
                     JOIN webhooks w ON w.id = o.hook AND w.disabled_at_ms IS NULL \
                     WHERE o.due_ms <= $1 AND o.held_until_ms <= $1 \
                     AND NOT EXISTS (SELECT 1 FROM webhook_outbox e WHERE e.hook = o.hook \
                     AND e.calendar = o.calendar AND e.seq < o.seq) \
                     ORDER BY o.seq LIMIT $3 FOR UPDATE OF o SKIP LOCKED) \
                     RETURNING {EVENT}"
                ),
                &[&now_ms, &until, &limit],
            )
            .await?;
        let mut heads = found.iter().map(head).collect::<Result<Vec<_>, _>>()?;
        heads.sort_by_key(|h| (h.pending.event.at_ms, h.pending.event.id));
        Ok(heads)
    }

    /// Lets go of events this server took and did not try: any server may take them now.
    ///
    /// # Errors
    ///
    /// As [`Database::webhooks`].
    pub async fn release(&self, taken: &[(String, EventId)]) -> Result<(), Error> {
        if taken.is_empty() {
            return Ok(());
        }
        let hooks: Vec<&str> = taken.iter().map(|(h, _)| h.as_str()).collect();
        let incarnations = taken
            .iter()
            .map(|(_, e)| signed(e.incarnation, "an incarnation"))
            .collect::<Result<Vec<_>, _>>()?;
        let versions = taken
            .iter()
            .map(|(_, e)| signed(e.version, "a version"))
            .collect::<Result<Vec<_>, _>>()?;
        let what = "letting webhook events go";
        self.query(
            what,
            "UPDATE webhook_outbox o SET held_until_ms = 0 \
             FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS t (hook, inc, ver) \
             WHERE o.hook = t.hook AND o.incarnation = t.inc AND o.version = t.ver",
            &[&hooks, &incarnations, &versions],
        )
        .await?;
        Ok(())
    }

    /// Records what `attempts` to deliver to endpoint `id` did, each with when the event's
    /// next attempt is due (milliseconds since the epoch; unused for one delivered or given
    /// up): a delivered or abandoned event no longer waits, a failed one waits for its due
    /// time, and the endpoint's failing streak starts or ends. Only the newest 100 attempts of
    /// an endpoint are kept. An endpoint removed meanwhile ignores them.
    ///
    /// # Errors
    ///
    /// As [`Database::webhooks`].
    pub async fn record_attempts(
        &self,
        id: &str,
        attempts: &[(Attempt, i64)],
    ) -> Result<(), Error> {
        if attempts.is_empty() {
            return Ok(());
        }
        // The streak as the attempts leave it: ended by the last delivery, begun by the
        // first failure after it (or before them all, if none was delivered).
        let last_delivered = attempts
            .iter()
            .rposition(|(a, _)| a.outcome == Outcome::Delivered);
        let first_failure = attempts[last_delivered.map_or(0, |i| i + 1)..]
            .first()
            .map(|(a, _)| a.at_ms);
        struct Row<'a> {
            incarnation: i64,
            version: i64,
            kind: &'static str,
            number: i32,
            at_ms: i64,
            status: i32,
            duration_ms: i64,
            error: Option<String>,
            outcome: &'static str,
            due_ms: i64,
            attempt: &'a Attempt,
        }
        let rows = attempts
            .iter()
            .map(|(a, due_ms)| {
                Ok(Row {
                    incarnation: signed(a.event.incarnation, "an incarnation")?,
                    version: signed(a.event.version, "a version")?,
                    kind: a.kind.name(),
                    number: i32::try_from(a.number).unwrap_or(i32::MAX),
                    at_ms: a.at_ms,
                    status: i32::from(a.status),
                    duration_ms: i64::from(a.duration_ms),
                    error: a.error.as_deref().map(clip),
                    outcome: outcome_name(a.outcome),
                    due_ms: *due_ms,
                    attempt: a,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let what = "recording webhook attempts";
        self.run_in(&self.sender, what, async |tx| {
            let exists = tx
                .query_opt(
                    "SELECT 1 FROM webhooks WHERE id = $1 FOR NO KEY UPDATE",
                    &[&id],
                )
                .await
                .map_err(db(what))?;
            if exists.is_none() {
                return Ok(());
            }
            let mut steps: Vec<Step<'_>> = Vec::new();
            for row in &rows {
                steps.push(exec(
                    "INSERT INTO webhook_attempts (hook, incarnation, version, kind, number, \
                     at_ms, status, duration_ms, error, outcome) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    args(&[
                        &id,
                        &row.incarnation,
                        &row.version,
                        &row.kind,
                        &row.number,
                        &row.at_ms,
                        &row.status,
                        &row.duration_ms,
                        &row.error,
                        &row.outcome,
                    ]),
                ));
                steps.push(match row.attempt.outcome {
                    Outcome::Delivered | Outcome::GaveUp => exec(
                        "DELETE FROM webhook_outbox WHERE hook = $1 AND incarnation = $2 \
                         AND version = $3",
                        args(&[&id, &row.incarnation, &row.version]),
                    ),
                    Outcome::Retry => exec(
                        "UPDATE webhook_outbox SET attempts = GREATEST(attempts, $4), \
                         last_ms = GREATEST(last_ms, $5), due_ms = $6, held_until_ms = 0 \
                         WHERE hook = $1 AND incarnation = $2 AND version = $3",
                        args(&[
                            &id,
                            &row.incarnation,
                            &row.version,
                            &row.number,
                            &row.at_ms,
                            &row.due_ms,
                        ]),
                    ),
                });
            }
            steps.push(match last_delivered {
                Some(_) => exec(
                    "UPDATE webhooks SET failing_since_ms = $2 WHERE id = $1",
                    args(&[&id, &first_failure]),
                ),
                None => exec(
                    "UPDATE webhooks SET failing_since_ms = COALESCE(failing_since_ms, $2) \
                     WHERE id = $1",
                    args(&[&id, &first_failure]),
                ),
            });
            crate::persist::run_steps(tx, steps, what).await?;
            // Only the newest attempts are kept (after the inserts above).
            tx.execute(
                &format!(
                    "DELETE FROM webhook_attempts WHERE hook = $1 AND seq < (SELECT min(seq) \
                     FROM (SELECT seq FROM webhook_attempts WHERE hook = $1 \
                     ORDER BY seq DESC LIMIT {KEPT_ATTEMPTS}) AS kept)"
                ),
                &[&id],
            )
            .await
            .map_err(db(what))?;
            Ok(())
        })
        .await
    }

    /// How many events wait for each endpoint that has any. The rows of endpoints removed
    /// meanwhile (queued by a change that read the endpoint as it was being removed) are
    /// removed now: the count reads the whole outbox anyway.
    ///
    /// # Errors
    ///
    /// As [`Database::webhooks`].
    pub async fn backlogs(&self) -> Result<Vec<(String, usize)>, Error> {
        let what = "counting waiting webhook events";
        let found = self
            .query(
                what,
                "SELECT hook, count(*), EXISTS (SELECT 1 FROM webhooks w WHERE w.id = o.hook) \
                 FROM webhook_outbox o GROUP BY hook",
                &[],
            )
            .await?;
        let mut backlogs = Vec::with_capacity(found.len());
        let mut gone: Vec<String> = Vec::new();
        for row in &found {
            let hook: String = get(row, 0, "a webhook id")?;
            let count: i64 = get(row, 1, "a count")?;
            if get(row, 2, "an endpoint's presence")? {
                backlogs.push((hook, count.max(0) as usize));
            } else {
                gone.push(hook);
            }
        }
        if !gone.is_empty() {
            self.query(
                "removing the events of removed webhooks",
                "DELETE FROM webhook_outbox o WHERE hook = ANY ($1) \
                 AND NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.id = o.hook)",
                &[&gone],
            )
            .await?;
        }
        Ok(backlogs)
    }

    /// What the outbox holds, for enabled endpoints.
    ///
    /// # Errors
    ///
    /// As [`Database::webhooks`].
    pub async fn outbox_counts(&self) -> Result<OutboxCounts, Error> {
        let what = "counting waiting webhook events";
        let found = self
            .query(
                what,
                "SELECT count(*), count(*) FILTER (WHERE attempts > 0), min(at_ms) \
                 FROM webhook_outbox o JOIN webhooks w ON w.id = o.hook \
                 AND w.disabled_at_ms IS NULL",
                &[],
            )
            .await?;
        let row = found
            .first()
            .ok_or_else(|| bad("the outbox's counts", "no row"))?;
        let (waiting, retrying): (i64, i64) = (get(row, 0, "a count")?, get(row, 1, "a count")?);
        Ok(OutboxCounts {
            waiting: waiting.max(0) as u64,
            retrying: retrying.max(0) as u64,
            oldest_ms: get(row, 2, "an event's time")?,
        })
    }
}
