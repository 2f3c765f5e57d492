//! Moving up (`availability-server migrate --from <data-dir> --to <url>`): a store file's
//! state copied into an empty database in one transaction, then read back and compared.
//!
//! The copy streams each table with `COPY ... FROM STDIN (FORMAT binary)`: a round trip per
//! table, not per row, so a hundred thousand calendars take seconds. Bookings and remembered
//! answers hold a `tstzrange`, which the client library does not encode: they go through a
//! temporary table of plain columns (`columns`) and one `INSERT ... SELECT`. The copy then
//! reads back the counts and every calendar's (incarnation, version) and compares them with
//! the store's. The way back is `export`.

mod columns;
mod groups;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use availability_core::store::{Counts, Store};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Transaction};

use self::columns::AnswerCols;
use crate::connect;
use crate::fail::from_db;
use crate::load::now_s;
use crate::rows::{signed, BookingRow};
use crate::schema;
use crate::Settings;

/// How long one statement of a migration may take: a store of millions of calendars is
/// copied in statements of a table each.
const MIGRATION_STATEMENTS: Duration = Duration::from_secs(3600);

/// Connects for a migration: its own connection, with statements allowed to take long.
pub(crate) async fn migration_client(settings: &Settings) -> Result<Client, String> {
    let mut settings = settings.clone();
    settings.statement_timeout = MIGRATION_STATEMENTS;
    let config = settings.config()?;
    let tls = connect::tls(settings.ca_file.as_deref())?;
    let (client, _) = connect::direct(&config, tls)
        .await
        .map_err(|e| e.to_string())?;
    Ok(client)
}

/// What the database said, doing `what`.
pub(crate) fn said(what: &str, e: tokio_postgres::Error) -> String {
    from_db(what, e).to_string()
}

/// Copies `store` into the database of `settings`, which must hold no calendar, admin key,
/// group or remembered answer (the schema is made when there is none), in one transaction:
/// every calendar with its incarnation, version, zone, week, booking flag, change time,
/// next booking id, keys and booking types, the overrides, the live bookings (with their
/// types and the group bookings they are parts of), the groups with their booking types, the
/// admin keys and the unexpired remembered answers. The incarnation sequence is set past
/// every incarnation the store gave, the group booking id sequence past every sequence number
/// it gave, and the change log tells any server already following the database what arrived.
/// Then the counts and every calendar's (incarnation, version) are read back and compared
/// with the store's; returns the counts.
///
/// # Errors
///
/// A message for the operator: a store with webhooks (which a database does not keep in
/// this version), the database unreachable or not empty, a row it refused,
/// or a difference found when reading the copy back (the copy is committed then; the
/// message says what differs).
pub async fn import(settings: &Settings, store: &Store) -> Result<Counts, String> {
    let expected = store.counts();
    if expected.webhooks > 0 {
        return Err(format!(
            "the store has {} webhook endpoints, which PostgreSQL does not keep in this \
             version: remove them (DELETE /webhooks/{{id}}) before the move, and make them again \
             where the store file stays",
            expected.webhooks
        ));
    }
    let mut client = migration_client(settings).await?;
    // Under the schema lock: a server starting meanwhile waits, then finds the tables full
    // and makes neither the `default` calendar nor an admin key.
    schema::migrate(&mut client, async |client, _| {
        copy_all(client, store).await.map_err(|e| {
            availability_core::Error::of_backend(availability_core::BackendError::Io, e)
        })
    })
    .await
    .map_err(|e| e.to_string())?;
    let copied = verify(&client, store, &expected).await?;
    groups::verify(&client, store).await?;
    Ok(copied)
}

