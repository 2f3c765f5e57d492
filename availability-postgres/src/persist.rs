//! The statements of a write: what changed, as rows, and the change log's row and doorbell,
//! pipelined; and the first start's calendar and admin key.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};

use availability_core::dated::Booking;
use availability_core::slots::BookingType;
use availability_core::store::decide;
use availability_core::store::{Authority, Calendar, IdempotencyKey, KeyHash, Remembered};
use availability_core::{BackendError, Error};
use tokio_postgres::types::ToSql;

use crate::delta::Touched;
use crate::fail::{db, from_db, Fail};
use crate::load;
use crate::rows::{self, signed, REMEMBERED};
use crate::webhooks;
use crate::FirstStart;

/// A write's transaction on a pooled connection. [`Database::run_in`](crate::Database)
/// sends its `BEGIN` together with the first statements, and its `COMMIT` together with the
/// last ones when the work ends with [`Tx::finish`] (or on its own when it does not).
pub(crate) struct Tx<'a> {
    client: &'a deadpool_postgres::ClientWrapper,
    finished: AtomicBool,
}

impl<'a> Tx<'a> {
    /// The transaction about to begin on `client`.
    pub(crate) fn on(client: &'a deadpool_postgres::ClientWrapper) -> Tx<'a> {
        Tx {
            client,
            finished: AtomicBool::new(false),
        }
    }

    /// Whether [`Tx::finish`] committed it.
    pub(crate) fn finished(&self) -> bool {
        self.finished.load(Ordering::Relaxed)
    }

    /// Runs `steps` and commits, in one round trip once they are prepared (see
    /// [`run_steps`]). Nothing may be sent in this transaction after it.
    pub(crate) async fn finish(
        &self,
        steps: Vec<Step<'_>>,
        what: &'static str,
    ) -> Result<(), Fail> {
        send_steps(self, &steps, true, what).await?;
        self.finished.store(true, Ordering::Relaxed);
        Ok(())
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = deadpool_postgres::ClientWrapper;
    fn deref(&self) -> &deadpool_postgres::ClientWrapper {
        self.client
    }
}

/// `sql` with `args`: one statement of a write, prepared once per connection.
pub(crate) fn exec<'a>(sql: &'a str, args: Vec<&'a (dyn ToSql + Sync)>) -> Step<'a> {
    Step {
        sql,
        args: args.into_iter().map(Param::Borrowed).collect(),
    }
}

/// A statement of a write and its parameters ([`run_steps`] sends them).
pub(crate) struct Step<'a> {
    sql: &'a str,
    args: Vec<Param<'a>>,
}

/// A statement's parameter: borrowed from the write, or its own.
enum Param<'a> {
    Borrowed(&'a (dyn ToSql + Sync)),
    Owned(Box<dyn ToSql + Sync + Send + 'a>),
}

impl Param<'_> {
    fn get(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::Borrowed(value) => *value,
            Param::Owned(value) => &**value,
        }
    }
}

/// A statement's parameters, borrowed by the statement.
pub(crate) fn args<'a>(values: &[&'a (dyn ToSql + Sync)]) -> Vec<&'a (dyn ToSql + Sync)> {
    values.to_vec()
}

/// Runs the statements in the order given: every one prepared first (no round trip once
/// the connection has it), then all sent together, one round trip.
pub(crate) async fn run_steps(
    tx: &Tx<'_>,
    steps: Vec<Step<'_>>,
    what: &'static str,
) -> Result<(), Fail> {
    send_steps(tx, &steps, false, what).await
}

