//! The writes: one transaction each. A write locks the rows it depends on (the calendar's,
//! and the admin key that authorized it), reads them back, decides with the core's own rules
//! from what it read (never from this server's memory), writes what changed and a row of the
//! change log, and commits; this server's mirror then shows the new state before the write is
//! answered.

use std::sync::Arc;

use availability_core::dated::Booking;
use availability_core::store::decide::{self, DatedWrite};
use availability_core::store::{
    Answer, Authority, Calendar, Change, Event, EventId, EventKind, Expected, Group,
    IdempotencyKey, KeyHash, Remembered,
};
use availability_core::{BackendError, Error};

use crate::fail::{db, Fail};
use crate::group_write::lock_group;
use crate::history;
use crate::load::{now_ms, now_s};
use crate::persist::{
    admin_for, args, change_row, exec, insert_calendar, lock, lock_admin_keys, notify, persist,
    remember_booking, run_steps, write_admin_keys, Step, Tx,
};
use crate::rows::{self, signed, REMEMBERED};
use crate::webhooks;
use crate::{timed_out, Database};

/// How many times a write that hit a serialization failure or a deadlock is tried.
const TRIES: usize = 8;

/// What a dated write made: the calendar after it and the booking it made or cancelled, or
/// (for an idempotency key whose booking was made already, through this server or another)
/// the answer kept for it.
#[derive(Debug, Clone)]
pub enum Booked {
    /// The calendar after the write, and the booking it made or cancelled.
    Made(Arc<Calendar>, Option<Arc<Booking>>),
    /// The answer remembered for the key.
    Repeat(Remembered),
}

impl Database {
    /// Runs `work` in a transaction and commits it, trying again after a serialization
    /// failure or deadlock, all within the write timeout.
    pub(crate) async fn run<T>(
        &self,
        what: &'static str,
        work: impl AsyncFnMut(&Tx<'_>) -> Result<T, Fail>,
    ) -> Result<T, Error> {
        self.run_in(&self.pool, what, work).await
    }

    /// [`Database::run`] on a connection of `pool`.
    pub(crate) async fn run_in<T>(
        &self,
        pool: &deadpool_postgres::Pool,
        what: &'static str,
        mut work: impl AsyncFnMut(&Tx<'_>) -> Result<T, Fail>,
    ) -> Result<T, Error> {
        let deadline = tokio::time::Instant::now() + self.settings.write_timeout;
        let mut tries = 0;
        loop {
            let mut client = match tokio::time::timeout_at(deadline, pool.get()).await {
                Ok(Ok(client)) => client,
                Ok(Err(e)) => {
                    return Err(Error::of_backend(
                        BackendError::Unavailable,
                        format!("no connection to the database for {what}: {e}"),
                    ))
                }
                Err(_) => return Err(timed_out(what, &self.settings)),
            };
            let attempt = tokio::time::timeout_at(deadline, async {
                let tx = client.transaction().await.map_err(db(what))?;
                let value = work(&tx).await?;
                tx.commit().await.map_err(db(what))?;
                Ok::<T, Fail>(value)
            })
            .await;
            match attempt {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(Fail::Stop(e))) => return Err(e),
                Ok(Err(Fail::Retry(why))) => {
                    tries += 1;
                    if tries >= TRIES {
                        return Err(Error::of_backend(BackendError::Unavailable, why));
                    }
                }
                Err(_) => {
                    // The connection may be stuck (its packets lost): it is not reused.
                    drop(deadpool_postgres::Object::take(client));
                    return Err(timed_out(what, &self.settings));
                }
            }
        }
    }

    /// Creates calendar `id`, as [`Store::create`](availability_core::store::Store::create).
    ///
    /// # Errors
    ///
    /// As the store's, and [`Error::is_unavailable`] when the database is away.
    pub async fn create(
        &self,
        id: &str,
        zone: &str,
        keys: Vec<KeyHash>,
        by: &Authority,
    ) -> Result<Arc<Calendar>, Error> {
        let made = self
            .run("creating the calendar", async |tx| {
                let incarnation: i64 = tx
                    .query_one("SELECT nextval('availability_incarnations')", &[])
                    .await
                    .map_err(db("creating the calendar"))?
                    .get(0);
                let admin = admin_for(tx, by).await?;
                let made =
                    decide::creation(id, zone, keys.clone(), incarnation as u64, by, &admin)?;
                let inserted = insert_calendar(tx, &made).await?;
                if !inserted {
                    return Err(Fail::Stop(Error::of_backend(
                        BackendError::AlreadyExists,
                        format!("calendar {id:?} already exists"),
                    )));
                }
                persist(tx, None, &made, 0).await?;
                Ok(made)
            })
            .await?;
        let made = Arc::new(made);
        self.store.install(Calendar::clone(&made));
        Ok(made)
    }

    /// Commits `change` to calendar `id`, as [`Store::commit`](availability_core::store::Store::commit).
    ///
    /// # Errors
    ///
    /// As the store's, and [`Error::is_unavailable`] when the database is away.
    pub async fn commit(
        &self,
        id: &str,
        expected: &Expected,
        change: &Change,
    ) -> Result<Arc<Calendar>, Error> {
        let next = self
            .run("saving the calendar", async |tx| {
                let current = lock(tx, id).await?;
                let admin = admin_for(tx, &expected.by).await?;
                let next = decide::change(&current, expected, &admin, change)?;
                let cutoff = now_s() - self.settings.retention_seconds;
                persist(tx, Some(&current), &next, cutoff).await?;
                if next.week() != current.week() {
                    history::record(
                        tx,
                        &current,
                        &next,
                        expected.by.key_id(),
                        self.settings.retention_seconds,
                    )
                    .await?;
                }
                Ok(next)
            })
            .await?;
        let next = Arc::new(next);
        self.store.install(Calendar::clone(&next));
        Ok(next)
    }

    /// Deletes calendar `id`, as [`Store::delete`](availability_core::store::Store::delete).
    ///
    /// # Errors
    ///
    /// As the store's, and [`Error::is_unavailable`] when the database is away.
    pub async fn delete(&self, id: &str, expected: &Expected) -> Result<(), Error> {
        let incarnation = self
            .run("deleting the calendar", async |tx| {
                let current = lock(tx, id).await?;
                let admin = admin_for(tx, &expected.by).await?;
                decide::expected(expected, &current, &admin)?;
                let incarnation = signed(current.incarnation(), "an incarnation")?;
                webhooks::calendar_deleted(tx, id, incarnation).await?;
                let event = webhooks::EventRow::of(&Event {
                    id: EventId {
                        incarnation: current.incarnation(),
                        version: current.version() + 1,
                    },
                    kind: EventKind::CalendarDeleted,
                    calendar: id.to_owned(),
                    at_ms: now_ms(),
                    booking: None,
                    day: None,
                })?;
                let steps: Vec<Step<'_>> = vec![
                    exec(tx, "DELETE FROM calendars WHERE id = $1", args(&[&id])),
                    webhooks::emit(tx, &event),
                    change_row(tx, "deleted", id, None, Some((incarnation, 0))),
                    notify(tx),
                ];
                run_steps(steps, "deleting the calendar").await?;
                Ok(current.incarnation())
            })
            .await?;
        self.store.uninstall(id, incarnation);
        Ok(())
    }