/// The copy, in one transaction.
async fn copy_all(client: &mut Client, store: &Store) -> Result<(), String> {
    let tx = client
        .transaction()
        .await
        .map_err(|e| said("starting the copy", e))?;
    tx.batch_execute(
        "LOCK TABLE calendars, calendar_keys, booking_types, admin_keys, overrides, \
         bookings, calendar_groups, group_types, remembered IN EXCLUSIVE MODE",
    )
    .await
    .map_err(|e| said("locking the tables", e))?;
    refuse_unless_empty(&tx).await?;
    let calendars = store.list();
    copy_calendars(&tx, &calendars).await?;
    copy_dated(&tx, &calendars).await?;
    copy_rest(&tx, store).await?;
    let last = signed(
        store.next_incarnation().saturating_sub(1).max(1),
        "an incarnation",
    )
    .map_err(|e| e.to_string())?;
    tx.execute("SELECT setval('availability_incarnations', $1)", &[&last])
        .await
        .map_err(|e| said("setting the incarnation sequence", e))?;
    groups::set_booking_ids(&tx, store, &calendars).await?;
    tx.batch_execute(
        "INSERT INTO changes (kind, id, incarnation, version) \
         SELECT 'calendar', id, incarnation, version FROM calendars;
         INSERT INTO changes (kind, id) VALUES ('admin_keys', '');
         INSERT INTO changes (kind, id) SELECT 'group', id FROM calendar_groups;
         INSERT INTO changes (kind, id, key) SELECT 'remembered', principal, key \
         FROM remembered;
         SELECT pg_notify('availability_changes', '');",
    )
    .await
    .map_err(|e| said("writing the change log", e))?;
    tx.commit()
        .await
        .map_err(|e| said("committing the copy", e))
}

/// Refuses a database that holds anything a copy would mix with.
async fn refuse_unless_empty(tx: &Transaction<'_>) -> Result<(), String> {
    let row = tx
        .query_one(
            "SELECT (SELECT count(*) FROM calendars), (SELECT count(*) FROM admin_keys), \
             (SELECT count(*) FROM calendar_groups), (SELECT count(*) FROM remembered)",
            &[],
        )
        .await
        .map_err(|e| said("looking into the database", e))?;
    let held: Vec<String> = ["calendars", "admin keys", "groups", "remembered answers"]
        .iter()
        .enumerate()
        .filter_map(|(i, what)| {
            let n: i64 = row.get(i);
            (n > 0).then(|| format!("{n} {what}"))
        })
        .collect();
    if held.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the database is not empty (it holds {}): a store is only copied into an empty \
             database; a server started on it makes the `default` calendar and an admin key, \
             so migrate before the first start, or into a new database",
            held.join(", ")
        ))
    }
}

/// Streams `rows` into `table` (its `columns`, of `types`) with one binary `COPY`.
async fn copy_in<'a, R>(
    tx: &Transaction<'_>,
    table: &str,
    types: &[Type],
    rows: impl IntoIterator<Item = R>,
) -> Result<u64, String>
where
    R: AsRef<[&'a (dyn ToSql + Sync)]>,
{
    let sink = tx
        .copy_in(&format!("COPY {table} FROM STDIN (FORMAT binary)"))
        .await
        .map_err(|e| said(&format!("copying {table}"), e))?;
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, types));
    for row in rows {
        writer
            .as_mut()
            .write(row.as_ref())
            .await
            .map_err(|e| said(&format!("copying {table}"), e))?;
    }
    writer
        .finish()
        .await
        .map_err(|e| said(&format!("copying {table}"), e))
}