/// [`run_steps`], followed by `COMMIT` in the same round trip with `commit`. Each statement is
/// prepared before any is sent, so that none can reach the database after the `COMMIT`. A
/// statement that fails aborts the transaction: those after it fail, the `COMMIT` rolls back,
/// and the first failure is the answer (the database answers in the order it was sent).
async fn send_steps(
    tx: &Tx<'_>,
    steps: &[Step<'_>],
    commit: bool,
    what: &'static str,
) -> Result<(), Fail> {
    let statements =
        futures_util::future::try_join_all(steps.iter().map(|step| tx.prepare_cached(step.sql)))
            .await
            .map_err(db(what))?;
    let runs = statements.iter().zip(steps).map(|(statement, step)| {
        Box::pin(async move {
            tx.execute_raw(statement, step.args.iter().map(Param::get))
                .await
                .map(|_| ())
        }) as Pin<Box<dyn Future<Output = Result<(), tokio_postgres::Error>> + Send + '_>>
    });
    let mut runs: Vec<_> = runs.collect();
    if commit {
        runs.push(Box::pin(tx.batch_execute("COMMIT")));
    }
    futures_util::future::try_join_all(runs)
        .await
        .map(|_| ())
        .map_err(db(what))
}

/// The change log's row for this write.
pub(crate) fn change_row<'a>(
    kind: &'static str,
    id: &'a str,
    key: Option<&'a str>,
    state: Option<(i64, i64)>,
) -> Step<'a> {
    let (incarnation, version) = (state.map(|s| s.0), state.map(|s| s.1));
    Step {
        sql: "INSERT INTO changes (kind, id, key, incarnation, version) \
              VALUES ($1, $2, $3, $4, $5)",
        args: vec![
            Param::Owned(Box::new(kind)),
            Param::Owned(Box::new(id)),
            Param::Owned(Box::new(key)),
            Param::Owned(Box::new(incarnation)),
            Param::Owned(Box::new(version)),
        ],
    }
}

/// The change log's row for a write of calendar `id`'s dated rows alone, naming them (see
/// [`delta`](crate::delta)).
fn dated_change_row(id: &str, (incarnation, version): (i64, i64), touched: Touched) -> Step<'_> {
    Step {
        sql: "INSERT INTO changes (kind, id, incarnation, version, bookings, days) \
              VALUES ('calendar', $1, $2, $3, $4, $5)",
        args: vec![
            Param::Owned(Box::new(id)),
            Param::Owned(Box::new(incarnation)),
            Param::Owned(Box::new(version)),
            Param::Owned(Box::new(touched.bookings)),
            Param::Owned(Box::new(touched.days)),
        ],
    }
}

/// The rows `dated` writes, when they are all that differs between `before` and `after`
/// (their version aside): the calendar's own row changes in its version and next booking id
/// alone.
fn touched(
    before: Option<&Calendar>,
    after: &Calendar,
    dated: &rows::DatedRows,
) -> Option<Touched> {
    let before = before?;
    let alone = before.incarnation() == after.incarnation()
        && before.version() < after.version()
        && before.zone() == after.zone()
        && before.week() == after.week()
        && before.booking_public() == after.booking_public()
        && before.changed_at_unix_ms() == after.changed_at_unix_ms()
        && before.keys() == after.keys()
        && before.booking_types().eq(after.booking_types());
    if !alone {
        return None;
    }
    let mut bookings: Vec<i64> = (dated.made.iter().chain(&dated.moved))
        .map(|b| b.id)
        .chain(dated.gone.iter().copied())
        .collect();
    bookings.sort_unstable();
    bookings.dedup();
    let mut days: Vec<_> = (dated.set_overrides.iter().map(|o| o.0))
        .chain(dated.cleared_overrides.iter().copied())
        .collect();
    days.sort_unstable();
    Some(Touched { bookings, days })
}

/// The doorbell: delivered to the listening servers when the transaction commits.
pub(crate) fn notify<'a>() -> Step<'a> {
    exec("SELECT pg_notify('availability_changes', '')", Vec::new())
}

/// Calendar `id`, read back with its row locked until the transaction ends.
pub(crate) async fn lock(tx: &Tx<'_>, id: &str) -> Result<Calendar, Fail> {
    load::calendars(&load::Cached(tx), Some(&[id]), true, load::Dated::All(None))
        .await?
        .pop()
        .ok_or_else(|| {
            Fail::Stop(Error::of_backend(
                BackendError::NotFound,
                format!("no calendar {id:?}"),
            ))
        })
}

