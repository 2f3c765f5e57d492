//! The statements of a write: what changed, as rows, and the change log's row and doorbell,
//! pipelined; and the first start's calendar and admin key.

use std::future::Future;
use std::pin::Pin;

use availability_core::dated::Booking;
use availability_core::slots::BookingType;
use availability_core::store::decide;
use availability_core::store::{Authority, Calendar, IdempotencyKey, KeyHash};
use availability_core::{BackendError, Error};
use tokio_postgres::types::ToSql;

use crate::fail::{db, from_db, Fail};
use crate::load;
use crate::rows::{self, signed};
use crate::webhooks;
use crate::FirstStart;

/// A pooled connection's transaction: the writes run in one.
pub(crate) type Tx<'a> = deadpool_postgres::Transaction<'a>;

/// `sql` with `args`, prepared once per connection (then no round trip to prepare it).
pub(crate) fn exec<'a>(
    tx: &'a Tx<'_>,
    sql: &'a str,
    args: Vec<&'a (dyn ToSql + Sync)>,
) -> Step<'a> {
    Box::pin(async move {
        let statement = tx.prepare_cached(sql).await?;
        tx.execute_raw(&statement, args).await
    })
}

pub(crate) type Step<'a> =
    Pin<Box<dyn Future<Output = Result<u64, tokio_postgres::Error>> + Send + 'a>>;

/// A statement's parameters, owned by the statement's future.
pub(crate) fn args<'a>(values: &[&'a (dyn ToSql + Sync)]) -> Vec<&'a (dyn ToSql + Sync)> {
    values.to_vec()
}

/// Runs the statements, pipelined: one round trip for all of them once each is prepared on
/// the connection. They may reach the database in another order than given (each prepares
/// first), so they must not depend on each other.
pub(crate) async fn run_steps(steps: Vec<Step<'_>>, what: &'static str) -> Result<(), Fail> {
    futures_util::future::try_join_all(steps)
        .await
        .map(|_| ())
        .map_err(db(what))
}

/// The change log's row for this write.
pub(crate) fn change_row<'a>(
    tx: &'a Tx<'_>,
    kind: &'static str,
    id: &'a str,
    key: Option<&'a str>,
    state: Option<(i64, i64)>,
) -> Step<'a> {
    let (incarnation, version) = (state.map(|s| s.0), state.map(|s| s.1));
    Box::pin(async move {
        let statement = tx
            .prepare_cached(
                "INSERT INTO changes (kind, id, key, incarnation, version) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .await?;
        tx.execute(&statement, &[&kind, &id, &key, &incarnation, &version])
            .await
    })
}

/// The doorbell: delivered to the listening servers when the transaction commits.
pub(crate) fn notify<'a>(tx: &'a Tx<'_>) -> Step<'a> {
    Box::pin(async move {
        let statement = tx
            .prepare_cached("SELECT pg_notify('availability_changes', '')")
            .await?;
        tx.execute(&statement, &[]).await
    })
}

/// Calendar `id`, read back with its row locked until the transaction ends.
pub(crate) async fn lock(tx: &Tx<'_>, id: &str) -> Result<Calendar, Fail> {
    load::calendars(&load::Cached(tx), Some(&[id]), true, None)
        .await?
        .pop()
        .ok_or_else(|| {
            Fail::Stop(Error::of_backend(
                BackendError::NotFound,
                format!("no calendar {id:?}"),
            ))
        })
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
            tx,
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
    steps.push(change_row(tx, "admin_keys", "", None, None));
    steps.push(notify(tx));
    run_steps(steps, "saving the admin keys").await
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
            tx,
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
                tx,
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
                tx,
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
            tx,
            "INSERT INTO overrides (calendar, day, open, firm) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (calendar, day) DO UPDATE SET open = EXCLUDED.open, firm = EXCLUDED.firm",
            args(&[&id, date, open, firm]),
        ));
    }
    for date in &dated.cleared_overrides {
        steps.push(exec(
            tx,
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
            tx,
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
            tx,
            "DELETE FROM bookings WHERE calendar = $1 AND id = ANY($2)",
            args(&[&id, &gone]),
        ));
    }
    if let Some(event) = &event {
        steps.push(webhooks::emit(tx, event));
    }
    steps.push(change_row(
        tx,
        "calendar",
        id,
        None,
        Some((row.incarnation, row.version)),
    ));
    steps.push(notify(tx));
    run_steps(steps, "saving the calendar").await
}

/// Keeps a booking's answer for its idempotency key, in the booking's transaction.
pub(crate) async fn remember_booking(
    tx: &Tx<'_>,
    key: &IdempotencyKey,
    calendar: &Calendar,
    booking: &Booking,
) -> Result<(), Fail> {
    let row = rows::BookingRow::of(booking)?;
    let incarnation = signed(calendar.incarnation(), "an incarnation")?;
    let version = signed(calendar.version(), "a version")?;
    let calendar_id = calendar.id();
    let zone = calendar.zone();
    let fingerprint: &[u8] = &key.fingerprint;
    let steps: Vec<Step<'_>> = vec![
        exec(
            tx,
            "INSERT INTO remembered (principal, key, fingerprint, expires_ms, calendar, zone, \
             incarnation, version, booking, span, label, key_id, created_ms, booking_type, \
             group_id, group_booking) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
             tstzrange(to_timestamp($10), to_timestamp($11), '[)'), $12, $13, $14, $15, $16, \
             $17)",
            args(&[
                &key.principal,
                &key.key,
                &fingerprint,
                &key.expires_ms,
                &calendar_id,
                &zone,
                &incarnation,
                &version,
                &row.id,
                &row.start,
                &row.end,
                &row.label,
                &row.key_id,
                &row.created_ms,
                &row.booking_type,
                &row.group_id,
                &row.group_booking,
            ]),
        ),
        change_row(tx, "remembered", &key.principal, Some(&key.key), None),
    ];
    run_steps(steps, "remembering the booking").await
}

/// The first start of a database, under the schema lock: the `default` calendar when there
/// is no calendar, and `first`'s admin key when there is no admin key.
pub(crate) async fn first_start(
    client: &mut deadpool_postgres::Object,
    first: &mut impl FirstStart,
) -> Result<(), Error> {
    let tx = client
        .transaction()
        .await
        .map_err(|e| from_db("the first start", e))?;
    let any_key = tx
        .query_opt("SELECT 1 FROM admin_keys LIMIT 1", &[])
        .await
        .map_err(|e| from_db("the first start", e))?
        .is_some();
    if !any_key {
        if let Some(key) = first.admin_key().map_err(|e| {
            Error::of_backend(BackendError::Io, format!("making the first admin key: {e}"))
        })? {
            write_admin_keys(&tx, &[key]).await.map_err(stop)?;
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
        insert_calendar(&tx, &made).await.map_err(stop)?;
        persist(&tx, None, &made, 0).await.map_err(stop)?;
    }
    tx.commit().await.map_err(|e| from_db("the first start", e))
}

fn stop(fail: Fail) -> Error {
    match fail {
        Fail::Stop(e) => e,
        Fail::Retry(why) => Error::of_backend(BackendError::Unavailable, why),
    }
}