/// The calendars' rows, their keys' and their booking types'.
async fn copy_calendars(
    tx: &Transaction<'_>,
    calendars: &[Arc<availability_core::store::Calendar>],
) -> Result<(), String> {
    struct Own {
        incarnation: i64,
        version: i64,
        week: Vec<u8>,
        next_booking: i64,
        changed_at_ms: i64,
    }
    let own = calendars
        .iter()
        .map(|c| {
            Ok(Own {
                incarnation: signed(c.incarnation(), "an incarnation")?,
                version: signed(c.version(), "a version")?,
                week: c.week().to_bytes().to_vec(),
                next_booking: signed(c.dated().next_booking_id().0, "a booking id")?,
                changed_at_ms: c.changed_at_unix_ms(),
            })
        })
        .collect::<Result<Vec<Own>, availability_core::Error>>()
        .map_err(|e| e.to_string())?;
    let public: Vec<bool> = calendars.iter().map(|c| c.booking_public()).collect();
    let ids: Vec<&str> = calendars.iter().map(|c| c.id()).collect();
    let zones: Vec<&str> = calendars.iter().map(|c| c.zone()).collect();
    copy_in(
        tx,
        "calendars (id, incarnation, version, zone, week, booking_public, changed_at_ms, \
         next_booking)",
        &[
            Type::TEXT,
            Type::INT8,
            Type::INT8,
            Type::TEXT,
            Type::BYTEA,
            Type::BOOL,
            Type::INT8,
            Type::INT8,
        ],
        own.iter().enumerate().map(|(i, o)| {
            [
                &ids[i] as &(dyn ToSql + Sync),
                &o.incarnation,
                &o.version,
                &zones[i],
                &o.week,
                &public[i],
                &o.changed_at_ms,
                &o.next_booking,
            ]
        }),
    )
    .await?;
    let positions: Vec<i32> = (0..16).collect();
    let keys: Vec<(&str, i32, &availability_core::store::KeyHash, &str, i64)> = calendars
        .iter()
        .flat_map(|c| {
            c.keys()
                .iter()
                .zip(&positions)
                .map(move |(k, &p)| (c.id(), p, k, k.scope().as_str(), k.created_unix_ms()))
        })
        .collect();
    let labels: Vec<Option<&str>> = keys.iter().map(|k| k.2.label()).collect();
    let key_ids: Vec<&str> = keys.iter().map(|k| k.2.id()).collect();
    let hashes: Vec<&str> = keys.iter().map(|k| k.2.hash()).collect();
    copy_in(
        tx,
        "calendar_keys (calendar, position, key_id, hash, scope, label, created_ms)",
        &[
            Type::TEXT,
            Type::INT4,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::INT8,
        ],
        keys.iter().enumerate().map(|(i, k)| {
            [
                &k.0 as &(dyn ToSql + Sync),
                &k.1,
                &key_ids[i],
                &hashes[i],
                &k.3,
                &labels[i],
                &k.4,
            ]
        }),
    )
    .await?;
    columns::copy_types(
        tx,
        "booking_types (calendar, name, duration, \"interval\", buffer_before, buffer_after, \
         notice, horizon, per_day, label)",
        calendars.iter().flat_map(|calendar| {
            calendar
                .booking_types()
                .map(|(name, t)| (calendar.id(), name, t, None))
        }),
    )
    .await
}

/// The overrides and the live bookings.
async fn copy_dated(
    tx: &Transaction<'_>,
    calendars: &[Arc<availability_core::store::Calendar>],
) -> Result<(), String> {
    let mut overrides = Vec::new();
    let mut bookings = Vec::new();
    for calendar in calendars {
        for (date, day) in calendar.dated().all_overrides() {
            let (open, firm) = day.bits();
            overrides.push((calendar.id(), date, open as i64, firm as i64));
        }
        for booking in calendar.dated().all_bookings() {
            let row = BookingRow::of(booking).map_err(|e| e.to_string())?;
            bookings.push((calendar.id(), row));
        }
    }
    copy_in(
        tx,
        "overrides (calendar, day, open, firm)",
        &[Type::TEXT, Type::DATE, Type::INT8, Type::INT8],
        overrides
            .iter()
            .map(|o| [&o.0 as &(dyn ToSql + Sync), &o.1, &o.2, &o.3]),
    )
    .await?;
    tx.batch_execute(
        "CREATE TEMPORARY TABLE import_bookings (calendar text, id bigint, start_s float8, \
         end_s float8, label text, key_id text, created_ms bigint, booking_type text, \
         group_id text, group_booking bigint) ON COMMIT DROP",
    )
    .await
    .map_err(|e| said("copying the bookings", e))?;
    copy_in(
        tx,
        "import_bookings",
        &[
            Type::TEXT,
            Type::INT8,
            Type::FLOAT8,
            Type::FLOAT8,
            Type::TEXT,
            Type::TEXT,
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::INT8,
        ],
        bookings.iter().map(|(calendar, b)| {
            [
                calendar as &(dyn ToSql + Sync),
                &b.id,
                &b.start,
                &b.end,
                &b.label,
                &b.key_id,
                &b.created_ms,
                &b.booking_type,
                &b.group_id,
                &b.group_booking,
            ]
        }),
    )
    .await?;
    tx.batch_execute(
        "INSERT INTO bookings (calendar, id, span, label, key_id, created_ms, booking_type, \
         group_id, group_booking) SELECT calendar, id, tstzrange(to_timestamp(start_s), \
         to_timestamp(end_s), '[)'), label, key_id, created_ms, booking_type, group_id, \
         group_booking FROM import_bookings",
    )
    .await
    .map_err(|e| said("copying the bookings", e))
}