/// Calendar `id` with its row locked until the transaction ends, and of its dated rows only
/// those `near` names; with `key`, also the answer kept for that idempotency key, read once
/// the row is locked (a write of the same key through another server has committed or not
/// begun). One round trip.
pub(crate) async fn lock_near(
    tx: &Tx<'_>,
    id: &str,
    near: &load::Near,
    key: Option<&IdempotencyKey>,
) -> Result<(Calendar, Option<Remembered>), Fail> {
    let ids = Some(vec![id]);
    let dated = load::Dated::Near(near);
    let values = load::Values::of(dated);
    let mut queries = load::calendar_queries(&ids, true, dated, &values);
    if let Some(key) = key {
        queries.push((
            format!("SELECT {REMEMBERED} FROM remembered WHERE principal = $1 AND key = $2"),
            vec![&key.principal, &key.key],
        ));
    }
    let mut read = load::in_order(&load::Cached(tx), &queries).await?;
    let kept = match key {
        Some(_) => read.pop().unwrap_or_default(),
        None => Vec::new(),
    };
    let kept = kept.first().map(rows::remembered).transpose()?;
    let calendar = load::assemble(read)?.pop().ok_or_else(|| {
        Fail::Stop(Error::of_backend(
            BackendError::NotFound,
            format!("no calendar {id:?}"),
        ))
    })?;
    Ok((calendar, kept))
}

/// The admin keys a write by `by` is checked against: locked against revocation until the
/// transaction ends when `by` is an admin key; none are needed otherwise.
pub(crate) async fn admin_for(tx: &Tx<'_>, by: &Authority) -> Result<Vec<KeyHash>, Fail> {
    match by {
        Authority::Admin(_) => Ok(load::admin_keys(&load::Cached(tx), true).await?),
        _ => Ok(Vec::new()),
    }
}

/// The admin keys, with every other admin-key write shut out until the transaction ends.
pub(crate) async fn lock_admin_keys(tx: &Tx<'_>) -> Result<Vec<KeyHash>, Fail> {
    tx.batch_execute("LOCK TABLE admin_keys IN SHARE ROW EXCLUSIVE MODE")
        .await
        .map_err(db("locking the admin keys"))?;
    Ok(load::admin_keys(&load::Cached(tx), false).await?)
}

/// Replaces the admin keys with `keys`.
pub(crate) async fn write_admin_keys(tx: &Tx<'_>, keys: &[KeyHash]) -> Result<(), Fail> {
    let rows: Vec<KeyRow<'_>> = keys.iter().map(KeyRow::of).collect();
    // Before the inserts, awaited: statements that each prepare first may be sent out of
    // the order their futures were made in.
    tx.execute("DELETE FROM admin_keys", &[])
        .await
        .map_err(db("saving the admin keys"))?;
    let mut steps: Vec<Step<'_>> = Vec::new();
    for (position, row) in rows.iter().enumerate() {
        steps.push(exec(
            "INSERT INTO admin_keys (key_id, position, hash, label, created_ms) \
             VALUES ($1, $2, $3, $4, $5)",
            args(&[
                &row.id,
                &POSITIONS[position],
                &row.hash,
                &row.label,
                &row.created,
            ]),
        ));
    }
    steps.push(change_row("admin_keys", "", None, None));
    steps.push(notify());
    run_steps(tx, steps, "saving the admin keys").await
}

/// Positions of keys, borrowed by statements (at most 16 keys per list).
const POSITIONS: [i32; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/// A key's columns.
struct KeyRow<'a> {
    id: &'a str,
    hash: &'a str,
    scope: &'static str,
    label: Option<&'a str>,
    created: i64,
}

impl<'a> KeyRow<'a> {
    fn of(key: &'a KeyHash) -> KeyRow<'a> {
        KeyRow {
            id: key.id(),
            hash: key.hash(),
            scope: key.scope().as_str(),
            label: key.label(),
            created: key.created_unix_ms(),
        }
    }
}

/// A booking type's columns.
pub(crate) struct TypeRow<'a> {
    pub(crate) name: &'a str,
    pub(crate) duration: i32,
    pub(crate) interval: i32,
    pub(crate) buffer_before: i32,
    pub(crate) buffer_after: i32,
    pub(crate) notice: i32,
    pub(crate) horizon: i32,
    pub(crate) per_day: Option<i32>,
    pub(crate) label: Option<&'a str>,
}