    /// One dated write to calendar `id` (an override, a booking, a cancellation), as the
    /// store's methods of the same names; a booking with `idempotency` is remembered in the
    /// same transaction, and a key whose booking was made already gets [`Booked::Repeat`].
    ///
    /// # Errors
    ///
    /// As the store's, and [`Error::is_unavailable`] when the database is away.
    pub async fn dated(
        &self,
        id: &str,
        expected: &Expected,
        write: &DatedWrite<'_>,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<Booked, Error> {
        let cutoff = now_s() - self.settings.retention_seconds;
        let outcome = self
            .run("saving the dated change", async |tx| {
                let current = lock(tx, id).await?;
                if let Some(key) = idempotency {
                    let kept = tx
                        .query_opt(
                            &format!(
                                "SELECT {REMEMBERED} FROM remembered \
                                 WHERE principal = $1 AND key = $2"
                            ),
                            &[&key.principal, &key.key],
                        )
                        .await
                        .map_err(db("reading the idempotency key"))?;
                    if let Some(kept) = kept {
                        return Ok(Booked::Repeat(rows::remembered(&kept)?));
                    }
                }
                let admin = admin_for(tx, &expected.by).await?;
                let (next, booking) = decide::dated(&current, expected, &admin, write, cutoff)?;
                persist(tx, Some(&current), &next, cutoff).await?;
                if let (Some(key), Some(booking)) = (idempotency, &booking) {
                    remember_booking(tx, key, &next, booking).await?;
                }
                Ok(Booked::Made(Arc::new(next), booking))
            })
            .await?;
        match &outcome {
            Booked::Made(calendar, _) => {
                self.store.install(Calendar::clone(calendar));
            }
            Booked::Repeat(kept) => self.store.install_remembered(kept.clone()),
        }
        Ok(outcome)
    }

    /// Adds an admin key, as [`Store::add_admin_key`](availability_core::store::Store::add_admin_key).
    ///
    /// # Errors
    ///
    /// As the store's, and [`Error::is_unavailable`] when the database is away.
    pub async fn add_admin_key(&self, key: KeyHash, by: &Authority) -> Result<(), Error> {
        self.run("adding an admin key", async |tx| {
            let current = lock_admin_keys(tx).await?;
            let keys = decide::admin_key_added(&current, key.clone(), by)?;
            write_admin_keys(tx, &keys).await
        })
        .await?;
        self.follower.sync(self.settings.write_timeout).await
    }