/// The admin keys, the groups and the remembered answers.
async fn copy_rest(tx: &Transaction<'_>, store: &Store) -> Result<(), String> {
    let admin = store.admin_keys();
    let positions: Vec<i32> = (0..admin.len() as i32).collect();
    let created: Vec<i64> = admin.iter().map(|k| k.created_unix_ms()).collect();
    let labels: Vec<Option<&str>> = admin.iter().map(|k| k.label()).collect();
    let ids: Vec<&str> = admin.iter().map(|k| k.id()).collect();
    let hashes: Vec<&str> = admin.iter().map(|k| k.hash()).collect();
    copy_in(
        tx,
        "admin_keys (key_id, position, hash, label, created_ms)",
        &[Type::TEXT, Type::INT4, Type::TEXT, Type::TEXT, Type::INT8],
        (0..admin.len()).map(|i| {
            [
                &ids[i] as &(dyn ToSql + Sync),
                &positions[i],
                &hashes[i],
                &labels[i],
                &created[i],
            ]
        }),
    )
    .await?;
    let groups = store.groups();
    let group_ids: Vec<&str> = groups.iter().map(|g| g.id()).collect();
    let members: Vec<&[String]> = groups.iter().map(|g| g.members()).collect();
    copy_in(
        tx,
        "calendar_groups (id, members)",
        &[Type::TEXT, Type::TEXT_ARRAY],
        (0..groups.len()).map(|i| [&group_ids[i] as &(dyn ToSql + Sync), &members[i]]),
    )
    .await?;
    columns::copy_types(
        tx,
        "group_types (group_id, name, duration, \"interval\", buffer_before, buffer_after, \
         notice, horizon, per_day, label, zone)",
        groups.iter().flat_map(|group| {
            group
                .booking_types()
                .map(|(name, t)| (group.id(), name, &t.rules, Some(t.zone.as_str())))
        }),
    )
    .await?;
    let answers = store
        .remembered_answers()
        .iter()
        .map(|answer| AnswerCols::of(store, answer))
        .collect::<Result<Vec<_>, String>>()?;
    tx.batch_execute(
        "CREATE TEMPORARY TABLE import_remembered (principal text, key text, fingerprint \
         bytea, expires_ms bigint, status smallint, body bytea, state_incarnation bigint, \
         state_version bigint, calendar text, zone text, incarnation bigint, version bigint, \
         booking bigint, start_s float8, end_s float8, label text, key_id text, created_ms \
         bigint, booking_type text, group_id text, group_booking bigint) ON COMMIT DROP",
    )
    .await
    .map_err(|e| said("copying the remembered answers", e))?;
    let int8 = Type::INT8;
    let text = Type::TEXT;
    copy_in(
        tx,
        "import_remembered",
        &[
            text.clone(),
            text.clone(),
            Type::BYTEA,
            int8.clone(),
            Type::INT2,
            Type::BYTEA,
            int8.clone(),
            int8.clone(),
            text.clone(),
            text.clone(),
            int8.clone(),
            int8.clone(),
            int8.clone(),
            Type::FLOAT8,
            Type::FLOAT8,
            text.clone(),
            text.clone(),
            int8.clone(),
            text.clone(),
            text,
            int8,
        ],
        answers.iter().map(AnswerCols::row),
    )
    .await?;
    tx.batch_execute(
        "INSERT INTO remembered (principal, key, fingerprint, expires_ms, status, body, \
         state_incarnation, state_version, calendar, zone, incarnation, version, booking, \
         span, label, key_id, created_ms, booking_type, group_id, group_booking) SELECT \
         principal, key, fingerprint, expires_ms, status, body, state_incarnation, \
         state_version, calendar, zone, incarnation, version, booking, CASE WHEN start_s IS \
         NULL THEN NULL ELSE tstzrange(to_timestamp(start_s), to_timestamp(end_s), '[)') END, \
         label, key_id, created_ms, booking_type, group_id, group_booking \
         FROM import_remembered",
    )
    .await
    .map_err(|e| said("copying the remembered answers", e))
}