impl<'a> TypeRow<'a> {
    /// The columns of a checked type, whose numbers are all far below `i32::MAX` (the
    /// table's checks refuse anything else).
    pub(crate) fn of((name, t): (&'a str, &'a BookingType)) -> TypeRow<'a> {
        let n = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        TypeRow {
            name,
            duration: n(t.duration),
            interval: n(t.interval),
            buffer_before: n(t.buffer_before),
            buffer_after: n(t.buffer_after),
            notice: n(t.notice),
            horizon: n(t.horizon),
            per_day: t.per_day.map(n),
            label: t.label.as_deref(),
        }
    }
}

/// Inserts a new calendar's row; `false` when the id is taken.
pub(crate) async fn insert_calendar(tx: &Tx<'_>, made: &Calendar) -> Result<bool, Fail> {
    let row = CalendarRow::of(made)?;
    let week: &[u8] = &row.week;
    let inserted = tx
        .execute(
            "INSERT INTO calendars (id, incarnation, version, zone, week, booking_public, \
             changed_at_ms, next_booking) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (id) DO NOTHING",
            &[
                &row.id,
                &row.incarnation,
                &row.version,
                &row.zone,
                &week,
                &row.booking_public,
                &row.changed_at_ms,
                &row.next_booking,
            ],
        )
        .await
        .map_err(db("creating the calendar"))?;
    Ok(inserted == 1)
}

/// A calendar's own columns.
struct CalendarRow<'a> {
    id: &'a str,
    incarnation: i64,
    version: i64,
    zone: &'a str,
    week: [u8; availability_core::Week::BYTES],
    booking_public: bool,
    changed_at_ms: i64,
    next_booking: i64,
}