    /// Revokes an admin key, as [`Store::revoke_admin_key`](availability_core::store::Store::revoke_admin_key).
    ///
    /// # Errors
    ///
    /// As the store's, and [`Error::is_unavailable`] when the database is away.
    pub async fn revoke_admin_key(
        &self,
        key_id: &str,
        by: &Authority,
        keep_one: bool,
    ) -> Result<(), Error> {
        self.run("revoking an admin key", async |tx| {
            let current = lock_admin_keys(tx).await?;
            let keys = decide::admin_key_revoked(&current, key_id, by, keep_one)?;
            write_admin_keys(tx, &keys).await
        })
        .await?;
        self.follower.sync(self.settings.write_timeout).await
    }

    /// Creates or replaces group `id`, as [`Store::put_group`](availability_core::store::Store::put_group).
    ///
    /// # Errors
    ///
    /// As the store's, and [`Error::is_unavailable`] when the database is away.
    pub async fn put_group(
        &self,
        id: &str,
        members: Vec<String>,
        by: &Authority,
    ) -> Result<(Arc<Group>, bool), Error> {
        let (group, new) = self
            .run("saving the group", async |tx| {
                // Its booking types stay as they are: read under the group's lock, kept.
                let current = lock_group(tx, id).await?;
                let admin = admin_for(tx, by).await?;
                let group = decide::group(id, members.clone(), by, &admin, current.as_ref())?;
                let existed = current.is_some();
                let members = group.members().to_vec();
                let steps: Vec<Step<'_>> = vec![
                    exec(
                        tx,
                        "INSERT INTO calendar_groups (id, members) VALUES ($1, $2) \
                         ON CONFLICT (id) DO UPDATE SET members = EXCLUDED.members",
                        args(&[&id, &members]),
                    ),
                    change_row(tx, "group", id, None, None),
                    notify(tx),
                ];
                run_steps(steps, "saving the group").await?;
                Ok((group, !existed))
            })
            .await?;
        self.follower.sync(self.settings.write_timeout).await?;
        Ok((Arc::new(group), new))
    }

    /// Removes group `id`, as [`Store::delete_group`](availability_core::store::Store::delete_group).
    ///
    /// # Errors
    ///
    /// As the store's, and [`Error::is_unavailable`] when the database is away.
    pub async fn delete_group(&self, id: &str, by: &Authority) -> Result<(), Error> {
        self.run("removing the group", async |tx| {
            let admin = admin_for(tx, by).await?;
            decide::admin_write(by, &admin)?;
            let gone = tx
                .execute("DELETE FROM calendar_groups WHERE id = $1", &[&id])
                .await
                .map_err(db("removing the group"))?;
            if gone == 0 {
                return Err(Fail::Stop(Error::of_backend(
                    BackendError::NotFound,
                    format!("no group {id:?}"),
                )));
            }
            run_steps(
                vec![change_row(tx, "group", id, None, None), notify(tx)],
                "removing the group",
            )
            .await
        })
        .await?;
        self.follower.sync(self.settings.write_timeout).await
    }

    /// Keeps `answer` for idempotency key `key`, as [`Store::remember`](availability_core::store::Store::remember).
    ///
    /// # Errors
    ///
    /// As the store's, and [`Error::is_unavailable`] when the database is away.
    pub async fn remember(&self, key: &IdempotencyKey, answer: Answer) -> Result<(), Error> {
        decide::remembered(key, &answer)?;
        let Answer::Response {
            status,
            body,
            state,
        } = &answer
        else {
            return Ok(());
        };
        let status = *status as i16;
        let (state_incarnation, state_version) = match state {
            Some((i, v)) => (
                Some(signed(*i, "an incarnation")?),
                Some(signed(*v, "a version")?),
            ),
            None => (None, None),
        };
        let fingerprint: &[u8] = &key.fingerprint;
        let body: &[u8] = body;
        self.run("remembering the answer", async |tx| {
            let steps: Vec<Step<'_>> = vec![
                exec(
                    tx,
                    "INSERT INTO remembered (principal, key, fingerprint, expires_ms, status, \
                     body, state_incarnation, state_version) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                    args(&[
                        &key.principal,
                        &key.key,
                        &fingerprint,
                        &key.expires_ms,
                        &status,
                        &body,
                        &state_incarnation,
                        &state_version,
                    ]),
                ),
                change_row(tx, "remembered", &key.principal, Some(&key.key), None),
                notify(tx),
            ];
            run_steps(steps, "remembering the answer").await
        })
        .await?;
        self.store.install_remembered(Remembered {
            key: key.key.clone(),
            principal: key.principal.clone(),
            fingerprint: key.fingerprint,
            expires_ms: key.expires_ms,
            answer,
        });
        Ok(())
    }
}
