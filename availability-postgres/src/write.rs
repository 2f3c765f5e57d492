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
use crate::load::{now_ms, now_s, Near};
use crate::persist::{
    admin_for, args, change_row, exec, insert_calendar, lock, lock_admin_keys, lock_near, notify,
    persist, persist_then, remember_booking, run_steps, write_admin_keys, Step, Tx,
};
use crate::rows::{self, signed, REMEMBERED};
use crate::webhooks;
use crate::{timed_out, Database};

/// A pooled connection in the middle of a transaction: dropped with it (a write's future
/// dropped part way, a timeout, a failed rollback), it is closed rather than given back to
/// the pool with the transaction open. Emptied once the transaction has ended.
struct Unfinished(Option<deadpool_postgres::Object>);

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

impl Unfinished {
    fn client(&self) -> &deadpool_postgres::ClientWrapper {
        match &self.0 {
            Some(client) => client,
            None => unreachable!("a connection is emptied only once its transaction ended"),
        }
    }
}

/// How many times a write that hit a serialization failure or a deadlock is tried.
const TRIES: usize = 8;

/// A write's tries, all within the write timeout: a connection for each, its transaction
/// begun, committed (or rolled back) and settled. [`Database::run_in`] runs a closure's work
/// in them; a write on the runtime's own tasks runs its work as a plain future (whose
/// `Send` the compiler proves, as it cannot for an async closure's).
struct Tries<'d> {
    db: &'d Database,
    what: &'static str,
    deadline: tokio::time::Instant,
    tries: usize,
}

/// Runs `$work`, a future of the statements of a try on `$tx` (a `&Tx`), in [`Tries`] on
/// connections of `$pool` until one settles; the write's `Result`. A macro, not a function
/// taking a closure: the future is then made where its `Send` can be proved.
macro_rules! in_tries {
    ($db:expr, $pool:expr, $what:expr, |$tx:ident| $work:expr) => {{
        let mut tries = Tries::new($db, $what);
        loop {
            let mut connection = tries.connection($pool).await?;
            let attempt = {
                let $tx = &Tx::on(connection.client());
                tries.attempt($tx, $work).await
            };
            if let Some(value) = tries.settle(&mut connection, attempt)? {
                break Ok(value);
            }
        }
    }};
}

/// How a try ended: its outcome and whether its connection is clean (the transaction
/// over); `None` when the write timed out.
type Attempt<T> = Option<(Result<T, Fail>, bool)>;

impl<'d> Tries<'d> {
    fn new(db: &'d Database, what: &'static str) -> Tries<'d> {
        Tries {
            db,
            what,
            deadline: tokio::time::Instant::now() + db.settings.write_timeout,
            tries: 0,
        }
    }

    /// A connection of `pool` for the next try.
    async fn connection(&self, pool: &deadpool_postgres::Pool) -> Result<Unfinished, Error> {
        match tokio::time::timeout_at(self.deadline, pool.get()).await {
            Ok(Ok(client)) => Ok(Unfinished(Some(client))),
            Ok(Err(e)) => Err(Error::of_backend(
                BackendError::Unavailable,
                format!("no connection to the database for {}: {e}", self.what),
            )),
            Err(_) => Err(timed_out(self.what, &self.db.settings)),
        }
    }

    /// Runs `work`, the try's statements on `tx`, in its transaction, and ends that.
    async fn attempt<T>(
        &self,
        tx: &Tx<'_>,
        work: impl std::future::Future<Output = Result<T, Fail>>,
    ) -> Attempt<T> {
        let what = self.what;
        tokio::time::timeout_at(self.deadline, async {
            // BEGIN goes out with the work's first statements: the connection sends in
            // order, and the answer to BEGIN comes before theirs.
            let begin = async { tx.batch_execute("BEGIN").await.map_err(db(what)) };
            let (begun, value) = futures_util::future::join(begin, work).await;
            let done = match (begun, value) {
                (Ok(()), Ok(value)) if tx.finished() => Ok(value),
                (Ok(()), Ok(value)) => tx
                    .batch_execute("COMMIT")
                    .await
                    .map(|()| value)
                    .map_err(db(what)),
                (Err(e), _) | (Ok(()), Err(e)) => Err(e),
            };
            // Nothing of a failed attempt stays: the next user of the connection starts
            // clean, or the connection is not used again.
            let clean = done.is_ok() || tx.batch_execute("ROLLBACK").await.is_ok();
            (done, clean)
        })
        .await
        .ok()
    }

    /// The end of a try on `connection`: the write's value, its error, or `None` to try
    /// again. A connection whose transaction did not end is dropped, never reused.
    fn settle<T>(
        &mut self,
        connection: &mut Unfinished,
        attempt: Attempt<T>,
    ) -> Result<Option<T>, Error> {
        let Some((done, clean)) = attempt else {
            // The connection may be stuck (its packets lost): it is not reused (the guard
            // drops it).
            return Err(timed_out(self.what, &self.db.settings));
        };
        if clean {
            connection.0 = None;
        }
        match done {
            Ok(value) => Ok(Some(value)),
            Err(Fail::Stop(e)) => Err(e),
            Err(Fail::Retry(why)) => {
                self.tries += 1;
                match self.tries >= TRIES {
                    true => Err(Error::of_backend(BackendError::Unavailable, why)),
                    false => Ok(None),
                }
            }
        }
    }
}

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