impl<'a> CalendarRow<'a> {
    fn of(calendar: &'a Calendar) -> Result<CalendarRow<'a>, Error> {
        Ok(CalendarRow {
            id: calendar.id(),
            incarnation: signed(calendar.incarnation(), "an incarnation")?,
            version: signed(calendar.version(), "a version")?,
            zone: calendar.zone(),
            week: calendar.week().to_bytes(),
            booking_public: calendar.booking_public(),
            changed_at_ms: calendar.changed_at_unix_ms(),
            next_booking: signed(calendar.dated().next_booking_id().0, "a booking id")?,
        })
    }
}

/// Writes what differs between `before` (`None` for a new calendar, whose row is in) and
/// `after`: the calendar's row, its keys, booking types, overrides and bookings; then the
/// webhook event the write makes, if any (what went from before `cutoff`, seconds, was
/// pruned and makes none), the change log's row and the doorbell. One round trip, and one more before it for each list
/// replaced (keys, types) and for moved bookings, whose old rows go first.
pub(crate) async fn persist(
    tx: &Tx<'_>,
    before: Option<&Calendar>,
    after: &Calendar,
    cutoff: i64,
) -> Result<(), Fail> {
    persist_then(tx, before, after, cutoff, Vec::new(), false).await
}

/// [`persist`], then `then`'s statements, in the same round trip; with `commit`, the
/// transaction's `COMMIT` too ([`Tx::finish`]).
pub(crate) async fn persist_then(
    tx: &Tx<'_>,
    before: Option<&Calendar>,
    after: &Calendar,
    cutoff: i64,
    then: Vec<Step<'_>>,
    commit: bool,
) -> Result<(), Fail> {
    let row = CalendarRow::of(after)?;
    let id = row.id;
    let week: &[u8] = &row.week;
    let keys: Vec<KeyRow<'_>> = after.keys().iter().map(KeyRow::of).collect();
    let types: Vec<TypeRow<'_>> = after.booking_types().map(TypeRow::of).collect();
    let dated = rows::DatedRows::diff(before.map(Calendar::dated), after.dated());
    let event = webhooks::event_of(before, after, &dated, cutoff, load::now_ms())
        .map(|e| webhooks::EventRow::of(&e))
        .transpose()?;
    let mut gone = dated.gone.clone();
    let mut steps: Vec<Step<'_>> = Vec::new();
    if before.is_some() {
        steps.push(exec(
            "UPDATE calendars SET version = $2, zone = $3, week = $4, booking_public = $5, \
             changed_at_ms = $6, next_booking = $7 WHERE id = $1",
            args(&[
                &row.id,
                &row.version,
                &row.zone,
                &week,
                &row.booking_public,
                &row.changed_at_ms,
                &row.next_booking,
            ]),
        ));
    }
    if before.is_none_or(|b| b.keys() != after.keys()) {
        // Awaited before the inserts (see `write_admin_keys`).
        tx.execute("DELETE FROM calendar_keys WHERE calendar = $1", &[&id])
            .await
            .map_err(db("saving the calendar's keys"))?;
        for (position, key) in keys.iter().enumerate() {
            steps.push(exec(
                "INSERT INTO calendar_keys (calendar, position, key_id, hash, scope, label, \
                 created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                args(&[
                    &id,
                    &POSITIONS[position.min(15)],
                    &key.id,
                    &key.hash,
                    &key.scope,
                    &key.label,
                    &key.created,
                ]),
            ));
        }
    }
    if before.is_none_or(|b| !b.booking_types().eq(after.booking_types())) {
        if before.is_some() {
            // Awaited before the inserts, as the keys' (a new calendar has none to delete).
            tx.execute("DELETE FROM booking_types WHERE calendar = $1", &[&id])
                .await
                .map_err(db("saving the calendar's booking types"))?;
        }
        for t in &types {
            steps.push(exec(
                "INSERT INTO booking_types (calendar, name, duration, \"interval\", \
                 buffer_before, buffer_after, notice, horizon, per_day, label) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                args(&[
                    &id,
                    &t.name,
                    &t.duration,
                    &t.interval,
                    &t.buffer_before,
                    &t.buffer_after,
                    &t.notice,
                    &t.horizon,
                    &t.per_day,
                    &t.label,
                ]),
            ));
        }
    }
    for (date, open, firm) in &dated.set_overrides {
        steps.push(exec(
            "INSERT INTO overrides (calendar, day, open, firm) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (calendar, day) DO UPDATE SET open = EXCLUDED.open, firm = EXCLUDED.firm",
            args(&[&id, date, open, firm]),
        ));
    }
    for date in &dated.cleared_overrides {
        steps.push(exec(
            "DELETE FROM overrides WHERE calendar = $1 AND day = $2",
            args(&[&id, date]),
        ));
    }
    if !dated.moved.is_empty() {
        // A moved booking's row is deleted and made again: the deletions (with the gone
        // bookings') awaited first, so that a new span may overlap its own old one, or a
        // span freed in this write, whatever order the inserts reach the database in.
        gone.extend(dated.moved.iter().map(|b| b.id));
        tx.execute(
            "DELETE FROM bookings WHERE calendar = $1 AND id = ANY($2)",
            &[&id, &gone],
        )
        .await
        .map_err(db("moving the booking"))?;
        gone.clear();
    }
    for booking in dated.made.iter().chain(&dated.moved) {
        steps.push(exec(
            "INSERT INTO bookings (calendar, id, span, label, key_id, created_ms, \
             booking_type, group_id, group_booking) VALUES ($1, $2, \
             tstzrange(to_timestamp($3), to_timestamp($4), '[)'), $5, $6, $7, $8, $9, $10)",
            args(&[
                &id,
                &booking.id,
                &booking.start,
                &booking.end,
                &booking.label,
                &booking.key_id,
                &booking.created_ms,
                &booking.booking_type,
                &booking.group_id,
                &booking.group_booking,
            ]),
        ));
    }
    if !gone.is_empty() {
        steps.push(exec(
            "DELETE FROM bookings WHERE calendar = $1 AND id = ANY($2)",
            args(&[&id, &gone]),
        ));
    }
    if let Some(event) = &event {
        steps.push(webhooks::emit(event));
    }
    steps.push(match touched(before, after, &dated) {
        Some(touched) => dated_change_row(id, (row.incarnation, row.version), touched),
        None => change_row("calendar", id, None, Some((row.incarnation, row.version))),
    });
    steps.push(notify());
    steps.extend(then);
    match commit {
        true => tx.finish(steps, "saving the calendar").await,
        false => run_steps(tx, steps, "saving the calendar").await,
    }
}