/// Reads the copy back: the counts (with the booking types and the bookings made by one) and
/// every calendar's (incarnation, version), compared with `store`'s.
async fn verify(client: &Client, store: &Store, expected: &Counts) -> Result<Counts, String> {
    let found = database_counts(client).await?;
    if found != *expected {
        return Err(format!(
            "the copy was committed but reads back as {found}, not {expected}"
        ));
    }
    let typed = client
        .query_one(
            "SELECT (SELECT count(*) FROM booking_types), \
             (SELECT count(*) FROM bookings WHERE booking_type IS NOT NULL)",
            &[],
        )
        .await
        .map_err(|e| said("counting the copy", e))?;
    let (mut types, mut typed_bookings) = (0, 0);
    store.for_each(|calendar| {
        types += calendar.booking_types().len() as i64;
        typed_bookings += calendar
            .dated()
            .all_bookings()
            .filter(|b| b.booking_type().is_some())
            .count() as i64;
    });
    let found_typed: (i64, i64) = (typed.get(0), typed.get(1));
    if found_typed != (types, typed_bookings) {
        return Err(format!(
            "the copy was committed but reads back with {} booking types and {} bookings \
             made by one, not {types} and {typed_bookings}",
            found_typed.0, found_typed.1
        ));
    }
    let rows = client
        .query("SELECT id, incarnation, version FROM calendars", &[])
        .await
        .map_err(|e| said("reading the copy back", e))?;
    let mut states: HashMap<String, (i64, i64)> = rows
        .iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2))))
        .collect();
    let mut differ = Vec::new();
    store.for_each(|calendar| {
        let copied = states.remove(calendar.id());
        let own = (calendar.incarnation() as i64, calendar.version() as i64);
        if copied != Some(own) {
            differ.push(format!(
                "{} is (incarnation, version) {own:?} in the store and {copied:?} in the \
                 database",
                calendar.id()
            ));
        }
    });
    differ.extend(
        states
            .keys()
            .map(|id| format!("{id} is only in the database")),
    );
    if differ.is_empty() {
        Ok(found)
    } else {
        differ.sort();
        differ.truncate(10);
        Err(format!(
            "the copy was committed but differs from the store: {}",
            differ.join("; ")
        ))
    }
}

/// What the database holds, counted as a store counts it (answers that have not expired).
async fn database_counts(client: &Client) -> Result<Counts, String> {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM calendars), (SELECT count(*) FROM calendar_keys), \
             (SELECT count(*) FROM overrides), (SELECT count(*) FROM bookings), \
             (SELECT count(*) FROM calendar_groups), (SELECT count(*) FROM admin_keys), \
             (SELECT count(*) FROM remembered WHERE expires_ms > $1)",
            &[&(now_s() * 1000)],
        )
        .await
        .map_err(|e| said("counting the copy", e))?;
    let n = |i: usize| row.get::<_, i64>(i) as usize;
    Ok(Counts {
        calendars: n(0),
        keys: n(1),
        overrides: n(2),
        bookings: n(3),
        groups: n(4),
        admin_keys: n(5),
        remembered: n(6),
        webhooks: 0,
    })
}