/// A dated write's request, as each try of it reads it.
#[derive(Clone, Copy)]
struct Dated<'a> {
    id: &'a str,
    expected: &'a Expected,
    write: &'a DatedWrite<'a>,
    idempotency: Option<&'a IdempotencyKey>,
    near: Option<&'a Near>,
    cutoff: i64,
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
        in_tries!(self, pool, what, |tx| work(tx))
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
                    exec("DELETE FROM calendars WHERE id = $1", args(&[&id])),
                    webhooks::emit(&event),
                    change_row("deleted", id, None, Some((incarnation, 0))),
                    notify(),
                ];
                run_steps(tx, steps, "deleting the calendar").await?;
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
        let near = Near::of(write, cutoff);
        let what = "saving the dated change";
        let dated = Dated {
            id,
            expected,
            write,
            idempotency,
            near: near.as_ref(),
            cutoff,
        };
        let outcome: Booked = in_tries!(self, &self.pool, what, |tx| self.dated_try(tx, &dated))?;
        match &outcome {
            Booked::Made(calendar, _) => {
                self.store.install(Calendar::clone(calendar));
            }
            Booked::Repeat(kept) => self.store.install_remembered(kept.clone()),
        }
        Ok(outcome)
    }

    /// One try of [`Database::dated`] on `tx`.
    async fn dated_try(&self, tx: &Tx<'_>, dated: &Dated<'_>) -> Result<Booked, Fail> {
        let Dated {
            id,
            expected,
            write,
            idempotency,
            near,
            cutoff,
        } = *dated;
        let Some(near) = near else {
            return self
                .dated_in_full(tx, id, expected, write, idempotency, cutoff)
                .await;
        };
        let (current, kept) = lock_near(tx, id, near, idempotency).await?;
        if let Some(kept) = kept {
            return Ok(Booked::Repeat(kept));
        }
        let admin = admin_for(tx, &expected.by).await?;
        // Decided from the rows near the write, read under the calendar's lock.
        let (next, booking) = decide::dated(&current, expected, &admin, write, cutoff)?;
        // What this server shows after it: its own copy of the calendar, when that is the
        // state the rows were read from, with the same write, which must make the same
        // booking and version. Otherwise (this server has not read the latest change back
        // yet) the whole calendar is read, as a write that depends on all of it does.
        let shown = self
            .store
            .get(id)
            .filter(|mine| mine.state() == current.state())
            .and_then(|mine| decide::dated(&mine, expected, &admin, write, cutoff).ok())
            .filter(|(mine, made)| mine.version() == next.version() && *made == booking);
        let Some((shown, made)) = shown else {
            return self
                .dated_in_full(tx, id, expected, write, idempotency, cutoff)
                .await;
        };
        let remember = match (idempotency, &booking) {
            (Some(key), Some(booking)) => remember_booking(key, &next, booking)?,
            _ => Vec::new(),
        };
        // The rows, the answer kept and COMMIT: one round trip.
        persist_then(tx, Some(&current), &next, cutoff, remember, true).await?;
        Ok(Booked::Made(Arc::new(shown), made))
    }

    /// [`Database::dated`] from every row of the calendar.
    async fn dated_in_full(
        &self,
        tx: &Tx<'_>,
        id: &str,
        expected: &Expected,
        write: &DatedWrite<'_>,
        idempotency: Option<&IdempotencyKey>,
        cutoff: i64,
    ) -> Result<Booked, Fail> {
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
        let remember = match (idempotency, &booking) {
            (Some(key), Some(booking)) => remember_booking(key, &next, booking)?,
            _ => Vec::new(),
        };
        persist_then(tx, Some(&current), &next, cutoff, remember, true).await?;
        Ok(Booked::Made(Arc::new(next), booking))
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
                        "INSERT INTO calendar_groups (id, members) VALUES ($1, $2) \
                         ON CONFLICT (id) DO UPDATE SET members = EXCLUDED.members",
                        args(&[&id, &members]),
                    ),
                    change_row("group", id, None, None),
                    notify(),
                ];
                run_steps(tx, steps, "saving the group").await?;
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
                tx,
                vec![change_row("group", id, None, None), notify()],
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
                change_row("remembered", &key.principal, Some(&key.key), None),
                notify(),
            ];
            run_steps(tx, steps, "remembering the answer").await
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