/// The statements that keep a booking's answer for its idempotency key, in the booking's
/// transaction.
pub(crate) fn remember_booking<'a>(
    key: &'a IdempotencyKey,
    calendar: &'a Calendar,
    booking: &Booking,
) -> Result<Vec<Step<'a>>, Error> {
    let row = rows::BookingRow::of(booking)?;
    let incarnation = signed(calendar.incarnation(), "an incarnation")?;
    let version = signed(calendar.version(), "a version")?;
    let fingerprint: &[u8] = &key.fingerprint;
    let args: Vec<Box<dyn ToSql + Sync + Send + 'a>> = vec![
        Box::new(&key.principal),
        Box::new(&key.key),
        Box::new(fingerprint),
        Box::new(key.expires_ms),
        Box::new(calendar.id()),
        Box::new(calendar.zone()),
        Box::new(incarnation),
        Box::new(version),
        Box::new(row.id),
        Box::new(row.start),
        Box::new(row.end),
        Box::new(row.label),
        Box::new(row.key_id),
        Box::new(row.created_ms),
        Box::new(row.booking_type),
        Box::new(row.group_id),
        Box::new(row.group_booking),
    ];
    Ok(vec![
        Step {
            sql: "INSERT INTO remembered (principal, key, fingerprint, expires_ms, calendar, \
                  zone, incarnation, version, booking, span, label, key_id, created_ms, \
                  booking_type, group_id, group_booking) VALUES ($1, $2, $3, $4, $5, $6, $7, \
                  $8, $9, tstzrange(to_timestamp($10), to_timestamp($11), '[)'), $12, $13, \
                  $14, $15, $16, $17)",
            args: args.into_iter().map(Param::Owned).collect(),
        },
        change_row("remembered", &key.principal, Some(&key.key), None),
    ])
}

/// The first start of a database, under the schema lock: the `default` calendar when there
/// is no calendar, and `first`'s admin key when there is no admin key.
pub(crate) async fn first_start(
    client: &mut deadpool_postgres::Object,
    first: &mut impl FirstStart,
) -> Result<(), Error> {
    client
        .batch_execute("BEGIN")
        .await
        .map_err(|e| from_db("the first start", e))?;
    let tx = Tx::on(client);
    let done = first_start_in(&tx, first).await;
    let end = if done.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = tx
        .batch_execute(end)
        .await
        .map_err(|e| from_db("the first start", e));
    done.and(ended)
}

/// [`first_start`] in its transaction.
async fn first_start_in(tx: &Tx<'_>, first: &mut impl FirstStart) -> Result<(), Error> {
    let any_key = tx
        .query_opt("SELECT 1 FROM admin_keys LIMIT 1", &[])
        .await
        .map_err(|e| from_db("the first start", e))?
        .is_some();
    if !any_key {
        if let Some(key) = first.admin_key().map_err(|e| {
            Error::of_backend(BackendError::Io, format!("making the first admin key: {e}"))
        })? {
            write_admin_keys(tx, &[key]).await.map_err(stop)?;
        }
    }
    let any_calendar = tx
        .query_opt("SELECT 1 FROM calendars LIMIT 1", &[])
        .await
        .map_err(|e| from_db("the first start", e))?
        .is_some();
    if !any_calendar {
        let incarnation: i64 = tx
            .query_one("SELECT nextval('availability_incarnations')", &[])
            .await
            .map_err(|e| from_db("the first start", e))?
            .get(0);
        let made = decide::creation(
            availability_core::store::DEFAULT_CALENDAR,
            availability_core::store::DEFAULT_ZONE,
            Vec::new(),
            incarnation as u64,
            &Authority::Unchecked,
            &[],
        )?;
        insert_calendar(tx, &made).await.map_err(stop)?;
        persist(tx, None, &made, 0).await.map_err(stop)?;
    }
    Ok(())
}

fn stop(fail: Fail) -> Error {
    match fail {
        Fail::Stop(e) => e,
        Fail::Retry(why) => Error::of_backend(BackendError::Unavailable, why),
    }
}
